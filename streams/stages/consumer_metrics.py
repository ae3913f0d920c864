"""What the Faust consumer does, as Prometheus metrics: messages in, rebalances, lag per partition.

``StageSensor`` is a Faust sensor (``app.sensors.add``): Faust calls
``on_message_in`` once per message a stream takes from a source topic, and
the rebalance hooks around every rebalance (its end is the end of table
recovery). Output is counted in streams/stages/output.py instead: our stages
produce through ``app.producer.send``, which calls no sensor (only
``Topic.send`` does).

Lag is computed when /metrics is scraped (``refresh_stage_lag``): per assigned
partition of the agents' input topics, the end offset the consumer last saw
in a fetch response minus the offset Faust last committed. Bounded work: one
dictionary lookup per assigned partition, no request to the broker.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from faust.types import TP, AppT, Message

from infra import metrics

log = logging.getLogger(__name__)

STAGES = "stages"  # the consumer label of the Faust agents (the sink's is "sink")


class StageSensor(faust.Sensor):
    """Counts messages in per topic-partition, and rebalances."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in: dict[TP, Any] = {}  # tp -> its counter child (label lookups cost more than the increment)
        self._rebalance_started: float | None = None

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:  # noqa: ARG002
        counter = self._in.get(tp)
        if counter is None:
            counter = self._in[tp] = metrics.EVENTS_IN.labels(topic=tp.topic, partition=str(tp.partition))
        counter.inc()

    def on_rebalance_start(self, app: AppT) -> dict:
        metrics.REBALANCES.inc()
        self._rebalance_started = time.monotonic()
        return super().on_rebalance_start(app)

    def on_rebalance_end(self, app: AppT, state: dict) -> None:  # noqa: ARG002
        if self._rebalance_started is not None:
            metrics.REBALANCE_SECONDS.observe(time.monotonic() - self._rebalance_started)
            self._rebalance_started = None


def source_partitions(app: faust.App) -> list[TP]:
    """The assigned partitions of the topics the agents consume (changelogs and standbys left out)."""
    topics = app.topics.acking_topics
    return sorted(tp for tp in app.consumer.assignment() if tp.topic in topics)


def stage_lag(app: faust.App) -> dict[tuple[str, str], int]:
    """(topic, partition) -> end offset - committed offset, for the partitions whose end is known yet."""
    consumer = app.consumer
    # Faust's own record of what it committed (seeded from the broker at assignment, updated at every
    # commit); it has no public getter. A partition never committed counts from offset 0.
    committed = getattr(consumer, "_committed_offset", {})
    lags = {}
    for tp in source_partitions(app):
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - revoked between assignment() and here, or not fetched yet
            continue
        if end is None:
            continue
        lags[(tp.topic, str(tp.partition))] = max(0, end - (committed.get(tp) or 0))
    return lags


def refresh_stage_lag(app: faust.App) -> None:
    try:
        lags = stage_lag(app)
    except Exception as exc:  # noqa: BLE001 - consumer not started or stopping: report nothing
        log.debug("consumer lag not available: %r", exc)
        lags = {}
    metrics.set_partition_values(metrics.CONSUMER_LAG, lags, STAGES)
