"""Prometheus metrics of a Touchline process: every metric is declared here, once.

A worker serves them at ``GET /metrics`` on its web port
(streams/stages/ops_web.py); ``touchline sink --metrics-port N`` serves the
sink's. docs/metrics.md lists them with their labels and meaning.

Labels are bounded: topic, partition, stage, reason, table, kind, outcome --
never an identifier, a profile or an event id. Counters count what this
process did since it started; at-least-once means a message re-read after a
crash or a rebalance is counted again by the process that re-reads it.

Metrics live in prometheus_client's default registry (one per process), so
several apps built in one test process add to the same series.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

log = logging.getLogger(__name__)

# The *_created series double every counter for no use of ours.
disable_created_metrics()

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ROWS = (1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000)

# -- stream stages (Faust) ---------------------------------------------------------------
EVENTS_IN = Counter(
    "touchline_events_in_total",
    "Messages the Faust stages took from a source topic (agents' input topics).",
    ["topic", "partition"])
EVENTS_OUT = Counter(
    "touchline_events_out_total",
    "Records the Faust stages handed to the Kafka producer, per destination topic "
    "(enriched touchpoints, sessions, journeys, identity changes, dead letters, internal topics).",
    ["topic"])
REJECTS = Counter(
    "touchline_rejects_total",
    "Dead letters written, by the stage that rejected (ingest, identity, sessions, journeys, sink), "
    "the reason code (docs/producers.md) and the topic the rejected message came from.",
    ["stage", "reason", "topic"])
BLANK_IDENTIFIERS = Counter(
    "touchline_blank_identifiers_total",
    "Identifier fields of accepted raw touchpoints that held an empty or whitespace-only string and were "
    "treated as missing (the event is kept on its other identifiers), by field (kind=anonymous_id, ...).",
    ["kind"])
CONSUMER_LAG = Gauge(
    "touchline_consumer_lag",
    "Messages behind, per assigned partition: the partition's end offset minus the consumer's committed "
    "offset (0 when never committed). consumer=stages: the Faust agents' input topics, computed at scrape time; "
    "consumer=sink: the ClickHouse sink, from librdkafka statistics every few seconds.",
    ["consumer", "topic", "partition"])
REBALANCES = Counter(
    "touchline_rebalances_total",
    "Consumer group rebalances this Faust worker went through (each includes table recovery).")
REBALANCE_SECONDS = Histogram(
    "touchline_rebalance_seconds",
    "From a rebalance's start to the end of its table recovery (processing is paused meanwhile).",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0))
IDENTITY_CHANGES = Counter(
    "touchline_identity_changes_total",
    "Identity change records emitted (streams/identity/protocol.py): kind=assigned (an identifier moved to "
    "another profile: a merge), shared (an identifier became shared and links no profile), conflict (a merge "
    "refused by a guard), erased (GDPR erasure).",
    ["kind"])
SESSIONS_OPEN = Gauge(
    "touchline_sessions_open",
    "Session keys with an open session, per sessions partition this worker owns (the due index; rebuilt on "
    "a partition's first message after a rebalance).",
    ["partition"])
SUPPRESSION_DECISIONS = Counter(
    "touchline_suppression_decisions_total",
    "Contact decisions per channel and decision (allow, suppress_cap, suppress_unsubscribed, suppress_consent, "
    "suppress_quiet_hours): one per decision the journey stage emits to decisions.contact (a change) and per "
    "can_contact answer (docs/optimization.md).",
    ["channel", "decision"])
SEGMENT_CHANGES = Counter(
    "touchline_segment_changes_total",
    "Real-time segment membership changes the journey stage emits to the segments topic, per segment and change "
    "(entered, left) (docs/optimization.md). Segments are the names of the definitions file: few series.",
    ["segment", "change"])
DECISION_DELAY = Histogram(
    "touchline_decision_delay_seconds",
    "From the event time of the touch that caused a contact decision to the decision handed to the producer "
    "(decisions.contact), for touches at most an hour old: live traffic, not backfills or replays. Includes the "
    "channel backend's delay before producing and every stage's queue; a producer clock ahead of ours counts 0.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0))
DECISION_DELAY_HORIZON_S = 3600.0
OFFER_CONFLICTS = Counter(
    "touchline_offer_conflicts_total",
    "Offer conflicts the journey stage emits to alerts.offers: a profile shown two different offers of one "
    "campaign within the offer window, each conflict once (a replay of a batch may count it again) "
    "(docs/optimization.md).")
READY = Gauge(
    "touchline_worker_ready",
    "1 when GET /ready would answer 200 (partitions assigned, recovery done, sink healthy), else 0; "
    "refreshed at every scrape.")

# -- sink (ClickHouse) ------------------------------------------------------------------
SINK_FLUSHES = Counter(
    "touchline_sink_flushes_total",
    "Sink checkpoints (flush every table, then commit offsets): outcome=ok, or backpressure (ClickHouse "
    "unavailable or overloaded: nothing committed, the batch is re-read and retried).",
    ["outcome"])
SINK_FLUSH_ROWS = Histogram(
    "touchline_sink_flush_rows",
    "Rows written by one successful sink checkpoint, all tables together.",
    buckets=ROWS)
SINK_FLUSH_SECONDS = Histogram(
    "touchline_sink_flush_seconds",
    "Duration of one successful sink checkpoint: every insert, the dead-letter producer flush, the commit.",
    buckets=SECONDS)
SINK_LAST_FLUSH = Gauge(
    "touchline_sink_last_flush_timestamp_seconds",
    "Unix time of the last successful sink checkpoint (0 = none since the process started).")
SINK_FAILING_SINCE = Gauge(
    "touchline_sink_failing_since_timestamp_seconds",
    "Unix time of the first failed sink checkpoint since the last successful one (0 = healthy); "
    "GET /ready turns 503 when it is older than max(60 s, 2 x TOUCHLINE_SINK_RETRY_MAX_S).")
SINK_ROWS = Counter(
    "touchline_sink_rows_written_total",
    "Rows inserted into ClickHouse per table. A batch retried after backpressure counts again (ClickHouse "
    "drops the duplicate insert by its dedup token).",
    ["table"])
CLICKHOUSE_INSERT_ROWS = Histogram(
    "touchline_clickhouse_insert_rows",
    "Rows per INSERT (one per table and flush, all source partitions together); ClickHouse prefers 10k-100k.",
    ["table"], buckets=ROWS)
CLICKHOUSE_INSERT_SECONDS = Histogram(
    "touchline_clickhouse_insert_seconds",
    "Duration of one successful INSERT.",
    ["table"], buckets=SECONDS)
CLICKHOUSE_ERRORS = Counter(
    "touchline_clickhouse_errors_total",
    "Failed INSERTs: kind=retriable (down, timeout, too many parts...: the sink backs off and retries) or "
    "fatal (refused for good: the sink stops its process).",
    ["table", "kind"])


# -- helpers for the one-line call sites ----------------------------------------------------
def table_label(table: str) -> str:
    """``db.touchpoints`` -> ``touchpoints``: the database varies per deployment, the table name does not."""
    return table.rpartition(".")[2]


def sink_flushed(rows: int, seconds: float, at: float) -> None:
    """A sink checkpoint succeeded at unix time ``at``."""
    SINK_FLUSHES.labels(outcome="ok").inc()
    SINK_FLUSH_ROWS.observe(rows)
    SINK_FLUSH_SECONDS.observe(seconds)
    SINK_LAST_FLUSH.set(at)


def sink_backpressure() -> None:
    """A sink checkpoint was abandoned and will be retried."""
    SINK_FLUSHES.labels(outcome="backpressure").inc()


def decision_delay(delay_s: float) -> None:
    """A contact decision caused by a touch ``delay_s`` after its event time (older touches: not live, left out)."""
    if delay_s <= DECISION_DELAY_HORIZON_S:
        DECISION_DELAY.observe(max(0.0, delay_s))


def rejected(stage: str, reason: str, topic: str) -> None:
    REJECTS.labels(stage=stage, reason=reason, topic=topic).inc()


# (gauge, label prefix) -> the label tuples set_partition_values last set (prometheus_client lists none).
_owned: dict[tuple[int, tuple[str, ...]], set[tuple[str, ...]]] = {}
_lock = threading.Lock()  # the sink's stats callback and the web server's scrape run in different threads


def set_partition_values(gauge: Gauge, values: dict[tuple[str, ...], float], *prefix: str) -> None:
    """Set ``gauge``'s children under ``prefix`` to ``values`` (label tuples after the prefix); drop the rest.

    Partitions come and go with rebalances: a revoked one must not keep its last value.
    """
    wanted = {(*prefix, *labels): value for labels, value in values.items()}
    with _lock:
        owned = _owned.setdefault((id(gauge), prefix), set())
        for labels in owned - wanted.keys():
            gauge.remove(*labels)
        for labels, value in wanted.items():
            gauge.labels(*labels).set(value)
        owned.clear()
        owned.update(wanted)


def set_open_sessions(by_partition: dict[int, int]) -> None:
    """touchline_sessions_open from the sessions stage's due index (partition -> keys with an open session)."""
    set_partition_values(SESSIONS_OPEN, {(str(p),): n for p, n in by_partition.items()})


