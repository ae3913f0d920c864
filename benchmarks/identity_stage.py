"""The identity stage on the broker against a pass-through baseline, measured in the same run.

Input: N simulated events as the ingest agent writes them to ``touchpoints.valid`` (``ingest_one``,
Avro, keyed by anchor identifier with murmur2), produced to two fresh topic sets before either leg.

- Baseline: one confluent-kafka consumer reads leg A's ``valid``, fastavro-decodes and re-encodes each
  value and produces it to leg A's ``touchpoints.enriched``: the same Kafka hop and Avro work per event
  as the stage, nothing else. The ratio is what the identity stage adds: Faust, the table read and write,
  the changelog, the protocol messages and handling them.
- Pipeline: K `touchline worker --no-sink` processes on leg B (ingest idles on an empty raw topic);
  with K > 1 the ratio compares K processes with the one baseline consumer.

Progress is the enriched topic's high watermarks (baseline) or the worker group's committed offsets of
valid (pipeline: the stage sends enriched envelopes), polled every 0.2 s: "total" from launch to the last
record, "steady" over records 10% -> 90%. Once idle (all enriched, no group lag on valid and commands):
messages per event; after SIGTERM: identifiers (live changelog keys), JSON bytes of their latest value
and, with rocksdb://, the workers' on-disk bytes. Needs a running broker (`touchline dev up`, or TOUCHLINE_*).
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from fastavro import schemaless_reader, schemaless_writer

from benchmarks.stage_cli import stage_main
from infra.bench import result_line
from infra.processes import TouchlineProcess
from infra.settings import Settings
from schemas.rows import RowEncoder
from schemas.wire import AvroDecoder, AvroEncoder
from streams.identity.observe import observation_of
from streams.identity.policy import policy_from_settings
from streams.ingest import Accepted, IngestRules, Source, ingest_one
from streams.kafka_config import KEYED_PARTITIONER, confluent_config, producer_config
from streams.simulator import SimulationConfig, simulate
from streams.topics import TopicNames, ensure_topics, table_changelog

POLL_S = 0.2  # polling interval of every wait; each wait has its own deadline
MAX_QUEUED = 100_000  # producers flush beyond this many undelivered records (their queue holds 200,000)


@dataclass
class Leg:
    name: str
    startup_s: float = math.nan  # launch -> first record
    total: tuple[int, float] = (0, math.nan)  # (records, seconds) launch -> last record
    steady: tuple[int, float] = (0, math.nan)  # (records, seconds) between the polls at 10% and at 90%

    def rate(self, which: str) -> float:
        records, seconds = getattr(self, which)
        return records / seconds if seconds > 0 else math.nan


class Probe:
    """High watermarks and a group's committed offsets; every call bounded by the Kafka timeout."""

    def __init__(self, settings: Settings, group: str):
        self.timeout, self.partitions = settings.kafka_timeout_s, range(settings.input_partitions)
        self.consumer = Consumer(confluent_config(settings, **{"group.id": group, "enable.auto.commit": False}))

    def highs(self, topic: str) -> dict[int, int]:
        return {p: self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=self.timeout,
                                                       cached=False)[1] for p in self.partitions}

    def total(self, topic: str) -> int:
        return sum(self.highs(topic).values())

    def committed(self, topic: str) -> dict[int, int]:  # the group's committed offset per partition (0: none)
        committed = self.consumer.committed([TopicPartition(topic, p) for p in self.partitions], timeout=self.timeout)
        return {tp.partition: max(tp.offset, 0) for tp in committed}

    def lag(self, topic: str) -> int:  # records the group has not committed (committed read first, then the ends)
        committed = self.committed(topic)
        ends = self.highs(topic)
        return sum(ends[p] - offset for p, offset in committed.items())


