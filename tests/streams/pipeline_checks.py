"""Checks shared by the end-to-end tests on the broker: wait for the stored rows, compare with the references."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from infra.processes import TouchlineProcess
from infra.settings import Settings
from sinks.identity_store import all_assignments
from sinks.stored_journeys import JOURNEY_INPUT_COLUMNS
from streams.identity.identifiers import KINDS
from streams.identity.observe import observation_of
from streams.identity.policy import IdentityPolicy
from streams.identity.policy import policy_from_settings
from streams.identity.reference import stitch
from streams.identity.resolve import Resolution
from streams.journeys.build import Journey
from streams.journeys.reference import reference_journeys
from streams.sessions.policy import session_policy_from_settings
from streams.sessions.reference import sessions_of
from streams.sessions.split import Session
from streams.simulator import SimulationConfig, simulate
from tests.fixtures import wait_for


def anchored_records(events: int, seed: int, end: datetime, days: int = 14) -> list[dict]:
    """Valid simulated touchpoints with the identity key the identity stage would give them (no profile)."""
    config = SimulationConfig(seed=seed, events=events, malformed_share=0.0, start=end - timedelta(days=days),
                              end=end)
    policy, records = IdentityPolicy(), []
    for message in simulate(config, lambda r: b""):
        record = dict(message.record)
        obs = observation_of(record, policy)
        record["identity_key"] = obs.anchor if obs is not None else None
        records.append(record)
    return records


def stored_records(client, db: str) -> list[dict]:  # noqa: ANN001
    """The touchpoints in ClickHouse, as the records the batch reference reads."""
    columns = ["event_id", "event_time", *KINDS]
    rows = client.query(f"SELECT {', '.join(columns)} FROM {db}.touchpoints FINAL").result_rows
    return [dict(zip(columns, row)) for row in rows]


def _alive(procs: list[TouchlineProcess]) -> None:
    for proc in procs:
        assert proc.running, f"worker exited:\n{proc.log_tail()}"


def wait_until_stored(client, db: str, expected: int, procs: list[TouchlineProcess],  # noqa: ANN001
                      timeout: float = 300) -> None:
    def missing() -> str | None:
        _alive(procs)
        count = client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]
        return None if count == expected else f"{count} stored"

    wait_for(lambda: missing() is None, timeout=timeout, what=lambda: f"{expected} touchpoints ({missing()})")


def start_web_workers(settings: Settings, worker_factory, count: int = 2  # noqa: ANN001 - the fixture
                      ) -> tuple[list[int], list[TouchlineProcess]]:
    """``count`` workers, each with its HTTP endpoints on a free port; returns once the group is stable."""
    from infra.localkafka import free_port

    ports = [free_port() for _ in range(count)]
    workers = [worker_factory(settings, "worker", "--web-port", str(port)) for port in ports]
    wait_until_group_stable(settings, members=count, procs=workers)
    return ports, workers


def wait_until_group_stable(settings: Settings, members: int, procs: list[TouchlineProcess],
                            timeout: float = 120) -> None:
    """Wait until the workers' consumer group is Stable with ``members`` members (partitions assigned)."""
    from confluent_kafka import ConsumerGroupState, KafkaException
    from confluent_kafka.admin import AdminClient

    from streams.kafka_config import confluent_config

    admin = AdminClient(confluent_config(settings))
    seen: list[str] = ["nothing yet"]

    def stable() -> bool:
        _alive(procs)
        try:
            group = admin.describe_consumer_groups([settings.app_id], request_timeout=10)[settings.app_id].result(10)
        except (KafkaException, TimeoutError) as exc:  # the coordinator is loading, moving or slow: ask again
            seen[0] = repr(exc)
            return False
        seen[0] = f"{group.state}, {len(group.members)} members"
        return group.state == ConsumerGroupState.STABLE and len(group.members) == members

    wait_for(stable, timeout=timeout, what=lambda: f"group {settings.app_id} stable with {members} members "
             f"({seen[0]})")


def changes_of(client, db: str, identifier: str) -> list[tuple]:  # noqa: ANN001
    return client.query(
        f"SELECT kind, profile_id, other_identifier, reason, version FROM {db}.identity_changes "
        "WHERE identifier = %(i)s ORDER BY version, changed_at", parameters={"i": identifier}).result_rows


