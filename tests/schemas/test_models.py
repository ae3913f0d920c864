"""The models: constraints, the money and time policies, and one clear message per invalid record."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from schemas.models import (
    Channel, Consent, DeviceType, EnrichedTouchpoint, RejectedEvent, TouchpointEvent, describe_validation_error,
    reject_reason_for,
)
from schemas.reasons import RejectReason
from tests.schemas.samples import NOW, page_view, purchase, touchpoints


def invalid(**overrides: Any) -> tuple[str | None, str, RejectReason]:
    with pytest.raises(ValidationError) as caught:
        TouchpointEvent.model_validate(page_view(**overrides))
    return (*describe_validation_error(caught.value), reject_reason_for(caught.value))


def test_typical_events_validate() -> None:
    event = TouchpointEvent.model_validate(purchase())
    assert event.channel is Channel.web and event.device_type is DeviceType.mobile
    assert event.revenue == Decimal("129.97") and event.items[0].unit_price == Decimal("43.32")
    assert event.consent == Consent(marketing=True, analytics=True)


def test_defaults_mirror_the_schema() -> None:
    event = TouchpointEvent(event_id="e", event_type="app_open", channel="app", device_id="d", event_time=NOW)
    assert event.device_type is DeviceType.unknown
    assert (event.experiments, event.items, event.properties) == ([], [], {})
    assert event.consent == Consent() and event.sent_time is None and event.cost_micros is None


def test_models_are_frozen_and_closed() -> None:
    event = TouchpointEvent.model_validate(page_view())
    with pytest.raises(ValidationError):
        event.event_id = "other"  # type: ignore[misc]
    field, message, _ = invalid(utm_source="x")
    assert field == "utm_source" and "not a field of this schema" in message


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"event_type": "PageView"}, "event_type", "snake_case"),
        ({"event_type": "x" * 65}, "event_type", "snake_case"),
        ({"channel": "tiktok"}, "channel", "'retail_media'"),
        ({"currency": "eur", "revenue": Decimal(1)}, "currency", "ISO 4217"),
        ({"revenue": Decimal("-1.00"), "currency": "EUR"}, "revenue", "greater than or equal to 0"),
        ({"discount_percent": 120}, "discount_percent", "less than or equal to 100"),
        ({"anonymous_id": "a" * 257}, "anonymous_id", "at most 256"),
        ({"campaign_id": ""}, "campaign_id", "send null instead"),
        ({"email_sha256": "A" * 64}, "email_sha256", "64 lowercase hex"),
        ({"items": [{"sku": "s", "quantity": 0, "unit_price": 1}], "currency": "EUR"}, "items[0].quantity", "greater than or equal to 1"),
        ({"items": [{"sku": "s", "quantity": 1, "unit_price": "1.001"}], "currency": "EUR"},
         "items[0].unit_price", "2 decimal places"),
        ({"items": [{"sku": "s", "quantity": 1, "unit_price": 1}] * 101, "currency": "EUR"}, "items", "at most 100"),
        ({"experiments": [{"experiment_id": "x", "variant_id": "a"}] * 2}, "experiments", "appears twice"),
        ({"experiments": [{"experiment_id": "x"}]}, "experiments[0].variant_id", "required"),
        ({"properties": {f"k{i}": "v" for i in range(51)}}, "properties", "at most 50"),
        ({"properties": {"k": "v" * 2049}}, "properties.k", "at most 2048"),
        ({"properties": {"": "v"}}, "properties", "key"),
        ({"event_time": datetime(2026, 1, 1)}, "event_time", "timezone"),
        ({"event_time": "yesterday"}, "event_time", "datetime"),
        ({"revenue": Decimal("9.99")}, "currency", "currency is required"),
        ({"cost_micros": -1, "currency": "EUR"}, "cost_micros", "greater than or equal to 0"),
        ({"locale": "german please"}, "locale", "BCP 47"),
        ({"event_id": None}, "event_id", "valid string"),
    ],
)
def test_one_message_names_the_field_and_the_fix(overrides: dict, field: str, words: str) -> None:
    path, message, reason = invalid(**overrides)
    assert path == field
    assert message.startswith(f"{field}:")
    assert words in message
    assert reason is RejectReason.validation_error
    assert "identifier" not in message  # streams.ingest tells missing_identifier apart by that word


def test_a_missing_field_says_it_is_required() -> None:
    record = page_view()
    del record["event_time"]
    with pytest.raises(ValidationError) as caught:
        TouchpointEvent.model_validate(record)
    assert describe_validation_error(caught.value) == ("event_time", "event_time: Field required; this field is required")


def test_several_errors_still_make_one_message() -> None:
    path, message, _ = invalid(event_type="Bad", currency="eur")
    assert path == "event_type" and message.endswith("(+1 more error)")


def test_no_identifier_names_every_identifier_field() -> None:
    ids = dict.fromkeys(["anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id"])
    path, message, reason = invalid(**ids)
    assert path is None and reason is RejectReason.missing_identifier
    for name in ["anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id", "email",
                 "phone"]:
        assert name in message
    assert "identifier" in message


@pytest.mark.parametrize("identifier", ["device_id", "user_id", "loyalty_id", "email", "phone", "email_sha256"])
def test_any_single_identifier_is_enough(identifier: str) -> None:
    value = {"email": "a@b.example", "phone": "+1 415 555 0100", "email_sha256": "0" * 64}.get(identifier, "x")
    record = page_view(anonymous_id=None, user_id=None)
    record[identifier] = value
    assert getattr(TouchpointEvent.model_validate(record), identifier) == value


def test_raw_email_and_phone_are_never_echoed() -> None:
    _, message, _ = invalid(email="jane.doe at example.com")
    assert message.startswith("email:") and "jane" not in message
    _, message, _ = invalid(phone="9" * 65)
    assert message.startswith("phone:") and "999" not in message


# --- money: exact, two places, never rounded -------------------------------------------------------

@pytest.mark.parametrize("value", [Decimal("0.29"), "0.29", 0.29])
def test_money_is_exact(value: Any) -> None:
    assert TouchpointEvent.model_validate(purchase(revenue=value)).revenue == Decimal("0.29")


def test_money_is_quantized_to_two_places() -> None:
    event = TouchpointEvent.model_validate(purchase(revenue=Decimal("5"), items=[]))
    assert str(event.revenue) == "5.00"


@pytest.mark.parametrize("value", [Decimal("0.295"), 0.1 + 0.2, "1" * 17 + ".00"])
def test_more_precision_than_the_schema_is_rejected_not_rounded(value: Any) -> None:
    path, message, _ = invalid(revenue=value, currency="EUR")
    assert path == "revenue" and ("decimal places" in message or "digits" in message)


# --- time: aware, UTC, whole milliseconds -----------------------------------------------------

def test_datetimes_become_utc_milliseconds() -> None:
    berlin = timezone(timedelta(hours=2))
    event = TouchpointEvent.model_validate(page_view(event_time=datetime(2026, 5, 17, 14, 30, 45, 123456, berlin)))
    assert event.event_time == datetime(2026, 5, 17, 12, 30, 45, 123000, timezone.utc)
    assert event.event_time.tzinfo is timezone.utc


def test_an_int_is_epoch_milliseconds() -> None:
    event = TouchpointEvent.model_validate(page_view(event_time=1_779_021_045_123))
    assert event.event_time == datetime(2026, 5, 17, 12, 30, 45, 123000, timezone.utc)
    path, message, _ = invalid(event_time=10**20)
    assert path == "event_time" and "outside years" in message


# --- avro helpers --------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touchpoints())
def test_to_avro_and_back_is_identity(record: dict) -> None:
    event = TouchpointEvent.model_validate(record)
    assert TouchpointEvent.from_avro(event.to_avro()) == event


def test_enriched_and_rejected_models_round_trip() -> None:
    base = TouchpointEvent.model_validate(purchase()).to_avro()
    del base["email"], base["phone"]
    enriched = EnrichedTouchpoint.from_avro({**base, "source_topic": "raw", "source_partition": 3,
                                             "source_offset": 42, "ingested_at": NOW, "writer_schema": "touchpoint.v2"})
    assert EnrichedTouchpoint.from_avro(enriched.to_avro()) == enriched and enriched.profile_id is None
    rejected = RejectedEvent(reason="avro_decode_error", detail="truncated", stage="ingest", source_topic="raw",
                             source_partition=0, source_offset=7, payload=b"\xc3\x01", rejected_at=NOW,
                             headers=[{"key": "k", "value": None}])
    assert RejectedEvent.from_avro(rejected.to_avro()) == rejected
    assert rejected.to_avro()["headers"] == [{"key": "k", "value": None}]


def test_reason_codes_have_meanings() -> None:
    assert all(reason.meaning and reason == reason.value for reason in RejectReason)
    assert RejectReason("trailing_bytes") is RejectReason.trailing_bytes
