"""The sink loop: consume -> buffer -> flush to ClickHouse -> commit offsets, in that order.

Checkpoint order (at-least-once, every write idempotent):

1. flush every sink (one insert per topic-partition batch, with a dedup token);
2. flush the dead-letter producer (records this stage itself rejected);
3. commit the consumed offsets, synchronously.

If a sink raises ``SinkBackpressure`` (ClickHouse down, overloaded, too many
parts) the runner commits nothing: it pauses its partitions, rewinds them to
the first uncommitted offset, waits with exponential backoff (polling, so
the group keeps it) and retries the same data. Memory stays bounded by
``sink_batch_rows``: consumption stops while a batch waits.

If the commit itself fails (broker restarting, group coordinator moving,
member fenced) the rows are already written: the offsets stay pending and the
next checkpoint commits them; a partition revoked meanwhile is re-read by its
next owner, and the tables keep one row per key. The sink never dies of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from sinks.base import BatchingSink
from streams import envelopes
from sinks.exceptions import SinkBackpressure
from sinks.health import SinkHealth

log = logging.getLogger(__name__)

TP = tuple[str, int]


@dataclass
class Route:
    """How messages of one topic become rows of one sink.

    A message is one record, or a batch envelope of several (streams/envelopes.py): each
    record's value becomes one row, at the message's offset.
    """

    to_row: Callable[[bytes], tuple]  # a record's value -> its row; raises on a value it cannot convert
    sink: BatchingSink
    on_bad_message: Callable[[Message, bytes, Exception], None]  # dead-letters the value; must not raise


@dataclass
class RunnerStats:
    rows_written: int = 0
    bad_messages: int = 0
    flushes: int = 0
    backpressure_events: int = 0
    commit_failures: int = 0
    last_flush_at: datetime | None = None
    last_flush_seconds: float = 0.0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SinkRunner:
    def __init__(
        self,
        consumer_config: dict[str, Any],
        routes: dict[str, Route],
        dead_letter_producer: Producer | None = None,
        batch_rows: int = 20_000,
        batch_seconds: float = 1.0,
        retry_max_seconds: float = 30.0,
        kafka_timeout: float = 10.0,
    ):
        self._consumer = Consumer(
            {
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                **consumer_config,
            }
        )
        self._routes = routes
        self._sinks = list({id(r.sink): r.sink for r in routes.values()}.values())
        self._producer = dead_letter_producer
        self._batch_rows = batch_rows
        self._batch_seconds = batch_seconds
        self._retry_max = retry_max_seconds
        self._kafka_timeout = kafka_timeout
        self._pending: dict[TP, tuple[int, int]] = {}  # tp -> (first, last) uncommitted offsets
        self._stop = threading.Event()
        self._backoff = 0.0
        self.stats = RunnerStats()
        self.health = SinkHealth()  # metrics and the readiness probe (sinks/health.py)

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume until ``stop()``; then flush and commit what is buffered."""
        self._consumer.subscribe(list(self._routes), on_revoke=self._on_revoke)
        log.info("sink consuming %s", ", ".join(self._routes))
        last_flush = time.monotonic()
        try:
            while not self._stop.is_set():
                room = self._batch_rows - self._buffered()
                messages = self._consumer.consume(num_messages=max(1, min(room, 10_000)), timeout=0.2)
                for message in messages:
                    self._handle(message)
                due = time.monotonic() - last_flush >= self._batch_seconds
                if self._pending and (self._buffered() >= self._batch_rows or due):
                    self._checkpoint()
                    last_flush = time.monotonic()
                elif not self._pending:
                    last_flush = time.monotonic()
            self._checkpoint()
        finally:
            for sink in self._sinks:
                sink.close()
            try:
                self._consumer.close()
            except:  # noqa: E722 - confluent-kafka raises KafkaError objects here, which are not exceptions
                log.warning("closing the sink consumer failed (the group drops this member on its own)")
            log.info("sink stopped: %d rows written", self.stats.rows_written)

    # -- per message --------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            log.warning("consumer error: %s", error)
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        route = self._routes[topic]
        try:
            records = envelopes.entries(message.key(), message.value())
        except envelopes.EnvelopeError as exc:
            self.stats.bad_messages += 1
            route.on_bad_message(message, message.value(), exc)
            records = []
        for _, value in records:
            try:
                row = route.to_row(value)
            except Exception as exc:  # never crash on input: dead-letter and move on
                self.stats.bad_messages += 1
                route.on_bad_message(message, value, exc)
            else:
                route.sink.add(topic, partition, offset, row)
        first, _ = self._pending.get((topic, partition), (offset, offset))
        self._pending[(topic, partition)] = (first, offset)

    def _buffered(self) -> int:
        return sum(s.buffered_rows for s in self._sinks)

    # -- checkpoint ------------------------------------------------------------------------
    def _checkpoint(self, wait_on_backpressure: bool = True) -> bool:
        if not self._pending:
            return True
        started = time.monotonic()
        try:
            written = sum(sink.flush() for sink in self._sinks)
            if self._producer is not None and self._producer.flush(self._kafka_timeout) > 0:
                raise SinkBackpressure("dead-letter producer could not deliver within timeout")
        except SinkBackpressure as exc:
            self._rewind(exc)
            if wait_on_backpressure:
                self._wait(exc)
            return False
        self.stats.rows_written += written
        offsets = [TopicPartition(t, p, last + 1) for (t, p), (_, last) in self._pending.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # written but not committed: keep the offsets for the next checkpoint
            self.stats.commit_failures += 1
            self.stats.last_error = f"commit failed: {exc.args[0]}"
            log.warning("sink offsets not committed (%s): retrying at the next checkpoint; the rows are written",
                        exc.args[0])
            if exc.args[0].fatal():
                raise
            return False
        self._pending.clear()
        self._backoff = 0.0
        stats = self.stats
        stats.flushes += 1
        stats.last_flush_at = datetime.now(timezone.utc)
        stats.last_flush_seconds = time.monotonic() - started
        stats.last_error = None
        self.health.flushed(written, stats.last_flush_seconds)
        return True

    def _rewind(self, exc: SinkBackpressure) -> None:
        """Forget the buffer and seek back to the first uncommitted offsets."""
        self.stats.backpressure_events += 1
        self.health.failed()
        self.stats.last_error = str(exc)
        for sink in self._sinks:
            sink.clear()
        for (topic, partition), (first, _) in self._pending.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, first))
            except KafkaException as seek_error:  # revoked meanwhile: the new owner re-reads it
                log.debug("seek %s[%d] failed: %s", topic, partition, seek_error)
        self._pending.clear()

    def _wait(self, exc: SinkBackpressure) -> None:
        """Back off (exponentially, up to retry_max) with partitions paused, then resume."""
        self._backoff = min(self._retry_max, max(exc.retry_after, self._backoff * 2 or exc.retry_after))
        log.warning("%s; retrying in %.1fs (nothing committed)", exc, self._backoff)
        self._consumer.pause(self._consumer.assignment())
        deadline = time.monotonic() + self._backoff
        while not self._stop.is_set() and time.monotonic() < deadline:
            for message in self._consumer.consume(num_messages=100, timeout=min(0.2, max(0.0, deadline - time.monotonic()))):
                self._handle(message)  # from partitions assigned meanwhile (not paused)
        self._consumer.resume(self._consumer.assignment())

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Commit what we hold before the partitions move, so the next owner
        # does not write it again (it would be deduplicated, but costs work).
        # Never back off here: that would stall the whole group's rebalance.
        if self._pending and not self._checkpoint(wait_on_backpressure=False):
            log.info("revoked with an unflushed buffer or an uncommitted position: the next owner re-reads it")
        for tp in partitions:  # no longer ours: never commit them later over the next owner's progress
            self._pending.pop((tp.topic, tp.partition), None)
