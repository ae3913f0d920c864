"""`touchline bench`: the pipeline against a raw-client baseline, measured in the same run.

Baseline: confluent-kafka consumer -> fastavro decode -> the same row mapping
-> batched clickhouse-connect inserts into the same DDL -> commit. No Faust,
no validation, no enrichment, no dead-letter path: the floor of what any
Python pipeline on these clients can do on this machine.

Pipeline: `touchline worker` processes (Faust ingest + ClickHouse sink).

Both read the same pre-produced events from their own topics/databases on
the same broker and ClickHouse. Throughput counts over the steady middle,
10% to 90% of the rows visible (start-up reported apart); latency is event -> queryable
(ClickHouse ``inserted_at`` minus the producer's ``sent_time``) for a paced
live phase: of the touchpoint rows for both legs, and of the session and
journey rows a live event produced for the pipeline (``_row_latency``).
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from confluent_kafka import Consumer, TopicPartition
from fastavro import schemaless_reader

from infra.processes import TouchlineProcess
from infra.settings import Settings
from schemas.catalog import default_catalog
from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from sinks.rows import TOUCHPOINT_COLUMNS, touchpoint_row
from streams.kafka_config import confluent_config
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import TopicNames, ensure_topics


POLL_S = 0.05  # how often the row counts are read


def result_line(values: dict[str, float | int | str]) -> str:
    """``result: k=v ...``: floats 3 decimals below 100 else whole (nan as nan), ints as is, spaces in text as _."""
    def text(v: float | int | str) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v).replace(" ", "_")  # one token per value, whatever a name holds

    return "result: " + " ".join(f"{k}={text(v)}" for k, v in values.items())


@dataclass
class Leg:
    name: str
    events: int = 0            # rows in the steady window (10% -> 90%)
    seconds: float = 0.0       # length of the steady window
    total_events: int = 0
    total_seconds: float = 0.0  # from launch to the last row, start-up included
    startup_seconds: float = 0.0
    latency_ms: list[float] = field(default_factory=list)
    # Live phase, event -> its session / journey row queryable (see _row_latency); pipeline only.
    session_latency_ms: list[float] = field(default_factory=list)
    journey_latency_ms: list[float] = field(default_factory=list)
    # From launch until every stage has committed all of its input (sessions, journeys, decisions and
    # the sink included), not only the touchpoint rows: the rate of the whole pipeline.
    drained_seconds: float = 0.0

    @property
    def drained_rate(self) -> float:
        return self.total_events / self.drained_seconds if self.drained_seconds else 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def total_rate(self) -> float:
        return self.total_events / self.total_seconds if self.total_seconds else 0.0

    def quantile(self, q: float, latencies: list[float] | None = None) -> float:
        values = self.latency_ms if latencies is None else latencies
        if not values:
            return float("nan")
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


SINK_LAYOUTS = {
    "process": "worker processes (each with its sink child process)",
    "thread": "worker processes (sink thread inside)",
    "split": "worker --no-sink + sink processes",
}


@dataclass
class BenchReport:
    events: int
    workers: int
    baseline: Leg
    pipeline: Leg
    live_rate: float
    sink_mode: str = "process"

    def render(self) -> str:
        layout = SINK_LAYOUTS[self.sink_mode]
        lines = [
            f"events: {self.events}, pipeline: {self.workers} x {layout}, live phase at {self.live_rate:,.0f} ev/s",
            f"{'leg':10} {'ev/s total':>11} {'ev/s steady':>12} {'start-up s':>11} {'latency p50 ms':>15} {'p99 ms':>8}",
        ]
        for leg in (self.baseline, self.pipeline):
            steady = f"{leg.rate:12,.0f}" if leg.rate else f"{'n/a':>12}"
            lines.append(
                f"{leg.name:10} {leg.total_rate:11,.0f} {steady} {leg.startup_seconds:11.1f} "
                f"{leg.quantile(0.5):15,.0f} {leg.quantile(0.99):8,.0f}"
            )
        total = self.pipeline.total_rate / self.baseline.total_rate if self.baseline.total_rate else float("nan")
        ratio = self.pipeline.rate / self.baseline.rate if self.baseline.rate else float("nan")
        lines.append(f"pipeline / baseline throughput: {total:.2f} total (start-up included), {ratio:.2f} steady")
        lines.append("total = all rows / time from launch; steady = rows 10% -> 90% / their time window")
        drained = self.pipeline.drained_rate
        lines.append(f"pipeline, every stage drained (sessions, journeys, decisions, sink): {drained:,.0f} ev/s "
                     f"in {self.pipeline.drained_seconds:.1f} s, {drained / self.baseline.total_rate:.2f} of the "
                     "baseline" if self.baseline.total_rate else "")
        pipe = self.pipeline
        for what, values in (("session", pipe.session_latency_ms), ("journey", pipe.journey_latency_ms)):
            lines.append(f"pipeline, live event -> its {what} row queryable: p50 {pipe.quantile(0.5, values):,.0f} ms, "
                         f"p99 {pipe.quantile(0.99, values):,.0f} ms over {len(values)} rows")
        lines.append(self.result_line())
        return "\n".join(lines)

    def result_line(self) -> str:
        """One machine-readable line, so runs can be compared by a script."""
        base, pipe = self.baseline, self.pipeline
        values = {
            "ratio_total": pipe.total_rate / base.total_rate if base.total_rate else float("nan"),
            "ratio_steady": pipe.rate / base.rate if base.rate and pipe.rate else float("nan"),
            "ratio_drained": pipe.drained_rate / base.total_rate if base.total_rate else float("nan"),
            "drained_eps": pipe.drained_rate,
            "steady_eps": pipe.rate, "total_eps": pipe.total_rate, "baseline_eps": base.total_rate,
            "startup_s": pipe.startup_seconds, "p50_ms": pipe.quantile(0.5), "p99_ms": pipe.quantile(0.99),
            "baseline_p99_ms": base.quantile(0.99),
            "p99_sessions_ms": pipe.quantile(0.99, pipe.session_latency_ms),
            "p99_journeys_ms": pipe.quantile(0.99, pipe.journey_latency_ms),
            "session_rows": len(pipe.session_latency_ms), "journey_rows": len(pipe.journey_latency_ms),
            "live_rate": self.live_rate, "events": self.events,
            "workers": self.workers,
        }
        return result_line(values)


def _count(client, table: str) -> int:  # noqa: ANN001
    return client.query(f"SELECT count() FROM {table}").result_rows[0][0]


def _produce(settings: Settings, events: int, seed: int, live_rate: float | None = None) -> int:
    """Valid events only; in live mode paced, with sent_time = the moment of sending."""
    end = datetime.now(timezone.utc)
    config = SimulationConfig(seed=seed, events=events, malformed_share=0.0, start=end - timedelta(days=7), end=end)
    encoder = AvroEncoder("touchpoint")
    started = time.monotonic()
    sent = 0
    with TouchpointProducer(settings) as producer:
        for sent, message in enumerate(simulate(config, encoder.encode), start=1):
            if live_rate:
                record = dict(message.record, sent_time=datetime.now(timezone.utc))
                producer.send_raw(encoder.encode(record), message.key)
                ahead = sent / live_rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)  # pacing to the target rate
            else:
                producer.send_raw(message.payload, message.key)
    return sent


def _wait_rows(client, table: str, target: int, leg: Leg, started: float, timeout: float) -> None:  # noqa: ANN001
    """Poll until ``target`` rows. Throughput over the steady middle: from 10% to 90% of the rows
    (a stage that starts late, or a slow last flush, would otherwise inflate or deflate it)."""
    low, high = target // 10, target - target // 10
    t_low = None
    deadline = time.monotonic() + timeout
    while True:
        count = _count(client, table)
        now = time.monotonic()
        if count and not leg.startup_seconds:
            leg.startup_seconds = now - started
        if t_low is None and count >= low:
            t_low = now
        if count >= high and not leg.events:
            # Crossed 10% and 90% in one poll (one big insert): too fast to time at this size, shown as n/a.
            leg.seconds = now - t_low if now - t_low >= POLL_S else 0.0
            leg.events = high - low
        if count >= target:
            leg.total_events, leg.total_seconds = count, now - started
            return
        if now > deadline:
            raise TimeoutError(f"{leg.name}: {count}/{target} rows in {table} after {timeout:g}s")
        time.sleep(POLL_S)  # polling interval


def _lag(consumer: Consumer, topics: list[str], partitions: int) -> int:
    """Messages of ``topics`` not yet committed by ``consumer``'s group."""
    committed = consumer.committed([TopicPartition(t, p) for t in topics for p in range(partitions)], timeout=10)
    return sum(consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
               - max(tp.offset, 0) for tp in committed)


