"""Every reject reason is reachable by a crafted message, in this layer and through the ingest decision."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError
from pydantic import ValidationError

from schemas.exceptions import DecodeError
from schemas.models import TouchpointEvent, reject_reason_for
from schemas.reasons import RejectReason
from schemas.registry import connect_registry
from schemas.wire import AvroDecoder, AvroEncoder
from tests.schemas.samples import NOW, mock_registry, page_view

Case = Callable[[], tuple[Any, AvroDecoder]]  # -> (payload, decoder that reads it)


def _valid(**overrides: Any) -> bytes:
    return AvroEncoder().encode(TouchpointEvent.model_validate(page_view(**overrides)).to_avro())


def _raw(**overrides: Any) -> bytes:
    """Avro that fits the schema but not the model (the encoder does not validate)."""
    return AvroEncoder().encode({**TouchpointEvent.model_validate(page_view()).to_avro(), **overrides})


_REGISTRY_WITH_OTHER: list[Any] = []


def _other_record_id() -> int:
    """A registry holding another record schema (a message on the wrong topic); its id."""
    from confluent_kafka.schema_registry import Schema

    registry = mock_registry()
    _REGISTRY_WITH_OTHER[:] = [registry]
    return registry.register_schema("other-value", Schema(
        '{"type": "record", "name": "Other", "namespace": "x", "fields": []}', "AVRO"))


class _DownRegistry:
    def __init__(self, error: Exception):
        self.error = error

    def get_schema(self, schema_id: int, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CASES: dict[RejectReason, Case] = {
    RejectReason.empty_payload: lambda: (b"", AvroDecoder()),
    RejectReason.oversized_payload: lambda: (_valid(), AvroDecoder(max_payload_bytes=100)),
    RejectReason.bad_magic_byte: lambda: (b'{"event_id": "e1"}', AvroDecoder()),
    RejectReason.unknown_fingerprint: lambda: (b"\xc3\x01" + b"\x00" * 8 + _valid()[10:], AvroDecoder()),
    RejectReason.no_registry_configured: lambda: (b"\x00\x00\x00\x00\x01" + _valid()[10:], AvroDecoder()),
    RejectReason.unknown_registry_id: lambda: (b"\x00\x00\x00\x03\xe7" + _valid()[10:],
                                              AvroDecoder(registry=mock_registry())),
    RejectReason.unknown_schema: lambda: (b"\x00" + _other_record_id().to_bytes(4, "big") + b"\x00",
                                         AvroDecoder(registry=_REGISTRY_WITH_OTHER[0])),
    RejectReason.schema_registry_unavailable: lambda: (
        b"\x00\x00\x00\x00\x01" + _valid()[10:], AvroDecoder(registry=_DownRegistry(ConnectionRefusedError(111)))),
    RejectReason.avro_decode_error: lambda: (_valid()[:-3], AvroDecoder()),
    RejectReason.trailing_bytes: lambda: (_valid() + b"\x00", AvroDecoder()),
    RejectReason.validation_error: lambda: (_raw(event_type="PageView"), AvroDecoder()),
    RejectReason.missing_identifier: lambda: (_raw(anonymous_id=None, user_id=None), AvroDecoder()),
    RejectReason.event_time_out_of_range: lambda: (_valid(event_time=NOW - timedelta(days=400)), AvroDecoder()),
    RejectReason.internal_error: lambda: ("a str, not bytes", AvroDecoder()),  # only a caller's bug gets here
}


def test_every_reason_has_a_case() -> None:
    assert set(CASES) == set(RejectReason)


def schema_layer_reason(payload: Any, decoder: AvroDecoder) -> RejectReason | None:
    """What this package alone says: a DecodeError reason, a validation reason, or None (accepted)."""
    try:
        record, _ = decoder.decode(payload)
    except DecodeError as exc:
        return exc.reason
    try:
        TouchpointEvent.from_avro(record)
    except ValidationError as exc:
        return reject_reason_for(exc)
    return None


@pytest.mark.parametrize("reason", list(CASES), ids=str)
def test_reason_from_the_schema_layer(reason: RejectReason) -> None:
    expected = None if reason is RejectReason.event_time_out_of_range else reason  # a stage rule, not a schema one
    assert schema_layer_reason(*CASES[reason]()) == expected


@pytest.mark.parametrize("reason", list(CASES), ids=str)
def test_reason_through_the_ingest_decision(reason: RejectReason) -> None:
    from streams.ingest import IngestRules, Rejected, Source, ingest_one

    payload, decoder = CASES[reason]()
    rules = IngestRules(max_payload_bytes=decoder.max_payload_bytes)
    outcome = ingest_one(payload, Source("raw", 0, 7), decoder, rules, NOW)
    assert isinstance(outcome, Rejected) and outcome.reason == reason
    assert outcome.record["detail"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SchemaRegistryError(404, 40403, "Schema not found"), RejectReason.unknown_registry_id),
        (SchemaRegistryError(503, 50003, "unavailable"), RejectReason.schema_registry_unavailable),
        (SchemaRegistryError(401, 40101, "unauthorized"), RejectReason.schema_registry_unavailable),
        (TimeoutError("read timed out"), RejectReason.schema_registry_unavailable),
    ],
)
def test_registry_failures_map_to_reasons(error: Exception, reason: RejectReason) -> None:
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(registry=_DownRegistry(error)).decode(b"\x00\x00\x00\x00\x05\x00")
    assert caught.value.reason is reason
    assert caught.value.retriable is (reason is RejectReason.schema_registry_unavailable)


def test_a_real_client_with_nothing_listening_is_unavailable() -> None:
    client = connect_registry(f"http://127.0.0.1:{_closed_port()}", **{"max.retries": 0, "timeout": 2})
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(registry=client).decode(b"\x00\x00\x00\x00\x01\x00")
    assert caught.value.reason is RejectReason.schema_registry_unavailable
    assert "TOUCHLINE_SCHEMA_REGISTRY_URL" in caught.value.detail


def test_registry_framing_without_a_registry_names_the_setting() -> None:
    with pytest.raises(DecodeError, match="set TOUCHLINE_SCHEMA_REGISTRY_URL") as caught:
        AvroDecoder().decode(b"\x00\x00\x00\x00\x01" + _valid()[10:])
    assert caught.value.reason is RejectReason.no_registry_configured


@pytest.mark.parametrize(
    ("schema_str", "schema_type", "words"),
    [
        ('{"type": "record", "name": "Other", "namespace": "x", "fields": []}', "AVRO", "wrong topic"),
        ('{"type": "record", "name": "Broken", "fields": [{"name": "a"}]}', "AVRO", "not a valid Avro schema"),
        ('{"type": "object"}', "JSON", "produce Avro"),
    ],
)
def test_unreadable_registry_schemas_are_unknown(schema_str: str, schema_type: str, words: str) -> None:
    from confluent_kafka.schema_registry import Schema

    registry = mock_registry()
    schema_id = registry.register_schema("raw-value", Schema(schema_str, schema_type))
    with pytest.raises(DecodeError, match=words) as caught:
        AvroDecoder(registry=registry).decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x00")
    assert caught.value.reason is RejectReason.unknown_schema


def test_details_say_what_to_do() -> None:
    details = {}
    for reason, case in CASES.items():
        payload, decoder = case()
        try:
            decoder.decode(payload)
        except DecodeError as exc:
            details[reason] = exc.detail
    assert "JSON" in details[RejectReason.bad_magic_byte]
    assert "fingerprint 0000000000000000" in details[RejectReason.unknown_fingerprint]
    assert "touchpoint.v2" in details[RejectReason.unknown_fingerprint]
    assert "not in the schema registry" in details[RejectReason.unknown_registry_id]
    assert "wrong topic" in details[RejectReason.unknown_schema]
    assert "1 byte(s) follow" in details[RejectReason.trailing_bytes]
    assert "limit is 100" in details[RejectReason.oversized_payload]


def test_decode_errors_share_the_project_root() -> None:
    from infra.exceptions import TouchlineError

    with pytest.raises(TouchlineError):
        AvroDecoder().decode(b"")


def test_a_filter_on_the_old_code_also_selects_the_codes_split_from_it() -> None:
    from schemas.reasons import matching

    assert set(matching("unknown_schema")) == {"unknown_schema", "unknown_fingerprint", "no_registry_configured",
                                               "unknown_registry_id"}
    assert matching("unknown_fingerprint") == ("unknown_fingerprint",)
    assert matching("avro_decode_error") == ("avro_decode_error",)
