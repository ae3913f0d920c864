"""Both wire formats: layout, round trips, schema evolution both ways, exact money, registry caching."""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import default_catalog
from schemas.exceptions import DecodeError, EncodeError, SchemaConfigError
from schemas.models import Channel, TouchpointEvent
from schemas.reasons import RejectReason
from schemas.wire import AvroDecoder, AvroEncoder
from tests.schemas.samples import NOW, mock_registry, page_view, purchase, touchpoints

V1_CHANNELS = [c for c in Channel if c is not Channel.retail_media]


def avro(record: dict[str, Any]) -> dict[str, Any]:
    return TouchpointEvent.model_validate(record).to_avro()


def test_single_object_layout() -> None:
    payload = AvroEncoder("touchpoint", 2).encode(avro(page_view()))
    assert payload[:2] == b"\xc3\x01"
    assert payload[2:10] == default_catalog().get("touchpoint", 2).fingerprint


def test_registry_layout_and_subject() -> None:
    registry = mock_registry()
    payload = AvroEncoder(registry=registry, subject="raw-value").encode(avro(page_view()))
    schema_id = int.from_bytes(payload[1:5], "big")
    assert payload[0] == 0 and registry.get_latest_version("raw-value").schema_id == schema_id
    assert AvroDecoder(registry=registry).decode(payload)[1] == f"registry:{schema_id}"


@pytest.mark.parametrize("fmt", ["single-object", "registry"])
@pytest.mark.parametrize("sample", [page_view, purchase])
def test_round_trip(fmt: str, sample: Any) -> None:
    registry = mock_registry() if fmt == "registry" else None
    encoder = AvroEncoder(registry=registry, subject="raw-value" if registry else None)
    event = TouchpointEvent.model_validate(sample())
    record, writer = AvroDecoder(registry=registry).decode(encoder.encode(event))
    assert TouchpointEvent.from_avro(record) == event
    assert writer == ("touchpoint.v2" if registry is None else "registry:1")


def test_money_and_time_survive_exactly() -> None:
    payload = AvroEncoder().encode(avro(purchase(revenue=Decimal("0.29"), items=[
        {"sku": "gum", "quantity": 3, "unit_price": Decimal("0.1")}])))
    record, _ = AvroDecoder().decode(payload)
    assert record["revenue"] == Decimal("0.29") and str(record["revenue"]) == "0.29"
    assert str(record["items"][0]["unit_price"]) == "0.10"
    assert record["event_time"] == NOW and record["event_time"].tzinfo is timezone.utc


def test_v2_reader_reads_v1_events_with_defaults() -> None:
    event = avro(purchase())
    payload = AvroEncoder("touchpoint", 1).encode(event)
    record, writer = AvroDecoder("touchpoint", 2).decode(payload)
    assert writer == "touchpoint.v1"
    assert record["locale"] is None and record["cost_micros"] is None  # new fields: defaults
    assert {k: v for k, v in record.items() if k not in ("locale", "cost_micros")} == {
        k: v for k, v in event.items() if k not in ("locale", "cost_micros")}


def test_v1_reader_reads_v2_events() -> None:
    event = avro(page_view(channel="retail_media", cost_micros=1_500_000, currency="EUR"))
    record, writer = AvroDecoder("touchpoint", 1).decode(AvroEncoder("touchpoint", 2).encode(event))
    assert writer == "touchpoint.v2"
    assert record["channel"] == "other"  # unknown symbol -> the enum default
    assert "cost_micros" not in record and "locale" not in record  # fields v1 does not know are dropped
    assert record["event_id"] == event["event_id"] and record["experiments"] == event["experiments"]


def test_registry_evolution_v1_writer_to_v2_reader() -> None:
    registry = mock_registry()
    payload = AvroEncoder("touchpoint", 1, registry=registry, subject="raw-value").encode(avro(page_view()))
    record, _ = AvroDecoder("touchpoint", 2, registry=registry).decode(payload)
    assert record["locale"] is None and record["anonymous_id"] == "c-8f3a2b"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touchpoints(), st.sampled_from(["single-object", "registry"]))