def _wait_drained(settings: Settings, leg: Leg, started: float, timeout: float) -> None:
    """Poll until the workers' group and the sink's group have committed every message of their topics."""
    names = TopicNames.from_settings(settings)
    groups = {
        settings.app_id: [names.raw, names.valid, names.identity_commands, names.enriched, names.journey_inputs],
        f"{settings.app_id}-sink": [names.enriched, names.identity_changes, names.sessions, names.journeys,
                                    names.contact_decisions, names.segments, names.offer_alerts, names.rejects],
    }
    consumers = {group: Consumer(confluent_config(settings, **{"group.id": group})) for group in groups}
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = {group: _lag(consumers[group], topics, settings.input_partitions) for group, topics in groups.items()}
            if not any(left.values()):
                leg.drained_seconds = time.monotonic() - started
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{leg.name}: messages not yet committed after {timeout:g}s: {left}")
            time.sleep(POLL_S * 4)  # polling interval
    finally:
        for consumer in consumers.values():
            consumer.close()


def _latency(client, table: str, leg: Leg, since: datetime) -> None:  # noqa: ANN001
    rows = client.query(
        f"SELECT dateDiff('millisecond', sent_time, inserted_at) FROM {table} "
        "WHERE sent_time >= {since:DateTime64(3)}",
        parameters={"since": since},
    ).result_rows
    leg.latency_ms = [float(r[0]) for r in rows]


