"""The ingest decision (pure): accepted records are enriched and PII-free, everything else is a dead letter."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.wire import AvroDecoder, AvroEncoder
from streams.ingest import Accepted, IngestRules, Rejected, Source, ingest_one

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SOURCE = Source("touchline.touchpoints.raw", 3, 42, NOW, b"key", [("trace", b"t-1")])
ENCODER = AvroEncoder("touchpoint")
DECODER = AvroDecoder("touchpoint")
RULES = IngestRules()


def event(**fields: object) -> dict:
    base: dict = {"event_id": "e-1", "event_type": "page_view", "channel": "web", "anonymous_id": "c-1",
                  "event_time": NOW - timedelta(minutes=5)}
    base.update(fields)
    return base


def run(record_or_bytes: dict | bytes | None) -> Accepted | Rejected:
    payload = ENCODER.encode(record_or_bytes) if isinstance(record_or_bytes, dict) else record_or_bytes
    return ingest_one(payload, SOURCE, DECODER, RULES, NOW)


def test_valid_event_is_enriched_with_its_source() -> None:
    outcome = run(event())
    assert isinstance(outcome, Accepted)
    record = outcome.record
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == (
        "touchline.touchpoints.raw", 3, 42)
    assert record["ingested_at"] == NOW
    assert record["writer_schema"] == "touchpoint.v2"
    assert record["profile_id"] is None
    AvroEncoder("enriched_touchpoint").encode(record)  # fits the enriched schema


def test_raw_email_and_phone_are_hashed_and_dropped() -> None:
    outcome = run(event(anonymous_id=None, email=" Jane@Example.com ", phone="+49 171 2345678"))
    assert isinstance(outcome, Accepted)
    record = outcome.record
    assert "email" not in record and "phone" not in record
    assert record["email_sha256"] == hashlib.sha256(b"jane@example.com").hexdigest()
    assert record["phone_sha256"] == hashlib.sha256(b"+491712345678").hexdigest()
    assert "Jane" not in repr(record) and "2345678" not in repr(record)


def test_unusable_raw_phone_alone_is_missing_identifier() -> None:
    outcome = run(event(anonymous_id=None, phone="ask at desk"))
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "missing_identifier"
    assert outcome.record["field"] == "phone"


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"anonymous_id": None}, "missing_identifier", None),
        ({"event_time": NOW + timedelta(days=2)}, "event_time_out_of_range", "event_time"),
        ({"event_time": NOW - timedelta(days=91)}, "event_time_out_of_range", "event_time"),
        ({"currency": "euro", "revenue": Decimal("1.00")}, "validation_error", "currency"),
    ],
)
def test_invalid_events_are_dead_letters_naming_the_field(fields: dict, reason: str, field: str | None) -> None:
    record = event(**fields)
    payload = ENCODER.encode(record)
    outcome = run(payload)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == reason, outcome.record["detail"]
    if field:
        assert outcome.record["field"] == field
    dead = outcome.record
    assert dead["payload"] == payload
    assert (dead["source_topic"], dead["source_partition"], dead["source_offset"]) == (
        "touchline.touchpoints.raw", 3, 42)
    assert dead["headers"] == [{"key": "trace", "value": b"t-1"}]
    assert dead["source_key"] == b"key" and dead["event_id"] == "e-1"
    AvroEncoder("rejected_event").encode(dead)


def test_event_time_bounds_are_inclusive_at_the_limit() -> None:
    assert isinstance(run(event(event_time=NOW + RULES.max_future_skew)), Accepted)
    assert isinstance(run(event(event_time=NOW - RULES.max_event_age)), Accepted)


def test_oversized_and_empty() -> None:
    big = run(b"\xc3\x01" + b"x" * (RULES.max_payload_bytes + 1))
    assert isinstance(big, Rejected) and big.reason == "oversized_payload"
    assert isinstance(run(b""), Rejected) and run(b"").reason == "empty_payload"
    assert run(None).reason == "empty_payload"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_give_an_outcome_never_an_exception(payload: bytes) -> None:
    outcome = run(payload)
    assert isinstance(outcome, (Accepted, Rejected))
    if isinstance(outcome, Rejected):
        assert outcome.record["payload"] == payload
        AvroEncoder("rejected_event").encode(outcome.record)


@pytest.mark.parametrize("blank", ["", " ", "\t "])
def test_an_empty_identifier_is_a_missing_one_and_the_event_is_kept(blank: str) -> None:
    outcome = run(ENCODER.encode({**event(anonymous_id=blank, user_id="u-x", device_id=blank)}))
    assert isinstance(outcome, Accepted), outcome
    assert outcome.record["anonymous_id"] is None and outcome.record["device_id"] is None
    assert outcome.record["user_id"] == "u-x"
    assert outcome.blank_identifiers == ("anonymous_id", "device_id")


def test_only_empty_identifiers_is_missing_identifier_saying_so() -> None:
    outcome = run(ENCODER.encode(event(anonymous_id="")))
    assert isinstance(outcome, Rejected) and outcome.reason == "missing_identifier"
    assert "anonymous_id sent empty" in outcome.record["detail"]
