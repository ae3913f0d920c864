"""The sink runner on the real broker and ClickHouse engine: flush before commit, backpressure, no loss."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from infra.localkafka import free_port
from infra.store.process import StoreProcess
from schemas.wire import AvroDecoder, AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from sinks.worker import build_sink_runner
from streams.ingest import Accepted, IngestRules, Source, ingest_one
from streams.kafka_config import confluent_config, producer_config
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

N = 500


def produce_enriched(settings, n: int) -> list[str]:  # noqa: ANN001
    """n enriched touchpoints on the enriched topic, as the ingest stage would write them."""
    names = TopicNames.from_settings(settings)
    now = datetime.now(timezone.utc)
    encoder, enriched = AvroEncoder("touchpoint"), AvroEncoder("enriched_touchpoint")
    producer = Producer(producer_config(settings))
    ids = []
    for i in range(n):
        record = {"event_id": f"e-{i}", "event_type": "page_view", "channel": "web", "anonymous_id": f"c-{i % 37}",
                  "event_time": now - timedelta(seconds=i)}
        outcome = ingest_one(encoder.encode(record), Source(names.raw, 0, i), AvroDecoder(), IngestRules(), now)
        assert isinstance(outcome, Accepted)
        producer.produce(names.enriched, enriched.encode(outcome.record), f"c-{i % 37}".encode())
        ids.append(f"e-{i}")
    assert producer.flush(30) == 0
    return ids


def committed(settings, topic: str) -> int:  # noqa: ANN001
    """Sum of the sink group's committed offsets on ``topic`` (0 where none)."""
    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-sink"}))
    try:
        parts = consumer.committed([TopicPartition(topic, p) for p in range(settings.input_partitions)], timeout=10)
        return sum(max(tp.offset, 0) for tp in parts)
    finally:
        consumer.close()


def test_clickhouse_down_pauses_commits_nothing_and_resumes(settings_factory, tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    store = StoreProcess(tmp_path / "store", port=port, exit_with_parent=True)
    url = store.start()
    settings = settings_factory(clickhouse_url=url, sink_retry_max_s=1.0, clickhouse_timeout_s=3)
    ensure_topics(settings)
    migrate(connect(settings), settings.clickhouse_database)
    store.stop()  # ClickHouse is down before the first row arrives

    ids = produce_enriched(settings, N)
    enriched_topic = TopicNames.from_settings(settings).enriched
    runner = build_sink_runner(settings, apply_ddl=False)
    thread = threading.Thread(target=runner.run, name="sink-under-test")
    thread.start()
    try:
        wait_for(lambda: runner.stats.backpressure_events >= 3, 60, "three failed flush attempts")
        assert runner.stats.rows_written == 0
        assert committed(settings, enriched_topic) == 0, "offsets committed past unwritten rows"
        assert "ClickHouse unavailable" in (runner.stats.last_error or "")

        StoreProcess(tmp_path / "store", port=port, exit_with_parent=True).start()  # back, same address
        client = connect(settings)
        table = f"{settings.clickhouse_database}.touchpoints"
        wait_for(lambda: client.query(f"SELECT count() FROM {table}").result_rows[0][0] >= N, 60, f"{N} rows")
        wait_for(lambda: committed(settings, enriched_topic) == N, 30, "offsets committed after the flush")
        rows = client.query(f"SELECT event_id FROM {table} FINAL").result_columns[0]
        assert sorted(rows) == sorted(ids)
        raw = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
        assert raw == N, "a retried batch was stored twice"
    finally:
        runner.stop()
        thread.join(30)
        running = StoreProcess.from_state(tmp_path / "store")
        if running is not None:
            running.stop()


def test_replayed_offsets_do_not_duplicate_rows(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    ids = produce_enriched(settings, N)
    client = connect(settings)
    table = f"{settings.clickhouse_database}.touchpoints"
    for run in range(2):  # the second run has no committed offsets: a full replay
        group = f"{settings.app_id}-replay-{run}"
        runner = build_sink_runner(settings, group_id=group)
        thread = threading.Thread(target=runner.run, name=f"sink-replay-{run}")
        thread.start()
        try:
            wait_for(lambda r=runner: r.stats.rows_written >= N, 60, f"run {run} writing {N} rows")
        finally:
            runner.stop()
            thread.join(30)
    final = client.query(f"SELECT count(), uniqExact(event_id) FROM {table} FINAL").result_rows[0]
    assert final == (N, N)
    assert sorted(client.query(f"SELECT event_id FROM {table} FINAL").result_columns[0]) == sorted(ids)
