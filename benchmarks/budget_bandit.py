"""The budget bandit's speed: simulated hours until a truly better channel gets the largest share, and run time.

Simulates N people for H hours with one channel converting ``--lift`` times
as often per touch (``SimulationConfig.conversion_lift``; every other channel
neutral), replays the events through the identity, sessions and journeys
batch references (``streams.optimization.budget_replay``), and after every
simulated hour computes the evidence of the 7-day window and the bandit's
shares over the 9 channels that spend budget, as ``touchline optimize
budget`` does each minute. Per seed it prints the first hour from which the
better channel's share

- is the largest of all arms at every later hour, and
- is at least twice the even split (1/K, K the arms compared that hour) at every later hour;

and the same "from which hour on" for two baselines run on the same hours:
the even split (1/K: never moves) and greedy, all budget to the highest
empirical conversions per touch (the computation without any sampling).
Time per evaluation: evidence alone (what greedy needs) and evidence plus
Thompson sampling (``--draws``), CPU time.

    .venv/bin/python -m benchmarks.budget_bandit --people 5000 --hours 96 --lift 3 --seeds 5
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone

from infra.bench import result_line
from streams.optimization.arms import BUDGET_CHANNELS, select
from streams.optimization.bandit import BanditSettings, recommend
from streams.optimization.budget_replay import HOUR_MS, Replay, costs_in, replay, simulated_records
from streams.optimization.outcomes import count_touches, evidence
from streams.simulator import SimulationConfig

START = datetime(2026, 11, 2, tzinfo=timezone.utc)
WINDOW_MS = 7 * 24 * HOUR_MS
SETTLE_MS = 40 * 60_000


def _from(flags: list[bool]) -> int | None:
    """The first hour (1-based) from which every flag is true, None if the last one is false."""
    hour = None
    for i, flag in enumerate(flags, start=1):
        if not flag:
            hour = None
        elif hour is None:
            hour = i
    return hour


def evaluate(data: Replay, hours: int, better: str, settings: BanditSettings, seed: int) -> dict:
    top, double, greedy, ends = [], [], [], 0.0
    evidence_s = bandit_s = 0.0
    for hour in range(1, hours + 1):
        end = int(START.timestamp() * 1000) + hour * HOUR_MS - SETTLE_MS
        begin = end - WINDOW_MS
        started = time.process_time()
        ev = evidence("channel", begin, end, data.conversions, data.sessions, count_touches(data.sessions, begin, end),
                      costs_in(data.costs, begin, end))
        arms, _ = select(ev, BUDGET_CHANNELS, settings.basis)
        best_rate = max(arms, key=lambda a: (a.conversions / a.touches, a.arm)).arm if arms else None
        evidence_s += time.process_time() - started
        if not arms:
            top.append(False)
            double.append(False)
            greedy.append(False)
            continue
        started = time.process_time()
        allocation = recommend(arms, settings, seed + hour)
        bandit_s += time.process_time() - started
        shares = {r.arm: r.share for r in allocation.recommendations}
        mine = shares.get(better, 0.0)
        top.append(mine > 0 and mine == max(shares.values()))
        double.append(mine >= 2 / len(shares))
        greedy.append(best_rate == better)
        ends = mine
    return {"top": _from(top), "double": _from(double), "greedy": _from(greedy), "end": ends,
            "evidence_ms": 1000 * evidence_s / hours, "bandit_ms": 1000 * (evidence_s + bandit_s) / hours,
            "sampling_ms": 1000 * bandit_s / hours}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget_bandit", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--hours", type=int, default=96)
    parser.add_argument("--channel", default="social", help="the channel that truly converts better")
    parser.add_argument("--lift", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--draws", type=int, default=10_000)
    args = parser.parse_args(argv)
    settings = BanditSettings(draws=args.draws)

    print(f"scenario:  {args.people:,} people, {args.hours} simulated hours, {args.channel} x{args.lift:g} per touch, "
          f"every other channel x1; arms: {', '.join(BUDGET_CHANNELS)}; window 7 d; {args.draws:,} draws")
    print(f"machine:   {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    print("seed  events  ev/h  conv.  largest-from  2x-even-from  greedy-from  even-split  share@end  "
          "evidence ms  +sampling ms  total ms")
    results = []
    for seed in range(1, args.seeds + 1):
        config = SimulationConfig(seed=seed, people=args.people, start=START,
                                  end=START + timedelta(hours=args.hours), conversion_lift={args.channel: args.lift},
                                  campaign_lift={})
        data = replay(simulated_records(config))
        result = evaluate(data, args.hours, args.channel, settings, seed)
        results.append(result)
        print(f"{seed:>4}  {data.events:>6,}  {data.events // args.hours:>4}  {len(data.conversions):>5}  "
              f"{str(result['top']):>12}  {str(result['double']):>12}  {str(result['greedy']):>11}  "
              f"{'never':>10}  {result['end']:>9.3f}  {result['evidence_ms']:>11.1f}  {result['sampling_ms']:>12.1f}  "
              f"{result['bandit_ms']:>8.1f}")

    def summary(key: str) -> str:
        values = [r[key] for r in results]
        if any(v is None for v in values):
            return f"not reached in {sum(v is None for v in values)} of {len(values)} seeds"
        return f"median {statistics.median(values):g} h, max {max(values)} h"

    print(f"largest share from:       {summary('top')}")
    print(f"2x the even split from:   {summary('double')}")
    print(f"greedy picks it from:     {summary('greedy')}")
    evidence_ms = statistics.median(r["evidence_ms"] for r in results)
    bandit_ms = statistics.median(r["bandit_ms"] for r in results)
    print(f"per evaluation (CPU):     evidence {evidence_ms:.1f} ms, "
          f"with Thompson sampling {bandit_ms:.1f} ms (median of seeds)")
    values: dict[str, float | int | str] = {}
    for key, name in (("top", "largest"), ("double", "double"), ("greedy", "greedy")):
        hours = [r[key] for r in results]
        reached = None not in hours  # as summary(): median and max only if every seed got there, else nan
        values |= {f"{name}_from_h": statistics.median(hours) if reached else math.nan,
                   f"{name}_max_h": max(hours) if reached else math.nan, f"{name}_not_reached": hours.count(None)}
    print(result_line(values | {"evidence_ms": evidence_ms, "total_ms": bandit_ms, "people": args.people,
                                "hours": args.hours, "lift": args.lift, "seeds": args.seeds, "draws": args.draws}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
