"""Compact rows read back exactly what Avro reads back, old Avro entries still read, and bad rows fail cleanly."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.catalog import default_catalog
from schemas.exceptions import DecodeError, EncodeError
from schemas.models import Channel, TouchpointEvent
from schemas.reasons import RejectReason
from schemas.rows import ROW_MAGIC, RowDecoder, RowEncoder, millis
from schemas.wire import AvroDecoder, AvroEncoder
from tests.schemas.samples import NOW, purchase, touchpoints

V1_CHANNELS = [c for c in Channel if c is not Channel.retail_media]


def enriched(touchpoint: dict[str, Any], version: int = 2) -> dict[str, Any]:
    """An enriched touchpoint as ingest and identity make it, from a producer's record."""
    record = TouchpointEvent.model_validate(touchpoint).to_avro()
    fields = [f["name"] for f in default_catalog().get("enriched_touchpoint", version).parsed["fields"]]
    extra = {"profile_id": "p-1", "identity_key": "anonymous_id:c-1", "source_topic": "touchline.touchpoints.raw",
             "source_partition": 3, "source_offset": 41, "ingested_at": NOW, "writer_schema": "touchpoint.v2"}
    return {name: extra[name] if name in extra else record.get(name) for name in fields}


def via_avro(record: dict[str, Any], version: int = 2, reader_version: int = 2) -> dict[str, Any]:
    payload = AvroEncoder("enriched_touchpoint", version).encode(record)
    return AvroDecoder("enriched_touchpoint", reader_version).decode(payload)[0]


@settings(max_examples=150, deadline=None)
@given(touchpoints())
def test_a_row_reads_back_what_avro_reads_back(touchpoint: dict) -> None:
    record = enriched(touchpoint)
    back, label = RowDecoder("enriched_touchpoint").decode(RowEncoder("enriched_touchpoint").encode(record))
    assert label == "row:enriched_touchpoint.v2"
    assert back == via_avro(record)
    assert [type(v) for v in back.values()] == [type(v) for v in via_avro(record).values()]


@settings(max_examples=50, deadline=None)
@given(touchpoints(V1_CHANNELS))
def test_a_row_of_the_older_version_resolves_as_avro_would(touchpoint: dict) -> None:
    record = enriched(touchpoint, version=1)
    back, label = RowDecoder("enriched_touchpoint", 2).decode(RowEncoder("enriched_touchpoint", 1).encode(record))
    assert label == "row:enriched_touchpoint.v1"
    assert back == via_avro(record, version=1, reader_version=2)


def test_avro_entries_of_an_older_pipeline_still_read() -> None:
    record = enriched(purchase())
    back, label = RowDecoder("enriched_touchpoint").decode(AvroEncoder("enriched_touchpoint").encode(record))
    assert label == "enriched_touchpoint.v2"
    assert back == via_avro(record)


def test_fields_left_out_take_their_schema_default_as_in_avro() -> None:
    record = enriched(purchase())
    del record["profile_id"], record["items"]  # a union with null, and an array with default []
    encoder = AvroEncoder("enriched_touchpoint")
    back, _ = RowDecoder("enriched_touchpoint").decode(RowEncoder("enriched_touchpoint").encode(record))
    assert back == AvroDecoder("enriched_touchpoint").decode(encoder.encode(record))[0]
    assert back["profile_id"] is None and back["items"] == []


def test_money_and_time_round_trip_exactly() -> None:
    record = enriched(purchase(revenue=Decimal("0.29")))
    back, _ = RowDecoder("enriched_touchpoint").decode(RowEncoder("enriched_touchpoint").encode(record))
    assert str(back["revenue"]) == "0.29" and back["items"][0]["unit_price"] == Decimal("43.32")
    assert back["event_time"] == NOW and back["event_time"].tzinfo is not None


def test_millis_keeps_what_avro_keeps() -> None:
    moment = NOW.replace(microsecond=123456)
    assert millis(moment) == NOW.replace(microsecond=123000)
    assert via_avro(enriched(purchase(event_time=moment)))["event_time"] == millis(moment)


def _row(values: Any, schema: str = "enriched_touchpoint") -> bytes:
    return ROW_MAGIC + default_catalog().get(schema).fingerprint + msgpack.packb(values, datetime=True)


@pytest.mark.parametrize(("payload", "reason", "words"), [
    (lambda: RowEncoder("enriched_touchpoint").encode(enriched(purchase()))[:-7], RejectReason.avro_decode_error,
     "truncated or corrupt"),
    (lambda: RowEncoder("enriched_touchpoint").encode(enriched(purchase())) + b"\x00",
     RejectReason.avro_decode_error, "truncated or corrupt"),
    (lambda: _row([1, 2, 3]), RejectReason.avro_decode_error, "holds 3 field values, the schema has 36"),
    (lambda: _row({"event_id": "e"}), RejectReason.avro_decode_error, "holds no field values"),
    (lambda: ROW_MAGIC + b"\x01" * 8 + msgpack.packb([]), RejectReason.unknown_fingerprint, "not in the catalog"),
    (lambda: _row([], "session"), RejectReason.unknown_schema, "session.v1"),
    (lambda: ROW_MAGIC + default_catalog().get("enriched_touchpoint").fingerprint + b"\xc7\x02\x07ab",
     RejectReason.avro_decode_error, "unknown msgpack extension type 7"),
    (lambda: b"", RejectReason.empty_payload, "empty"),
])
def test_bad_rows_are_decode_errors_with_their_reason(payload, reason: RejectReason, words: str) -> None:  # noqa: ANN001
    with pytest.raises(DecodeError) as caught:
        RowDecoder("enriched_touchpoint").decode(payload())
    assert caught.value.reason == reason and words in str(caught.value)


def test_oversized_rows_are_refused() -> None:
    payload = RowEncoder("enriched_touchpoint").encode(enriched(purchase()))
    with pytest.raises(DecodeError) as caught:
        RowDecoder("enriched_touchpoint", max_payload_bytes=len(payload) - 1).decode(payload)
    assert caught.value.reason == RejectReason.oversized_payload


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_the_header_decode_or_raise_decode_error(body: bytes) -> None:
    header = ROW_MAGIC + default_catalog().get("enriched_touchpoint").fingerprint
    try:
        RowDecoder("enriched_touchpoint").decode(header + body)
    except DecodeError:
        pass


def test_records_that_do_not_fit_are_encode_errors_naming_the_field() -> None:
    encoder, record = RowEncoder("enriched_touchpoint"), enriched(purchase())
    with pytest.raises(EncodeError, match="field 'writer_schema' is missing and has no default"):
        encoder.encode({k: v for k, v in record.items() if k != "writer_schema"})
    with pytest.raises(EncodeError, match="enriched_touchpoint.v2"):
        encoder.encode({**record, "event_time": datetime(2026, 5, 17, 12, 30)})  # naive: not a UTC instant
    with pytest.raises(EncodeError, match="object has no row encoding"):
        encoder.encode({**record, "properties": object()})
    assert RowDecoder("enriched_touchpoint").decode(encoder.encode(record))[0] == via_avro(record)  # still usable
