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
from streams.identity.observe import observation_of
from streams.identity.policy import IdentityPolicy
from streams.kafka_config import producer_config
from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import SessionPolicy
from streams.sessions.record import session_record
from streams.sessions.reference import sessions_of
from streams.sessions.touches import session_key, touch_of
from streams.simulator import SimulationConfig, simulate
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

COLUMNS = ("session_id", "session_key", "touches", "conversions", "revenue", "channels", "landing_event_id",
           "last_event_id", "start_time", "end_time")


def _records(events: int) -> list[dict]:
    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    config = SimulationConfig(seed=7, events=events, malformed_share=0.0, start=end - timedelta(days=14), end=end)
    policy = IdentityPolicy()
    records = []
    for message in simulate(config, lambda r: b""):
        record = dict(message.record)
        obs = observation_of(record, policy)
        record["identity_key"] = obs.anchor if obs is not None else None
        records.append(record)
    return records


def test_sessions_final_equals_the_reference(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    policy = SessionPolicy()
    records = _records(3_000)
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

    reference = sessions_of(records, policy)
    sink = worker_factory(settings, "sink")

    expected = sorted(
        (s.session_id, s.session_key, s.touches, s.conversions, s.revenue_cents, tuple(s.channels),
         s.landing.event_id, s.last.event_id, s.start, s.end) for s in reference.values())

    def final() -> list[tuple]:
        assert sink.running, sink.log_tail()
        rows = client.query(f"SELECT {', '.join(COLUMNS)} FROM {db}.sessions FINAL ORDER BY session_id").result_rows
        return [(r[0], r[1], r[2], r[3], int(r[4] * 100), tuple(r[5]), r[6], r[7], int(r[8].timestamp() * 1000),
                 int(r[9].timestamp() * 1000)) for r in rows]

    # Background merges collapse versions at any time, so only FINAL is compared, never raw counts.
    last: list[list[tuple]] = [[]]

    def equal() -> bool:
        last[0] = final()
        return last[0] == expected

    try:
        wait_for(equal, timeout=120, what="sessions FINAL to equal the reference")
    except AssertionError as exc:
        missing = sorted(set(expected) - set(last[0]))[:3]
        extra = sorted(set(last[0]) - set(expected))[:3]
        raise AssertionError(f"{exc}: {len(last[0])} rows vs {len(expected)}; missing {missing}; extra {extra}"
                             ) from None
