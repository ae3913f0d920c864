"""Generation speed and memory of the simulator, on one core.

    python -m streams.simulator.bench --events 1000000 [--encode] [--truth PATH]

Prints valid records per second (CPU time of this process, encode excluded
unless --encode), the peak RSS, and a calibration figure (the time one 7-key
dict literal takes here) to compare machines: a shared or throttled VM can be
several times slower than a desktop core.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import timeit
from datetime import datetime, timezone

from streams.simulator.config import SimulationConfig
from streams.simulator.simulate import simulate
from streams.simulator.stream import people_count, stream_records
from streams.simulator.truth import TruthWriter


def calibration_ns() -> float:
    runs = timeit.repeat("d = {'a': 1, 'b': 2, 'c': 3, 'd': 4, 'e': 5, 'f': 6, 'g': 7}", number=200_000, repeat=5)
    return min(runs) / 200_000 * 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encode", action="store_true", help="simulate() with the Avro encoder, malformed included")
    parser.add_argument("--truth", help="write the truth here (default: a temporary file, deleted)")
    args = parser.parse_args(argv)
    config = SimulationConfig(seed=args.seed, events=args.events, end=datetime(2026, 5, 1, tzinfo=timezone.utc))
    print(f"calibration: a 7-key dict literal takes {calibration_ns():.0f} ns here")
    started = time.process_time()
    people = people_count(config)
    sizing = time.process_time() - started
    path = args.truth or os.path.join(tempfile.mkdtemp(), "truth.jsonl")
    with TruthWriter(path) as truth:
        started, wall = time.process_time(), time.perf_counter()
        if args.encode:
            from schemas.wire import AvroEncoder

            count = sum(1 for _ in simulate(config, AvroEncoder("touchpoint").encode, truth))
        else:
            stream = stream_records(config, truth, people)
            count = 0
            for _ in stream:
                count += 1
                if count >= args.events:
                    break
            stream.close()
        cpu, wall = time.process_time() - started, time.perf_counter() - wall
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = "messages (encoded, 1% malformed)" if args.encode else "valid records (truth written, no encode)"
    print(f"{count} {what} from {people} people in {cpu:.1f} s CPU ({wall:.1f} s wall): "
          f"{count / cpu:,.0f}/s; sizing the population took {sizing:.1f} s; peak RSS {peak_mb:.0f} MB; "
          f"truth {os.path.getsize(path) / 1e6:.0f} MB at {path}")
    if not args.truth:
        os.remove(path)


if __name__ == "__main__":
    main()
