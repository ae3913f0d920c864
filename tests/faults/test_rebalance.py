"""Rebalance while traffic flows: 1 -> 2 -> 1 worker processes under a steady load.

The second worker joins while events arrive (partitions, table state and open
sessions move to it), then the first one leaves cleanly (SIGTERM: everything
moves back). Every message must end up exactly once in ClickHouse or in the
dead-letter table, and the profiles, sessions and journeys must equal the batch
references computed from the stored touchpoints, as if nothing had moved.
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
from tests.streams.pipeline_checks import (
    wait_until_converged, wait_until_group_stable, wait_until_journeys_match, wait_until_sessions_match,
)

pytestmark = pytest.mark.integration

EVENTS = 6_000
RATE = 80  # messages/s: 75 s of traffic, both rebalances inside it (triggered by what was produced, so a
# slow machine changes only how far behind the workers are, not whether the faults hit flowing traffic)


def test_one_to_two_to_one_workers_under_load(settings_factory, worker_factory, record_figures) -> None:  # noqa: ANN001
    settings = settings_factory(session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)  # every session can close by the idle ticks
    config = SimulationConfig(seed=61, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=30), end=end)

    first = worker_factory(settings, "worker")
    wait_until_group_stable(settings, members=1, procs=[first])

    def stored() -> int:
        return client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0]

    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: load.produced >= EVENTS // 4 and stored() > 0, timeout=180,
                 what="a quarter of the load produced and the first worker writing")
        second = worker_factory(settings, "worker")  # scale out while traffic flows
        wait_until_group_stable(settings, members=2, procs=[first, second])
        wait_for(lambda: load.produced >= 3 * EVENTS // 5, timeout=180, what="three fifths of the load produced")
        assert load.produced < EVENTS, "the load ended before the scale-in: raise EVENTS or lower RATE"
        assert first.stop() == 0, f"first worker did not stop cleanly:\n{first.log_tail()}"  # scale in
        wait_until_group_stable(settings, members=1, procs=[second])
        recovery_s = wait_until_caught_up(client, db, load, [second])
    sent = load.report

    accounting = wait_until_accounted(client, settings, sent, [second])
    record_figures(accounting, recovery_s, "scale-in: catch-up after the last rebalance")
    wait_until_converged(client, settings, [second])
    assert wait_until_sessions_match(client, settings, [second]) > 500, "the run is too small to say anything"
    assert len(wait_until_journeys_match(client, settings, [second])) > 100
