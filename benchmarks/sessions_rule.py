"""The sessionization rule in-process: ev/s and state size, against reading the same events.

Runs ``streams.sessions.inprocess.SessionStream`` (what the Faust stage does
per event: the key's state update, the watermark, closing due keys) over N
simulated touchpoints arriving shuffled within the allowed lateness, in one
process, no Kafka. Baseline: the same loop that only computes each event's
session key and touch (the reading every sessionizer pays). The ratio is
what the rule costs on top. State: JSON bytes of every key's state, and of
the keys with an open session, at the moment the last event arrived (before
the idle close), which is what a worker holds and its changelog carries.

    .venv/bin/python -m benchmarks.sessions_rule --events 200000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from infra.bench import result_line
from streams.identity.observe import observation_of
from streams.identity.policy import IdentityPolicy
from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import session_key, touch_of
from streams.simulator import SimulationConfig, simulate


def records(events: int) -> list[dict]:
    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    config = SimulationConfig(seed=11, events=events, malformed_share=0.0, start=end - timedelta(days=30), end=end)
    policy, out = IdentityPolicy(), []
    for message in simulate(config, lambda r: b""):
        record = dict(message.record)
        obs = observation_of(record, policy)
        record["identity_key"] = obs.anchor if obs is not None else None
        out.append(record)
    lateness, rng = timedelta(minutes=10), random.Random(2)
    return sorted(out, key=lambda r: r["event_time"] + lateness * rng.random())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sessions_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    arrivals = records(args.events)

    started = time.process_time()
    for record in arrivals:
        session_key(record)
        touch_of(record)
    baseline_s = time.process_time() - started

    stream = SessionStream(SessionPolicy())
    started = time.process_time()
    for record in arrivals:
        stream.arrive(*session_key(record), touch_of(record))
    rule_s = time.process_time() - started
    sizes = {key: stream.states.encoded_size(key) for key, _ in stream.states.items()}
    open_keys = set(stream.due.due_of)
    open_sizes = [sizes[k] for k in open_keys]
    rows_before = stream.table.written
    stream.finish()

    n = len(arrivals)
    print(f"run:                     {n:,} events in {len(sizes):,} session keys, "
          f"{len(stream.table.final()):,} sessions")
    print(f"machine:                 {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"baseline (key + touch):  {n / baseline_s:,.0f} ev/s (CPU time)")
    print(f"rule (SessionStream):    {n / rule_s:,.0f} ev/s (CPU time)")
    print(f"rule / baseline:         {baseline_s / rule_s:.2f}")
    print(f"rows / event:            {stream.table.written / n:.3f} ({rows_before:,} while streaming, "
          f"{stream.table.written - rows_before:,} at the idle close)")
    print(f"state bytes / key:       {sum(sizes.values()) / len(sizes):,.0f} JSON (all keys)")
    print(f"open at the end:         {len(open_keys):,} keys with an open session, "
          f"{sum(open_sizes) / max(len(open_sizes), 1):,.0f} JSON bytes each")
    print(result_line({"events": n, "baseline_eps": n / baseline_s, "rule_eps": n / rule_s,
                       "ratio": baseline_s / rule_s, "rows_per_event": stream.table.written / n,
                       "state_bytes_per_key": sum(sizes.values()) / len(sizes), "open_keys": len(open_keys),
                       "open_bytes_per_key": sum(open_sizes) / max(len(open_sizes), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
