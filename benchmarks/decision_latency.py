"""Contact-decision latency under load: touch produced -> its decision on ``decisions.contact``.

The issue asks for a contact decision within 1 s of the touch that changed it.
This runs ``--workers`` `touchline worker` processes on a fresh topic prefix
and database of the running dev stack, keeps a background load of simulated
traffic at ``--load-rate`` ev/s, and sends ``--probes`` email sends, one per
new person (email + user id, so identity builds a profile), ``--probe-rate``
per second. Each send changes its person's email count, so each yields
exactly one decision; the latency is from handing the send to the producer
to reading the decision (``caused_by_event_id``) off the topic.

Baseline, in the same run and at the same moments: a raw confluent-kafka
round trip (produce one message to a topic of the same broker, consume it)
with the same producer settings. Ratio = pipeline / baseline.

    .venv/bin/touchline dev up
    .venv/bin/python -m benchmarks.decision_latency --workers 2 --load-rate 100 --probes 200
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import threading
import time
from datetime import datetime, timedelta, timezone

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from infra.bench import result_line
from infra.processes import TouchlineProcess
from infra.settings import Settings
from schemas.wire import AvroDecoder, AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import KEYED_PARTITIONER, confluent_config, producer_config
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import TopicNames, ensure_topics

WARM_UP_TIMEOUT_S = 180
PROBE_TIMEOUT_S = 30  # after the last probe: decisions later than this count as not decided


class Load(threading.Thread):
    """Simulated traffic at a steady rate until stopped (the decisions are measured under it)."""

    def __init__(self, settings: Settings, rate: float) -> None:
        super().__init__(name="load", daemon=True)
        self.settings, self.rate, self.sent = settings, rate, 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        end = datetime.now(timezone.utc)
        config = SimulationConfig(seed=5, events=10_000_000, malformed_share=0.0, start=end - timedelta(days=7),
                                  end=end)
        encoder = AvroEncoder("touchpoint")
        started = time.monotonic()
        with TouchpointProducer(self.settings) as producer:
            for message in simulate(config, encoder.encode):
                if self.stop_event.is_set():
                    return
                producer.send_raw(message.payload, message.key)
                self.sent += 1
                ahead = self.sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self.stop_event.wait(ahead)  # pacing to the target rate


def _at_end(settings: Settings, topic: str, group: str) -> Consumer:
    consumer = Consumer(confluent_config(settings, **{"group.id": group, "enable.auto.commit": False}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
    return consumer


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {q: float("nan") for q in ("p50", "p95", "p99", "max")}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": statistics.median(ordered), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


def run(settings: Settings, workers: int, load_rate: float, probes: int, probe_rate: float) -> dict:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    s = settings.model_copy(update={"topic_prefix": f"bench{stamp}.dec.", "clickhouse_database": f"bench{stamp}_dec",
                                    "app_id": f"bench{stamp}-dec", "worker_web_port": 0})
    ensure_topics(s)
    migrate(connect(s), s.clickhouse_database, s.clickhouse_cluster)
    names = TopicNames.from_settings(s)
    rtt_topic = f"bench{stamp}.rtt"
    admin = AdminClient(confluent_config(s))
    admin.create_topics([NewTopic(rtt_topic, 1, 1)])[rtt_topic].result(30)

    procs = [TouchlineProcess(["worker"], s, s.data_dir / "bench" / f"decisions-{stamp}-{i}.log",
                              log_level="WARNING") for i in range(workers)]
    decisions = _at_end(s, names.contact_decisions, f"{s.app_id}-probe")
    rtt_consumer = _at_end(s, rtt_topic, f"{s.app_id}-rtt")
    rtt_producer = Producer(producer_config(s, **KEYED_PARTITIONER))
    decoder = AvroDecoder("contact_decision")
    load = Load(s, load_rate)
    arrived: dict[str, float] = {}

    def read_decisions(timeout: float) -> None:
        for message in decisions.consume(500, timeout=timeout):
            if message.error() is None:
                record, _ = decoder.decode(message.value())
                if record["caused_by_event_id"] and record["caused_by_event_id"] not in arrived:
                    arrived[record["caused_by_event_id"]] = time.monotonic()

    def probe(producer: TouchpointProducer, event_id: str) -> float:
        person = event_id.removeprefix("probe-")
        sent = time.monotonic()
        producer.send({"event_id": event_id, "event_type": "email_send", "channel": "email",
                       "event_time": datetime.now(timezone.utc), "user_id": f"u-{person}",
                       "email": f"{person}@bench.example.com", "campaign_id": "cmp-weekly-news"})
        producer.flush()
        return sent

    def round_trip() -> float:
        sent = time.monotonic()
        rtt_producer.produce(rtt_topic, key=b"k", value=os.urandom(300))
        rtt_producer.flush(10)
        while not rtt_consumer.consume(1, timeout=0.01):
            pass
        return time.monotonic() - sent

    pipeline_ms: list[float] = []
    baseline_ms: list[float] = []
    try:
        load.start()
        with TouchpointProducer(s) as producer:
            # Warm-up: the workers join, recover and reach the head of the load; the first decision ends it.
            deadline = time.monotonic() + WARM_UP_TIMEOUT_S
            n = 0
            while not arrived:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no decision within {WARM_UP_TIMEOUT_S} s: see {s.data_dir / 'bench'}")
                probe(producer, f"probe-warm{n}-{stamp}")
                n += 1
                read_decisions(1.0)
            # Open loop: probes go out at the probe rate whatever the pipeline's lag (a closed loop would
            # slow the probing down to the lag and hide it); decisions are collected as they come.
            sent_at: dict[str, float] = {}
            for i in range(probes):
                event_id = f"probe-{i}-{stamp}"
                sent_at[event_id] = probe(producer, event_id)
                baseline_ms.append(round_trip() * 1000)
                while time.monotonic() < sent_at[event_id] + 1 / probe_rate:
                    read_decisions(0.005)
                if i % 50 == 49:
                    print(f"  {i + 1}/{probes} probes sent, {len(sent_at.keys() & arrived.keys())} decided, "
                          f"load {load.sent} events", flush=True)
            drain_until = time.monotonic() + PROBE_TIMEOUT_S
            while not sent_at.keys() <= arrived.keys() and time.monotonic() < drain_until:
                read_decisions(0.05)
            pipeline_ms = [(arrived[e] - t) * 1000 for e, t in sent_at.items() if e in arrived]
    finally:
        load.stop_event.set()
        load.join(30)
        for proc in procs:
            proc.stop()
        decisions.close()
        rtt_consumer.close()
    return {"probes": probes, "decided": len(pipeline_ms), "load_sent": load.sent,
            "pipeline": _quantiles(pipeline_ms), "baseline": _quantiles(baseline_ms),
            "under_1s": sum(1 for v in pipeline_ms if v < 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--load-rate", type=float, default=100.0, help="background simulated events per second")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--probe-rate", type=float, default=4.0, help="probe sends per second")
    args = parser.parse_args()
    # SIGTERM (a timeout, Ctrl-C from a supervisor) still stops the workers and the load: finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = run(Settings(), args.workers, args.load_rate, args.probes, args.probe_rate)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"{datetime.now(timezone.utc):%Y-%m-%d}")
    print(f"{args.workers} workers, background load {args.load_rate:g} ev/s ({result['load_sent']} sent), "
          f"{result['decided']} of {result['probes']} probes decided, {result['under_1s']} under 1 s")
    print("leg       " + "".join(f"{q:>10}" for q in ("p50 ms", "p95 ms", "p99 ms", "max ms")))
    for leg in ("pipeline", "baseline"):
        print(f"{leg:<10}" + "".join(f"{result[leg][q]:>10.1f}" for q in ("p50", "p95", "p99", "max")))
    ratio = {q: result["pipeline"][q] / result["baseline"][q] for q in ("p50", "p99")}
    print(f"ratio pipeline / baseline: p50 {ratio['p50']:.1f}x, p99 {ratio['p99']:.1f}x")
    pipe, base = result["pipeline"], result["baseline"]
    print(result_line({
        "p50_ms": pipe["p50"], "p95_ms": pipe["p95"], "p99_ms": pipe["p99"], "max_ms": pipe["max"],
        "baseline_p50_ms": base["p50"], "baseline_p99_ms": base["p99"],
        "ratio_p50": ratio["p50"], "ratio_p99": ratio["p99"], "decided": result["decided"],
        "probes": result["probes"], "under_1s": result["under_1s"], "load_rate": args.load_rate,
        "load_sent": result["load_sent"], "workers": args.workers}))


if __name__ == "__main__":
    main()
