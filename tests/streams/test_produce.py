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
from streams.produce import InvalidTouchpoint, TouchpointProducer
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


def test_cli_produce_names_the_bad_line_and_field(settings_factory, tmp_path) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    good = {"event_id": "e-4", "event_type": "page_view", "channel": "web", "anonymous_id": "c-1",
            "event_time": (NOW - timedelta(minutes=2)).isoformat()}
    bad = {**good, "event_id": "e-5", "event_type": "Page View"}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    proc = subprocess.run([sys.executable, "-m", "infra.cli.main", "produce", str(path)],
                          env=settings.to_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "line 2" in proc.stderr and "event_type" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    # the valid first line was sent (and flushed) before the bad one stopped the run
    messages = read_all(settings, TopicNames.from_settings(settings).raw, 1)
    assert [AvroDecoder("touchpoint").decode(m.value())[0]["event_id"] for m in messages] == ["e-4"]
