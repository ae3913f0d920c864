"""A real multi-node Kafka cluster (KRaft, every node broker + controller) on 127.0.0.1, for failover tests.

Each node is an ``infra.localkafka.LocalKafka`` in its own directory, with the
same cluster id and controller quorum; internal topics are replicated to
every node (min ISR: all but one), as in production, so one node may die
without losing a committed offset or a transaction. Topics Touchline creates
take ``TOUCHLINE_TOPIC_REPLICATION`` (``client_settings`` sets it to the node
count; streams.topics sets min ISR 2).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from infra.exceptions import StackError
from infra.localkafka import LocalKafka, _cluster_id, free_port

log = logging.getLogger(__name__)


class LocalKafkaCluster:
    """``size`` Kafka nodes (KRaft, combined roles), data in ``data_dir/node<id>``."""

    def __init__(self, data_dir: Path, size: int = 3, heap: str = "384m", cache_dir: Path | None = None):
        if size < 1:
            raise StackError(f"a Kafka cluster needs at least one node, not {size}")
        ports = set()
        while len(ports) < 2 * size:
            ports.add(free_port())
        broker_ports, controller_ports = sorted(ports)[:size], sorted(ports)[size:]
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(controller_ports))
        replicated = {
            "offsets.topic.replication.factor": str(size),
            "transaction.state.log.replication.factor": str(size),
            "transaction.state.log.min.isr": str(max(size - 1, 1)),
            "default.replication.factor": str(size),
            "min.insync.replicas": str(max(size - 1, 1)),
        }
        cluster_id = _cluster_id()
        self.nodes = [LocalKafka(Path(data_dir) / f"node{i + 1}", port=broker_ports[i],
                                 controller_port=controller_ports[i], heap=heap, cache_dir=cache_dir,
                                 node_id=i + 1, quorum_voters=voters, cluster_id=cluster_id,
                                 extra_config=replicated) for i in range(size)]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def client_settings(self) -> dict[str, object]:
        """The ``infra.settings.Settings`` fields that point Touchline at this cluster, topics replicated."""
        return {"kafka_bootstrap_servers": self.bootstrap_servers, "kafka_security_protocol": "PLAINTEXT",
                "topic_replication": len(self.nodes)}

    def start(self, timeout: float = 180) -> str:
        """Launch every node, then wait until each answers and sees all the others; return bootstrap servers."""
        deadline = time.monotonic() + timeout
        try:
            for node in self.nodes:
                node.start(wait=False)  # no node answers before a quorum of controllers runs
            for node in self.nodes:
                node.wait_ready(max(deadline - time.monotonic(), 1))
            self.wait_complete(max(deadline - time.monotonic(), 1))
        except BaseException:
            self.stop()
            raise
        return self.bootstrap_servers

    def wait_complete(self, timeout: float) -> None:
        """Until the cluster's metadata lists every node as a broker."""
        admin, deadline, seen = AdminClient({"bootstrap.servers": self.bootstrap_servers}), time.monotonic() + timeout, 0
        while True:
            try:
                seen = len(admin.list_topics(timeout=2).brokers)
            except KafkaException:
                seen = 0
            if seen == len(self.nodes):
                return
            if time.monotonic() > deadline:
                raise StackError(f"the Kafka cluster at {self.bootstrap_servers} lists {seen} of {len(self.nodes)} "
                                 f"brokers after {timeout:g}s; node logs in {self.nodes[0].data_dir.parent}")
            time.sleep(0.2)  # poll interval; the deadline bounds the wait

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based) and its process group: a crash, nothing flushed, no handover."""
        node = self.nodes[index]
        if node.pid is None or not node.is_running():
            raise StackError(f"Kafka node {node.node_id} is not running")
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.stop(timeout=10)  # reaps it and removes its state file

    def restart(self, index: int, timeout: float = 120) -> None:
        """Start node ``index`` again on its ports and data; wait until the cluster lists it."""
        node = self.nodes[index]
        node.start(timeout=timeout)
        self.wait_complete(timeout)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to every node at once (one by one, the last ones wait for a quorum that is gone), then
        each is waited for and SIGKILLed past ``timeout``."""
        for node in self.nodes:
            if node.pid is not None and node.is_running():
                try:
                    os.kill(node.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for node in self.nodes:
            try:
                node.stop(timeout)
            except Exception:  # the others must stop even if one fails  # noqa: BLE001
                log.exception("stopping Kafka node %s failed", node.node_id)

    def log_tails(self, lines: int = 20) -> str:
        return "\n".join(f"--- node {node.node_id}:\n{node.log_tail(lines)}" for node in self.nodes)
