"""Malformed payloads: the configured share, every kind, and ingest gives each the reason it is labelled with."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from schemas.reasons import RejectReason
from schemas.wire import AvroDecoder, AvroEncoder
from streams.ingest import Accepted, IngestRules, Source, ingest_one
from streams.simulator import MALFORMED_KINDS
from streams.simulator.malformed import MalformedFactory
from tests.streams.simulator.fixtures import Run, ingest_now


def test_malformed_share_within_tolerance(population_run: Run, malformed_run: Run) -> None:
    for run, share in ((population_run, 0.01), (malformed_run, 0.05)):
        n, bad = len(run.messages), len(run.malformed)
        assert abs(bad - n * share) <= 4 * math.sqrt(n * share * (1 - share)), (bad, n, share)
    assert len(malformed_run.messages) == 20_000


def test_every_kind_is_present(malformed_run: Run) -> None:
    assert set(Counter(m.malformed_kind for m in malformed_run.malformed)) == set(MALFORMED_KINDS)


def test_ingest_rejects_each_with_the_expected_reason(malformed_run: Run) -> None:
    decoder, now = AvroDecoder("touchpoint"), ingest_now(malformed_run.config)
    for offset, message in enumerate(malformed_run.malformed):
        assert message.payload is not None and message.expected_reason in {None, *map(str, RejectReason)}
        outcome = ingest_one(message.payload, Source("raw", 0, offset), decoder, IngestRules(), now)
        assert not isinstance(outcome, Accepted), message.malformed_kind
        if message.expected_reason is not None:
            assert outcome.reason == message.expected_reason, (message.malformed_kind, outcome.record["detail"])
        assert (message.record is None) == (message.malformed_kind not in {
            "missing_identifiers", "future_event_time", "negative_revenue", "bad_currency", "bad_event_type"})


def test_oversized_is_over_a_megabyte_and_semantic_kinds_are_valid_avro(malformed_run: Run) -> None:
    by_kind = {m.malformed_kind: m for m in malformed_run.malformed}
    assert len(by_kind["oversized"].payload) > 1_000_000
    assert by_kind["empty"].payload == b""
    assert by_kind["json_text"].payload.startswith(b"{")
    decoder = AvroDecoder("touchpoint")
    for kind in ("missing_identifiers", "future_event_time", "negative_revenue", "bad_currency", "bad_event_type"):
        record, _ = decoder.decode(by_kind[kind].payload)  # decodes: only the content is wrong
        assert record["event_id"] == by_kind[kind].record["event_id"]


@pytest.mark.parametrize("kind", ["truncated", "header_bit_flip", "unknown_schema", "trailing_bytes", "bad_magic_byte"])
def test_byte_level_kinds_on_many_records(population_run: Run, kind: str) -> None:
    """Labels hold for every record shape (raw PII last in the record, long items, ...)."""
    factory = MalformedFactory(AvroEncoder("touchpoint").encode, random.Random(kind), {kind: 1.0}, 1_100_000)
    decoder, now = AvroDecoder("touchpoint"), ingest_now(population_run.config)
    records = population_run.records
    sample = [r for r in records if r.get("email") or r.get("phone") or r.get("items")][:300] + records[:300]
    for offset, record in enumerate(sample):
        message = factory.make(record)
        outcome = ingest_one(message.payload, Source("raw", 0, offset), decoder, IngestRules(), now)
        assert not isinstance(outcome, Accepted)
        assert outcome.reason == message.expected_reason, (kind, outcome.record["detail"])


def test_registry_framing_is_handled() -> None:
    """With a registry encoder (00 + id) the header kinds still target the magic byte / the id."""
    valid = b"\x00\x00\x00\x00\x07" + b"\x02" * 40

    factory = MalformedFactory(lambda record: valid, random.Random(1), {"unknown_schema": 1.0}, 2_000_000)
    message = factory.make({"event_id": "x"})
    assert message.payload[0] == 0 and message.payload[1:5] != valid[1:5] and message.payload[5:] == valid[5:]
    flip = MalformedFactory(lambda record: valid, random.Random(2), {"header_bit_flip": 1.0}, 2_000_000)
    for _ in range(50):
        message = flip.make({"event_id": "x"})
        changed = [i for i in range(len(valid)) if message.payload[i] != valid[i]]
        assert len(changed) == 1 and changed[0] < 5
        assert message.expected_reason == ("bad_magic_byte" if changed == [0] else "unknown_registry_id")
