"""Ingest stage: raw touchpoints -> valid topic (keyed for identity), or -> dead-letter topic with the reason.

Concurrency 1 per partition keeps per-key order; the decision itself is the
pure ``streams.ingest.ingest_one``.

Accepted events leave as compact rows (schemas/rows.py: the raw Avro is decoded
once, here) in batch envelopes, one record per partition of ``touchpoints.valid``
and batch (streams/envelopes.py).

Output goes through the app's transport producer (``app.producer.send``),
not ``Topic.send``: the channel/future machinery of ``Topic.send`` cost more
than the whole ingest decision; events are taken in small batches
(``take_events``). Measured per worker on a 2-core machine, forwarding only:
1.3k ev/s with Topic.send, 2.3k with the producer, 3.3k with batches
(docs/benchmarks.md). At-least-once holds: see streams/stages/output.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from infra import metrics
from schemas.registry import connect_registry
from schemas.rows import RowEncoder, utc_now_millis
from schemas.wire import AvroDecoder, AvroEncoder
from streams.identity.observe import observation_of
from streams.envelopes import Packer
from streams.ingest import Accepted, Source, ingest_one
from streams.partitioning import partition_of
from streams.stages.batches import each_batch
from streams.stages.output import Output

log = logging.getLogger(__name__)


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app = pipeline.app
    settings = pipeline.settings
    registry = (connect_registry(settings.schema_registry_url, timeout=settings.kafka_timeout_s)
                if settings.schema_registry_url else None)
    decoder = AvroDecoder("touchpoint", registry=registry, max_payload_bytes=settings.max_payload_bytes)
    valid_encoder = RowEncoder("enriched_touchpoint")  # an internal hop: compact rows (schemas/rows.py)
    reject_encoder = AvroEncoder("rejected_event")
    rules = pipeline.rules
    valid_name, rejects_name = pipeline.names.valid, pipeline.names.rejects
    policy = pipeline.policy

    output = Output(app)
    partitions = settings.input_partitions  # of touchpoints.valid, the identity stage's input

    async def ingest_batch(events) -> None:  # noqa: ANN001 - a batch of faust events
        # Batches (streams/stages/batches.py) cost Faust less per event than iterating one by one;
        # accepted events go on in one envelope per partition (streams/envelopes.py).
        now = utc_now_millis()  # ingested_at as Avro would keep it: the row must read back the same
        valid = Packer()
        for event in events:
            message = event.message
            source = Source(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                timestamp=datetime.fromtimestamp(message.timestamp, timezone.utc) if message.timestamp else None,
                key=message.key,
                headers=_headers(message.headers),
            )
            outcome = ingest_one(message.value, source, decoder, rules, now)
            if isinstance(outcome, Accepted):
                for name in outcome.blank_identifiers:
                    metrics.BLANK_IDENTIFIERS.labels(kind=name).inc()
                # Keyed by the anchor identifier: the identity stage's partition that owns it.
                obs = observation_of(outcome.record, policy)
                key = obs.anchor.encode() if obs is not None else message.key
                value = valid_encoder.encode(outcome.record)
                if key is None:  # no identifier at all: any partition, as a keyless record would go
                    await output.send(valid_name, None, value)
                else:
                    valid.add(partition_of(key, partitions), key, value)
            else:
                await output.send(rejects_name, message.key, reject_encoder.encode(outcome.record),
                                  headers=[("touchline-reason", outcome.reason.encode())])
                metrics.rejected("ingest", outcome.reason, message.topic)
        await output.send_packed(valid_name, valid)

    @app.agent(pipeline.raw, concurrency=1, name=f"{settings.app_id}.ingest")
    async def ingest(stream):  # noqa: ANN001
        await each_batch(stream, ingest_batch)


def _headers(headers) -> list[tuple[str, bytes | None]]:  # noqa: ANN001
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), v if v is None or isinstance(v, bytes) else str(v).encode()) for k, v in items]