def wait_until_converged(client, settings: Settings, procs: list[TouchlineProcess],  # noqa: ANN001
                         timeout: float = 180) -> Resolution:
    """The batch reference over the stored touchpoints, once ClickHouse's profiles equal it."""
    db = settings.clickhouse_database
    reference = stitch(stored_records(client, db), policy_from_settings(settings))
    differences: list[str] = []

    def converged() -> bool:
        _alive(procs)
        actual = all_assignments(client, db)
        differences[:] = sorted(i for i in reference.profiles if actual.get(i) != reference.profiles[i])
        return actual == reference.profiles

    try:
        wait_for(converged, timeout=timeout, what="the stitched profiles to equal the batch reference")
    except AssertionError as exc:
        try:
            states = identity_states(settings, differences[:3])
        except Exception as why:  # a diagnostic must not hide the failure it explains
            states = {i: f"(not read: {why!r})" for i in differences[:3]}
        histories = "\n".join(f"  {i}: expected {reference.profiles[i]}, changes {changes_of(client, db, i)}, "
                              f"last changelog state {states.get(i)}" for i in differences[:3])
        raise AssertionError(f"{exc}: {len(differences)} of {len(reference.profiles)} identifiers differ, e.g.\n"
                             f"{histories}") from None
    return reference


SESSION_COLUMNS = ("session_id", "session_key", "touches", "conversions", "revenue", "channels", "landing_event_id",
                   "last_event_id", "start_time", "end_time")
SESSION_INPUT_COLUMNS = JOURNEY_INPUT_COLUMNS


def session_tuple(s: Session) -> tuple:
    """What a session row must show, comparable with ``stored_session_tuples``."""
    return (s.session_id, s.session_key, s.touches, s.conversions, s.revenue_cents, tuple(s.channels),
            s.landing.event_id, s.last.event_id, s.start, s.end)


def stored_session_tuples(client, db: str) -> list[tuple]:  # noqa: ANN001
    """The live sessions in ClickHouse (FINAL), sorted, in ``session_tuple`` form."""
    got = client.query(f"SELECT {', '.join(SESSION_COLUMNS)} FROM {db}.sessions FINAL").result_rows
    return sorted((r[0], r[1], r[2], r[3], int(r[4] * 100), tuple(r[5]), r[6], r[7],
                   int(r[8].timestamp() * 1000), int(r[9].timestamp() * 1000)) for r in got)


def wait_until_sessions_match(client, settings: Settings, procs: list[TouchlineProcess],  # noqa: ANN001
                              timeout: float = 240) -> int:
    """Wait until sessions FINAL equals the reference over the stored touchpoints; returns the session count."""
    db = settings.clickhouse_database
    rows = client.query(f"SELECT {', '.join(SESSION_INPUT_COLUMNS)} FROM {db}.touchpoints FINAL").result_rows
    reference = sessions_of([dict(zip(SESSION_INPUT_COLUMNS, r)) for r in rows],
                            session_policy_from_settings(settings))
    return wait_until_sessions_equal(client, db, reference, procs, timeout)


def wait_until_sessions_equal(client, db: str, reference: dict[str, Session],  # noqa: ANN001
                              procs: list[TouchlineProcess], timeout: float) -> int:
    """Wait until sessions FINAL shows exactly ``reference``; background merges collapse versions at any
    time, so only FINAL is compared, never raw row counts. Returns the session count."""
    expected = sorted(session_tuple(s) for s in reference.values())
    last: list[list[tuple]] = [[]]

    def equal() -> bool:
        _alive(procs)
        last[0] = stored_session_tuples(client, db)
        return last[0] == expected

    try:
        wait_for(equal, timeout=timeout, what="sessions FINAL to equal the reference")
    except AssertionError as exc:
        missing = sorted(set(expected) - set(last[0]))[:3]
        extra = sorted(set(last[0]) - set(expected))[:3]
        raise AssertionError(f"{exc}: {len(last[0])} rows vs {len(expected)}; missing {missing}; extra {extra}"
                             ) from None
    return len(expected)


def journey_tuple(j: Journey) -> tuple:
    """What a journey row must show, comparable with ``stored_journey_tuples``."""
    goal = j.goal
    return (j.journey_id, j.profile_id, len(j.touches), j.sessions, j.converted, j.value_cents, j.channel_path,
            len(j.devices), j.first.event_id, j.last.event_id, goal.event_id if goal else None, j.start, j.end)


def stored_journey_tuples(client, db: str) -> list[tuple]:  # noqa: ANN001
    got = client.query(
        "SELECT journey_id, profile_id, touches, sessions, converted, value, channel_path, devices, first_event_id,"
        f" last_event_id, conversion_event_id, start_time, end_time FROM {db}.journeys FINAL").result_rows
    return sorted((r[0], r[1], r[2], r[3], bool(r[4]), int(r[5] * 100), tuple(r[6]), r[7], r[8], r[9], r[10],
                   int(r[11].timestamp() * 1000), int(r[12].timestamp() * 1000)) for r in got)


