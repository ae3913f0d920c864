"""A Kafka node crashes in a 3-node cluster during traffic: the pipeline fails over and loses nothing.

The test runs its own cluster (``infra.localkafka_cluster``: 3 KRaft nodes,
every topic replicated 3 times, min ISR 2, producers acks=all). While the
simulator produces and one worker processes, the node leading the most of the
pipeline's partitions is SIGKILLed (no controlled shutdown, no leadership
handover). The pipeline must keep writing with that node down, by itself, then
take it back when it restarts. Every message must end up exactly once in
ClickHouse or in the dead-letter table, and the profiles must equal the batch
reference.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka.admin import AdminClient

from infra.localkafka_cluster import LocalKafkaCluster
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.faults.load import SteadyLoad, rows_stored, wait_until_accounted, wait_until_caught_up
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_converged

pytestmark = pytest.mark.integration

EVENTS = 5_000
RATE = 60  # messages/s: 83 s of traffic, the crash and the restart inside it
PROGRESS_WHILE_DOWN = 300  # rows the pipeline must store with the node down before it restarts
KAFKA_TIMEOUT_S = 30


def test_node_crash_in_a_three_node_cluster(settings_factory, worker_factory, tmp_path,  # noqa: ANN001
                                            record_figures) -> None:
    cluster = LocalKafkaCluster(tmp_path / "kafka", size=3)
    cluster.start()
    try:
        settings = settings_factory(**cluster.client_settings(), kafka_timeout_s=KAFKA_TIMEOUT_S)
        _run(cluster, settings, worker_factory, record_figures)
    except BaseException:
        print(cluster.log_tails())  # noqa: T201 - the cluster's story in the failure report
        raise
    finally:
        cluster.stop()


def busiest_node(cluster: LocalKafkaCluster, prefix: str) -> int:
    """Index of the node leading the most partitions of the pipeline's topics (ties: the lowest id)."""
    metadata = AdminClient({"bootstrap.servers": cluster.bootstrap_servers}).list_topics(timeout=10)
    leaders = Counter(p.leader for name, topic in metadata.topics.items() if name.startswith(prefix)
                      for p in topic.partitions.values())
    node_id = max(sorted(leaders), key=lambda n: leaders[n])
    return next(i for i, node in enumerate(cluster.nodes) if node.node_id == node_id)


def _run(cluster: LocalKafkaCluster, settings, worker_factory, record_figures) -> None:  # noqa: ANN001
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    config = SimulationConfig(seed=103, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=20), end=end)

    def stored() -> int:
        return rows_stored(client, db)

    worker = worker_factory(settings, "worker")
    with SteadyLoad(settings, config, rate=RATE) as load:
        wait_for(lambda: stored() > 500, timeout=180, what="the pipeline writing before the crash")
        victim = busiest_node(cluster, settings.topic_prefix)
        cluster.kill(victim)
        killed_at, before = time.monotonic(), stored()

        def progressed() -> bool:
            assert worker.running, f"the worker died with a Kafka node down:\n{worker.log_tail()}"
            return stored() >= before + PROGRESS_WHILE_DOWN

        # Failover, not recovery: the other two nodes take over its partitions and the group coordinator.
        wait_for(progressed, timeout=120, what=f"{PROGRESS_WHILE_DOWN} more rows with node "
                 f"{cluster.nodes[victim].node_id} down")
        failover_s = time.monotonic() - killed_at
        cluster.restart(victim)
        assert load.produced < EVENTS, "the load ended before the node came back: raise EVENTS or lower RATE"
        recovery_s = wait_until_caught_up(client, db, load, [worker])
    accounting = wait_until_accounted(client, settings, load.report, [worker])
    record_figures(accounting, failover_s, f"3 nodes, RF 3, min ISR 2; node {cluster.nodes[victim].node_id} "
                   f"SIGKILLed; recovery = kill to {PROGRESS_WHILE_DOWN} more rows stored with it down; "
                   f"back in and caught up {recovery_s:.1f} s after its restart")
    wait_until_converged(client, settings, [worker])
