"""Hostile messages for the raw topic, seeded: what a broken or malicious producer can send.

On top of the simulator's malformed kinds (streams/simulator/malformed.py:
random bytes, empty, oversized, JSON, bad framing, unknown schema, truncated,
bit flips, garbage bodies, trailing bytes and the semantic kinds), kinds aimed
at the decoder itself:

- ``length_bomb``: a valid header, then an Avro string length of ~2**62 bytes
  (must fail at once, not try to allocate it);
- ``deep_json``: JSON nested 50,000 levels deep;
- ``bad_utf8``: a valid record whose string bytes are Latin-1, not UTF-8;
- ``control_chars``: ids holding NUL, line breaks or terminal escape sequences;
- ``hostile_key``: a valid-looking frame with a 64 kB binary key;
- ``registry_framing``: Schema Registry framing sent to a pipeline with no registry configured.

Each message carries its kind and, where only one reason is right, that reason.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from streams.keys import routing_key
from streams.simulator.malformed import MalformedFactory, SimulatedMessage, header_size
from streams.simulator.config import MALFORMED_KINDS, SimulationConfig

EXTRA_KINDS = ("length_bomb", "deep_json", "bad_utf8", "control_chars", "hostile_key", "registry_framing")
MAX_OVERSIZED = 20  # 1.1 MB each: enough to prove the limit, without gigabytes of test traffic


def _zigzag_varint(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class HostileFactory:
    def __init__(self, encode, seed: int) -> None:  # noqa: ANN001 - schemas.wire.AvroEncoder.encode
        self.encode, self.rng = encode, random.Random(seed)
        weights = {kind: 1.0 for kind in MALFORMED_KINDS}
        self.malformed = MalformedFactory(encode, self.rng, weights, SimulationConfig().oversized_bytes)
        self.kinds = [k for k in MALFORMED_KINDS] + list(EXTRA_KINDS)
        self.oversized = 0

    def make(self, base: dict[str, Any]) -> SimulatedMessage:
        kind = self.rng.choice(self.kinds)
        if kind == "oversized":
            if self.oversized >= MAX_OVERSIZED:
                kind = "random_bytes"
            self.oversized += 1
        if kind in EXTRA_KINDS:
            payload, key, reason = getattr(self, f"_{kind}")(base)
            return SimulatedMessage(key, None, payload, kind, reason)
        return self.malformed.make(base, kind)

    def _frame(self, base: dict) -> bytes:
        valid = self.encode(base)
        return valid[: header_size(valid) or 0]

    def _length_bomb(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        # The first field of touchpoint.v1 is a string (event_id): its length comes first.
        return self._frame(base) + _zigzag_varint(2**62) + b"x" * 16, routing_key(base), "avro_decode_error"

    def _deep_json(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        depth = 50_000
        return b'{"a":' * depth + b"1" + b"}" * depth, routing_key(base), "bad_magic_byte"

    def _bad_utf8(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        marker = "caf\u00e9-\u00e9t\u00e9"
        valid = self.encode(dict(base, campaign_id=marker))
        utf8 = marker.encode("utf-8")
        latin1 = marker.encode("latin-1").ljust(len(utf8), b"\xe9")  # same length: the Avro length stays right
        assert utf8 in valid, "the campaign_id marker is not in the encoding"
        return valid.replace(utf8, latin1), routing_key(base), "avro_decode_error"

    def _control_chars(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        field = self.rng.choice(["event_id", "campaign_id", "anonymous_id", "user_id"])
        value = self.rng.choice(["\x00", "\n", "\r\n", "\x1b[2J", "\x7f"]).join(["id", "tail"])
        record = dict(base, **{field: value})
        return self.encode(record), routing_key(record), "validation_error"

    def _hostile_key(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        return self._frame(base) + self.rng.randbytes(40), self.rng.randbytes(64 * 1024), None

    def _registry_framing(self, base: dict) -> tuple[bytes, bytes | None, str | None]:
        valid = self.encode(base)
        body = valid[header_size(valid) or 0:]
        schema_id = self.rng.randint(1, 2**31 - 1).to_bytes(4, "big")
        return b"\x00" + schema_id + body, routing_key(base), "no_registry_configured"


def interleave(good: list[SimulatedMessage], hostile: int, factory: HostileFactory,
               rng: random.Random) -> Iterator[SimulatedMessage]:
    """``good`` in order with ``hostile`` bad messages spread at random between them."""
    assert good, "no good traffic to mix into"
    slots = sorted(rng.randrange(len(good) + 1) for _ in range(hostile))
    j = 0
    for i, message in enumerate(good):
        while j < len(slots) and slots[j] == i:
            yield factory.make(good[rng.randrange(len(good))].record)
            j += 1
        yield message
    for _ in range(j, len(slots)):
        yield factory.make(good[rng.randrange(len(good))].record)