def reference_journeys_from_store(client, settings: Settings) -> dict[str, Journey]:  # noqa: ANN001
    """The reference over the stored touchpoints, each with its identifier's current profile."""
    db = settings.clickhouse_database
    rows = client.query(f"SELECT {', '.join(SESSION_INPUT_COLUMNS)}, current_profile_id"
                        f" FROM {db}.touchpoints_resolved").result_rows
    records = [(dict(zip(SESSION_INPUT_COLUMNS, r)), r[-1]) for r in rows]
    return reference_journeys(records, session_policy_from_settings(settings))


def wait_until_journeys_match(client, settings: Settings, procs: list[TouchlineProcess],  # noqa: ANN001
                              timeout: float = 240) -> dict[str, Journey]:
    """Wait until journeys FINAL equals the reference (recomputed each time: identity may still be
    settling); returns the reference."""
    db = settings.clickhouse_database
    last: list = [[], [], {}]

    def equal() -> bool:
        _alive(procs)
        reference = reference_journeys_from_store(client, settings)
        last[0], last[1], last[2] = stored_journey_tuples(client, db), sorted(map(journey_tuple, reference.values())), reference
        return last[0] == last[1]

    try:
        wait_for(equal, timeout=timeout, what="journeys FINAL to equal the reference")
    except AssertionError as exc:
        missing = sorted(set(last[1]) - set(last[0]))[:3]
        extra = sorted(set(last[0]) - set(last[1]))[:3]
        trace = journey_trace(client, settings, missing[0][1]) if missing else ""
        raise AssertionError(f"{exc}: {len(last[0])} rows vs {len(last[1])}; missing {missing}; extra {extra}"
                             f"\n{trace}") from None
    return last[2]


def journey_trace(client, settings: Settings, profile: str) -> str:  # noqa: ANN001
    """For a failure message: the identifiers now in ``profile``, their identity changes, and every
    journeys.inputs message about them (where touches went, which moves were sent)."""
    from streams import envelopes
    from streams.journeys import messages
    from streams.topics import TopicNames

    db = settings.clickhouse_database
    keys = [r[0] for r in client.query(
        f"SELECT DISTINCT identity_key FROM {db}.touchpoints_resolved WHERE current_profile_id = %(p)s",
        parameters={"p": profile}).result_rows]
    lines = [f"trace of {profile}: identifiers {keys}"]
    for key in keys:
        lines.append(f"  {key}: changes {changes_of(client, db, key)}")
    topic = TopicNames.from_settings(settings).journey_inputs
    for message in read_topic(settings, topic):
        for index, (key, value) in enumerate(envelopes.entries(message.key(), message.value())):
            msg = messages.decode(value)
            if msg.get("ik") in keys:  # segment ticks carry none
                lines.append(f"  {topic}[{message.partition()}]@{message.offset()}#{index} key={key.decode()} "
                             f"op={msg['op']} ik={msg['ik']} v={msg['v']} to={msg.get('to')} "
                             f"touches={len(msg['x']) if msg['op'] == 'a' else 1 if msg['op'] == 't' else 0}")
    return "\n".join(lines[:400])


def identity_states(settings: Settings, identifiers: list[str]) -> dict[str, object]:
    """The last changelog value of each identifier's identity state (what a worker would recover): to explain a
    failed convergence."""
    from streams.topics import table_changelog

    wanted = {json.dumps(i).encode(): i for i in identifiers}
    found: dict[str, object] = {}
    for message in read_topic(settings, table_changelog(settings, "identity")):
        if message.key() in wanted:
            found[wanted[message.key()]] = json.loads(message.value()) if message.value() else None
    return found


def read_topic(settings: Settings, topic: str, timeout: float = 60) -> list:
    """Every message of ``topic``, each partition read to its end (confluent-kafka Messages)."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka_config import confluent_config

    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-diagnose",
                                                      "enable.auto.commit": False}))
    found = []
    try:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            consumer.assign([TopicPartition(topic, partition, low)])
            position, deadline = low, time.monotonic() + timeout
            while position < high and time.monotonic() < deadline:
                for message in consumer.consume(1000, timeout=1):
                    if message.error() is None:
                        position = message.offset() + 1
                        found.append(message)
    finally:
        consumer.close()
    return found
