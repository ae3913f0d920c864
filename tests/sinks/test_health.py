"""sinks/health.py: the sink's checkpoint outcomes as metrics and as a readiness probe."""

from __future__ import annotations

import threading
import time

from prometheus_client import REGISTRY

from sinks.health import SinkHealth, sink_probe, sink_problem


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_sink_problem() -> None:
    assert sink_problem(True, None, 1000.0, 60) is None
    assert sink_problem(True, 990.0, 1000.0, 60) is None  # failing for 10 s: waited out as designed
    assert "failed every flush for 61s" in sink_problem(True, 939.0, 1000.0, 60)
    assert "not running" in sink_problem(False, None, 1000.0, 60)


def test_health_tracks_the_first_failure_since_the_last_success() -> None:
    health = SinkHealth()
    ok, backpressure = (_sample("touchline_sink_flushes_total", outcome=o) for o in ("ok", "backpressure"))
    rows = _sample("touchline_sink_flush_rows_sum")
    health.failed()
    first = health.failing_since
    assert first is not None
    health.failed()
    assert health.failing_since == first  # the outage started at the first failure
    health.flushed(120, 0.25)
    assert health.failing_since is None and health.last_success is not None
    assert _sample("touchline_sink_flushes_total", outcome="backpressure") == backpressure + 2
    assert _sample("touchline_sink_flushes_total", outcome="ok") == ok + 1
    assert _sample("touchline_sink_flush_rows_sum") == rows + 120
    assert _sample("touchline_sink_last_flush_timestamp_seconds") == health.last_success


def test_probe_reads_the_thread_and_the_health() -> None:
    health = SinkHealth()
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    probe = sink_probe(health, thread, max_failing_s=30)
    assert probe() is None
    health.failing_since = time.time() - 31
    assert "ClickHouse down or overloaded" in probe()
    health.flushed(1, 0.01)
    assert probe() is None
    done.set()
    thread.join(5)
    assert "not running" in probe()
