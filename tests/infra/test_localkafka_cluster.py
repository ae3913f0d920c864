"""The local Kafka cluster's configuration: one quorum, one cluster id, every node a distinct voter.

That it starts, fails over and takes a node back is proved on the real cluster by
tests/faults/test_broker_failover.py.
"""

from __future__ import annotations

import pytest

from infra.exceptions import StackError
from infra.localkafka_cluster import LocalKafkaCluster
from infra.settings import Settings


def test_nodes_share_a_quorum_and_replicate_internal_topics(tmp_path) -> None:  # noqa: ANN001
    cluster = LocalKafkaCluster(tmp_path, size=3)
    configs = [node.config() for node in cluster.nodes]

    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    voters = {c["controller.quorum.voters"] for c in configs}
    assert voters == {",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster.nodes)}
    assert len({n.cluster_id for n in cluster.nodes}) == 1
    ports = [p for n in cluster.nodes for p in (n.port, n.controller_port)]
    assert len(set(ports)) == 6
    assert {c["offsets.topic.replication.factor"] for c in configs} == {"3"}
    assert {c["min.insync.replicas"] for c in configs} == {"2"}
    assert len({c["log.dirs"] for c in configs}) == 3


def test_client_settings_replicate_touchlines_topics(tmp_path) -> None:  # noqa: ANN001
    cluster = LocalKafkaCluster(tmp_path, size=3)
    settings = Settings(**cluster.client_settings())

    assert settings.topic_replication == 3
    assert settings.kafka_bootstrap_servers == ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes)


def test_a_cluster_needs_a_node(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(StackError, match="at least one node"):
        LocalKafkaCluster(tmp_path, size=0)
