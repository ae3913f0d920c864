"""Identity stitching on the real broker and engine: simulator -> Kafka -> Faust -> ClickHouse.

The profiles in ClickHouse must equal the batch reference computed from the
stored touchpoints themselves (whatever the number of workers), score
precision 1.0 / recall >= 0.99 against the simulator's truth, resolve every
stored touchpoint to its current profile through the view, and never let a
raw email reach a topic after ingest or a table. `identity forget` erases.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from infra.traffic import produce_simulation
from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.identity_store import all_assignments
from sinks.migrate import migrate
from streams import envelopes
from streams.identity.identifiers import parse_identifier
from streams.identity.scoring import read_truth_people, score_profiles
from streams.kafka_config import confluent_config, producer_config
from streams.simulator import SimulationConfig, TruthWriter
from streams.topics import TopicNames, declared_topics, ensure_topics, table_changelog
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_converged, wait_until_stored

pytestmark = pytest.mark.integration

EVENTS = 6_000
PLANTED_EMAIL = "Planted.Person+tl@Example.ORG"


def _planted_event(end: datetime) -> dict:
    return {"event_id": "planted-raw-email", "event_type": "store_visit", "channel": "store",
            "event_time": end - timedelta(hours=1), "loyalty_id": "LOY-planted", "email": PLANTED_EMAIL}


def _all_topic_bytes(settings, topics: list[str]) -> list[bytes]:  # noqa: ANN001
    """Every key and value in these topics (entries of envelopes one by one), read to their current end."""
    consumer = Consumer(confluent_config(settings, **{"group.id": "pii-scan", "enable.auto.commit": False}))
    try:
        chunks: list[bytes] = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high <= low:
                    continue
                consumer.assign([TopicPartition(topic, partition, low)])
                read = low
                while read < high:
                    msg = consumer.poll(10)
                    assert msg is not None, f"{topic}[{partition}] stopped before offset {high}"
                    if msg.error():
                        continue
                    # Each record of a batch envelope on its own (streams/envelopes.py): the check below
                    # counts records, and a record's bytes are searched as the topic holds them.
                    for key, value in envelopes.entries(msg.key(), msg.value()):
                        chunks += [key or b"", value or b""]
                    read = msg.offset() + 1
        return chunks
    finally:
        consumer.close()


# Two processes: the second joins while the first is already stitching, so the
# table's partitions move mid-stream (the case streams/stages/durable_table.py fixes).
@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_profiles_equal_the_reference_and_the_truth(settings_factory, worker_factory, tmp_path, workers) -> None:  # noqa: ANN001
    settings = settings_factory()
    assert settings.input_partitions == 8
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc)
    truth_path = tmp_path / "truth.jsonl"
    with TruthWriter(truth_path) as truth:
        sent = produce_simulation(settings, SimulationConfig(seed=40, events=EVENTS, malformed_share=0.0,
                                                             start=end - timedelta(days=30), end=end), truth)
    names = TopicNames.from_settings(settings)
    producer = Producer(producer_config(settings))
    producer.produce(names.raw, value=AvroEncoder("touchpoint").encode(_planted_event(end)))
    assert producer.flush(10) == 0
    expected_rows = sent.valid + 1

    procs = [worker_factory(settings, "worker") for _ in range(workers)]

    wait_until_stored(client, db, expected_rows, procs)
    reference = wait_until_converged(client, settings, procs)

    # Against the truth: nobody merged with somebody else; almost every linkable pair linked.
    score = score_profiles(read_truth_people(truth_path), reference.profiles)
    assert score.precision == 1.0, score.summary()
    assert score.recall >= 0.99, score.summary()
    assert score.linkable_pairs > 200, "the run is too small to say anything"

    # Every stored touchpoint resolves to the final profile of the identifier it was stitched under.
    resolved = client.query(
        f"SELECT identity_key, current_profile_id FROM {db}.touchpoints_resolved").result_rows
    assert len(resolved) == expected_rows
    assert all(current == reference.profiles[key] for key, current in resolved)
    conflicts = client.query(f"SELECT identifier, other_identifier FROM {db}.identity_conflicts FINAL").result_rows
    assert {(c.identifier, c.other) for c in reference.conflicts} <= set(conflicts)

    # The planted raw email: hashed at ingest, nowhere after it (topics, changelog, tables).
    needles = [PLANTED_EMAIL.encode(), PLANTED_EMAIL.lower().encode()]
    downstream = [names.valid, names.enriched, names.identity_commands, names.identity_changes, names.rejects,
                  names.sessions, names.session_ticks, names.journey_inputs, names.journeys,
                  names.contact_decisions, names.budget_recommendations, names.segments, names.offer_alerts,
                  table_changelog(settings, "identity"), table_changelog(settings, "sessions"),
                  table_changelog(settings, "journeys")]
    assert {t.name for t in declared_topics(settings)} - {names.raw} <= set(downstream)
    haystack = _all_topic_bytes(settings, downstream)
    assert len(haystack) > 4 * expected_rows
    assert not [chunk for chunk in haystack if any(n in chunk for n in needles)]
    for table in ("touchpoints", "rejects", "identity_changes", "identity_overrides", "identity_conflicts"):
        hits = client.query(
            f"SELECT count() FROM {db}.{table} WHERE positionCaseInsensitive(toString(tuple(*)), %(n)s) > 0",
            parameters={"n": PLANTED_EMAIL}).result_rows[0][0]
        assert hits == 0, f"raw email found in {table}"
    planted = parse_identifier(f"email:{PLANTED_EMAIL}")
    assert reference.profiles[planted] == reference.profiles["loyalty_id:LOY-planted"]

    # GDPR erasure by email: the person's rows and identifiers go, the record of it stays.
    profile = reference.profiles[planted]
    doomed = [i for i, p in reference.profiles.items() if p == profile]
    done = subprocess.run([sys.executable, "-m", "infra.cli.main", "identity", "forget", f"email:{PLANTED_EMAIL}",
                           "--yes"], env=settings.to_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"erased profile {profile}: {len(doomed)} identifiers" in done.stdout
    assert client.query(f"SELECT count() FROM {db}.touchpoints WHERE event_id = 'planted-raw-email'"
                        ).result_rows[0][0] == 0
    assert client.query(f"SELECT profile_id, identifiers FROM {db}.identity_erasures").result_rows == [
        (profile, len(doomed))]

    def forgotten() -> bool:
        erased = client.query(f"SELECT count() FROM {db}.identity_changes WHERE kind = 'erased'").result_rows[0][0]
        return erased == len(doomed) and not set(doomed) & set(all_assignments(client, db))

    wait_for(forgotten, timeout=120, what="the workers to erase the profile's identifiers")
