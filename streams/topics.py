"""Every Kafka topic Touchline owns, declared once, and created explicitly.

Brokers run with ``auto.create.topics.enable=false``: a topic that is not in
``declared_topics`` does not exist. ``ensure_topics`` creates missing topics
and reports (never silently changes) existing ones whose partition count
differs, because repartitioning a keyed topic reshuffles keys.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from infra.exceptions import StackError
from infra.settings import Settings
from streams.kafka_config import ErrorRecorder, confluent_config, connection_error

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)
    doc: str = ""


@dataclass(frozen=True)
class TopicNames:
    """Topic names of one deployment (the prefix isolates environments and tests)."""

    raw: str
    valid: str
    enriched: str
    rejects: str
    identity_commands: str
    identity_changes: str
    sessions: str
    session_ticks: str
    journey_inputs: str
    journeys: str
    contact_decisions: str
    segments: str
    budget_recommendations: str
    offer_alerts: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "TopicNames":
        return cls(
            raw=settings.topic("touchpoints.raw"),
            valid=settings.topic("touchpoints.valid"),
            enriched=settings.topic("touchpoints.enriched"),
            rejects=settings.topic("rejects"),
            identity_commands=settings.topic("identity.commands"),
            identity_changes=settings.topic("identity.changes"),
            sessions=settings.topic("sessions"),
            session_ticks=settings.topic("sessions.ticks"),
            journey_inputs=settings.topic("journeys.inputs"),
            journeys=settings.topic("journeys"),
            contact_decisions=settings.topic("decisions.contact"),
            segments=settings.topic("segments"),
            budget_recommendations=settings.topic("recommendations.budget"),
            offer_alerts=settings.topic("alerts.offers"),
        )


# The stages' Faust tables (streams/stages/identity.py, sessions.py, journeys.py: ``<app_id>-<table>``).
TABLES = ("identity", "sessions", "journeys")


def table_changelog(settings: Settings, table: str) -> str:
    """The changelog topic Faust creates for table ``<app_id>-<table>`` (it prefixes the app id again)."""
    return f"{settings.app_id}-{settings.app_id}-{table}-changelog"


def declared_topics(settings: Settings) -> list[TopicSpec]:
    names = TopicNames.from_settings(settings)
    partitions = settings.input_partitions
    replication = settings.topic_replication
    min_isr = str(min(2, replication))
    max_bytes = str(settings.kafka_max_message_bytes)
    return [
        TopicSpec(
            names.raw,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr,
             "max.message.bytes": max_bytes},
            "Touchpoint events from channel backends (Avro, see docs/producers.md).",
        ),
        TopicSpec(
            names.enriched,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Validated, PII-hashed touchpoints with their source position.",
        ),
        # valid and identity.commands are keyed by identifier and MUST have the same
        # partition count: the identity table's partition p owns both topics' partition p.
        TopicSpec(
            names.valid,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Validated touchpoints on their way to identity stitching: batch envelopes of enriched touchpoint rows "
            "keyed by their anchor identifier (streams/envelopes.py), one record per partition and ingest batch.",
        ),
        TopicSpec(
            names.identity_commands,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Identity protocol messages (JSON: link, label, member, leave, assign, forget...) keyed by identifier.",
        ),
        TopicSpec(
            names.identity_changes,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "min.insync.replicas": min_isr},
            "Identity outcomes (Avro identity_change): assignments, shared identifiers, conflicts, erasures.",
        ),
        TopicSpec(
            names.sessions,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "min.insync.replicas": min_isr},
            "Closed sessions and their later versions or deletions (session rows, schemas/rows.py, in batch "
            "envelopes, streams/envelopes.py), keyed by session key.",
        ),
        # Same partition count as enriched: tick p drives the sessions table's partition p.
        TopicSpec(
            names.session_ticks,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(DAY_MS), "min.insync.replicas": min_isr},
            "Wall-clock ticks, one per partition every few seconds, that close sessions on idle partitions.",
        ),
        # Keyed by profile id: the journey table's partition p owns the topic's partition p.
        TopicSpec(
            names.journey_inputs,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Journey stage messages (JSON: touch, move, add, drop) keyed by profile id (docs/design/journeys.md).",
        ),
        TopicSpec(
            names.journeys,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "min.insync.replicas": min_isr},
            "Journeys and their later versions or deletions (journey rows, schemas/rows.py, in batch envelopes), "
            "keyed by profile id.",
        ),
        # Keyed by profile id, so a profile's decisions stay in order. Delete, not compact: a profile has one
        # decision per channel under one key, and compaction would keep only its last channel's. A consumer
        # starting cold reads contact_decisions_latest (ClickHouse) or the HTTP check, then follows the topic.
        TopicSpec(
            names.contact_decisions,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Contact decisions (Avro contact_decision): allowed or suppressed per profile and channel, with the "
            "reason, keyed by profile id (docs/optimization.md).",
        ),
        # Keyed by profile id: a profile's membership changes stay in order. Delete, not compact: one key holds
        # every segment of a profile. A consumer starting cold reads segment_members_current (ClickHouse).
        TopicSpec(
            names.segments,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Real-time segment membership changes (Avro segment_membership): entered or left, per profile and "
            "segment, keyed by profile id (docs/optimization.md).",
        ),
        # Keyed by arm kind (channel, campaign), so a run's records stay together and in order; one partition:
        # a run is a few dozen records a minute. Delete, not compact: a key holds a whole run, not one arm.
        TopicSpec(
            names.budget_recommendations,
            1,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Budget recommendations (Avro budget_recommendation): the share per channel or campaign of each "
            "bandit run, with its evidence, keyed by arm kind (docs/optimization.md).",
        ),
        # Keyed by profile id, like the other per-profile outputs. Delete, not compact: a profile's conflicts
        # share one key. A consumer starting cold reads offer_conflicts (ClickHouse), then follows the topic.
        TopicSpec(
            names.offer_alerts,
            partitions,
            replication,
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": min_isr},
            "Offer conflicts (Avro offer_conflict): two different offers of one campaign shown to a profile "
            "within the offer window, both named, keyed by profile id (docs/optimization.md).",
        ),
        # The tables' changelogs are created here, before any worker starts, not by Faust at start-up:
        # a worker that subscribed before Faust had created one never recovered that table when its
        # partitions moved (a journeys changelog created a moment late lost journey state in the
        # rebalance fault test).
        *(TopicSpec(
            table_changelog(settings, table),
            partitions,
            replication,
            {"cleanup.policy": "compact", "min.insync.replicas": min_isr,
             # a profile's journey state can be large (streams/journeys/state.py caps its touches)
             "max.message.bytes": str(settings.kafka_max_message_bytes * 2)},
            f"Changelog of the {table} table (Faust): its state, recovered when partitions move.",
        ) for table in TABLES),
        TopicSpec(
            names.rejects,
            partitions,
            replication,
            # Longer retention: on-call fixes the cause, then replays from here.
            {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "min.insync.replicas": min_isr,
             # A dead letter wraps a raw message of up to max_bytes.
             "max.message.bytes": str(settings.kafka_max_message_bytes * 2)},
            "Dead letters: every rejected event with reason, source position and original bytes.",
        ),
    ]


def _list_topics(admin: AdminClient, settings: Settings, errors: ErrorRecorder) -> dict:
    """The cluster's topics; within ``kafka_timeout_s`` a clear error naming the setting to fix.

    Asks in short rounds so a refused login or TLS handshake fails at once, not at the deadline.
    """
    timeout = settings.kafka_timeout_s
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic()))).topics
        except KafkaException as exc:
            admin.poll(0)  # serves the error callback: it says why (login, TLS) where the exception cannot
            if errors.is_fatal_for_config or time.monotonic() >= deadline:
                raise connection_error(settings, timeout, errors.last, str(exc.args[0])) from None


# Create-topic failures that say nothing about the request, only about the connection it went on: asked
# again (bounded by the timeout). librdkafka >= 2.10 drops its bootstrap connections once it has learned
# the cluster's brokers, failing a request in flight on one with _DESTROY_BROKER (seen on a 3-node cluster).
_CREATE_TRANSIENT = frozenset({KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT, KafkaError._TIMED_OUT,
                               KafkaError.NOT_CONTROLLER, KafkaError.REQUEST_TIMED_OUT})
_CREATE_ATTEMPTS = 4


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create the declared topics that do not exist yet; return the names created."""
    specs = declared_topics(settings) if specs is None else specs
    errors = ErrorRecorder()
    admin = AdminClient(confluent_config(settings, error_cb=errors))
    timeout = settings.kafka_timeout_s
    existing = _list_topics(admin, settings, errors)
    for spec in specs:
        if spec.name in existing and len(existing[spec.name].partitions) != spec.partitions:
            log.warning(
                "topic %s has %d partitions, declared %d: left as is (changing it reshuffles keys)",
                spec.name, len(existing[spec.name].partitions), spec.partitions,
            )
    missing = [s for s in specs if s.name not in existing]
    created: list[str] = []
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        if not missing:
            break
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication, config=s.config) for s in missing],
            request_timeout=timeout,
            operation_timeout=timeout,
        )
        again = []
        for spec in missing:
            try:
                futures[spec.name].result(timeout=timeout)
                created.append(spec.name)
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:  # a racing worker made it
                    continue
                if error.code() in _CREATE_TRANSIENT and attempt < _CREATE_ATTEMPTS:
                    again.append(spec)
                    continue
                raise StackError(f"cannot create topic {spec.name}: {error.str()} (after {attempt} attempt(s); "
                                 f"check the brokers and TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS)") from None
        if again:
            log.warning("creating %d topic(s) failed on the connection, asking again: %s",
                        len(again), ", ".join(s.name for s in again))
            time.sleep(0.5 * 2 ** (attempt - 1))  # backoff between whole attempts; at most 3.5 s in all
        missing = again
    if created:
        log.info("created topics %s", ", ".join(created))
    return created
