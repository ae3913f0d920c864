"""Real-time segments in-process: what evaluating them adds to the journey stage's work, and per profile size.

The journey rule exactly as benchmarks/journeys_rule.py runs it (simulated
touchpoints, ``apply`` per message, ``settle`` once per profile per batch of
500), then the same with what the stage does next for each changed profile:
segment changes (features, memberships, the next due time) and contact
decisions under the segments' caps; and with decisions alone (what the stage
did before segments). CPU time; ratios to the journey rule alone. Then one evaluation of a
single profile with 10 to 5,000 touches (the state's cap), the default
definitions and policy.

    .venv/bin/python -m benchmarks.segments_rule --events 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone

from benchmarks.journeys_rule import journey_message
from benchmarks.sessions_rule import records
from infra.bench import result_line
from streams.identity.policy import IdentityPolicy
from streams.identity.reference import stitch
from streams.journeys import messages
from streams.journeys.state import apply, new_state, settle
from streams.optimization import decisions, segment_changes
from streams.optimization.policy import DEFAULT_POLICY
from streams.optimization.segment_definitions import DEFAULT_DEFINITIONS
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import Touch

BATCH = 500
KINDS = ("page_view", "page_view", "page_view", "email_send", "email_open", "add_to_cart", "purchase", "app_open")


def run(keyed: list[tuple[str, bytes]], policy: SessionPolicy, with_segments: bool, with_decisions: bool) -> float:
    states: dict[str, dict] = {}
    started = time.process_time()
    for i in range(0, len(keyed), BATCH):
        now = datetime.now(timezone.utc)
        touched = set()
        for profile, value in keyed[i:i + BATCH]:
            state = states.setdefault(profile, new_state(profile))
            apply(state, messages.decode(value))
            touched.add(profile)
        for profile in touched:
            settle(states[profile], policy, DEFAULT_POLICY.suppression_event_types)
            members = frozenset()
            if with_segments:
                members, _ = segment_changes.changed_records(states[profile], now, None, DEFAULT_DEFINITIONS,
                                                             DEFAULT_POLICY)
            if with_decisions:
                decisions.changed_records(states[profile], now, None, DEFAULT_POLICY, members)
    return time.process_time() - started


def one_profile(n: int, now_ms: int) -> float:
    """Seconds (CPU) of one evaluation of a profile with ``n`` touches over 90 days."""
    state = new_state("p-bench")
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        touch = Touch(now_ms - (n - i) * (90 * 86_400_000 // (n + 1)), f"e{i}", kind, "web", "desktop", None, None,
                      None, None, 4_990 if kind == "purchase" else None, None, None)
        apply(state, {"op": "t", "ik": f"device_id:d{i % 3}", "v": 0, "x": [list(touch), "device_id:d"]})
    at = datetime.fromtimestamp(now_ms / 1000, timezone.utc)
    rounds = max(3, 2_000 // n)
    started = time.process_time()
    for _ in range(rounds):
        state.pop(segment_changes.REGISTRY, None)
        segment_changes.changed_records(state, at, None, DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    return (time.process_time() - started) / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segments_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    arrivals = [r for r in records(args.events) if r["identity_key"]]
    profiles = stitch(arrivals, IdentityPolicy()).profiles
    policy = SessionPolicy()

    keyed = [(profiles[r["identity_key"]], journey_message(r)) for r in arrivals]
    rule_s = run(keyed, policy, with_segments=False, with_decisions=False)
    decisions_s = run(keyed, policy, with_segments=False, with_decisions=True)
    both_s = run(keyed, policy, with_segments=True, with_decisions=True)
    n = len(keyed)
    print(f"run:                          {n:,} touches in {len(set(p for p, _ in keyed)):,} profiles, "
          f"batches of {BATCH}")
    print(f"machine:                      {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"journey rule (apply+settle):  {n / rule_s:,.0f} ev/s (CPU time)")
    print(f"+ contact decisions (before): {n / decisions_s:,.0f} ev/s (CPU time), {decisions_s / rule_s:.2f}x the rule's "
          "time")
    print(f"+ segments and decisions:     {n / both_s:,.0f} ev/s (CPU time), {both_s / rule_s:.2f}x the rule's time; "
          f"segments add {(both_s - decisions_s) / rule_s:.2f}x")
    now_ms = int(time.time() * 1000)
    values = {"touches": n, "rule_eps": n / rule_s, "decisions_eps": n / decisions_s, "segments_eps": n / both_s,
              "decisions_ratio": decisions_s / rule_s, "segments_ratio": both_s / rule_s,
              "segments_add": (both_s - decisions_s) / rule_s}
    for size in (10, 100, 1_000, 5_000):
        values[f"eval_ms_{size}"] = one_profile(size, now_ms) * 1e3
        print(f"one evaluation, {size:>5,} touches: {values[f'eval_ms_{size}']:8.3f} ms (CPU)")
    print(result_line(values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
