"""`touchline dlq replay`: send dead-lettered events back to the raw topic once their cause is fixed.

1. Capture the rejects topic's end offsets; read every partition from the
   start (or from the first offset at ``since`` minus a clock-skew margin)
   up to those offsets, never further: rejects that arrive meanwhile (the
   replayed events rejected again, say) are not read. A deadline bounds it.
2. Keep the dead letters of the raw topic (stage ingest) with the reason,
   stage and ``rejected_at`` window asked for. Dead letters of later stages
   hold those stages' records, not producer bytes: they are counted, not sent.
3. Send each kept one's original bytes, key and headers to the raw topic with
   the project's producer settings, plus the header ``touchline-replay-of:
   <topic>/<partition>/<offset>`` naming the original position. An original
   is sent at most once per run: a dead letter that is itself a failed replay
   carries the header and counts as a duplicate of its original.

Nothing is committed anywhere: the reader joins no consumer group.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from infra.exceptions import TouchlineError
from infra.settings import Settings
from schemas.reasons import matching

log = logging.getLogger(__name__)

REPLAY_HEADER = "touchline-replay-of"
# Dead letters of one partition can be produced by workers whose clocks differ: start this much earlier.
SKEW_MARGIN = timedelta(minutes=5)


class ReplayError(TouchlineError):
    """The replay could not start (topic missing, Kafka unreachable)."""


@dataclass
class ReplayReport:
    rejects_topic: str
    raw_topic: str
    dry_run: bool
    scanned: int = 0  # dead letters read (within the captured offsets)
    matched: int = 0  # with the reason/stage/time asked for, from the raw topic
    sent: int = 0  # handed to the producer (dry run: would have been)
    replayed: int = 0  # acknowledged by Kafka (dry run: would have been)
    duplicates: int = 0  # matched, but their original was already sent in this run
    not_from_raw: int = 0  # matched reason/time, but dead-lettered by a later stage: not replayable
    undecodable: int = 0  # not a rejected_event record
    failed: int = 0  # sends Kafka refused or did not acknowledge in time
    complete: bool = True  # False: stopped before the end offsets captured at start
    stopped_by: str | None = None  # "limit" (as asked) or "timeout"
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> [start, end)
    seconds: float = 0.0
    first_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "rejects_topic": self.rejects_topic, "raw_topic": self.raw_topic, "dry_run": self.dry_run,
            "scanned": self.scanned, "matched": self.matched, "sent": self.sent, "replayed": self.replayed,
            "duplicates": self.duplicates, "not_from_raw": self.not_from_raw, "undecodable": self.undecodable,
            "failed": self.failed, "complete": self.complete, "stopped_by": self.stopped_by,
            "ranges": {str(p): list(r) for p, r in sorted(self.ranges.items())},
            "seconds": round(self.seconds, 3), "errors": self.first_errors,
        }


@dataclass(frozen=True)
class ReplaySelection:
    reason: str
    stage: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None  # at most this many originals sent

    def wants(self, record: dict) -> bool:
        at = record["rejected_at"]
        return (record["reason"] in matching(self.reason)  # unknown_schema: also the codes split from it
                and (self.stage is None or record["stage"] == self.stage)
                and (self.since is None or at >= self.since)
                and (self.until is None or at < self.until))


def origin_of(record: dict) -> str:
    """The first position of the event: the replay header if this was a replay, else the source position."""
    for header in record.get("headers") or ():
        if header["key"] == REPLAY_HEADER and header.get("value"):
            return header["value"].decode("utf-8", "replace")
    return f"{record['source_topic']}/{record['source_partition']}/{record['source_offset']}"


def replay(settings: Settings, selection: ReplaySelection, dry_run: bool = False, timeout_s: float = 300,
           on_progress: Callable[[ReplayReport, int], None] | None = None) -> ReplayReport:
    from schemas.wire import AvroDecoder
    from streams.kafka_config import confluent_config, producer_config
    from streams.topics import TopicNames

    names = TopicNames.from_settings(settings)
    report = ReplayReport(names.rejects, names.raw, dry_run)
    started = time.monotonic()
    deadline = started + timeout_s
    timeout = settings.kafka_timeout_s
    consumer = Consumer(confluent_config(settings, **{
        # Only assign() is used: the id is required by the client, no group is joined, nothing committed.
        "group.id": f"{settings.app_id}-dlq-replay-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "queued.max.messages.kbytes": 64 * 1024,  # bounded prefetch
    }))
    producer = None if dry_run else Producer(producer_config(settings))
    try:
        remaining = _capture_ranges(consumer, report, selection.since, timeout, settings.bootstrap_servers())
        total = sum(end - start for start, end in report.ranges.values())
        decoder = AvroDecoder("rejected_event", max_payload_bytes=settings.max_payload_bytes * 4)
        seen: set[str] = set()
        consumer.assign([TopicPartition(names.rejects, p, report.ranges[p][0]) for p in remaining])
        while remaining and not _limit_reached(selection, report):
            if time.monotonic() >= deadline:
                break
            messages = consumer.consume(500, timeout=min(0.2, max(0.01, deadline - time.monotonic())))
            for message in messages:
                if message.error() is not None:
                    if message.error().fatal():
                        raise KafkaException(message.error())
                    log.warning("reading %s: %s", names.rejects, message.error().str())
                    continue
                partition, offset = message.partition(), message.offset()
                if partition not in remaining or offset >= remaining[partition]:
                    continue  # past the end captured at start
                report.scanned += 1
                if offset >= remaining[partition] - 1:
                    del remaining[partition]
                    consumer.pause([TopicPartition(names.rejects, partition)])
                _one(message, decoder, selection, report, seen, producer, names.raw)
                if _limit_reached(selection, report):
                    break
            if not messages:
                _drop_finished(consumer, names.rejects, remaining)
            if producer is not None:
                producer.poll(0)
            if on_progress is not None:
                on_progress(report, total)
        if remaining:
            report.complete = False
            report.stopped_by = "limit" if _limit_reached(selection, report) else "timeout"
    finally:
        consumer.close()
        if producer is not None:  # also after an error: what was handed over is delivered or counted
            undelivered = producer.flush(timeout * 3)
            if undelivered:
                report.failed += undelivered
                _note(report, f"{undelivered} send(s) to {names.raw} not acknowledged within {timeout * 3:g}s")
        report.seconds = time.monotonic() - started
    return report


def _capture_ranges(consumer: Consumer, report: ReplayReport, since: datetime | None,
                    timeout: float, servers: str) -> dict[int, int]:
    """Fill ``report.ranges`` with [start, end) per partition; return the ones with something to read."""
    topic = report.rejects_topic
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    except KafkaException as exc:
        raise ReplayError(f"cannot reach Kafka at {servers} within {timeout:g}s: {exc.args[0].str()} "
                          "(check TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS and the security settings)") from None
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ReplayError(f"dead-letter topic {topic} does not exist: check TOUCHLINE_TOPIC_PREFIX, "
                          "or create it with `touchline topics`")
    starts: dict[int, int] = {}
    try:
        if since is not None:
            at = int((since - SKEW_MARGIN).timestamp() * 1000)
            found = consumer.offsets_for_times([TopicPartition(topic, p, at) for p in metadata.partitions],
                                               timeout=timeout)
            starts = {tp.partition: tp.offset for tp in found if tp.error is None}
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            start = starts.get(partition, low)
            start = high if start < 0 else max(start, low)  # -1: nothing at or after ``since``
            report.ranges[partition] = (start, high)
    except KafkaException as exc:
        raise ReplayError(f"cannot read the offsets of {topic} within {timeout:g}s: {exc.args[0].str()} "
                          "(TOUCHLINE_KAFKA_TIMEOUT_S is the wait)") from None
    return {p: end for p, (start, end) in report.ranges.items() if start < end}


def _one(message: Message, decoder, selection: ReplaySelection, report: ReplayReport,  # noqa: ANN001
         seen: set[str], producer: Producer | None, raw_topic: str) -> None:
    try:
        record, _ = decoder.decode(message.value())
    except Exception as exc:  # a foreign or corrupt record in the topic: count it, go on
        report.undecodable += 1
        _note(report, f"{message.topic()}[{message.partition()}]@{message.offset()} not a dead letter: {exc}")
        return
    if not selection.wants(record):
        return
    if record["source_topic"] != raw_topic:
        report.not_from_raw += 1
        return
    report.matched += 1
    origin = origin_of(record)
    if origin in seen:
        report.duplicates += 1
        return
    seen.add(origin)
    report.sent += 1
    if producer is None:
        report.replayed += 1
        return
    headers = [(h["key"], h.get("value")) for h in record.get("headers") or () if h["key"] != REPLAY_HEADER]
    headers.append((REPLAY_HEADER, origin.encode()))

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is None:
            report.replayed += 1
        else:
            report.failed += 1
            _note(report, f"send of {origin} failed: {error.str()}")

    while True:
        try:
            producer.produce(raw_topic, value=record["payload"], key=record.get("source_key"), headers=headers,
                             on_delivery=delivered)
            return
        except BufferError:  # local queue full: let deliveries drain instead of growing
            producer.poll(0.1)


def _limit_reached(selection: ReplaySelection, report: ReplayReport) -> bool:
    return selection.limit is not None and report.sent >= selection.limit


def _drop_finished(consumer: Consumer, topic: str, remaining: dict[int, int]) -> None:
    """Partitions whose position reached the captured end without a message there (deleted by retention)."""
    positions = consumer.position([TopicPartition(topic, p) for p in remaining])
    for tp in positions:
        if tp.offset >= 0 and tp.offset >= remaining.get(tp.partition, 0):
            remaining.pop(tp.partition, None)


def _note(report: ReplayReport, text: str) -> None:
    log.warning("%s", text)
    if len(report.first_errors) < 10:
        report.first_errors.append(text)
