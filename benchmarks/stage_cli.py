"""The command line the stage benchmarks share: events, workers, table store, timeout; errors as exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from confluent_kafka import KafkaException

from infra.exceptions import TouchlineError
from infra.settings import Settings, load_settings

StageRun = Callable[[Settings, int, int, str, float], str]  # (settings, events, workers, store, timeout) -> report


def stage_main(name: str, doc: str, run: StageRun, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=doc.splitlines()[0])
    parser.add_argument("--events", type=int, required=True, help="simulated events per leg")
    parser.add_argument("--workers", type=int, default=1, help="`touchline worker --no-sink` processes")
    parser.add_argument("--store", choices=["memory://", "rocksdb://"], default=None,
                        help="Faust table store (default: TOUCHLINE_TABLE_STORE)")
    parser.add_argument("--timeout", type=float, default=900, help="deadline of each wait, seconds")
    args = parser.parse_args(argv)
    if args.events < 10 or args.workers < 1:
        parser.error("--events must be >= 10 and --workers >= 1")
    try:
        settings = load_settings()
        print(run(settings, args.events, args.workers, args.store or settings.table_store, args.timeout))
    except (TouchlineError, KafkaException, BufferError, TimeoutError, RuntimeError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    return 0