def ingested(settings: Settings, events: int) -> Iterator[tuple[dict, bytes]]:
    """(record as the ingest agent writes it to ``touchpoints.valid``, producer's key) of N simulated events."""
    end = datetime.now(timezone.utc)
    config = SimulationConfig(seed=13, events=events, malformed_share=0.0, start=end - timedelta(days=30), end=end)
    decoder = AvroDecoder("touchpoint", max_payload_bytes=settings.max_payload_bytes)
    rules = IngestRules(settings.max_payload_bytes, timedelta(days=settings.max_event_age_days),
                        timedelta(seconds=settings.max_future_skew_s), settings.phone_default_country_code)
    raw = settings.topic("touchpoints.raw")
    for count, message in enumerate(simulate(config, AvroEncoder("touchpoint").encode), start=1):
        outcome = ingest_one(message.payload, Source(raw, 0, count - 1, end, message.key, []), decoder, rules, end)
        if not isinstance(outcome, Accepted):
            raise RuntimeError(f"ingest rejected simulated event {count}: {outcome.reason}: {outcome.record['detail']}")
        yield outcome.record, message.key


def produce_all(settings: Settings, topics: list[str], messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Each (key, value) to each of ``topics``, in order, flushed; returns the count."""
    errors: list[str] = []
    producer = Producer(producer_config(settings, **KEYED_PARTITIONER,
                                        on_delivery=lambda err, _msg: err and errors.append(str(err))))
    count = 0
    for count, (key, value) in enumerate(messages, start=1):
        for topic in topics:
            producer.produce(topic, value, key)
        producer.poll(0)
        if len(producer) > MAX_QUEUED:
            producer.flush(settings.kafka_timeout_s * 3)
    if producer.flush(settings.kafka_timeout_s * 3) or errors:
        raise RuntimeError(f"input not delivered to {topics}: {errors[:3] or 'flush timed out'}")
    return count


def produce_inputs(settings: Settings, topics: list[str], events: int) -> int:
    """What the ingest agent writes to ``touchpoints.valid``, to each of ``topics``; returns the count."""
    policy, encoder = policy_from_settings(settings), RowEncoder("enriched_touchpoint")  # as ingest writes

    def messages() -> Iterator[tuple[bytes, bytes]]:
        for record, key in ingested(settings, events):
            obs = observation_of(record, policy)
            yield (obs.anchor.encode() if obs is not None else key), encoder.encode(record)  # as ingest keys it

    return produce_all(settings, topics, messages())


def baseline(settings: Settings, source: str, target: str, events: int, stop: threading.Event,
             errors: list[BaseException]) -> None:
    """Thread body: source -> fastavro decode -> fastavro encode -> target, until ``events`` are delivered."""
    encoder, delivered = AvroEncoder("enriched_touchpoint"), [0]
    schema, header, timeout = encoder.entry.parsed, encoder.header, settings.kafka_timeout_s * 3

    def on_delivery(err, _msg) -> None:  # noqa: ANN001
        delivered[0] += err is None
        errors.extend([KafkaException(err)] if err else [])

    consumer = Consumer(confluent_config(settings, **{
        "group.id": f"{settings.app_id}-baseline", "auto.offset.reset": "earliest", "auto.commit.interval.ms": 1000}))
    producer = Producer(producer_config(settings, **KEYED_PARTITIONER, on_delivery=on_delivery))
    consumer.subscribe([source])
    try:
        while delivered[0] < events and not stop.is_set() and not errors:
            for message in consumer.consume(num_messages=500, timeout=0.1):
                if message.error():
                    raise KafkaException(message.error())
                record = schemaless_reader(io.BytesIO(message.value()[len(header):]), schema, None)
                out = io.BytesIO(header)
                out.seek(len(header))
                schemaless_writer(out, schema, record)
                producer.produce(target, out.getvalue(), message.key())
            producer.poll(0)
            if len(producer) > MAX_QUEUED:
                producer.flush(timeout)
        producer.flush(timeout)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)
    finally:
        consumer.close()


def wait_for(done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Poll ``done`` every POLL_S until true; past ``timeout`` raise, saying what was awaited and how far it got."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what()}")
        time.sleep(POLL_S)  # polling interval


def track(leg: Leg, count_of: Callable[[], int], what: str, target: int, timeout: float,
          check: Callable[[], None]) -> None:
    """From now until ``count_of()`` (records of ``what``) reaches ``target``; the steady window uses the counts
    actually seen."""
    started, low, high, seen = time.monotonic(), max(target // 10, 1), target - target // 10, {}

    def step() -> bool:
        check()
        count, now = count_of(), time.monotonic()
        seen["count"] = count
        if count and math.isnan(leg.startup_s):
            leg.startup_s = now - started
        if count >= low:
            seen.setdefault("first", (count, now))
        if count >= high and math.isnan(leg.steady[1]):
            leg.steady = (count - seen["first"][0], now - seen["first"][1])
        if count >= target:
            leg.total = (count, now - started)
        return count >= target

    wait_for(step, timeout, lambda: f"{leg.name}: {target} {what} (got {seen.get('count')})")


def read_changelog(settings: Settings, topic: str, timeout: float) -> dict[str, bytes]:
    """Latest value per key (a JSON-encoded identifier), tombstones dropped, every partition read to its end."""
    probe = Probe(settings, f"{settings.app_id}-changelog-reader")
    ends, latest, deadline = {p: h for p, h in probe.highs(topic).items() if h > 0}, {}, time.monotonic() + timeout
    probe.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    try:
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"changelog {topic}: partitions {sorted(ends)} not read to the end in {timeout:g}s")
            for message in probe.consumer.consume(num_messages=1000, timeout=POLL_S):
                if message.error():
                    raise KafkaException(message.error())
                latest[json.loads(message.key())] = message.value()
                if message.offset() + 1 >= ends.get(message.partition(), math.inf):
                    del ends[message.partition()]
    finally:
        probe.consumer.close()
    return {key: value for key, value in latest.items() if value is not None}


def run(settings: Settings, events: int, workers: int, store: str, timeout: float) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    base, pipe = (settings.model_copy(update={
        "kafka_bootstrap_servers": settings.bootstrap_servers(), "worker_web_port": 0, "table_store": store,
        "topic_prefix": f"idbench{stamp}.{leg}.", "app_id": f"idbench{stamp}-{leg}",
        "clickhouse_database": f"idbench{stamp}_{leg}"}) for leg in ("base", "pipe"))
    base_names, names = TopicNames.from_settings(base), TopicNames.from_settings(pipe)
    ensure_topics(base)
    ensure_topics(pipe)
    events = produce_inputs(settings, [base_names.valid, names.valid], events)

    baseline_leg, stop, errors = Leg("baseline"), threading.Event(), []

    def baseline_ok() -> None:
        if errors:
            raise RuntimeError(f"baseline failed: {errors[0]!r}")

    thread = threading.Thread(target=baseline, args=(base, base_names.valid, base_names.enriched, events, stop, errors), name="baseline", daemon=True)
    thread.start()
    try:
        base_probe = Probe(base, base.app_id)
        track(baseline_leg, lambda: base_probe.total(base_names.enriched), f"records on {base_names.enriched}",
              events, timeout, baseline_ok)
    finally:
        stop.set()
        thread.join(60)
    baseline_ok()

    # One data directory per worker: two processes must not open the same RocksDB partition store.
    worker_settings = [pipe.model_copy(update={"data_dir": pipe.data_dir / "identity-bench" / f"{pipe.app_id}-w{i}"})
                       for i in range(workers)]
    pipeline_leg, probe, procs, lag = Leg("pipeline"), Probe(pipe, pipe.app_id), [], [None]
    changelog, log_dir = table_changelog(pipe, "identity"), settings.data_dir / "bench"

    def pipeline_ok() -> None:
        for i, proc in enumerate(procs):
            if not proc.running:
                raise RuntimeError(f"worker {i} exited with {proc.proc.returncode}:\n{proc.log_tail()}")
        if rejected := probe.total(names.rejects):
            raise RuntimeError(f"the identity stage dead-lettered {rejected} record(s); worker logs in {log_dir}")

    def idle() -> bool:  # no lag on valid and identity.commands in two polls in a row: nothing in flight
        pipeline_ok()
        lag[:] = [*lag[-1:], probe.lag(names.valid) + probe.lag(names.identity_commands)]
        return lag == [0, 0]

    try:
        procs += [TouchlineProcess(["worker", "--no-sink"], ws, log_dir / f"{pipe.app_id}-{i}.log",
                                   log_level="WARNING") for i, ws in enumerate(worker_settings)]
        # The stage sends enriched records in batch envelopes: count the input it committed instead.
        track(pipeline_leg, lambda: sum(probe.committed(names.valid).values()),
              f"events of {names.valid} committed", events, timeout, pipeline_ok)
        wait_for(idle, timeout, lambda: f"group {pipe.app_id} to consume {names.valid} and "
                 f"{names.identity_commands} (lag {lag[-1]})")
        per_event = {what: probe.total(topic) / events for what, topic in (
            ("protocol messages", names.identity_commands), ("identity changes", names.identity_changes),
            ("changelog records", changelog), ("enriched envelopes", names.enriched))}
    finally:  # SIGTERM to all at once (no rebalance onto the last one); stop() SIGKILLs any alive after 60 s
        for proc in procs:
            if proc.running:
                proc.proc.send_signal(signal.SIGTERM)
        codes = [proc.stop(60) for proc in procs]

    state = read_changelog(pipe, changelog, timeout)
    ids = len(state)
    # RocksDB files (SST, WAL, MANIFEST, OPTIONS) of every partition store, not its text LOG files.
    disk = sum(f.stat().st_size for ws in worker_settings for db in (ws.data_dir / "worker" / pipe.app_id).rglob("*.db")
               if db.is_dir() for f in db.rglob("*") if f.is_file() and not f.name.startswith("LOG"))
    # The rows and the result line print the same numbers.
    values = {f"{leg.name}_{which}_eps": leg.rate(which) for leg in (pipeline_leg, baseline_leg)
              for which in ("total", "steady")}
    values |= {f"ratio_{which}": values[f"pipeline_{which}_eps"] / values[f"baseline_{which}_eps"]
               for which in ("total", "steady")}
    values |= {f"{what.replace(' ', '_')}_per_event": value for what, value in per_event.items()}
    rows = {
        "run": f"{events:,} events, {workers} x `touchline worker --no-sink` (exit codes {codes}), store {store}",
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}",
        "ev/s": "total = launch -> last record, steady = records 10% -> 90% (nan: too few events)",
        **{f"{leg.name} ev/s": f"{leg.rate('total'):,.0f} total, {leg.rate('steady'):,.0f} steady "
           f"(first record after {leg.startup_s:.1f} s)" for leg in (baseline_leg, pipeline_leg)},
        "pipeline / baseline": f"{values['ratio_total']:.2f} total, {values['ratio_steady']:.2f} steady",
        **{f"{what} / event": f"{value:.3f}" for what, value in per_event.items()},
        "identifiers": f"{ids:,} (live keys of the changelog topic)",
        "JSON bytes / identifier": f"{sum(map(len, state.values())) / max(ids, 1):,.0f} (latest changelog value)",
        "disk bytes / identifier": (f"{disk / max(ids, 1):,.0f} ({disk:,} bytes of RocksDB after SIGTERM"
                                    f"{', standby copies included' if workers > 1 else ''})"
                                    if store.startswith("rocksdb") else "n/a (memory:// store)"),
    }
    return "\n".join([*(f"{name + ':':28}{value}" for name, value in rows.items()), result_line(values)])


def main(argv: list[str] | None = None) -> int:
    return stage_main("identity_stage", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
