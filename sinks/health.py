"""How the sink runner is doing: its checkpoints' outcomes, as metrics and as a readiness probe.

The runner (sinks/runner.py) reports each checkpoint here: ``flushed`` when
the rows are in ClickHouse and the offsets committed, ``failed`` when it
backs off (ClickHouse down or overloaded; nothing committed). A worker is not
ready (GET /ready) while its sink thread is dead or has been failing for
longer than ``max_failing_s``: a short outage is waited out as designed, a
long one needs someone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from infra import metrics


class SinkHealth:
    """One runner's recent outcomes (written by the sink thread, read by the web server's)."""

    def __init__(self) -> None:
        self.last_success: float | None = None  # unix time of the last successful checkpoint
        self.failing_since: float | None = None  # first failure since then; None while healthy

    def flushed(self, rows: int, seconds: float) -> None:
        self.last_success, self.failing_since = time.time(), None
        metrics.sink_flushed(rows, seconds, self.last_success)
        metrics.SINK_FAILING_SINCE.set(0)

    def failed(self) -> None:
        metrics.sink_backpressure()
        if self.failing_since is None:
            self.failing_since = time.time()
            metrics.SINK_FAILING_SINCE.set(self.failing_since)  # how a worker reads its sink child's health


def sink_problem(alive: bool, failing_since: float | None, now: float, max_failing_s: float) -> str | None:
    """None when the sink is fine, else what is wrong."""
    if not alive:
        return "the ClickHouse sink thread is not running"  # the child process has its own (infra/sink_process.py)
    if failing_since is not None and now - failing_since > max_failing_s:
        return (f"the ClickHouse sink has failed every flush for {now - failing_since:.0f}s "
                f"(more than {max_failing_s:g}s): ClickHouse down or overloaded")
    return None


def sink_probe(health: SinkHealth, thread: threading.Thread, max_failing_s: float) -> Callable[[], str | None]:
    """A readiness probe (streams/readiness.py) for a sink runner running in ``thread``."""
    def probe() -> str | None:
        return sink_problem(thread.is_alive(), health.failing_since, time.time(), max_failing_s)

    return probe
