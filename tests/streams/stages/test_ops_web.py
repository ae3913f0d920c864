"""Metrics, health and readiness of a real worker (Faust stages + sink child or thread) on the real broker and store.

N valid (some with an empty cookie) and M malformed events go through one `touchline worker` with its
web server on. Once ClickHouse holds them, /metrics must count exactly what
happened: N+M messages in from the raw topic (per partition: the topic's end
offsets), M rejects by reason, N records out to the valid and enriched
topics, N rows written to `touchpoints` and M to `rejects`, and consumer lag
0 on every partition the worker and its sink consume; /health and /ready
answer 200. Both sink layouts: the sink's series reach the worker's /metrics from its child
process (the default) as from its thread.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from infra.localkafka import free_port
from infra.traffic import produce_simulation
from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import confluent_config, producer_config
from streams.simulator import SimulationConfig
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

EVENTS = 2_000
BLANK_EVENTS = 6


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError):  # not listening yet
        return 0, ""


class Scrape:
    """One /metrics exposition: samples by name, filtered by labels."""

    def __init__(self, text: str):
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def values(self, name: str, **labels: str) -> dict[tuple, float]:
        return {tuple(sorted(s.labels.items())): s.value for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())}

    def total(self, name: str, **labels: str) -> float:
        return sum(self.values(name, **labels).values())

    def by(self, label: str, name: str, **labels: str) -> dict[str, float]:
        out: Counter[str] = Counter()
        for s in self.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                out[s.labels[label]] += s.value
        return dict(out)


def _end_offsets(settings, topic: str, partitions: int) -> dict[str, int]:  # noqa: ANN001
    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-probe"}))
    try:
        return {str(p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        consumer.close()


@pytest.mark.parametrize("sink_mode", ["process", "thread"])
def test_metrics_count_what_happened(settings_factory, worker_factory, sink_mode: str) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    names = TopicNames.from_settings(settings)
    partitions = settings.input_partitions
    end = datetime.now(timezone.utc)
    sent = produce_simulation(settings, SimulationConfig(seed=81, events=EVENTS, malformed_share=0.05,
                                                         start=end - timedelta(days=30), end=end))
    valid, malformed = sent.valid, len(sent.malformed)
    assert malformed >= 20, "the simulator's malformed share drifted"
    # As many SDKs send a missing cookie: "" (or blanks). Kept on the user id, counted per field.
    blank_ids = [f"blank-{i}" for i in range(BLANK_EVENTS)]
    producer, encoder = Producer(producer_config(settings)), AvroEncoder("touchpoint")
    for i, event_id in enumerate(blank_ids):
        producer.produce(names.raw, encoder.encode({
            "event_id": event_id, "event_type": "page_view", "channel": "web", "anonymous_id": " " * (i % 2),
            "user_id": f"u-blank-{i}", "event_time": end - timedelta(minutes=i)}), b"u-blank")
    assert producer.flush(30) == 0
    valid += BLANK_EVENTS

    port = free_port()
    started = time.time()
    worker = worker_factory(settings, "worker", "--web-port", str(port), "--sink-mode", sink_mode)

    # /ready until 200; a 503 seen on the way (joining, recovering) must say why.
    answers: list[tuple[int, str]] = []

    def ready() -> bool:
        assert worker.running, f"worker exited:\n{worker.log_tail()}"
        answers.append(_get(port, "/ready"))
        return answers[-1][0] == 200

    wait_for(ready, timeout=60, what=lambda: f"/ready 200 (last answers {answers[-3:]})")
    for status, body in answers:
        assert status in (0, 200, 503), (status, body)
        if status == 503:
            doc = json.loads(body)
            assert doc["status"] == "not ready" and doc["problems"], doc
    assert json.loads(answers[-1][1]) == {"status": "ready"}

    def stored() -> bool:
        assert worker.running, f"worker exited:\n{worker.log_tail()}"
        touchpoints = client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]
        rejects = client.query(f"SELECT count() FROM {db}.rejects FINAL").result_rows[0][0]
        return (touchpoints, rejects) == (valid, malformed)

    wait_for(stored, timeout=120, what=f"{valid} touchpoints and {malformed} rejects stored")

    # Lag reaches 0 once the last offsets are committed (Faust every 1 s, the sink after its flush;
    # the sink's figure comes from librdkafka statistics every 5 s).
    scrapes: list[Scrape] = []

    def caught_up() -> bool:
        status, text = _get(port, "/metrics")
        assert status == 200, text
        scrapes.append(Scrape(text))
        stages = scrapes[-1].by("partition", "touchline_consumer_lag", consumer="stages", topic=names.raw)
        sink = scrapes[-1].by("partition", "touchline_consumer_lag", consumer="sink", topic=names.enriched)
        return (len(stages), len(sink)) == (partitions, partitions) and not any(stages.values()) \
            and not any(sink.values())

    wait_for(caught_up, timeout=30, what=lambda: "consumer lag 0 on every raw and enriched partition (last: "
             f"{scrapes[-1].values('touchline_consumer_lag') if scrapes else None})")
    scrape = scrapes[-1]

    # In: every raw message once, partition by partition.
    assert scrape.by("partition", "touchline_events_in_total", topic=names.raw) == \
        {p: float(n) for p, n in _end_offsets(settings, names.raw, partitions).items() if n}
    assert scrape.total("touchline_events_in_total", topic=names.raw) == sent.messages + BLANK_EVENTS
    assert scrape.values("touchline_blank_identifiers_total") == {(("kind", "anonymous_id"),): BLANK_EVENTS}
    kept = client.query(f"SELECT event_id, anonymous_id, user_id FROM {db}.touchpoints FINAL "
                        "WHERE event_id IN %(ids)s ORDER BY event_id", parameters={"ids": blank_ids}).result_rows
    assert kept == sorted((e, None, f"u-blank-{i}") for i, e in enumerate(blank_ids))
    # Rejects: every malformed message, by its reason.
    rejects = scrape.by("reason", "touchline_rejects_total", stage="ingest", topic=names.raw)
    assert sum(rejects.values()) == malformed
    stored_reasons = dict(client.query(f"SELECT reason, count() FROM {db}.rejects FINAL GROUP BY reason").result_rows)
    assert rejects == {reason: float(n) for reason, n in stored_reasons.items()}
    expected = Counter(m.expected_reason for m in sent.malformed if m.expected_reason is not None)
    assert all(rejects.get(reason, 0) >= n for reason, n in expected.items()), (rejects, expected)
    assert scrape.total("touchline_rejects_total") == malformed, "a later stage dead-lettered something"
    # Out: each valid event once to valid and enriched, each malformed one to the dead-letter topic.
    assert scrape.total("touchline_events_out_total", topic=names.valid) == valid
    assert scrape.total("touchline_events_out_total", topic=names.enriched) == valid
    assert scrape.total("touchline_events_out_total", topic=names.rejects) == malformed
    # Sink: rows per table, flushes, no ClickHouse error.
    assert scrape.total("touchline_sink_rows_written_total", table="touchpoints") == valid
    assert scrape.total("touchline_sink_rows_written_total", table="rejects") == malformed
    assert scrape.total("touchline_clickhouse_insert_rows_sum", table="touchpoints") == valid
    assert scrape.total("touchline_sink_flush_rows_sum") >= valid + malformed
    assert scrape.total("touchline_sink_flushes_total", outcome="ok") >= 1
    assert scrape.total("touchline_sink_flushes_total", outcome="backpressure") == 0
    assert scrape.total("touchline_clickhouse_errors_total") == 0
    assert scrape.total("touchline_sink_last_flush_timestamp_seconds") >= started
    # Identity, sessions, rebalances, readiness.
    assert scrape.total("touchline_identity_changes_total") > 0
    assert set(scrape.by("kind", "touchline_identity_changes_total")) <= {"assigned", "shared", "conflict",
                                                                         "erased"}
    assert set(scrape.by("partition", "touchline_sessions_open")) <= {str(p) for p in range(partitions)}
    assert scrape.total("touchline_rebalances_total") >= 1
    assert scrape.total("touchline_worker_ready") == 1

    status, body = _get(port, "/health")
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "ok" and doc["loop_delay_s"] < 5, doc
    status, body = _get(port, "/ready")
    assert (status, json.loads(body)) == (200, {"status": "ready"})
