"""A Faust table whose changelog records are produced like any other output.

Faust sends a table write's changelog record through its ProducerBuffer, and
the flush it runs before committing source offsets returns as soon as one
record takes longer than 0.1 s to hand over (a metadata fetch, a full client
buffer). The commit then goes ahead of the changelog: a worker that takes the
partition over (rebalance, restart) recovers a state older than the committed
offset and never sees the events in between. With two workers this lost 14 to
25 of 466 identity merges in the end-to-end test.

Here the store is written directly and the changelog record is awaited into the
producer client (streams.stages.output), which faust does flush completely before
it commits. The Table object still provides what it is good at: the changelog
topic, co-partitioned assignment, recovery and standbys.

The changelog partition is the source event's partition: tables are
co-partitioned with the topics that feed them (same key, same partition count).
Stores that keep data per partition (rocksdict) find it through faust's current
event, which the caller sets for each event it handles (``set_current_event``,
what faust's own per-event iteration does).
"""

from __future__ import annotations

import weakref
from typing import Any

import faust
from faust.streams import _current_event  # the context variable behind faust.streams.current_event()
from faust.types import TP

from streams.stages.output import Output


def set_current_event(event: faust.EventT) -> None:
    """Make ``event`` faust's current event in this task, as faust's per-event iteration does.

    ``take_events`` yields a batch without setting it per event; per-partition
    stores (rocksdict) read it (``faust.streams.current_event()``) to pick the
    partition's database. Only the context variable is set: the stream's own
    ``current_event`` attribute belongs to the take_events buffer filling in
    another task, and overwriting it there makes that buffer record the wrong
    event (and lose the right one).
    """
    _current_event.set(weakref.ref(event))


class DurableTable:
    """Reads from the local store; writes to the store and, awaited, to the changelog.

    ``put_later`` writes the store at once and the changelog at ``flush``: a key
    written by several events of a batch sends one changelog record, its last
    value (a stage calls ``flush`` at the end of each batch, before the batch
    counts as handled, so the commit still waits for it).
    """

    def __init__(self, table: faust.Table, output: Output) -> None:
        self._table = table
        self._output = output
        self._later: dict[Any, tuple[Any, int]] = {}  # key -> (value, partition): changelog not yet sent
        self._changelog = table.changelog_topic.get_topic_name()
        serializers = table.app.serializers
        # Recovery decodes with the table's own serializers: encode with the same ones.
        self._dump_key = lambda key: serializers.dumps_key(table.key_type, key, serializer=table.key_serializer)
        self._dump_value = lambda value: serializers.dumps_value(table.value_type, value,
                                                                 serializer=table.value_serializer)

    @property
    def table(self) -> faust.Table:
        return self._table

    def get(self, key: Any) -> Any:
        return self._table.get(key)

    async def put(self, key: Any, value: Any, partition: int) -> None:
        self._later.pop(key, None)
        self._table.data[key] = value  # the store only: no faust changelog send
        await self._send(key, self._dump_value(value), partition)

    def put_later(self, key: Any, value: Any, partition: int) -> None:
        """Write the store now, the changelog at the next ``flush`` (once per key, its last value)."""
        self._table.data[key] = value
        self._later[key] = (value, partition)

    def delete_later(self, key: Any, partition: int) -> None:
        """Drop ``key`` from the store now; its tombstone goes to the changelog at the next ``flush``."""
        self._table.data.pop(key, None)
        self._later[key] = (None, partition)

    async def flush(self) -> None:
        """Send the changelog records of every ``put_later`` and ``delete_later`` since the last flush."""
        later, self._later = self._later, {}
        for key, (value, partition) in later.items():
            await self._send(key, None if value is None else self._dump_value(value), partition)

    def on_partition(self, partition: int) -> PartitionView:
        """``get`` / ``put`` / ``pop`` on one partition, written at the next ``flush``."""
        return PartitionView(self, partition)

    async def delete(self, key: Any, partition: int) -> None:
        self._later.pop(key, None)
        self._table.data.pop(key, None)
        await self._send(key, None, partition)  # a tombstone: compaction drops the key

    async def _send(self, key: Any, value: bytes | None, partition: int) -> None:
        await self._output.send(self._changelog, self._dump_key(key), value, partition=partition,
                                on_delivered=self._on_changelog_written)

    def _on_changelog_written(self, future) -> None:  # noqa: ANN001
        # What faust's own changelog callback does: a persistent store remembers how far
        # the changelog it holds goes, so recovery after a restart reads only the rest.
        if future.cancelled() or future.exception() is not None:
            return
        meta = future.result()
        self._table.data.set_persisted_offset(TP(meta.topic, meta.partition), meta.offset)


class PartitionView:
    """A DurableTable seen from one partition: what a pure rule needs to keep extra values beside a key's."""

    def __init__(self, table: DurableTable, partition: int) -> None:
        self._table, self._partition = table, partition

    def get(self, key: Any) -> Any:
        return self._table.get(key)

    def put(self, key: Any, value: Any) -> None:
        self._table.put_later(key, value, self._partition)

    def pop(self, key: Any) -> None:
        self._table.delete_later(key, self._partition)
