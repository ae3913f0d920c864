"""The journey rule in-process: ev/s and state size per profile, against reading the same events.

Each simulated touchpoint (shuffled within the lateness) becomes the journey
message the identity stage sends, keyed by the profile the batch identity
reference gives it, and is applied to that profile's state as the Faust
stage does: ``apply`` per message, ``settle`` once per profile per batch of
500 messages. No Kafka, no moves (the broker test covers them). Baseline: the
same loop that only builds and decodes each message (touch, session key,
JSON), which every consumer of the stage's input pays. State: JSON bytes per
profile at the end, what a worker holds and its changelog carries.

    .venv/bin/python -m benchmarks.journeys_rule --events 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from benchmarks.sessions_rule import records
from infra.bench import result_line
from streams.identity.policy import IdentityPolicy
from streams.identity.reference import stitch
from streams.journeys import messages
from streams.journeys.context import touch_extra
from streams.journeys.state import apply, new_state, settle
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import session_key, touch_of

BATCH = 500


def journey_message(record: dict) -> bytes:
    """The ``t`` message the identity stage sends for a stitched record (streams/journeys/routing.py)."""
    touch = touch_of(record)._replace(profile_id=None)
    extra = touch_extra(record)
    entry = [list(touch), session_key(record)[0]] + ([extra] if extra else [])
    return messages.encode({"op": "t", "ik": record["identity_key"], "v": 0, "x": entry})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.journeys_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    arrivals = [r for r in records(args.events) if r["identity_key"]]
    profiles = stitch(arrivals, IdentityPolicy()).profiles
    policy = SessionPolicy()

    keyed = [(profiles[r["identity_key"]], r) for r in arrivals]
    started = time.process_time()
    for _, record in keyed:
        messages.decode(journey_message(record))
    baseline_s = time.process_time() - started

    states: dict[str, dict] = {}
    rows = 0
    started = time.process_time()
    for i in range(0, len(keyed), BATCH):
        touched = set()
        for profile, record in keyed[i:i + BATCH]:
            state = states.setdefault(profile, new_state(profile))
            apply(state, messages.decode(journey_message(record)))
            touched.add(profile)
        for profile in touched:
            rows += len(settle(states[profile], policy))
    rule_s = time.process_time() - started
    sizes = sorted(len(json.dumps(s, separators=(",", ":"))) for s in states.values())

    n = len(keyed)
    print(f"run:                     {n:,} touches in {len(states):,} profiles, batches of {BATCH}")
    print(f"machine:                 {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"baseline (build+decode): {n / baseline_s:,.0f} ev/s (CPU time)")
    print(f"rule (apply + settle):   {n / rule_s:,.0f} ev/s (CPU time)")
    print(f"rule / baseline:         {baseline_s / rule_s:.2f}")
    print(f"rows / event:            {rows / n:.3f}")
    print(f"state bytes / profile:   {sum(sizes) / len(sizes):,.0f} JSON mean, p99 {sizes[int(len(sizes) * 0.99)]:,}, "
          f"max {sizes[-1]:,}")
    print(result_line({"touches": n, "profiles": len(states), "baseline_eps": n / baseline_s, "rule_eps": n / rule_s,
                       "ratio": baseline_s / rule_s, "rows_per_event": rows / n,
                       "state_bytes_mean": sum(sizes) / len(sizes), "state_bytes_p99": sizes[int(len(sizes) * 0.99)],
                       "state_bytes_max": sizes[-1]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
