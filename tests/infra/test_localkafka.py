"""The Maven-fetched Kafka broker: both client stacks work against it, and it starts/stops cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.exceptions import StackError
from infra.localkafka import (
    STATE_FILE,
    LocalKafka,
    ensure_kafka_jars,
    kafka_jars_dir,
    read_state,
    stop_from_state,
)
from tests.fixtures import wait_for


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def pid_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)  # the broker runs in its own process group
    except ProcessLookupError:
        return True
    try:
        return not Path(f"/proc/{pid}/cmdline").read_bytes()  # a zombie nobody reaped yet
    except OSError:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def topics(bootstrap: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(tmp_path_factory.mktemp("kafka"))
    kafka.start()
    yield kafka
    kafka.stop()


# -- clients ----------------------------------------------------------------------------


@pytest.mark.integration
def test_confluent_kafka_create_produce_consume_in_order(broker: LocalKafka) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    bootstrap, topic = broker.bootstrap_servers, unique("ck")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3

    sent: dict[int, list[str]] = {0: [], 1: [], 2: []}

    def delivered(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        sent[msg.partition()].append(msg.value().decode())

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(100):
        producer.produce(topic, key=f"user-{i % 7}", value=str(i), on_delivery=delivered)
    assert producer.flush(30) == 0
    assert sum(map(len, sent.values())) == 100 and all(sent.values()), sent

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: dict[int, list[str]] = {0: [], 1: [], 2: []}
    try:
        deadline = time.monotonic() + 60
        while sum(map(len, got.values())) < 100 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got[msg.partition()].append(msg.value().decode())
        for msg in consumer.consume(num_messages=10, timeout=1.0):  # nothing beyond the 100
            got[msg.partition()].append(msg.value().decode())
    finally:
        consumer.close()
    assert got == sent  # exactly the messages, in produce order within each partition


@pytest.mark.integration
def test_aiokafka_admin_produce_consume(broker: LocalKafka) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    bootstrap, topic = broker.bootstrap_servers, unique("aio")

    async def main() -> list[tuple[bytes, bytes]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:  # what Faust needs for changelog topics: create with configs
            await admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"cleanup.policy": "compact"})])
            assert topic in await admin.list_topics()
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(50):
                await producer.send_and_wait(topic, key=b"k%d" % (i % 5), value=b"%d" % i)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=unique("g"),
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        received: list[tuple[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + 60
            while len(received) < 50 and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                received += [(m.key, m.value) for msgs in batches.values() for m in msgs]
        finally:
            await consumer.stop()
        return received

    received = asyncio.run(main())
    assert sorted(int(v) for _, v in received) == list(range(50))
    for key in {k for k, _ in received}:  # one key, one partition: its values stay in order
        values = [int(v) for k, v in received if k == key]
        assert values == sorted(values)


@pytest.mark.integration
def test_create_topics_v1_as_older_aiokafka_sends_it(broker: LocalKafka) -> None:
    """aiokafka < 0.13 (under Faust) always sends CreateTopics v1, which Kafka 4.x rejects: why 3.9.1."""
    from aiokafka import AIOKafkaClient
    from aiokafka.protocol.admin import CreateTopicsRequest_v1

    topic = unique("changelog")

    class CreateTopicsV1:  # a request pinned to v1, as Faust builds it with old aiokafka
        def prepare(self, versions: dict) -> CreateTopicsRequest_v1:
            assert versions[CreateTopicsRequest_v1.API_KEY][0] <= 1, "broker dropped CreateTopics v1"
            return CreateTopicsRequest_v1([(topic, 4, 1, [], [("cleanup.policy", "compact")])], 30000, False)

    async def main() -> list:
        client = AIOKafkaClient(bootstrap_servers=broker.bootstrap_servers)
        await client.bootstrap()
        try:
            node = next(iter(client.cluster.brokers())).nodeId
            return (await client.send(node, CreateTopicsV1())).topic_errors
        finally:
            await client.close()

    assert asyncio.run(main()) == [(topic, 0, None)]
    assert topic in topics(broker.bootstrap_servers)


@pytest.mark.integration
def test_topics_are_not_auto_created(broker: LocalKafka) -> None:
    from confluent_kafka import KafkaError, Producer

    topic = unique("nope")
    errors: list[KafkaError] = []
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "message.timeout.ms": 10000,
                         "topic.metadata.propagation.max.ms": 1000})
    producer.produce(topic, value=b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(20)
    assert errors and errors[0] is not None, "produce to an unknown topic must fail"
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                                KafkaError._MSG_TIMED_OUT), errors[0]
    assert topic not in topics(broker.bootstrap_servers)


# -- lifecycle --------------------------------------------------------------------------


@pytest.mark.integration
def test_from_state_finds_the_running_broker(broker: LocalKafka) -> None:
    found = LocalKafka.from_state(broker.data_dir)
    assert found is not None and found.is_running()
    assert (found.pid, found.bootstrap_servers) == (broker.pid, broker.bootstrap_servers)
    assert read_state(broker.data_dir)["bootstrap"] == broker.bootstrap_servers


def test_stale_state_is_not_a_running_broker(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / STATE_FILE).write_text(json.dumps(
        {"pid": int(gone.stdout), "port": 1, "controller_port": 2, "bootstrap": "127.0.0.1:1"}))
    assert read_state(tmp_path) is None
    assert LocalKafka.from_state(tmp_path) is None
    assert stop_from_state(tmp_path) is False
    assert not (tmp_path / STATE_FILE).exists()


@pytest.mark.integration
def test_stop_leaves_nothing_and_restart_keeps_topics(tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    pid, topic = broker.pid, unique("kept")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    broker.stop()
    assert pid is not None and pid_gone(pid)
    assert not broker.is_running() and read_state(broker.data_dir) is None
    assert port_free(broker.port) and port_free(broker.controller_port)

    started = time.monotonic()
    broker.start()  # same data dir and ports: storage already formatted
    try:
        assert time.monotonic() - started < 30
        assert topic in topics(broker.bootstrap_servers)
    finally:
        broker.stop()


@pytest.mark.integration
def test_broker_started_by_another_process_is_stopped_from_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    up = subprocess.run(
        [sys.executable, "-c", f"from infra.localkafka import LocalKafka; LocalKafka({str(data_dir)!r}).start()"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert up.returncode == 0, up.stderr
    state = read_state(data_dir)
    assert state is not None, "the broker must outlive the process that started it"
    assert state["bootstrap"] == f"127.0.0.1:{state['port']}"
    topics(state["bootstrap"])  # it answers
    assert stop_from_state(data_dir) is True
    wait_for(lambda: pid_gone(state["pid"]), 10, "the broker process to be gone")
    assert read_state(data_dir) is None and not (data_dir / STATE_FILE).exists()


@pytest.mark.integration
def test_start_fails_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalKafka(tmp_path / "kafka", port=port)
        started = time.monotonic()
        with pytest.raises(StackError, match="exited") as failure:
            broker.start(timeout=60)
    assert time.monotonic() - started < 45, "must fail when the broker dies, not at the deadline"
    assert "Address already in use" in str(failure.value)  # the broker log tail is in the error
    assert not broker.is_running() and read_state(broker.data_dir) is None


@pytest.mark.integration
def test_start_refuses_a_port_held_by_another_broker(broker: LocalKafka, tmp_path: Path) -> None:
    second = LocalKafka(tmp_path / "kafka", port=broker.port)
    with pytest.raises(StackError, match="another Kafka cluster|exited"):
        second.start(timeout=60)
    assert not second.is_running() and broker.is_running()


# -- jar cache --------------------------------------------------------------------------


def test_completed_jar_cache_is_used_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    libs = kafka_jars_dir(tmp_path)
    libs.mkdir(parents=True)
    (libs.parent / ".complete").write_text("done\n")
    monkeypatch.setenv("PATH", "")  # neither mvn nor java needed
    assert ensure_kafka_jars(tmp_path, log=lambda _m: None) == libs


def test_missing_maven_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java here")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # java, but no mvn
    with pytest.raises(StackError, match="`mvn` not found on PATH: install Apache Maven"):
        ensure_kafka_jars(tmp_path / "cache", log=lambda _m: None)
    assert not kafka_jars_dir(tmp_path / "cache").exists()


def test_default_cache_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLINE_CACHE_DIR", str(tmp_path))
    assert kafka_jars_dir() == tmp_path / "kafka-3.9.1" / "libs"
