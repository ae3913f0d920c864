"""The demo: local stack up, one worker, simulated traffic, wait until queryable, KPIs, attribution, report."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

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


def run_demo(settings: Settings, events: int, seed: int, timeout: float, report_path: Path | None = None) -> int:
    """Returns the process exit code: 0 when every event was accounted for in ClickHouse.

    Ends with an attribution run and the HTML report (``report_path``, default ``<data dir>/report.html``).
    """
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
        _wait_journeys_settled(client, db, worker, timeout=min(60.0, timeout))
    finally:
        worker.stop()

    for name in ("channel_summary", "rejects_by_reason"):
        from infra.cli.traffic import render

        columns, rows = kpi.run(client, name, db)
        print(f"== {name} ==\n{render(columns, rows)}\n")
    report = _attribution_and_report(settings, client, report_path or settings.data_dir / "report.html")
    print(f"report: {report}")
    _say(f"The stack keeps running for queries ({status.store}); `touchline dev down` stops it.")
    return 0


def _wait_journeys_settled(client, db: str, worker: TouchlineProcess, timeout: float,  # noqa: ANN001
                           quiet: float = 3.0) -> None:
    """Journeys trail their touchpoints (another stage, another sink batch): wait until no journey row
    has arrived for ``quiet`` seconds, so the report's journey KPIs see them all (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline and worker.running:
        now = client.query(f"SELECT count(), max(inserted_at) FROM {db}.journeys").result_rows[0]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.5)  # polling interval; the deadline bounds the wait
    _say(f"journeys had not settled within {timeout:g}s; the report may miss the newest")


def _attribution_and_report(settings: Settings, client, path: Path) -> Path:  # noqa: ANN001
    """The latest attribution run (every model, the 30 days up to now), then the HTML report of the same window."""
    from sinks.attribution_job import run_attribution
    from sinks.report import write_report
    from streams.sessions.policy import session_policy_from_settings

    db = settings.clickhouse_database
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=30)
    run = run_attribution(client, db, session_policy_from_settings(settings), start, end)
    _say(f"attribution run {run.run_id}: {run.converted_paths} conversions in {run.paths} journeys, "
         f"every model, {run.seconds:.1f}s")
    data = write_report(client, db, path, start, end)
    for problem in data.problems():
        _say(f"report section {problem}")
    return path
