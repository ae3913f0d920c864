"""kill -9 of a worker mid-batch under a steady load, then a restart: nothing lost, state intact.

One worker on the on-disk table store (rocksdb://, the production setting)
processes a steady simulated load; it is killed with SIGKILL while batches,
protocol messages and sink flushes are in flight (no flush, no commit, no
goodbye to the group), and a new process on the same data directory takes
over while the load goes on. Every message must end up exactly once in
ClickHouse or in the dead-letter table, and profiles, sessions and journeys
must equal the batch references as if nothing had happened (the killed worker
had open sessions, open journeys and half-built profiles).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.faults.load import SteadyLoad, wait_until_accounted, wait_until_caught_up
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_converged, wait_until_journeys_match, wait_until_sessions_match

pytestmark = pytest.mark.integration

EVENTS = 6_000
RATE = 80  # messages/s: 75 s of traffic, the kill inside it


def test_kill_9_mid_batch_then_restart_under_load(settings_factory, worker_factory, record_figures) -> None:  # noqa: ANN001
    settings = settings_factory(table_store="rocksdb://", session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)  # every session can close by the idle ticks
    config = SimulationConfig(seed=111, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=30), end=end)

    first = worker_factory(settings, "worker")
    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: load.produced >= EVENTS // 3 and
                 client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0] > 0,
                 timeout=180, what="a third of the load produced and the worker writing")
        first.kill()  # SIGKILL the whole process group: mid-batch, mid-flush
        assert load.produced < EVENTS, "the load ended before the kill: raise EVENTS or lower RATE"
        stores = list((settings.data_dir / "worker" / settings.app_id).rglob("*.db"))
        assert stores, "the worker kept no on-disk table store (TOUCHLINE_TABLE_STORE=rocksdb://)"
        second = worker_factory(settings, "worker")  # same data directory: recovers its tables from disk
        recovery_s = wait_until_caught_up(client, db, load, [second])  # from the restart, start-up included

    accounting = wait_until_accounted(client, settings, load.report, [second])
    record_figures(accounting, recovery_s, "kill -9, restart at once on the same data dir; recovery = restart to "
                   "caught up")
    wait_until_converged(client, settings, [second])
    wait_until_sessions_match(client, settings, [second])
    assert len(wait_until_journeys_match(client, settings, [second])) > 100
