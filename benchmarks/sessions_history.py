"""What a touch costs the sessions rule with 10, 100 and 1,000 touches of history behind its key.

Production keeps 90 days of touches per session key; the issue's target is a
per-touch cost that does not grow with them (within 2x from 10 to 1,000). Each
of ``--keys`` session keys first gets H touches of history (visits of 5 page
views, 4 hours apart, streamed through the rule, not timed), then ``--touches``
more visits' touches arrive shuffled within the allowed lateness, keys
interleaved; those are timed (CPU time, the state's JSON round trip included, as
a worker on ``rocksdb://`` pays it). Two rules in the same run: the stage's
(``archive``: finished chains in cold values, streams/sessions/state.py) and the
whole-history rule it is tested against (one value per key, recomputed per
touch). Changelog bytes = JSON bytes of every value written while timed.

    .venv/bin/python -m benchmarks.sessions_history
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from typing import Any

from infra.bench import result_line
from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import HOUR_MS, MINUTE_MS, SessionPolicy
from streams.sessions.touches import Touch
from streams.stored_states import StoredStates

HISTORIES = (10, 100, 1_000)
T0 = 1_790_000_000_000  # 2026-09-21, a Monday
VISIT_TOUCHES = 5


class CountingStates(StoredStates):
    """StoredStates that count the JSON bytes written (what the changelog carries)."""

    written_bytes = 0

    def put(self, key: str, value: Any) -> None:
        super().put(key, value)
        self.written_bytes += self.encoded_size(key)


def visit_touches(key: str, visit: int) -> list[Touch]:
    start = T0 + visit * 4 * HOUR_MS
    return [Touch(start + i * 2 * MINUTE_MS, f"{key}-{visit}-{i}", "purchase" if i == 4 else "page_view", "web",
                  "mobile", "c-1", "google", "cpc", f"https://shop.example/p/{visit}/{i}", 1_999 if i == 4 else None,
                  "p-1", key) for i in range(VISIT_TOUCHES)]


def measure(archive: bool, history: int, keys: int, visits: int, seed: int) -> tuple[float, float, int]:
    """(CPU us per timed touch, changelog bytes per timed touch, rows written while timed)."""
    stream = SessionStream(SessionPolicy(), states=CountingStates(), archive=archive)
    names = [f"anonymous_id:k{i}" for i in range(keys)]
    past = history // VISIT_TOUCHES
    for visit in range(past):
        for key in names:
            for touch in visit_touches(key, visit):
                stream.arrive(key, key, touch)
    timed = [(touch.t + random.Random(seed + i).randrange(10 * MINUTE_MS), key, touch)
             for i, (key, touch) in enumerate((key, t) for visit in range(past, past + visits) for key in names
                                              for t in visit_touches(key, visit))]
    timed.sort(key=lambda arrival: arrival[0])  # each touch up to the 10-minute lateness late
    stream.states.written_bytes, rows_before = 0, stream.table.written
    started = time.process_time()
    for _, key, touch in timed:
        stream.arrive(key, key, touch)
    spent = time.process_time() - started
    return spent / len(timed) * 1e6, stream.states.written_bytes / len(timed), stream.table.written - rows_before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sessions_history",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--visits", type=int, default=20, help="timed visits per key (5 touches each)")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    print(f"run:     {args.keys} keys x {args.visits} visits x {VISIT_TOUCHES} touches timed per history")
    print(f"{'history':>8} | {'whole us/touch':>14} | {'archive us/touch':>16} | {'whole / archive':>15} | "
          f"{'whole B/touch':>13} | {'archive B/touch':>15} | rows (whole, archive)")
    results: dict[str, float] = {}
    for history in HISTORIES:
        whole_us, whole_b, whole_rows = measure(False, history, args.keys, args.visits, seed=history)
        archive_us, archive_b, archive_rows = measure(True, history, args.keys, args.visits, seed=history)
        if whole_rows != archive_rows:
            raise SystemExit(f"the rules wrote different row counts at {history} touches: {whole_rows} "
                             f"against {archive_rows}")
        print(f"{history:>8} | {whole_us:>14,.0f} | {archive_us:>16,.0f} | {whole_us / archive_us:>15.1f} | "
              f"{whole_b:>13,.0f} | {archive_b:>15,.0f} | {whole_rows}, {archive_rows}")
        results |= {f"whole_us_{history}": whole_us, f"archive_us_{history}": archive_us,
                    f"whole_bytes_{history}": whole_b, f"archive_bytes_{history}": archive_b}
    spread = {rule: max(results[f"{rule}_us_{h}"] for h in HISTORIES) / min(results[f"{rule}_us_{h}"]
                                                                            for h in HISTORIES)
              for rule in ("whole", "archive")}
    print(f"slowest / fastest history: whole {spread['whole']:.1f}x, archive {spread['archive']:.1f}x "
          f"(target: within 2x)")
    print(result_line({"archive_spread": spread["archive"], "whole_spread": spread["whole"], **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