def test_any_valid_event_round_trips(record: dict, fmt: str) -> None:
    registry = mock_registry() if fmt == "registry" else None
    event = TouchpointEvent.model_validate(record)
    payload = AvroEncoder(registry=registry, subject="raw-value").encode(event)
    decoded, _ = AvroDecoder(registry=registry).decode(payload)
    assert TouchpointEvent.from_avro(decoded) == event


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touchpoints(V1_CHANNELS))
def test_v1_events_keep_their_values_as_v2(record: dict) -> None:
    event = TouchpointEvent.model_validate(record)
    decoded, _ = AvroDecoder().decode(AvroEncoder("touchpoint", 1).encode(event))
    assert TouchpointEvent.from_avro(decoded) == event.model_copy(update={"locale": None, "cost_micros": None})


def test_registry_schemas_are_fetched_once() -> None:
    registry = mock_registry()
    calls: list[int] = []
    original = registry.get_schema
    registry.get_schema = lambda schema_id, *a, **k: calls.append(schema_id) or original(schema_id, *a, **k)
    payload = AvroEncoder(registry=registry, subject="raw-value").encode(avro(page_view()))
    decoder = AvroDecoder(registry=registry)
    for _ in range(5):
        decoder.decode(payload)
    assert calls == [1]


def test_registry_cache_is_bounded_and_unknown_ids_are_remembered() -> None:
    registry = mock_registry()
    calls: list[int] = []
    original = registry.get_schema
    registry.get_schema = lambda schema_id, *a, **k: calls.append(schema_id) or original(schema_id, *a, **k)
    decoder = AvroDecoder(registry=registry, registry_cache_size=3)
    for schema_id in range(100, 110):
        for _ in range(2):
            with pytest.raises(DecodeError) as caught:
                decoder.decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x00")
            assert caught.value.reason is RejectReason.unknown_registry_id
    assert calls == list(range(100, 110))  # each unknown id asked once, not per message
    assert len(decoder.registry._cache) == 3


def test_encoder_errors() -> None:
    with pytest.raises(SchemaConfigError, match="subject"):
        AvroEncoder(registry=mock_registry())
    bad = avro(page_view())
    del bad["event_id"]
    with pytest.raises(EncodeError, match=r"touchpoint\.v2.*event_id"):
        AvroEncoder().encode(bad)
    with pytest.raises(EncodeError, match="(?i)scale"):
        AvroEncoder().encode(dict(avro(page_view()), revenue=Decimal("0.295")))


def test_other_schemas_encode_and_decode() -> None:
    dead_letter = {"reason": "trailing_bytes", "detail": "d", "field": None, "event_id": None, "stage": "ingest",
                   "source_topic": "raw", "source_partition": 0, "source_offset": 1, "source_timestamp": NOW,
                   "source_key": b"k", "headers": [{"key": "h", "value": b"v"}], "payload": b"\x00\xff",
                   "rejected_at": NOW}
    record, writer = AvroDecoder("rejected_event").decode(AvroEncoder("rejected_event").encode(dead_letter))
    assert record == dead_letter and writer == "rejected_event.v1"
    with pytest.raises(DecodeError, match="wrong topic") as caught:  # a dead letter on the raw topic
        AvroDecoder("touchpoint").decode(AvroEncoder("rejected_event").encode(dead_letter))
    assert caught.value.reason is RejectReason.unknown_schema


@pytest.mark.parametrize("millis", [2**62, -(2**62), 1_779_021_045_123_000])  # the last is microseconds
def test_unrepresentable_timestamps_are_decode_errors(millis: int) -> None:
    payload = AvroEncoder().encode(dict(avro(page_view()), event_time=millis))
    with pytest.raises(DecodeError, match="MILLIseconds") as caught:
        AvroDecoder().decode(payload)
    assert caught.value.reason is RejectReason.avro_decode_error
