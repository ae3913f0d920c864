"""The sessions stage on the broker against a pass-through baseline, measured in the same run.

Input: N simulated events as the identity stage writes them to ``touchpoints.enriched`` (ingested,
profile and identity key from the batch identity reference, Avro, keyed by session key with murmur2),
in arrival order shuffled within the allowed lateness, produced to two fresh topic sets before either leg.

- Baseline: one confluent-kafka consumer reads leg A's ``enriched``, fastavro-decodes and re-encodes
  each value and produces it to leg A's ``sessions``: the same Kafka hop and Avro work per event as the
  stage, nothing else. The ratio is what the sessions stage adds: Faust, the state table read and write,
  its changelog, the watermark and due index, the session rows.
- Pipeline: K `touchline worker --no-sink` processes on leg B (the other stages idle on empty topics).

Progress is the group's committed offsets on ``enriched`` (both legs commit every second), polled every
0.2 s: "total" from launch to all committed, "steady" over 10% -> 90%. After SIGTERM: session keys
(live changelog keys), JSON bytes of their latest state, and the keys whose session is still open
(the state a worker holds until the watermark or the idle close ends them). Needs a running broker
(`touchline dev up`, or TOUCHLINE_*).

    .venv/bin/python -m benchmarks.sessions_stage --events 30000
"""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone


from benchmarks.identity_stage import Leg, Probe, baseline, ingested, produce_all, read_changelog, track
from benchmarks.stage_cli import stage_main
from infra.bench import result_line
from infra.processes import TouchlineProcess
from infra.settings import Settings
from schemas.rows import RowEncoder
from streams.identity.observe import observation_of
from streams.identity.policy import policy_from_settings
from streams.identity.reference import stitch
from streams.sessions.touches import session_key
from streams.topics import TopicNames, ensure_topics, table_changelog


def enriched_messages(settings: Settings, events: int) -> list[tuple[bytes, bytes]]:
    """(session key, enriched Avro value) per event, as the identity stage sends them, in arrival order."""
    policy, records = policy_from_settings(settings), []
    for record, _ in ingested(settings, events):
        obs = observation_of(record, policy)
        record["identity_key"] = obs.anchor if obs is not None else None
        records.append(record)
    profiles = stitch(records, policy).profiles
    for record in records:
        record["profile_id"] = profiles.get(record["identity_key"]) if record["identity_key"] else None
    # Arrivals late by up to the allowed lateness: every event joins its session as if in order.
    lateness, rng = timedelta(seconds=settings.session_allowed_lateness_s), random.Random(2)
    records.sort(key=lambda r: r["event_time"] + lateness * rng.random())
    encoder = RowEncoder("enriched_touchpoint")  # as the identity stage writes
    return [(session_key(record)[0].encode(), encoder.encode(record)) for record in records]


def open_state(state: dict[str, bytes]) -> Iterator[int]:
    """JSON bytes of each session key whose state has an open session (a due time), watermarks left out."""
    for key, value in state.items():
        if not key.startswith("~") and json.loads(value).get("d") is not None:
            yield len(value)


