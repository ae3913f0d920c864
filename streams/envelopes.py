"""Batch envelopes: one Kafka record carries one partition's slice of a stage's batch.

Faust costs 150-275 us per consumed message and aiokafka about 60 us per
produced one, more than most stages' own work per event (docs/benchmarks.md).
Between two of our own stages a batch of events bound for the same partition
travels as one record instead::

    E1 01 | msgpack array [key 0, value 0, key 1, value 1, ...]

Each entry keeps the key and the value it would have had as a record of its
own, in order; the envelope is produced to the partition every one of its keys
hashes to (streams/partitioning.py), so co-partitioning and per-key order hold.
The magic byte tells an envelope from a single record (Avro starts with C3 or
00, JSON commands with ``{``): readers accept both, so records already in a
topic when a worker is upgraded, and tools that write one record, keep working.

An entry's position is ``offset * MAX_ENTRIES + index``: increasing along the
partition like an offset, for stages that detect replays by position.
"""

from __future__ import annotations

import msgpack

MAGIC = b"\xe1\x01"
MAX_ENTRIES = 1 << 16  # entries per envelope, at most; positions stay below 2**63 for offsets below 2**47
MAX_BYTES = 256 * 1024  # an envelope is sent once this full; a larger single value travels on its own

Entry = tuple[bytes | None, bytes]


class EnvelopeError(ValueError):
    """A record that starts like an envelope but cannot be read as one."""


def encode(entries: list[Entry]) -> bytes:
    if not 0 < len(entries) <= MAX_ENTRIES:
        raise ValueError(f"an envelope holds 1 to {MAX_ENTRIES} entries, not {len(entries)}")
    flat = [part for key, value in entries for part in (key, value)]
    return MAGIC + msgpack.packb(flat, use_bin_type=True)


def is_envelope(value: bytes | None) -> bool:
    return value is not None and value[:2] == MAGIC


def entries(key: bytes | None, value: bytes | None) -> list[Entry]:
    """The records a Kafka record carries: an envelope's entries, or the record itself."""
    if not is_envelope(value):
        return [(key, value)]
    try:
        flat = msgpack.unpackb(memoryview(value)[len(MAGIC):], raw=False, use_list=True)
    except Exception as exc:  # msgpack raises several types for truncated or corrupt input
        raise EnvelopeError(f"envelope is not readable ({type(exc).__name__}: {exc})") from None
    if (not isinstance(flat, list) or len(flat) % 2 or not flat
            or not all(isinstance(part, bytes) or (part is None and i % 2 == 0) for i, part in enumerate(flat))):
        raise EnvelopeError("envelope must hold [key, value, ...] pairs of bytes")
    return list(zip(flat[0::2], flat[1::2]))


def position(offset: int, index: int) -> int:
    """The entry's place on its partition: increasing with the offset, then with the index."""
    return offset * MAX_ENTRIES + index


class Packer:
    """Entries of one batch, per partition; ``records()`` gives what to produce, in order."""

    def __init__(self) -> None:
        self._open: dict[int, list[Entry]] = {}
        self._size: dict[int, int] = {}
        self._ready: list[tuple[int, bytes | None, bytes, int]] = []  # (partition, key, value, entries)

    def add(self, partition: int, key: bytes | None, value: bytes) -> None:
        size = len(value) + len(key or b"") + 10
        if size > MAX_BYTES and not is_envelope(value):
            # Alone, as the plain record it would have been (after what the partition holds: order).
            self._close(partition)
            self._ready.append((partition, key, value, 1))
            return
        pending = self._open.setdefault(partition, [])
        if pending and (self._size[partition] + size > MAX_BYTES or len(pending) == MAX_ENTRIES):
            self._close(partition)
            pending = self._open.setdefault(partition, [])
        pending.append((key, value))
        self._size[partition] = self._size.get(partition, 0) + size

    def _close(self, partition: int) -> None:
        pending = self._open.pop(partition, None)
        self._size.pop(partition, None)
        if pending:
            self._ready.append((partition, None, encode(pending), len(pending)))

    def records(self) -> list[tuple[int, bytes | None, bytes, int]]:
        """(partition, key, value, entries) of every record to send, in order; empties the packer."""
        for partition in list(self._open):
            self._close(partition)
        ready, self._ready = self._ready, []
        return ready
