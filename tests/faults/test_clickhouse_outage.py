"""ClickHouse down for 60 s under a steady load: the sink pauses, commits nothing, stays small, resumes by itself.

The test runs its own ``touchline store`` (the session one serves other tests)
and stops it -- the process is gone, its port refuses connections -- while the
simulator keeps producing. During the outage:

- the worker keeps running (the Faust stages keep stitching into Kafka);
- the sink group's committed offsets do not move: nothing is committed past
  what was written;
- the worker's memory stays bounded (the sink pauses its partitions instead of
  buffering the backlog).

Then the store comes back on the same port and data directory, and every
message ends up exactly once in ClickHouse or in the dead-letter table with
nobody touching the worker.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from infra.store.process import StoreProcess
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import confluent_config
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.faults.load import SteadyLoad, wait_until_accounted, wait_until_caught_up
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

EVENTS = 6_000
RATE = 60  # messages/s: 100 s of traffic, the 60 s outage inside it
OUTAGE_S = 60
RSS_GROWTH_LIMIT = 200 * 2**20  # bytes the worker and its sink child may grow during the outage (the backlog alone is larger)


def _rss(pid: int) -> int:
    """The worker's resident bytes and its children's (the sink child buffers what it cannot write)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _own_rss(pid) + sum(_own_rss(int(child)) for child in children)


def _own_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # a child that just ended
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS line


def _committed(admin: AdminClient, group: str) -> dict[tuple[str, int], int]:
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request, request_timeout=10)[group].result(10)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}


def test_clickhouse_down_for_a_minute(settings_factory, worker_factory, tmp_path, record_figures) -> None:  # noqa: ANN001
    store = StoreProcess(tmp_path / "outage-store", exit_with_parent=True)
    url = store.start()
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        _run(settings_factory(clickhouse_url=url, clickhouse_timeout_s=5, sink_retry_max_s=5), store, port,
             worker_factory, tmp_path, record_figures)
    finally:
        store.stop()


def _run(settings, store: StoreProcess, port: int, worker_factory, tmp_path, record_figures) -> None:  # noqa: ANN001
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    config = SimulationConfig(seed=81, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=20), end=end)
    admin = AdminClient(confluent_config(settings))
    sink_group = f"{settings.app_id}-sink"

    worker = worker_factory(settings, "worker")
    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0] > 500,
                 timeout=180, what="the sink writing before the outage")
        store.stop()  # ClickHouse is gone: connection refused on its port
        down_at = time.monotonic()
        rss_before = _rss(worker.proc.pid)
        frozen: dict = {}
        peak = rss_before
        # Hold the outage for OUTAGE_S, checking the worker the whole time (the fault's duration, not a wait).
        while time.monotonic() - down_at < OUTAGE_S:
            assert worker.running, f"the worker died while ClickHouse was down:\n{worker.log_tail()}"
            peak = max(peak, _rss(worker.proc.pid))
            if time.monotonic() - down_at >= settings.clickhouse_timeout_s * 2 and not frozen:
                frozen = _committed(admin, sink_group)  # any flush in flight has failed by now
            time.sleep(1)
        assert frozen, "the outage was too short to look at the sink's commits"
        assert _committed(admin, sink_group) == frozen, "the sink committed offsets while ClickHouse was down"
        assert peak - rss_before < RSS_GROWTH_LIMIT, f"worker grew by {(peak - rss_before) / 2**20:.0f} MiB"
        assert load.produced < EVENTS, "the load ended during the outage: raise EVENTS or lower RATE"

        restarted = StoreProcess(store.data_dir, port=port, exit_with_parent=True)
        restarted.start()
        client = connect(settings)  # a fresh connection pool: the old one points at a dead server
        try:
            recovery_s = wait_until_caught_up(client, db, load, [worker])
            sent = load.join(timeout=300)
            accounting = wait_until_accounted(client, settings, sent, [worker])
        finally:
            restarted.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "nothing committed" in log, "the sink never reported backing off"
    record_figures(accounting, recovery_s, f"{OUTAGE_S} s outage; worker RSS +{(peak - rss_before) / 2**20:.0f} MiB "
                   "during it; recovery = store back to caught up")
