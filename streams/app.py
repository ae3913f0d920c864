"""The Faust app factory: one app per worker process, built from Settings (no module-level app)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import faust
from prometheus_client.metrics_core import Metric

from infra.settings import Settings
from streams import commit_alarm, failpoints
from streams.identity.policy import IdentityPolicy, policy_from_settings
from streams.ingest import IngestRules
from streams.kafka_config import faust_broker_kwargs
from streams.optimization.reload import PolicySource, SegmentsSource, reload_on_sighup
from streams.partitioning import KeyedPartitioner
from streams.stages.batches import BATCH_EVENTS
from streams.stages.web_access import advertised_url, protect
from streams.topics import TopicNames


FETCH_BYTES_PER_PARTITION = 64 * 1024


@dataclass(frozen=True)
class Pipeline:
    """What the stage modules attach to: the app, its topics and the rules."""

    app: faust.App
    settings: Settings
    names: TopicNames
    raw: faust.TopicT
    valid: faust.TopicT
    identity_commands: faust.TopicT
    enriched: faust.TopicT
    rejects: faust.TopicT
    rules: IngestRules
    policy: IdentityPolicy
    tables: dict[str, Any] = field(default_factory=dict)  # filled by the stages, for web views and tests
    # Readiness checks beyond the Faust app's own (name -> None or what is wrong): GET /ready.
    probes: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    # Refresh gauges computed from in-memory state, before each GET /metrics.
    scrape_hooks: list[Callable[[], None]] = field(default_factory=list)
    # Applied in turn to this process's metric families at each GET /metrics: adds the series of
    # another process (the sink child, infra/sink_process.py).
    metrics_merges: list[Callable[[Iterable[Metric]], Iterable[Metric]]] = field(default_factory=list)
    # The contact policy in force (streams/optimization): the journey stage's decisions and the HTTP check.
    contact_policy: PolicySource = field(default_factory=lambda: PolicySource(None))
    # The real-time segment definitions in force: the journey stage's memberships, the context, the caps.
    segment_definitions: SegmentsSource = field(default_factory=lambda: SegmentsSource(None))


def create_app(settings: Settings) -> Pipeline:
    failpoints.check(settings)
    commit_alarm.install()
    datadir = settings.data_dir / "worker" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        **faust_broker_kwargs(settings),
        store=settings.table_store,
        # At-least-once with idempotent sinks; faust's exactly_once has open
        # bugs (faust-streaming #323, #502).
        processing_guarantee="at_least_once",
        topic_partitions=settings.input_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        # Commit often enough that a restart re-reads little, rarely enough
        # that commits do not dominate.
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        broker_commit_livelock_soft_timeout=settings.worker_commit_stall_alarm_s,
        # A dead worker's partitions move after 30 s (faust's 60 s default is long
        # for on-call); the request timeout must be larger than the session's.
        broker_session_timeout=30.0,
        broker_heartbeat_interval=3.0,
        broker_request_timeout=max(settings.kafka_timeout_s * 3, 40.0),
        producer_acks=-1,
        # zstd, not lz4: aiokafka compresses lz4 at level 9 (HC), about 85 MB/s here against 530 MB/s for
        # zstd at its level 3, which also packs our batches smaller (docs/benchmarks.md).
        producer_compression_type="zstd",
        producer_linger_ms=10,
        # Every keyed send picks its partition through this (a cached murmur2, streams/partitioning.py).
        producer_partitioner=KeyedPartitioner(),
        table_standby_replicas=settings.table_standby_replicas,
        # Dead letters carry the original bytes, up to the raw topic's limit.
        producer_max_request_size=settings.kafka_max_message_bytes * 2 + 64 * 1024,
        stream_buffer_maxsize=4096,
        # Small fetches, so every stage gets its share of each fetch: with faust's 1 MiB per partition a
        # backlog on one topic (raw after a restart) fills the fetches and the stages behind it wait
        # until it is drained, one stage after the other (first row after 12 s instead of 6 s on 20k
        # events, docs/benchmarks.md). A larger record still arrives (Kafka returns at least one batch).
        consumer_max_fetch_size=FETCH_BYTES_PER_PARTITION,
        broker_max_poll_records=BATCH_EVENTS,
        web_enabled=settings.worker_web_port != 0,
        web_port=settings.worker_web_port or 6066,
        # Listen here; tell the group (and so every lookup forwarded to this worker's keys) the advertised address.
        web_bind=settings.worker_web_bind,
        web_host=settings.worker_web_advertised_host,
        canonical_url=advertised_url(settings),
        datadir=str(datadir),
    )
    names = TopicNames.from_settings(settings)

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    rules = IngestRules(
        max_payload_bytes=settings.max_payload_bytes,
        max_event_age=timedelta(days=settings.max_event_age_days),
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        phone_default_country_code=settings.phone_default_country_code,
    )
    pipeline = Pipeline(
        app, settings, names,
        raw=raw_topic(names.raw),
        valid=raw_topic(names.valid),
        identity_commands=raw_topic(names.identity_commands),
        enriched=raw_topic(names.enriched),
        rejects=raw_topic(names.rejects),
        rules=rules,
        policy=policy_from_settings(settings),
        contact_policy=PolicySource(settings.contact_policy_file),  # an unusable file stops the worker here
        segment_definitions=SegmentsSource(settings.segments_file),  # likewise
    )

    @app.task
    async def reload_contact_policy_on_sighup() -> None:
        reload_on_sighup(pipeline.contact_policy, pipeline.segment_definitions)

    from streams.stages import context_web, identity, ingest, journeys, ops_web, sessions  # stages attach agents to the pipeline's app

    ingest.attach(pipeline)
    identity.attach(pipeline)
    sessions.attach(pipeline)
    journeys.attach(pipeline)
    failpoints.arm(app, settings)
    if settings.worker_web_port:
        protect(app, settings)
        context_web.attach(pipeline)
        ops_web.attach(pipeline)
    return pipeline
