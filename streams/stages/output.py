"""Sending from an agent: straight into the producer client's buffer, never past a failed delivery.

``await app.producer.send(...)`` hands the record to aiokafka's accumulator
before the agent moves on, and faust flushes that client before it commits
source offsets (and when partitions are revoked), so a committed offset never
runs ahead of what it produced. ``Topic.send`` and table writes go through
faust's own ProducerBuffer instead, whose flush gives up after 0.1 s per
record: at-least-once does not hold for them (see streams/stages/durable_table.py).

A delivery that fails for good (retries exhausted) crashes the worker before
the offset that produced it can be committed; a restart re-reads from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import faust

from infra import metrics
from schemas.wire import AvroEncoder
from streams.envelopes import Packer
from streams.ingest import Source, dead_letter

log = logging.getLogger(__name__)


class Output:
    """The one way stages produce records."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._reject_encoder = AvroEncoder("rejected_event")
        self._sent: dict[str, Any] = {}  # topic -> its touchline_events_out_total child

    def _on_delivered(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("delivery to Kafka failed for good, stopping the worker uncommitted: %r", future.exception())
            asyncio.ensure_future(self._app.crash(future.exception()))

    async def send(self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None,
                   headers: Sequence[tuple[str, bytes]] | None = None,
                   on_delivered: Callable[[asyncio.Future], None] | None = None,
                   events: int = 1) -> asyncio.Future:
        """Hand the record to the producer client; the returned future completes when the broker has it.

        ``events``: how many events the record carries (a batch envelope, streams/envelopes.py, more than one).
        """
        future = await self._app.producer.send(topic, key, value, partition, None, headers)
        counter = self._sent.get(topic) or self._sent.setdefault(topic, metrics.EVENTS_OUT.labels(topic=topic))
        counter.inc(events)
        future.add_done_callback(self._on_delivered)
        if on_delivered is not None:
            future.add_done_callback(on_delivered)
        return future

    async def send_packed(self, topic: str, packer: Packer) -> list[asyncio.Future]:
        """Every envelope (or lone large record) of ``packer`` to ``topic``, in order; their delivery futures."""
        return [await self.send(topic, key, value, partition=partition, events=count)
                for partition, key, value, count in packer.records()]

    async def dead_letter(self, topic: str, message, detail: str, stage: str, now: datetime,  # noqa: ANN001
                          entry: tuple[bytes | None, bytes] | None = None) -> None:
        """An input a stage cannot handle goes to the dead-letter ``topic`` with its bytes, position and reason.

        ``entry``: the (key, value) of the one record of a batch envelope that failed, not the whole envelope.
        """
        key, value = entry if entry is not None else (message.key, message.value)
        source = Source(message.topic, message.partition, message.offset, None, key)
        record = dead_letter(value, source, "internal_error", detail, now, stage)
        await self.send(topic, key, self._reject_encoder.encode(record))
        metrics.rejected(stage, "internal_error", message.topic)