def run(settings: Settings, events: int, workers: int, store: str, timeout: float) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    base, pipe = (settings.model_copy(update={
        "kafka_bootstrap_servers": settings.bootstrap_servers(), "worker_web_port": 0, "table_store": store,
        "topic_prefix": f"ssbench{stamp}.{leg}.", "app_id": f"ssbench{stamp}-{leg}",
        "clickhouse_database": f"ssbench{stamp}_{leg}"}) for leg in ("base", "pipe"))
    base_names, names = TopicNames.from_settings(base), TopicNames.from_settings(pipe)
    ensure_topics(base)
    ensure_topics(pipe)
    events = produce_all(settings, [base_names.enriched, names.enriched], enriched_messages(settings, events))

    baseline_leg, stop, errors = Leg("baseline"), threading.Event(), []

    def baseline_ok() -> None:
        if errors:
            raise RuntimeError(f"baseline failed: {errors[0]!r}")

    thread = threading.Thread(target=baseline, args=(base, base_names.enriched, base_names.sessions, events, stop,
                                                     errors), name="baseline", daemon=True)
    thread.start()
    base_probe = Probe(base, f"{base.app_id}-baseline")  # the baseline consumer's group
    try:
        track(baseline_leg, lambda: sum(base_probe.committed(base_names.enriched).values()),
              f"committed offsets on {base_names.enriched}", events, timeout, baseline_ok)
    finally:
        stop.set()
        thread.join(60)
    baseline_ok()

    worker_settings = [pipe.model_copy(update={"data_dir": pipe.data_dir / "sessions-bench" / f"{pipe.app_id}-w{i}"})
                       for i in range(workers)]
    pipeline_leg, probe, procs = Leg("pipeline"), Probe(pipe, pipe.app_id), []
    changelog, log_dir = table_changelog(pipe, "sessions"), settings.data_dir / "bench"

    def pipeline_ok() -> None:
        for i, proc in enumerate(procs):
            if not proc.running:
                raise RuntimeError(f"worker {i} exited with {proc.proc.returncode}:\n{proc.log_tail()}")
        if rejected := probe.total(names.rejects):
            raise RuntimeError(f"the sessions stage dead-lettered {rejected} record(s); worker logs in {log_dir}")

    try:
        procs += [TouchlineProcess(["worker", "--no-sink"], ws, log_dir / f"{pipe.app_id}-{i}.log",
                                   log_level="WARNING") for i, ws in enumerate(worker_settings)]
        track(pipeline_leg, lambda: sum(probe.committed(names.enriched).values()),
              f"committed offsets on {names.enriched}", events, timeout, pipeline_ok)
        per_event = {what: probe.total(topic) / events for what, topic in (
            ("session rows", names.sessions), ("changelog records", changelog))}
    finally:  # SIGTERM to all at once (no rebalance onto the last one); stop() SIGKILLs any alive after 60 s
        for proc in procs:
            if proc.running:
                proc.proc.send_signal(signal.SIGTERM)
        codes = [proc.stop(60) for proc in procs]

    state = {key: value for key, value in read_changelog(pipe, changelog, timeout).items() if not key.startswith("~")}
    opened = list(open_state(state))
    # The rows and the result line print the same numbers.
    values = {f"{leg.name}_{which}_eps": leg.rate(which) for leg in (pipeline_leg, baseline_leg)
              for which in ("total", "steady")}
    values |= {f"ratio_{which}": values[f"pipeline_{which}_eps"] / values[f"baseline_{which}_eps"]
               for which in ("total", "steady")}
    values |= {f"{what.replace(' ', '_')}_per_event": value for what, value in per_event.items()}
    rows = {
        "run": f"{events:,} events, {workers} x `touchline worker --no-sink` (exit codes {codes}), store {store}",
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}",
        "ev/s": "total = launch -> all committed, steady = committed 10% -> 90% (nan: too few events)",
        **{f"{leg.name} ev/s": f"{leg.rate('total'):,.0f} total, {leg.rate('steady'):,.0f} steady "
           f"(first commit after {leg.startup_s:.1f} s)" for leg in (baseline_leg, pipeline_leg)},
        "pipeline / baseline": f"{values['ratio_total']:.2f} total, {values['ratio_steady']:.2f} steady",
        **{f"{what} / event": f"{value:.3f}" for what, value in per_event.items()},
        "session keys": f"{len(state):,} (live keys of the changelog topic)",
        "JSON bytes / key": f"{sum(map(len, state.values())) / max(len(state), 1):,.0f} (latest changelog value)",
        "open at the end": f"{len(opened):,} keys with an open session, "
                           f"{sum(opened) / max(len(opened), 1):,.0f} JSON bytes each",
    }
    return "\n".join([*(f"{name + ':':28}{value}" for name, value in rows.items()), result_line(values)])


def main(argv: list[str] | None = None) -> int:
    return stage_main("sessions_stage", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
