"""Bad message values, each labelled with its kind and the reject reason ingest must give it.

Most kinds start from a valid record and its encoding (``encode`` is the
producer's encoder: Avro single-object ``C3 01 + fingerprint`` or registry
``00 + id`` framing; it must not validate semantics, schemas.wire.AvroEncoder
does not). ``expected_reason`` None means "rejected, for whichever reason"
(random bytes, a random body behind a valid header).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from streams.simulator.config import MALFORMED_KINDS
from streams.simulator.ids import uuid4
from streams.keys import routing_key

Encode = Callable[[dict[str, Any]], bytes]
IDENTIFIER_FIELDS = ("anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id",
                     "email", "phone")
SINGLE_OBJECT = b"\xc3\x01"


@dataclass(frozen=True, slots=True)
class SimulatedMessage:
    """One Kafka message to produce. Valid: ``record`` + ``payload = encode(record)``. Malformed: ``payload``
    with ``malformed_kind`` and ``expected_reason``; ``record`` is the invalid record for the semantic kinds."""

    key: bytes | None
    record: dict[str, Any] | None
    payload: bytes | None
    malformed_kind: str | None = None
    expected_reason: str | None = None

    @property
    def malformed(self) -> bool:
        return self.malformed_kind is not None


def header_size(payload: bytes) -> int | None:
    """Length of the wire header (10 single-object, 5 registry), None for an unknown framing."""
    if payload[:2] == SINGLE_OBJECT:
        return 10
    if payload[:1] == b"\x00":
        return 5
    return None


class MalformedFactory:
    """Draws malformed messages (kinds weighted by ``weights``) from one seeded random stream."""

    def __init__(self, encode: Encode, rng: random.Random, weights: dict[str, float], oversized_bytes: int):
        self.encode, self.rng, self.oversized_bytes = encode, rng, oversized_bytes
        self.kinds = [k for k in MALFORMED_KINDS if weights.get(k, 0) > 0]
        self.weights = [weights[k] for k in self.kinds]

    def make(self, base: dict[str, Any], kind: str | None = None) -> SimulatedMessage:
        """A malformed message derived from the valid record ``base`` (``kind`` drawn if not given)."""
        kind = kind or self.rng.choices(self.kinds, self.weights)[0]
        if kind in _SEMANTIC:
            record = _SEMANTIC[kind][0](dict(base, event_id=uuid4(self.rng)))
            try:
                payload = self.encode(record)
            except Exception as exc:
                raise ValueError(f"encode refused the {kind} record ({exc}): the malformed generator needs an "
                                 "encoder that only checks Avro types, such as schemas.wire.AvroEncoder") from exc
            return SimulatedMessage(routing_key(record), record, payload, kind, _SEMANTIC[kind][1])
        payload, reason = getattr(self, f"_{kind}")(base)
        key = None if kind == "random_bytes" else routing_key(base)
        return SimulatedMessage(key, None, payload, kind, reason)

    # -- byte-level kinds: (payload, expected reason) ---------------------------------------------
    def _random_bytes(self, base: dict) -> tuple[bytes, str | None]:
        return self.rng.randbytes(self.rng.randint(1, 300)), None

    def _empty(self, base: dict) -> tuple[bytes, str | None]:
        return b"", "empty_payload"

    def _oversized(self, base: dict) -> tuple[bytes, str | None]:
        valid = self.encode(base)
        return valid + bytes(max(0, self.oversized_bytes - len(valid))), "oversized_payload"

    def _json_text(self, base: dict) -> tuple[bytes, str | None]:
        return json.dumps(base, default=str).encode("utf-8"), "bad_magic_byte"

    def _bad_magic_byte(self, base: dict) -> tuple[bytes, str | None]:
        first = self.rng.choice([b for b in range(256) if b not in (0x00, 0xC3)])
        return bytes([first]) + self.encode(base)[1:], "bad_magic_byte"

    def _unknown_schema(self, base: dict) -> tuple[bytes, str | None]:
        valid = self.encode(base)
        size = header_size(valid)
        if size == 10:
            return valid[:2] + self.rng.randbytes(8) + valid[10:], "unknown_fingerprint"
        if size == 5:  # an id far above any a registry hands out
            return b"\x00" + self.rng.randint(2**30, 2**31 - 1).to_bytes(4, "big") + valid[5:], "unknown_registry_id"
        return self.rng.randbytes(12) + valid, None

    def _truncated(self, base: dict) -> tuple[bytes, str | None]:
        valid = self.encode(base)
        size = header_size(valid) or 0
        return valid[: self.rng.randint(size + 1, len(valid) - 1)], "avro_decode_error"

    def _header_bit_flip(self, base: dict) -> tuple[bytes, str | None]:
        """One flipped bit in the magic byte (-> bad magic) or in the schema fingerprint/id (-> unknown)."""
        valid = bytearray(self.encode(base))
        size = header_size(bytes(valid))
        if size is None:
            return bytes(valid), None
        position = self.rng.choice([0, *range(2 if size == 10 else 1, size)])
        valid[position] ^= 1 << self.rng.randrange(8)
        if position == 0:
            return bytes(valid), "bad_magic_byte"
        return bytes(valid), "unknown_fingerprint" if size == 10 else "unknown_registry_id"

    def _garbage_body(self, base: dict) -> tuple[bytes, str | None]:
        valid = self.encode(base)
        size = header_size(valid) or 0
        return valid[:size] + self.rng.randbytes(self.rng.randint(1, 200)), None

    def _trailing_bytes(self, base: dict) -> tuple[bytes, str | None]:
        return self.encode(base) + self.rng.randbytes(self.rng.randint(1, 16)), "trailing_bytes"


def _no_identifiers(record: dict) -> dict:
    for name in IDENTIFIER_FIELDS:
        record.pop(name, None)
    return record


def _future(record: dict) -> dict:
    record["event_time"] += timedelta(days=5 * 365)
    record["sent_time"] = record["event_time"] + timedelta(seconds=1)
    return record


def _negative_revenue(record: dict) -> dict:
    record["revenue"] = -(record.get("revenue") or Decimal("19.99"))  # never -0.00, which would pass
    record.setdefault("currency", "EUR")
    return record


def _bad_currency(record: dict) -> dict:
    record["currency"] = "euro"
    record.setdefault("revenue", Decimal("9.99"))
    return record


def _bad_event_type(record: dict) -> dict:
    record["event_type"] = "Not Valid!"
    return record


_SEMANTIC: dict[str, tuple[Callable[[dict], dict], str]] = {
    "missing_identifiers": (_no_identifiers, "missing_identifier"),
    "future_event_time": (_future, "event_time_out_of_range"),
    "negative_revenue": (_negative_revenue, "validation_error"),
    "bad_currency": (_bad_currency, "validation_error"),
    "bad_event_type": (_bad_event_type, "validation_error"),
}
