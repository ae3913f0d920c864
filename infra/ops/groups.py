"""Consumer groups of a deployment, from the Kafka admin API: members, assignments and lag.

Lag of a partition = high watermark - committed offset (what the group still
has to read). A partition the group never committed counts from the log
start (both groups start at ``earliest``), and so does a committed offset
that retention already deleted. Every call carries ``kafka_timeout_s``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from infra.exceptions import TouchlineError
from infra.settings import Settings
from streams.topics import TopicNames


@dataclass(frozen=True)
class GroupSpec:
    """A consumer group of the app and the topics it must read (more show up once it commits)."""

    group_id: str
    role: str  # worker | sink
    inputs: tuple[str, ...]


def app_groups(settings: Settings) -> list[GroupSpec]:
    """The Faust workers' group (app_id) and the ClickHouse sink's (app_id-sink, sinks/worker.py)."""
    names = TopicNames.from_settings(settings)
    return [
        # Agents in streams/stages: ingest, identity (events, commands), sessions (+ ticks), journeys.
        GroupSpec(settings.app_id, "worker", (names.raw, names.valid, names.identity_commands, names.enriched,
                                             names.session_ticks, names.journey_inputs)),
        # Routes in sinks/worker.py.
        GroupSpec(f"{settings.app_id}-sink", "sink", (names.enriched, names.identity_changes, names.sessions,
                                                      names.journeys, names.contact_decisions,
                                                      names.budget_recommendations, names.segments,
                                                      names.offer_alerts, names.rejects)),
    ]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    low: int
    high: int

    @property
    def lag(self) -> int:
        start = self.low if self.committed is None else max(self.committed, self.low)
        return max(0, self.high - start)


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: dict[str, list[int]]  # topic -> partitions


@dataclass
class GroupStatus:
    spec: GroupSpec
    state: str = "unknown"  # stable, preparing_rebalance, completing_rebalance, empty, dead, unknown
    members: list[Member] = field(default_factory=list)
    partitions: list[PartitionLag] = field(default_factory=list)
    missing_topics: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def lag_total(self) -> int:
        return sum(p.lag for p in self.partitions)

    def worst(self) -> PartitionLag | None:
        return max(self.partitions, key=lambda p: p.lag, default=None)


class KafkaUnreachable(TouchlineError):
    """The cluster did not answer a metadata request within kafka_timeout_s."""


def describe_groups(settings: Settings, specs: list[GroupSpec]) -> list[GroupStatus]:
    """Members and lag of each group; KafkaUnreachable if the cluster does not answer in time."""
    from streams.kafka_config import confluent_config

    timeout = settings.kafka_timeout_s
    admin = AdminClient(confluent_config(settings))
    try:
        topics = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise KafkaUnreachable(
            f"cannot reach Kafka at {settings.bootstrap_servers()} within {timeout:g}s: {exc.args[0].str()} "
            "(check TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS, and TOUCHLINE_KAFKA_SECURITY_PROTOCOL / SASL / SSL "
            "settings if the cluster needs them; TOUCHLINE_KAFKA_TIMEOUT_S is the wait)"
        ) from None
    statuses = [GroupStatus(spec) for spec in specs]
    descriptions = admin.describe_consumer_groups([s.group_id for s in specs], request_timeout=timeout)
    for status in statuses:
        try:
            _fill_members(status, descriptions[status.spec.group_id].result(timeout=timeout))
        except (KafkaException, TimeoutError) as exc:
            if _code(exc) == KafkaError.GROUP_ID_NOT_FOUND:
                status.state = "dead"
            else:
                status.error = f"describe group {status.spec.group_id}: {_text(exc)}"
    committed = {s.spec.group_id: _committed(admin, s, timeout) for s in statuses}
    read: dict[str, set[str]] = {}  # group -> existing topics it reads (declared or committed)
    for status in statuses:
        status.missing_topics = sorted(n for n in status.spec.inputs if n not in topics)
        read[status.spec.group_id] = {n for n in (*status.spec.inputs, *(t for t, _ in committed[status.spec.group_id]))
                                      if n in topics}
    wanted = {(name, p) for names in read.values() for name in names for p in topics[name].partitions}
    try:
        low, high = _watermarks(admin, wanted, timeout)
    except (KafkaException, TimeoutError) as exc:
        for status in statuses:
            status.error = status.error or f"watermarks: {_text(exc)}"
        return statuses
    for status in statuses:
        offsets, names = committed[status.spec.group_id], read[status.spec.group_id]
        status.partitions = [
            PartitionLag(t, p, offsets.get((t, p)), low[(t, p)], high[(t, p)])
            for t, p in sorted(wanted) if t in names
        ]
    return statuses


def _code(exc: Exception) -> int | None:
    return exc.args[0].code() if isinstance(exc, KafkaException) and exc.args else None


def _text(exc: Exception) -> str:
    if isinstance(exc, KafkaException) and exc.args:
        return exc.args[0].str()
    return f"no answer ({type(exc).__name__}); TOUCHLINE_KAFKA_TIMEOUT_S is the wait"


def _fill_members(status: GroupStatus, description) -> None:  # noqa: ANN001 - ConsumerGroupDescription
    status.state = description.state.name.lower()
    for member in description.members:
        assignment: dict[str, list[int]] = defaultdict(list)
        for tp in member.assignment.topic_partitions if member.assignment else ():
            assignment[tp.topic].append(tp.partition)
        status.members.append(Member(member.member_id, member.client_id, member.host,
                                     {t: sorted(ps) for t, ps in sorted(assignment.items())}))


def _committed(admin: AdminClient, status: GroupStatus, timeout: float) -> dict[tuple[str, int], int]:
    group = status.spec.group_id
    try:
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout)
        result = futures[group].result(timeout=timeout)
    except (KafkaException, TimeoutError) as exc:
        if _code(exc) != KafkaError.GROUP_ID_NOT_FOUND:
            status.error = status.error or f"committed offsets of {group}: {_text(exc)}"
        return {}
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or ()
            if tp.error is None and tp.offset >= 0}


def _watermarks(admin: AdminClient, wanted: set[tuple[str, int]],
                timeout: float) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """(log start, high watermark) of every partition, two requests in all."""
    result = []
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        offsets: dict[tuple[str, int], int] = {}
        if wanted:
            futures = admin.list_offsets({TopicPartition(t, p): spec for t, p in wanted}, request_timeout=timeout)
            for tp, future in futures.items():
                offsets[(tp.topic, tp.partition)] = future.result(timeout=timeout).offset
        result.append(offsets)
    return result[0], result[1]
