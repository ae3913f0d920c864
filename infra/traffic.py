"""Simulated traffic into Kafka: used by `touchline simulate`, the demo, the benchmark and tests."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message

from infra.progress import Progress
from infra.settings import Settings
from schemas.wire import AvroEncoder
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.simulator.malformed import SimulatedMessage
from streams.simulator.truth import TruthSink


@dataclass
class MalformedSent:
    kind: str
    expected_reason: str | None
    payload: bytes
    partition: int = -1
    offset: int = -1


@dataclass
class TrafficReport:
    """What was produced: enough to check every event's fate downstream."""

    valid: int = 0
    valid_event_ids: list[str] = field(default_factory=list)  # when asked to keep them
    malformed: list[MalformedSent] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def messages(self) -> int:
        return self.valid + len(self.malformed)

    def malformed_by_kind(self) -> Counter[str]:
        return Counter(m.kind for m in self.malformed)

    def send(self, producer: TouchpointProducer, message: SimulatedMessage, keep_ids: bool = True) -> None:
        """Produce one simulated message and record it (a malformed one with its position once delivered)."""
        if message.malformed:
            sent = MalformedSent(message.malformed_kind, message.expected_reason, message.payload or b"")
            self.malformed.append(sent)
            producer.send_raw(message.payload, message.key, on_delivery=record_position(sent))
        else:
            self.valid += 1
            if keep_ids:
                self.valid_event_ids.append(message.record["event_id"])
            producer.send_raw(message.payload, message.key)


def produce_simulation(
    settings: Settings,
    config: SimulationConfig,
    truth: TruthSink | None = None,
    rate: float | None = None,
    show_progress: bool = False,
    keep_ids: bool = True,
    report: TrafficReport | None = None,
) -> TrafficReport:
    """Produce ``simulate(config)`` to the raw topic (at most ``rate`` msg/s); flush; report.

    Pass ``report`` to watch it fill from another thread (a steady load in the fault tests).
    """
    report = report if report is not None else TrafficReport()
    encoder = AvroEncoder("touchpoint")
    progress = Progress("simulate", config.events) if show_progress else None
    started = time.monotonic()
    with TouchpointProducer(settings) as producer:
        for n, message in enumerate(simulate(config, encoder.encode, truth), start=1):
            report.send(producer, message, keep_ids)
            if rate:  # pacing to a target rate, not synchronization
                ahead = n / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if progress:
                progress.update(n)
    report.seconds = time.monotonic() - started
    if progress:
        progress.update(report.messages, "(flushed)", force=True)
    return report


def record_position(sent: MalformedSent):  # noqa: ANN202
    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            sent.partition, sent.offset = message.partition(), message.offset()

    return on_delivery
