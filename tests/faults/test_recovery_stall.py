"""A worker whose table recovery stops for good leaves the group; the other takes over; nothing is lost.

The second worker joins under a steady load with the failpoint
``recovery.changelog_request_hangs`` (streams/failpoints.py): its first
recovery waits forever for the changelogs' high watermarks, Faust gives up on
its recovery loop after ``broker_request_timeout`` and, left alone, the
worker would sit in the group holding half the partitions and process none of
them (seen in CI as a worker whose last line was "Starting standby
partitions..."). The recovery watchdog (streams/recovery_watchdog.py)
must stop it with an error that says why; the first worker then gets every
partition back, and every message ends up exactly once in ClickHouse or in
the dead-letter table.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.failpoints import RECOVERY_HANGS
from streams.simulator import SimulationConfig
from streams.recovery_watchdog import EXIT_CODE
from streams.topics import ensure_topics
from tests.faults.load import SteadyLoad, wait_until_accounted, wait_until_caught_up
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_group_stable, wait_until_sessions_match

pytestmark = pytest.mark.integration

EVENTS = 6_000
RATE = 80  # messages/s: 75 s of traffic; Faust gives up on the hung request after 40 s, inside it


def test_a_worker_stuck_in_recovery_stops_and_the_group_heals(settings_factory, worker_factory,  # noqa: ANN001
                                                              record_figures) -> None:  # noqa: ANN001
    settings = settings_factory(session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)  # every session can close by the idle ticks
    config = SimulationConfig(seed=71, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=30), end=end)

    first = worker_factory(settings, "worker")
    wait_until_group_stable(settings, members=1, procs=[first])

    def stored() -> int:
        return client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0]

    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: load.produced >= EVENTS // 5 and stored() > 0, timeout=180,
                 what="a fifth of the load produced and the first worker writing")
        stuck = worker_factory(settings.model_copy(update={"failpoints": [RECOVERY_HANGS]}), "worker",
                               restart_exit_codes=())  # to see it exit; a supervisor would start it again
        wait_for(lambda: f"failpoint {RECOVERY_HANGS} reached" in stuck.log_tail(400), timeout=120,
                 what=lambda: f"the joining worker's recovery to hang:\n{stuck.log_tail()}")
        wait_for(lambda: not stuck.running, timeout=180,
                 what=lambda: f"the recovery watchdog to stop the stuck worker:\n{stuck.log_tail()}")
        assert stuck.proc.returncode == EXIT_CODE, stuck.log_tail(60)
        assert "recovery watchdog: Faust's table-recovery loop has ended" in stuck.log_tail(400)
        assert first.running, first.log_tail()
        assert load.produced < EVENTS, "the load ended before the stuck worker left: raise EVENTS or lower RATE"
        wait_until_group_stable(settings, members=1, procs=[first])
        recovery_s = wait_until_caught_up(client, db, load, [first])

    accounting = wait_until_accounted(client, settings, load.report, [first])
    record_figures(accounting, recovery_s, "a joining worker's recovery hangs; it stops by itself (watchdog); "
                   "recovery = the group back to one member to caught up")
    assert wait_until_sessions_match(client, settings, [first]) > 500, "the run is too small to say anything"
