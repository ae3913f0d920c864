"""Broker restart during traffic: the pipeline rides it out by itself and loses nothing.

The test runs its own broker (the session broker serves other tests), stops it
while the simulator produces and the worker processes, keeps it down for
DOWN_S seconds and starts it again on the same port and data directory. The
producer buffers and retries meanwhile; the worker's Faust stages and sink
reconnect; nobody restarts the worker. Every message must end up exactly once
in ClickHouse or in the dead-letter table, and the profiles must equal the
batch reference.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from infra.localkafka import LocalKafka
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.faults.load import SteadyLoad, wait_until_accounted, wait_until_caught_up
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_converged

pytestmark = pytest.mark.integration

EVENTS = 5_000
RATE = 60  # messages/s: 83 s of traffic, the restart inside it
DOWN_S = 10
# Producers retry for 3x this before a message fails (streams.kafka_config.producer_config): the outage
# plus the broker's own start (a JVM, 10-40 s on a busy 2-core machine) must fit in it.
KAFKA_TIMEOUT_S = 30


def test_broker_restart_under_load(settings_factory, worker_factory, tmp_path, record_figures) -> None:  # noqa: ANN001
    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    try:
        _run(broker, settings_factory(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_timeout_s=KAFKA_TIMEOUT_S), worker_factory,
             record_figures)
    finally:
        broker.stop()


def _run(broker: LocalKafka, settings, worker_factory, record_figures) -> None:  # noqa: ANN001
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    config = SimulationConfig(seed=101, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=20), end=end)

    worker = worker_factory(settings, "worker")
    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0] > 500,
                 timeout=180, what="the pipeline writing before the restart")
        broker.stop()  # SIGTERM: a clean broker shutdown, as in a rolling restart
        down_at = time.monotonic()
        while time.monotonic() - down_at < DOWN_S:  # the outage itself; the worker must survive all of it
            assert worker.running, f"the worker died while the broker was down:\n{worker.log_tail()}"
            time.sleep(0.5)
        broker.start()
        restart_s = time.monotonic() - down_at
        assert load.produced < EVENTS, "the load ended during the outage: raise EVENTS or lower RATE"
        recovery_s = wait_until_caught_up(client, db, load, [worker])
    accounting = wait_until_accounted(client, settings, load.report, [worker])
    record_figures(accounting, recovery_s, f"broker down {restart_s:.0f} s (stop, {DOWN_S} s, start); "
                   "recovery = broker back to caught up")
    wait_until_converged(client, settings, [worker])
