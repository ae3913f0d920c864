"""Ingest stage: raw touchpoints -> enriched topic, or -> dead-letter topic with the reason.

Concurrency 1 per partition keeps per-key order; the decision itself is the
pure ``streams.ingest.ingest_one``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from schemas.wire import AvroDecoder, AvroEncoder
from streams.ingest import Accepted, Source, ingest_one

log = logging.getLogger(__name__)


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app = pipeline.app
    settings = pipeline.settings
    decoder = AvroDecoder("touchpoint", registry=_registry(settings))
    enriched_encoder = AvroEncoder("enriched_touchpoint")
    reject_encoder = AvroEncoder("rejected_event")
    rules = pipeline.rules
    enriched_topic, rejects_topic = pipeline.enriched, pipeline.rejects

    @app.agent(pipeline.raw, concurrency=1, name=f"{settings.app_id}.ingest")
    async def ingest(stream):  # noqa: ANN001
        async for event in stream.events():
            message = event.message
            source = Source(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                timestamp=datetime.fromtimestamp(message.timestamp, timezone.utc) if message.timestamp else None,
                key=message.key,
                headers=_headers(message.headers),
            )
            outcome = ingest_one(message.value, source, decoder, rules, datetime.now(timezone.utc))
            if isinstance(outcome, Accepted):
                await enriched_topic.send(key=message.key, value=enriched_encoder.encode(outcome.record))
            else:
                await rejects_topic.send(
                    key=message.key,
                    value=reject_encoder.encode(outcome.record),
                    headers=[("touchline-reason", outcome.reason.encode())],
                )


def _headers(headers) -> list[tuple[str, bytes | None]]:  # noqa: ANN001
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), v if v is None or isinstance(v, bytes) else str(v).encode()) for k, v in items]


def _registry(settings):  # noqa: ANN001, ANN202
    if not settings.schema_registry_url:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": settings.schema_registry_url, "timeout": settings.kafka_timeout_s})