def kafka_lag_stats(consumer: str) -> Callable[[str], None]:
    """A librdkafka ``stats_cb`` that sets ``touchline_consumer_lag{consumer=...}`` per assigned partition.

    Called from the consumer's own thread at ``statistics.interval.ms``; cheap (one JSON document).
    """
    def on_stats(document: str) -> None:
        try:
            lags = consumer_lags(json.loads(document))
        except (ValueError, TypeError, AttributeError) as exc:  # a format change must not break consuming
            log.debug("librdkafka statistics not understood: %s", exc)
            return
        set_partition_values(CONSUMER_LAG, lags, consumer)

    return on_stats


def consumer_lags(stats: dict) -> dict[tuple[str, str], int]:
    """(topic, partition) -> lag from a librdkafka statistics document, for the partitions it fetches."""
    lags = {}
    for topic, info in (stats.get("topics") or {}).items():
        for partition, p in (info.get("partitions") or {}).items():
            if partition == "-1" or p.get("fetch_state") in (None, "none"):
                continue  # -1 is librdkafka's internal UA partition; "none" = not assigned to us
            lag, hi, committed = p.get("consumer_lag", -1), p.get("hi_offset", -1), p.get("committed_offset", -1)
            if lag >= 0:
                lags[(topic, partition)] = lag
            elif hi >= 0 and committed < 0:  # never committed: behind by all the partition holds
                lags[(topic, partition)] = hi - max(0, p.get("lo_offset", -1))
    return lags

