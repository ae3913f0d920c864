"""Builds the sink runner from Settings: touchpoints, identity changes and dead letters into ClickHouse."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from collections.abc import Callable
from functools import partial

from confluent_kafka import Message, Producer

from infra import metrics
from infra.settings import Settings
from schemas.rows import RowDecoder
from schemas.wire import AvroEncoder
from sinks.clickhouse import ClickHouseSink, connect
from sinks.migrate import migrate
from sinks.rows import (
    BUDGET_RECOMMENDATION_COLUMNS, CONTACT_DECISION_COLUMNS, IDENTITY_CHANGE_COLUMNS, JOURNEY_COLUMNS,
    OFFER_CONFLICT_COLUMNS, REJECT_COLUMNS, SEGMENT_MEMBERSHIP_COLUMNS, SESSION_COLUMNS, TOUCHPOINT_COLUMNS,
    budget_recommendation_row, contact_decision_row, identity_change_row, journey_row, offer_conflict_row, reject_row,
    segment_membership_row, session_row, touchpoint_row,
)
from sinks.runner import Route, SinkRunner
from streams.ingest import Source, dead_letter
from streams.kafka_config import confluent_config, producer_config
from streams.topics import TopicNames

log = logging.getLogger(__name__)

SINK_STAGE = "sink"


def source_of(message: Message) -> Source:
    kind, ts = message.timestamp()
    return Source(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        timestamp=datetime.fromtimestamp(ts / 1000, timezone.utc) if kind and ts > 0 else None,
        key=message.key(),
        headers=list(message.headers() or []),
    )


def build_sink_runner(settings: Settings, group_id: str | None = None, apply_ddl: bool = True) -> SinkRunner:
    """Apply the DDL (unless told not to), then wire each topic to its table (enriched -> touchpoints, ...)."""
    database = settings.clickhouse_database
    client_factory = partial(connect, settings)
    if apply_ddl:
        migrate(client_factory(), database, settings.clickhouse_cluster)
    names = TopicNames.from_settings(settings)
    dlq_producer = Producer(producer_config(settings))
    reject_encoder = AvroEncoder("rejected_event")
    retry_after = min(1.0, settings.sink_retry_max_s)
    touchpoints = ClickHouseSink(client_factory, f"{database}.touchpoints", TOUCHPOINT_COLUMNS, retry_after)
    rejects = ClickHouseSink(client_factory, f"{database}.rejects", REJECT_COLUMNS, retry_after)
    identity = ClickHouseSink(client_factory, f"{database}.identity_changes", IDENTITY_CHANGE_COLUMNS, retry_after)
    sessions = ClickHouseSink(client_factory, f"{database}.sessions", SESSION_COLUMNS, retry_after)
    journeys = ClickHouseSink(client_factory, f"{database}.journeys", JOURNEY_COLUMNS, retry_after)
    decisions = ClickHouseSink(client_factory, f"{database}.contact_decisions", CONTACT_DECISION_COLUMNS,
                               retry_after)
    memberships = ClickHouseSink(client_factory, f"{database}.segment_memberships", SEGMENT_MEMBERSHIP_COLUMNS,
                                 retry_after)
    budget = ClickHouseSink(client_factory, f"{database}.budget_recommendations", BUDGET_RECOMMENDATION_COLUMNS,
                            retry_after)
    offer_conflicts = ClickHouseSink(client_factory, f"{database}.offer_conflicts", OFFER_CONFLICT_COLUMNS,
                                     retry_after)

    def decoded(schema: str, max_bytes: int, to_row: Callable[[dict], tuple]) -> Callable[[bytes], tuple]:
        decoder = RowDecoder(schema, max_payload_bytes=max_bytes)  # compact rows or Avro (schemas/rows.py)

        def value_to_row(value: bytes) -> tuple:
            record, _ = decoder.decode(value)
            return to_row(record)

        return value_to_row

    def undecodable(what: str):  # noqa: ANN202
        def dead_letter_it(message: Message, value: bytes, exc: Exception) -> None:
            # Our own topics should only hold our records; if not, the bytes still go to the DLQ.
            record = dead_letter(
                value, source_of(message), "internal_error",
                f"{what} not decodable by the sink: {exc}", datetime.now(timezone.utc), SINK_STAGE,
            )
            dlq_producer.produce(names.rejects, key=message.key(), value=reject_encoder.encode(record))
            metrics.rejected(SINK_STAGE, "internal_error", message.topic())

        return dead_letter_it

    def reject_undecodable(message: Message, value: bytes, exc: Exception) -> None:
        # A dead letter that is itself unreadable is stored as one, with its bytes, not re-queued.
        record = dead_letter(
            value, source_of(message), "internal_error",
            f"dead-letter record not decodable: {exc}", datetime.now(timezone.utc), SINK_STAGE,
        )
        rejects.add(message.topic(), message.partition(), message.offset(), reject_row(record))
        metrics.rejected(SINK_STAGE, "internal_error", message.topic())

    consumer = confluent_config(
        settings,
        **{
            "group.id": group_id or f"{settings.app_id}-sink",
            "session.timeout.ms": 30_000,
            "max.poll.interval.ms": 300_000,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "queued.max.messages.kbytes": 64 * 1024,  # bounded prefetch
            # touchline_consumer_lag{consumer="sink"} from librdkafka's statistics (infra/metrics.py).
            "statistics.interval.ms": 5_000,
            "stats_cb": metrics.kafka_lag_stats("sink"),
        },
    )
    return SinkRunner(
        consumer,
        {
            names.enriched: Route(decoded("enriched_touchpoint", settings.max_payload_bytes * 2, touchpoint_row),
                                  touchpoints, undecodable("enriched record")),
            names.identity_changes: Route(decoded("identity_change", 64 * 1024, identity_change_row), identity,
                                          undecodable("identity change")),
            names.sessions: Route(decoded("session", 64 * 1024, session_row), sessions, undecodable("session")),
            names.journeys: Route(decoded("journey", 256 * 1024, journey_row), journeys, undecodable("journey")),
            names.contact_decisions: Route(decoded("contact_decision", 16 * 1024, contact_decision_row), decisions,
                                           undecodable("contact decision")),
            names.budget_recommendations: Route(decoded("budget_recommendation", 16 * 1024, budget_recommendation_row),
                                                budget, undecodable("budget recommendation")),
            names.segments: Route(decoded("segment_membership", 16 * 1024, segment_membership_row), memberships,
                                  undecodable("segment membership")),
            names.offer_alerts: Route(decoded("offer_conflict", 16 * 1024, offer_conflict_row), offer_conflicts,
                                      undecodable("offer conflict")),
            names.rejects: Route(decoded("rejected_event", settings.max_payload_bytes * 4, reject_row), rejects,
                                 reject_undecodable),
        },
        dead_letter_producer=dlq_producer,
        batch_rows=settings.sink_batch_rows,
        batch_seconds=settings.sink_batch_seconds,
        retry_max_seconds=settings.sink_retry_max_s,
        kafka_timeout=settings.kafka_timeout_s,
    )
