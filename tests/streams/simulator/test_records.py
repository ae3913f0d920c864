"""Every valid record is a touchpoint.v2 the pipeline accepts, in event-time order, keyed by its device."""

from __future__ import annotations

from decimal import Decimal

from schemas.models import TouchpointEvent
from schemas.wire import AvroDecoder
from streams.ingest import Accepted, IngestRules, Source, ingest_one
from streams.pii import normalize_email, normalize_phone, sha256_hex
from streams.simulator import routing_key
from tests.streams.simulator.fixtures import Run, ingest_now

CHANNELS = {"web", "app", "email", "sms", "push", "social", "paid_search", "organic_search", "display", "video",
            "affiliate", "live_chat", "call_center", "store", "marketplace", "event", "direct", "other",
            "retail_media"}


def test_every_record_validates_and_survives_the_model_round_trip(population_run: Run) -> None:
    records = population_run.records
    assert len(records) > 10_000
    for record in records:
        event = TouchpointEvent.model_validate(record)
        dumped = event.to_avro()
        for name, value in record.items():  # nothing is rounded, truncated or coerced on the way
            assert dumped[name] == value, (name, value, dumped[name])


def test_every_valid_message_is_accepted_by_ingest(population_run: Run) -> None:
    decoder = AvroDecoder("touchpoint")
    now = ingest_now(population_run.config)
    for offset, message in enumerate(population_run.messages):
        if message.malformed:
            continue
        outcome = ingest_one(message.payload, Source("raw", 0, offset, key=message.key), decoder, IngestRules(), now)
        assert isinstance(outcome, Accepted), outcome.record["detail"]


def test_records_come_in_event_time_order_and_are_sent_after_they_happen(population_run: Run) -> None:
    records = population_run.records
    config = population_run.config
    assert all(a["event_time"] <= b["event_time"] for a, b in zip(records, records[1:]))
    for record in records:
        assert config.span_start <= record["event_time"] < config.end
        assert record["sent_time"] >= record["event_time"]
        assert record["event_time"].tzinfo is not None and record["event_time"].microsecond % 1000 == 0
    late = sum(1 for r in records if (r["sent_time"] - r["event_time"]).total_seconds() > 60)
    assert late > 0  # offline (POS, call center, app) uploads arrive minutes to hours later


def test_vocabulary_ids_money_and_cost(population_run: Run) -> None:
    records = population_run.records
    assert {r["channel"] for r in records} <= CHANNELS
    assert len({r["event_id"] for r in records}) == len(records)
    seen_types = {r["event_type"] for r in records}
    assert {"page_view", "app_open", "email_send", "email_open", "email_click", "sms_send", "push_send",
            "ad_impression", "ad_click", "search_click", "social_click", "store_visit", "add_to_cart", "checkout",
            "purchase", "unsubscribe", "consent_change", "login", "offer_view", "call"} <= seen_types
    for record in records:
        if record.get("revenue") is not None:
            assert isinstance(record["revenue"], Decimal) and record["revenue"].as_tuple().exponent == -2
            assert record["revenue"] > 0 and record["currency"] in {"EUR", "USD", "GBP"}
            assert record["items"] and all(i["unit_price"].as_tuple().exponent == -2 for i in record["items"])
        if record.get("cost_micros") is not None:
            assert record["channel"] in {"paid_search", "display", "video", "retail_media", "social", "affiliate"}
            assert record["cost_micros"] > 0 and record["currency"]
    assert any(r.get("cost_micros") for r in records if r["channel"] == "paid_search")


def test_hashes_are_of_the_normalized_raw_values(population_run: Run) -> None:
    truth = population_run.truth
    raw_email = [r for r in population_run.records if r.get("email")]
    raw_phone = [r for r in population_run.records if r.get("phone")]
    assert raw_email and raw_phone  # rare, but present: ingest hashing is exercised
    assert len(raw_email) + len(raw_phone) < 0.05 * len(population_run.records)
    for record in raw_email:  # a person's address, or a junk test address (test@test.com) listed as junk
        digest = sha256_hex(normalize_email(record["email"]))
        assert truth.person_of("email_sha256", digest) is not None or f"email_sha256:{digest}" in truth.junk
    for record in raw_phone:
        digest = sha256_hex(normalize_phone(record["phone"], "1"))
        assert truth.person_of("phone_sha256", digest) is not None
    assert any(r["email"] != r["email"].strip().lower() for r in raw_email)  # case and spaces vary


def test_message_key_is_the_device_level_identifier(population_run: Run) -> None:
    for message in population_run.messages:
        if not message.malformed:
            assert message.key == routing_key(message.record)
    assert routing_key({"device_id": "d", "user_id": "u", "email_sha256": "e"}) == b"d"
    assert routing_key({"anonymous_id": "a", "device_id": "d"}) == b"a"
    assert routing_key({"user_id": "u", "loyalty_id": "l", "email_sha256": "e"}) == b"u"
    assert routing_key({"loyalty_id": "l", "email_sha256": "e", "phone_sha256": "p"}) == b"l"
    assert routing_key({"email_sha256": "e", "phone_sha256": "p"}) == b"e"
    assert routing_key({"phone_sha256": "p", "email": "x@example.com"}) == b"p"
    assert routing_key({"email": "x@example.com"}) is None
