"""Session rows through the real broker into ClickHouse: FINAL shows exactly the reference's sessions.

The rows come from the in-process streaming rule (streams/sessions/inprocess.py)
over simulated touchpoints arriving shuffled, some far later than the allowed
lateness, so the topic carries re-emitted versions and deletion rows; the
sink and ReplacingMergeTree(version, is_deleted) must collapse them to one
row per live session, equal to the batch reference.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Producer

from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import producer_config
from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import SessionPolicy
from streams.sessions.record import session_record
from streams.sessions.reference import sessions_of
from streams.sessions.touches import session_key, touch_of
from streams.topics import TopicNames, ensure_topics
from tests.streams.pipeline_checks import anchored_records, wait_until_sessions_equal

pytestmark = pytest.mark.integration


def test_sessions_final_equals_the_reference(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    policy = SessionPolicy()
    records = anchored_records(3_000, seed=7, end=datetime(2026, 11, 20, tzinfo=timezone.utc))
    rng = random.Random(3)
    # Mostly in time order, one in ten touches two hours late: versions and deletions happen.
    arrivals = sorted(records, key=lambda r: r["event_time"] + timedelta(hours=2 if rng.random() < 0.1 else 0))
    stream = SessionStream(policy)
    emitted_at = datetime.now(timezone.utc)
    for record in arrivals:
        stream.arrive(*session_key(record), touch_of(record))
    stream.finish()
    produced = stream.table.log
    assert any(row.deleted for row in produced) and any(row.version > 1 for row in produced)

    encoder = AvroEncoder("session")
    names = TopicNames.from_settings(settings)
    producer = Producer(producer_config(settings))
    for row in produced:
        producer.produce(names.sessions, key=row.session_key.encode(),
                         value=encoder.encode(session_record(row, emitted_at)))
    assert producer.flush(30) == 0

    sink = worker_factory(settings, "sink")
    wait_until_sessions_equal(client, db, sessions_of(records, policy), [sink], timeout=120)
