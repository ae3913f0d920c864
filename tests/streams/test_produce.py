"""The producer helper: validates before sending, keys by device identifier, bytes decode back exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from confluent_kafka import Consumer

from schemas.wire import AvroDecoder
from streams.kafka_config import confluent_config
from streams.produce import InvalidTouchpoint, MessageTooLarge, TouchpointProducer
from streams.topics import TopicNames, ensure_topics

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def read_all(settings, topic: str, expected: int, timeout: float = 30) -> list:  # noqa: ANN001
    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-reader",
                                                      "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    messages = []
    deadline = datetime.now() + timedelta(seconds=timeout)
    try:
        while len(messages) < expected and datetime.now() < deadline:
            messages += [m for m in consumer.consume(num_messages=100, timeout=0.5) if not m.error()]
        # one more poll: nothing beyond what was expected may arrive
        messages += [m for m in consumer.consume(num_messages=100, timeout=1.0) if not m.error()]
    finally:
        consumer.close()
    return messages


def purchase(event_id: str) -> dict:
    return {
        "event_id": event_id, "event_type": "purchase", "channel": "store", "device_type": "pos_terminal",
        "loyalty_id": "L-77", "order_id": "o-1", "revenue": Decimal("0.29"), "currency": "EUR",
        "items": [{"sku": "sku-1", "quantity": 1, "unit_price": Decimal("0.29")}],
        "event_time": NOW - timedelta(minutes=1),
    }


def test_valid_events_arrive_keyed_and_decode_back_exactly(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    records = [purchase("e-1"), {**purchase("e-2"), "anonymous_id": "cookie-9"}]
    with TouchpointProducer(settings) as producer:
        for record in records:
            producer.send(record)
    messages = read_all(settings, TopicNames.from_settings(settings).raw, 2)
    assert len(messages) == 2
    by_id = {}
    for message in messages:
        record, writer = AvroDecoder("touchpoint").decode(message.value())
        assert writer == "touchpoint.v2"
        by_id[record["event_id"]] = (message.key(), record)
    assert by_id["e-1"][0] == b"L-77"          # loyalty id: the only identifier
    assert by_id["e-2"][0] == b"cookie-9"      # the cookie outranks the loyalty id
    assert by_id["e-1"][1]["revenue"] == Decimal("0.29")
    assert by_id["e-1"][1]["event_time"] == records[0]["event_time"]


def test_invalid_event_is_refused_before_sending(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    with TouchpointProducer(settings) as producer:
        with pytest.raises(InvalidTouchpoint) as info:
            producer.send({**purchase("e-3"), "currency": "euro"})
    assert info.value.field == "currency"
    assert "currency" in str(info.value)
    assert producer.delivered == 0
    assert read_all(settings, TopicNames.from_settings(settings).raw, 0, timeout=2) == []


def test_cli_produce_reports_bad_lines_and_sends_the_rest(settings_factory, tmp_path) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    good = {"event_id": "e-4", "event_type": "page_view", "channel": "web", "anonymous_id": "c-1",
            "event_time": (NOW - timedelta(minutes=2)).isoformat()}
    bad = {**good, "event_id": "e-5", "event_type": "Page View"}
    empty_cookie = {**good, "event_id": "e-6", "anonymous_id": "", "user_id": "u-x"}  # as many SDKs send it
    only_empty = {**good, "event_id": "e-7", "anonymous_id": "  "}
    lines = [json.dumps(good), json.dumps(bad), "{not json", json.dumps(empty_cookie), json.dumps(only_empty)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "infra.cli.main", "produce", str(path)],
                          env=settings.to_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "line 2: invalid touchpoint: event_type:" in proc.stderr, proc.stderr
    assert "event_type: event_type" not in proc.stderr  # the field named once
    assert "line 3: not JSON" in proc.stderr and "line 5: invalid touchpoint" in proc.stderr, proc.stderr
    assert "sent 2 event(s)" in proc.stderr and "3 line(s) refused (line 2, 3, 5)" in proc.stderr, proc.stderr
    # every valid line was sent, the one with an empty cookie on its user id, keyed by it
    messages = read_all(settings, TopicNames.from_settings(settings).raw, 2)
    decoded = {m.key(): AvroDecoder("touchpoint").decode(m.value())[0] for m in messages}
    assert sorted(r["event_id"] for r in decoded.values()) == ["e-4", "e-6"]
    assert decoded[b"u-x"]["anonymous_id"] is None and decoded[b"u-x"]["user_id"] == "u-x"


def test_too_large_messages_are_refused_before_sending_naming_the_limits(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory(max_payload_bytes=2048)
    ensure_topics(settings)
    topic_limit = settings.kafka_max_message_bytes  # the raw topic's max.message.bytes
    with TouchpointProducer(settings) as producer:
        for size in (topic_limit + 1, 10_000_000):  # past the topic's limit; past the client's too
            with pytest.raises(MessageTooLarge) as info:
                producer.send_raw(b"\x00" * size, b"k")
            text = str(info.value)
            assert f"{producer.topic} accepts at most {topic_limit:,}" in text and "max.message.bytes" in text
            assert "TOUCHLINE_MAX_PAYLOAD_BYTES 2,048" in text
        # A valid event that encodes past the payload rule: refused as ingest would dead-letter it.
        with pytest.raises(InvalidTouchpoint, match="TOUCHLINE_MAX_PAYLOAD_BYTES"):
            producer.send({**purchase("e-big"), "properties": {f"k{i}": "v" * 200 for i in range(20)}})
        # Between the payload rule and the topic's limit: sent, for ingest to dead-letter with its bytes.
        producer.send_raw(b"\x00" * (settings.max_payload_bytes + 10), b"k")
    assert producer.delivered == 1
    assert len(read_all(settings, TopicNames.from_settings(settings).raw, 1)) == 1