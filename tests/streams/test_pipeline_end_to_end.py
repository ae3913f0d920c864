"""The whole path on real parts: simulator -> Kafka -> Faust ingest -> sink -> ClickHouse.

Every valid event must be in ClickHouse exactly once, every malformed one in
the rejects table with its reason, source position and original bytes:
counts in = counts out, with one and with two worker processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka.admin import AdminClient

from infra.traffic import produce_simulation
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import confluent_config
from streams.simulator import SimulationConfig
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

EVENTS = 10_000


def _prepared(settings_factory, seed: int):  # noqa: ANN001, ANN202
    """Fresh topics and tables, and EVENTS simulated messages (1% malformed) already in Kafka."""
    settings = settings_factory()
    ensure_topics(settings)
    client = connect(settings)
    migrate(client, settings.clickhouse_database)
    end = datetime.now(timezone.utc)
    sent = produce_simulation(settings, SimulationConfig(seed=seed, events=EVENTS, malformed_share=0.01,
                                                         start=end - timedelta(days=30), end=end))
    return settings, client, settings.clickhouse_database, sent


def _sink_group_members(settings) -> int:  # noqa: ANN001
    admin = AdminClient(confluent_config(settings))
    group = f"{settings.app_id}-sink"
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    return len(description.members)


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_counts_in_equal_counts_out(settings_factory, worker_factory, workers: int) -> None:  # noqa: ANN001
    settings, client, db, sent = _prepared(settings_factory, seed=20 + workers)
    assert sent.messages == EVENTS
    assert 50 <= len(sent.malformed) <= 200, "the simulator's malformed share drifted"
    assert all(m.offset >= 0 for m in sent.malformed), "a malformed message was not acknowledged by Kafka"

    procs = [worker_factory(settings, "worker") for _ in range(workers)]

    def landed() -> tuple[int, int] | None:
        for proc in procs:
            assert proc.proc.poll() is None, f"worker exited:\n{proc.log_tail()}"
        touchpoints = client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]
        rejects = client.query(f"SELECT count() FROM {db}.rejects FINAL").result_rows[0][0]
        return (touchpoints, rejects) if (touchpoints, rejects) == (sent.valid, len(sent.malformed)) else None

    wait_for(landed, timeout=300, what=f"{sent.valid} touchpoints and {len(sent.malformed)} rejects")
    if workers == 2:
        assert _sink_group_members(settings) == 2, "both worker processes should share the partitions"

    # Valid events: exactly the ids produced, each once in the final view.
    ids = client.query(f"SELECT event_id FROM {db}.touchpoints FINAL").result_columns[0]
    assert len(ids) == len(set(ids)) == sent.valid
    assert set(ids) == set(sent.valid_event_ids)
    # No raw PII downstream: the table has no raw columns and no value looks like an address.
    assert client.query(
        f"SELECT countIf(position(coalesce(email_sha256, ''), '@') > 0) FROM {db}.touchpoints"
    ).result_rows[0][0] == 0

    # Malformed events: each in the rejects table at its source position, reason and bytes intact.
    raw_topic = TopicNames.from_settings(settings).raw
    result = client.query(
        f"SELECT source_topic, source_partition, source_offset, reason, detail, payload FROM {db}.rejects FINAL",
        column_formats={"payload": "bytes"},
    )
    by_position = {(r[1], r[2]): r for r in result.result_rows}
    assert len(by_position) == len(sent.malformed)
    for message in sent.malformed:
        row = by_position[(message.partition, message.offset)]
        topic, _, _, reason, detail, payload = row
        assert topic == raw_topic
        assert bytes(payload) == message.payload, f"{message.kind}: original bytes not kept"
        assert detail, f"{message.kind}: no detail"
        if message.expected_reason is not None:
            assert reason == message.expected_reason, f"{message.kind}: {reason} ({detail})"


def test_kill_9_mid_stream_then_restart_loses_nothing(settings_factory, worker_factory) -> None:  # noqa: ANN001
    """At-least-once across a crash: the restarted worker redoes what was not committed;
    the final view holds every event exactly once."""
    settings, client, db, sent = _prepared(settings_factory, seed=31)

    def rows() -> int:
        return client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0]

    first = worker_factory(settings, "worker")
    wait_for(lambda: rows() >= 1000, 120, "the first worker writing rows")
    first.kill()  # SIGKILL: no flush, no commit, no goodbye to the group
    assert rows() < sent.valid, "the crash came too late to test anything"

    second = worker_factory(settings, "worker")

    def landed() -> bool:
        assert second.running, f"restarted worker exited:\n{second.log_tail()}"
        final = client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]
        rejects = client.query(f"SELECT count() FROM {db}.rejects FINAL").result_rows[0][0]
        return final == sent.valid and rejects == len(sent.malformed)

    wait_for(landed, timeout=300, what="every event after the restart")
    ids = client.query(f"SELECT event_id FROM {db}.touchpoints FINAL").result_columns[0]
    assert sorted(ids) == sorted(sent.valid_event_ids)
