"""The sink as the worker's supervised child (infra/sink_process.py), on the real broker and store.

- the child dies with the worker, even when the worker is killed with SIGKILL alone;
- a dead child stops the worker with exit code 1 (no worker ingesting into the void);
- the worker's /metrics: the sink's own families come from the child whole, shared families
  (rejects by stage, consumer lag by consumer) side by side.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from infra.localkafka import free_port
from infra.sink_process import SinkProcess
from sinks.migrate import migrate
from sinks.clickhouse import connect
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.streams.stages.test_ops_web import _get


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def _ready_worker(settings_factory, worker_factory):  # noqa: ANN001, ANN202
    settings = settings_factory()
    ensure_topics(settings)
    migrate(connect(settings), settings.clickhouse_database)
    port = free_port()
    worker = worker_factory(settings, "worker", "--web-port", str(port))
    wait_for(lambda: _get(port, "/ready")[0] == 200 or not worker.running, timeout=90, what="the worker ready")
    assert worker.running, worker.log_tail()
    sinks = wait_for(lambda: _children(worker.proc.pid), timeout=30, what="the sink child process")
    assert len(sinks) == 1, sinks
    return worker, sinks[0], port


@pytest.mark.integration
def test_the_sink_child_ends_with_a_killed_worker(settings_factory, worker_factory) -> None:  # noqa: ANN001
    worker, sink_pid, _ = _ready_worker(settings_factory, worker_factory)
    os.kill(worker.proc.pid, signal.SIGKILL)  # the worker alone, not its process group
    wait_for(lambda: not _alive(sink_pid), timeout=60, what=f"sink process {sink_pid} to end after its worker")


@pytest.mark.integration
def test_a_dead_sink_child_stops_the_worker(settings_factory, worker_factory) -> None:  # noqa: ANN001
    worker, sink_pid, port = _ready_worker(settings_factory, worker_factory)
    os.kill(sink_pid, signal.SIGKILL)
    wait_for(lambda: not worker.running, timeout=90, what="the worker to stop after its sink died")
    assert worker.proc.returncode == 1, worker.log_tail()
    assert "sink process" in worker.log_path.read_text() and "exited with code -9" in worker.log_path.read_text()


class _ChildDouble(SinkProcess):
    """A SinkProcess whose scraped families are given (the merge is what is under test)."""

    def __init__(self, families: list[Metric]) -> None:
        super().__init__(on_exit=lambda code: None, stop_timeout_s=1)
        self._given = families

    def families(self, timeout_s: float = 2.0) -> list[Metric]:  # noqa: ARG002
        return self._given


def test_merge_takes_sink_families_from_the_child_and_joins_shared_ones() -> None:
    def registry(sink_rows: float, reject_stage: str) -> CollectorRegistry:
        r = CollectorRegistry()
        Counter("touchline_sink_rows_written", "rows", ["table"], registry=r).labels("touchpoints").inc(sink_rows)
        Gauge("touchline_sink_last_flush_timestamp_seconds", "t", registry=r).set(sink_rows)
        Counter("touchline_rejects", "rejects", ["stage"], registry=r).labels(reject_stage).inc()
        return r

    worker, child = registry(0, "ingest"), registry(7, "sink")
    merged = {f.name: f for f in _ChildDouble(list(child.collect())).merge(worker.collect())}
    samples = {name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in f.samples}
               for name, f in merged.items()}
    assert samples["touchline_sink_rows_written"] == {
        ("touchline_sink_rows_written_total", (("table", "touchpoints"),)): 7.0}
    assert samples["touchline_sink_last_flush_timestamp_seconds"] == {
        ("touchline_sink_last_flush_timestamp_seconds", ()): 7.0}
    assert samples["touchline_rejects"] == {("touchline_rejects_total", (("stage", "ingest"),)): 1.0,
                       ("touchline_rejects_total", (("stage", "sink"),)): 1.0}
    # A child that does not answer: the worker's own families, untouched.
    alone = {f.name for f in _ChildDouble([]).merge(worker.collect())}
    assert alone == {"touchline_sink_rows_written", "touchline_sink_last_flush_timestamp_seconds", "touchline_rejects"}
