"""Faust's stalled-commit alarm on a real worker: silent over an idle spell, loud when commits really stall.

Faust logs ``Has not committed TP(...) (last commit N minutes ago)`` when a
partition's last commit is older than ``broker_commit_livelock_soft_timeout``
(TOUCHLINE_WORKER_COMMIT_STALL_ALARM_S), also when there was nothing to
commit: after a quiet spell every partition shouted while its committed offset
equalled its end (issue 20). streams/commit_alarm.py keeps the alarm for what it
is for: events processed and not committed.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from infra.traffic import produce_simulation
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.fixtures import wait_for

ALARM_S = 6.0  # more than 2 rounds of Faust's check (every 2.5 commit intervals of 1 s)
QUIET_S = 15.0  # the idle spell under test
ALARM_TEXT = "Has not committed"


def _simulation(seed: int, events: int) -> SimulationConfig:
    end = datetime.now(timezone.utc)
    return SimulationConfig(seed=seed, events=events, malformed_share=0.0, start=end - timedelta(days=2), end=end)


@pytest.mark.integration
def test_no_stalled_commit_alarm_after_an_idle_spell(settings_factory, worker_factory) -> None:  # noqa: ANN001
    # The first events after a quiet spell: fetched (high watermark up), not yet processed, and the last
    # commit as old as the spell. Faust alone calls that a stall.
    settings = settings_factory(worker_commit_stall_alarm_s=ALARM_S)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    first = produce_simulation(settings, _simulation(5, 400))
    worker = worker_factory(settings, "worker")
    stored = lambda: client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]  # noqa: E731
    wait_for(lambda: stored() == first.valid, timeout=120, what=f"{first.valid} touchpoints stored")
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:  # the fault is the quiet spell itself: watch the worker through it
        assert worker.running, worker.log_tail()
        time.sleep(1)
    burst = produce_simulation(settings, _simulation(6, 4_000))
    wait_for(lambda: stored() == first.valid + burst.valid, timeout=120, what="the burst stored")
    alarms = [line for line in worker.log_path.read_text().splitlines() if ALARM_TEXT in line]
    assert not alarms, alarms[:3]

@pytest.mark.integration
def test_the_alarm_still_fires_when_commits_really_stall(settings_factory, worker_factory) -> None:  # noqa: ANN001
    from streams.failpoints import COMMIT_STALLS

    settings = settings_factory(worker_commit_stall_alarm_s=ALARM_S, failpoints=[COMMIT_STALLS])
    ensure_topics(settings)
    migrate(connect(settings), settings.clickhouse_database)
    worker = worker_factory(settings, "worker")
    seed = 0

    def alarmed() -> bool:  # traffic keeps coming (positions behind the high watermarks), nothing is committed
        nonlocal seed
        assert worker.running, worker.log_tail()
        seed += 1
        produce_simulation(settings, _simulation(seed, 2_000))
        return ALARM_TEXT in worker.log_path.read_text()

    wait_for(alarmed, timeout=120, interval=1, what=f"'{ALARM_TEXT}' in the worker's log")


def test_nothing_to_commit_means_no_acked_offsets_and_no_gap() -> None:
    from streams.commit_alarm import nothing_to_commit

    assert nothing_to_commit(None, None) and nothing_to_commit([], set())
    assert not nothing_to_commit([41, 42], None)  # processed, waiting for the commit
    assert not nothing_to_commit([], {(40, 41)})  # an event never acked holds back the rest