def _row_latency(client, db: str, table: str, since: datetime) -> list[float]:  # noqa: ANN001
    """Live phase: per live event that is the last touch of a ``table`` row (sessions or journeys), the time from
    its sending to the first such row being queryable.

    A session row exists only once the session is closed (30 minutes of event time after its last touch, plus
    the allowed lateness), so this counts the live events that closed or extended a session already closed; a
    journey row is emitted as soon as a touch changes it.
    """
    rows = client.query(
        f"SELECT dateDiff('millisecond', t.sent, r.first_in) FROM "
        f"(SELECT last_event_id, min(inserted_at) AS first_in FROM {db}.{table} GROUP BY last_event_id) AS r "
        f"INNER JOIN (SELECT event_id, any(sent_time) AS sent FROM {db}.touchpoints "
        "WHERE sent_time >= {since:DateTime64(3)} GROUP BY event_id) AS t ON r.last_event_id = t.event_id",
        parameters={"since": since},
    ).result_rows
    return [float(r[0]) for r in rows]


class Baseline(threading.Thread):
    """confluent-kafka -> fastavro -> clickhouse-connect, batched, commit after insert."""

    def __init__(self, settings: Settings, topic: str, table: str, batch_rows: int):
        super().__init__(name="baseline", daemon=True)
        self.settings, self.topic, self.table, self.batch_rows = settings, topic, table, batch_rows
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the caller
            self.error = exc

    def _run(self) -> None:
        entry = default_catalog().get("touchpoint")
        client = connect(self.settings)
        consumer = Consumer(confluent_config(self.settings, **{
            "group.id": f"{self.settings.app_id}-baseline", "auto.offset.reset": "earliest",
            "enable.auto.commit": False}))
        consumer.subscribe([self.topic])
        rows: list[tuple] = []
        offsets: dict[int, int] = {}
        last_flush = time.monotonic()
        try:
            while not self.stop_event.is_set():
                for message in consumer.consume(num_messages=10_000, timeout=0.1):
                    if message.error():
                        continue
                    record = schemaless_reader(io.BytesIO(message.value()[10:]), entry.parsed, None)
                    record.update(source_topic=message.topic(), source_partition=message.partition(),
                                  source_offset=message.offset(), ingested_at=datetime.now(timezone.utc),
                                  writer_schema=entry.label, profile_id=None)
                    rows.append(touchpoint_row(record))
                    offsets[message.partition()] = message.offset() + 1
                if rows and (len(rows) >= self.batch_rows or time.monotonic() - last_flush >= 1.0):
                    client.insert(self.table, rows, column_names=list(TOUCHPOINT_COLUMNS))
                    consumer.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in offsets.items()],
                                    asynchronous=False)
                    rows.clear()
                    last_flush = time.monotonic()
        finally:
            consumer.close()
            client.close()


