"""The ClickHouse sink as a supervised child process of `touchline worker` (the default layout).

The sink (sinks/runner.py) is stateless: it reads the stages' output topics in
large batches with confluent-kafka and writes ClickHouse. In a thread of the
worker it shares the worker's GIL with every Faust stage; in its own process it
gets the machine's second core (docs/benchmarks.md: +29% drained, start-up 8.0
-> 5.5 s on 2 cores). The worker keeps what the thread layout gave:

- one thing to start and stop: the worker starts ``touchline sink`` and stops
  it (SIGTERM: flush, commit) when it stops; the child gets SIGTERM from the
  kernel if the worker dies without a word (kill -9), so it never outlives it;
- a dead sink stops the worker (exit 1), as a dead sink thread did: a worker
  must not ingest into the void while its supervisor thinks all is well;
- one scrape: the worker's ``/metrics`` carries the sink's series, fetched
  from the child's own metrics port (127.0.0.1, a port the child picks and
  reports through a pipe), and ``/ready`` says when the sink process is gone
  or has failed every flush for too long (sinks/health.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from sinks.health import sink_problem

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
FAILING_SINCE = "touchline_sink_failing_since_timestamp_seconds"
# Families only the sink writes: in the worker's /metrics they come from the child whole (the worker's
# own copies exist, unused, since infra/metrics.py defines every series in every process).
SINK_FAMILIES = ("touchline_sink_", "touchline_clickhouse_")
HEALTH_EVERY_S = 5.0  # how often the watcher reads the child's health (failing since) for GET /ready


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SinkProcess:
    """One ``touchline sink`` child: start, watch, scrape, stop."""

    def __init__(self, on_exit: Callable[[int], None], stop_timeout_s: float,
                 command: list[str] | None = None) -> None:
        self._on_exit = on_exit  # called (from the watcher thread) when the child ends unasked, with its code
        self._stop_timeout_s = stop_timeout_s
        self._command = command or [sys.executable, "-m", "infra.cli.main", "sink"]
        self._proc: subprocess.Popen | None = None
        self._stopping = False
        self.port: int | None = None  # the child's metrics port, once it reported it
        self._failing_since: float | None = None  # last value scraped from the child

    def start(self) -> None:
        """Start the child (from the main thread: the kernel's parent-death signal follows the forking thread)."""
        read_end, write_end = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [*self._command, "--metrics-port", "0", "--report-port-fd", str(write_end)],
                pass_fds=(write_end,), preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            os.close(write_end)
        log.info("ClickHouse sink started as process %d", self._proc.pid)
        threading.Thread(target=self._watch, args=(read_end,), name="sink-process-watch", daemon=True).start()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _watch(self, read_end: int) -> None:
        assert self._proc is not None
        with os.fdopen(read_end, "rb") as pipe:
            line = pipe.readline()  # the child writes its port once its metrics server listens; EOF if it dies
        if line.strip().isdigit():
            self.port = int(line)
        while True:  # refresh the health the readiness probe reads, without blocking the worker's loop
            try:
                code = self._proc.wait(HEALTH_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                self.families()
        if not self._stopping:
            log.error("the ClickHouse sink process %d exited with code %d: stopping the worker "
                      "(nothing the sink had not flushed is committed; restart the worker)", self._proc.pid, code)
            self._on_exit(code)

    def stop(self) -> int | None:
        """SIGTERM (the sink flushes and commits), then SIGKILL after the timeout; the exit code."""
        self._stopping = True
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                return self._proc.wait(self._stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.error("the ClickHouse sink process %d did not stop within %.0fs of SIGTERM: killed",
                          self._proc.pid, self._stop_timeout_s)
                self._proc.kill()
        return self._proc.wait()

    def families(self, timeout_s: float = 2.0) -> list[Metric]:
        """The child's metric families (OpenMetrics, parsed); [] while it has no port or does not answer."""
        if self.port is None or not self.alive():
            return []
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics",
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                text = answer.read().decode()
        except OSError as exc:
            log.warning("the ClickHouse sink process did not answer its metrics scrape: %s", exc)
            return []
        found = list(text_string_to_metric_families(text))
        for family in found:
            if family.name == FAILING_SINCE and family.samples:
                value = family.samples[0].value
                self._failing_since = value if value > 0 else None
        return found

    def merge(self, own: Iterable[Metric]) -> Iterator[Metric]:
        """The worker's families with the child's: sink families from the child, shared ones side by side."""
        theirs = {family.name: family for family in self.families()}
        for family in own:
            other = theirs.pop(family.name, None)
            if other is None:
                yield family
            elif family.name.startswith(SINK_FAMILIES):
                yield other  # the sink's own series: the child's values
            else:  # shared (rejects by stage, consumer lag by consumer): each process writes other labels
                mine = {(s.name, tuple(sorted(s.labels.items()))) for s in family.samples}
                family.samples.extend(s for s in other.samples
                                      if (s.name, tuple(sorted(s.labels.items()))) not in mine)
                yield family
        yield from (f for name, f in theirs.items() if not name.startswith(("process_", "python_")))

    def problem(self, max_failing_s: float) -> str | None:
        """A readiness probe (streams/readiness.py): gone, or failing every flush for too long."""
        if self._proc is not None and not self.alive():
            return f"the ClickHouse sink process exited with code {self._proc.returncode}"
        return sink_problem(True, self._failing_since, time.time(), max_failing_s)


def report_port(fd: int, port: int) -> None:
    """In the child: tell the worker which port the metrics server listens on."""
    os.write(fd, f"{port}\n".encode())
    os.close(fd)

