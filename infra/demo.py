"""The demo: local stack up, one worker, simulated traffic, wait until queryable, KPIs."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

from infra.devstack import DevStack
from infra.processes import TouchlineProcess
from infra.progress import Progress
from infra.settings import Settings
from infra.traffic import produce_simulation
from sinks import kpi
from sinks.clickhouse import connect
from streams.simulator import SimulationConfig, TruthWriter


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_demo(settings: Settings, events: int, seed: int, timeout: float) -> int:
    """Returns the process exit code: 0 when every event was accounted for in ClickHouse."""
    status = DevStack(settings).up(log=_say)
    _say(status.render())
    db = settings.clickhouse_database
    client = connect(settings)

    def counts() -> tuple[int, int]:
        return (
            client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0],
            client.query(f"SELECT count() FROM {db}.rejects FINAL").result_rows[0][0],
        )

    before = counts()
    log_path = settings.data_dir / "demo-worker.log"
    worker = TouchlineProcess(["worker"], settings, log_path)
    _say(f"worker started (pid {worker.proc.pid}, log {log_path})")
    try:
        end = datetime.now(timezone.utc)
        config = SimulationConfig(seed=seed, events=events, start=end - timedelta(days=14), end=end)
        truth_path = settings.data_dir / "demo-truth.jsonl"
        with TruthWriter(truth_path) as truth:
            sent = produce_simulation(settings, config, truth, show_progress=True, keep_ids=False)
        _say(f"produced {sent.messages} events ({len(sent.malformed)} malformed); ground truth in {truth_path}")
        expected = (before[0] + sent.valid, before[1] + len(sent.malformed))
        progress = Progress("queryable", sent.messages)
        deadline = time.monotonic() + timeout
        while (now := counts()) != expected:
            if not worker.running:
                _say(f"the worker exited:\n{worker.log_tail()}")
                return 1
            if time.monotonic() > deadline or now[0] > expected[0] or now[1] > expected[1]:
                _say(f"expected {expected} (touchpoints, rejects), have {now}; worker log:\n{worker.log_tail()}")
                return 1
            progress.update(now[0] + now[1] - before[0] - before[1])
            time.sleep(0.5)  # polling interval; the deadline bounds the wait
        _say(f"all {sent.messages} events queryable: {sent.valid} touchpoints, {len(sent.malformed)} rejects\n")
    finally:
        worker.stop()

    for name in ("channel_summary", "rejects_by_reason"):
        from infra.cli.traffic import render

        columns, rows = kpi.run(client, name, db)
        print(f"== {name} ==\n{render(columns, rows)}\n")
    _say(f"The stack keeps running for queries ({status.store}); `touchline dev down` stops it.")
    return 0