def run_bench(settings: Settings, events: int, workers: int = 1, live_rate: float = 2000,
              live_seconds: float = 15, timeout: float = 900, sink_mode: str = "process") -> BenchReport:
    """``sink_mode``: process (each worker's sink child, the default), thread (inside each worker), or
    split (each `worker --no-sink` beside its own `touchline sink`)."""
    run = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    base = settings.model_copy(update={"topic_prefix": f"bench{run}.base.", "clickhouse_database": f"bench{run}_base",
                                       "app_id": f"bench{run}-base"})
    pipe = settings.model_copy(update={"topic_prefix": f"bench{run}.pipe.", "clickhouse_database": f"bench{run}_pipe",
                                       "app_id": f"bench{run}-pipe", "worker_web_port": 0})
    client = connect(settings)
    for s in (base, pipe):
        ensure_topics(s)
        migrate(client, s.clickhouse_database, s.clickhouse_cluster)
    base_table, pipe_table = f"{base.clickhouse_database}.touchpoints", f"{pipe.clickhouse_database}.touchpoints"

    _produce(base, events, seed=1)
    _produce(pipe, events, seed=1)

    baseline_leg, pipeline_leg = Leg("baseline"), Leg("pipeline")
    started = time.monotonic()
    baseline = Baseline(base, TopicNames.from_settings(base).raw, base_table, settings.sink_batch_rows)
    baseline.start()
    try:
        _wait_rows(client, base_table, events, baseline_leg, started, timeout)
        live_events = int(live_rate * live_seconds)
        since = datetime.now(timezone.utc)
        _produce(base, live_events, seed=2, live_rate=live_rate)
        _wait_rows(client, base_table, events + live_events, Leg("baseline-live"), time.monotonic(), timeout)
        _latency(client, base_table, baseline_leg, since)
    finally:
        baseline.stop_event.set()
        baseline.join(30)
    if baseline.error:
        raise baseline.error

    log_dir = settings.data_dir / "bench"
    started = time.monotonic()
    commands = [["worker", "--no-sink"], ["sink"]] if sink_mode == "split" else [["worker", "--sink-mode", sink_mode]]
    procs = [TouchlineProcess(args, pipe, log_dir / f"{args[0]}-{i}.log", log_level="WARNING")
             for i in range(workers) for args in commands]
    try:
        _wait_rows(client, pipe_table, events, pipeline_leg, started, timeout)
        _wait_drained(pipe, pipeline_leg, started, timeout)
        since = datetime.now(timezone.utc)
        _produce(pipe, live_events, seed=2, live_rate=live_rate)
        _wait_rows(client, pipe_table, events + live_events, Leg("pipeline-live"), time.monotonic(), timeout)
        _latency(client, pipe_table, pipeline_leg, since)
        _wait_drained(pipe, Leg("pipeline-live"), time.monotonic(), timeout)  # the live events' sessions, journeys
        pipeline_leg.session_latency_ms = _row_latency(client, pipe.clickhouse_database, "sessions", since)
        pipeline_leg.journey_latency_ms = _row_latency(client, pipe.clickhouse_database, "journeys", since)
    finally:
        for proc in procs:
            proc.stop()
    return BenchReport(events, workers, baseline_leg, pipeline_leg, live_rate, sink_mode)
