"""A real Apache Kafka broker (KRaft, single node, 127.0.0.1 only) run as a child process.

Its jars come from Maven Central once (``infra.kafkajars``); later starts work
offline and take seconds. A started broker writes ``<data_dir>/broker.json`` so
another process (``touchline dev status|down``) can find and stop it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from infra.exceptions import StackError
from infra.kafkajars import (
    KAFKA_FILES,
    KAFKA_VERSION,
    ensure_kafka_jars,
    kafka_jars_dir,
    need_java,
)
from infra.pids import pid_alive

STATE_FILE = "broker.json"
log = logging.getLogger(__name__)

__all__ = ["KAFKA_VERSION", "STATE_FILE", "LocalKafka", "ensure_kafka_jars", "free_port",
           "kafka_jars_dir", "read_state", "stop_from_state"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_id() -> str:
    """A Kafka Uuid string (url-safe base64 of 16 random bytes), as `StorageTool random-uuid` makes."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids these too: they look like CLI flags
            return text


def read_state(data_dir: Path) -> dict | None:
    """The state of the broker started in ``data_dir``, or None if none runs there (stale state too)."""
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    config = Path(data_dir).resolve() / "server.properties"
    return state if _alive(int(state.get("pid", 0)), str(config)) else None


def stop_from_state(data_dir: Path, timeout: float = 30) -> bool:
    """Stop the broker recorded in ``data_dir`` (by another process); False if none was running."""
    broker = LocalKafka.from_state(data_dir)
    if broker is None:
        (Path(data_dir) / STATE_FILE).unlink(missing_ok=True)  # stale, if any
        return False
    broker.stop(timeout)
    return True


def _alive(pid: int, marker: str) -> bool:
    """Is ``pid`` running and our broker (its command line names ``marker``), not a reused pid?"""
    if pid <= 0:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that exited: reap it
            return False
    except ChildProcessError:
        pass
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or marker in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")


class LocalKafka:
    """One Kafka broker+controller on 127.0.0.1, data and logs in ``data_dir``."""

    def __init__(self, data_dir: Path, *, port: int | None = None, controller_port: int | None = None,
                 heap: str = "512m", extra_config: dict[str, str] | None = None,
                 cache_dir: Path | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self.cache_dir = cache_dir
        self.config_path = self.data_dir / "server.properties"
        self.log_path = self.data_dir / "broker.log"
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def from_state(cls, data_dir: Path) -> LocalKafka | None:
        """The broker another process started in ``data_dir``, or None if none is running."""
        state = read_state(data_dir)
        if state is None:
            return None
        broker = cls(data_dir, port=state["port"], controller_port=state["controller_port"])
        broker.pid = int(state["pid"])
        return broker

    def config(self) -> dict[str, str]:
        p, c = self.port, self.controller_port
        return {
            "process.roles": "broker,controller", "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{c}",
            "listeners": f"PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{p}",
            "inter.broker.listener.name": "PLAINTEXT", "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "data"),
            "auto.create.topics.enable": "false",  # the project creates its topics explicitly
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",  # faster first group join than the default 50
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            **self.extra_config,
        }

    def _java(self, main: str, *args: str, heap: str) -> list[str]:
        return [need_java(), "-Xms256m", f"-Xmx{heap}", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{KAFKA_FILES / 'log4j.properties'}",
                f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
                "-cp", str(kafka_jars_dir(self.cache_dir) / "*"), main, *args]

    def start(self, timeout: float = 90) -> str:
        """Format storage (first time), launch the broker, return bootstrap servers once it answers."""
        if self.is_running() or read_state(self.data_dir):
            raise StackError(f"a Kafka broker already runs in {self.data_dir}: stop it first")
        ensure_kafka_jars(self.cache_dir, log=log.info)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in self.config().items()))
        cluster_id = self._format()
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(self._java("kafka.Kafka", str(self.config_path), heap=self.heap),
                                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.pid = self._proc.pid
        self._write_state()
        try:
            self._wait_ready(cluster_id, time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Kafka %s broker ready at %s (pid %s, data in %s)",
                 KAFKA_VERSION, self.bootstrap_servers, self.pid, self.data_dir)
        return self.bootstrap_servers

    def _format(self) -> str:
        """Format the storage unless already done (saves a JVM start); return its cluster id."""
        meta = self.data_dir / "data" / "meta.properties"
        if not meta.exists():
            fmt = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                                            "-c", str(self.config_path), "--ignore-formatted", heap="256m"),
                                 capture_output=True, text=True, timeout=120)
            if fmt.returncode != 0:
                raise StackError(f"formatting Kafka storage in {self.data_dir} failed:\n{fmt.stdout}{fmt.stderr}")
        lines = (line.partition("=") for line in meta.read_text().splitlines())
        return next(value for key, _, value in lines if key.strip() == "cluster.id")

    def _wait_ready(self, cluster_id: str, deadline: float) -> None:
        """Poll a metadata request until our broker lists itself; fail fast if the process dies."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0,  # quiet while refused
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250})
        while True:
            if not self.is_running():
                code = self._proc.returncode if self._proc else None
                raise StackError(f"the Kafka broker exited (code {code}) during start-up; "
                                 f"last lines of {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StackError(f"the Kafka broker at {self.bootstrap_servers} did not answer in time; "
                                 f"last lines of {self.log_path}:\n{self.log_tail()}")
            try:
                metadata = admin.list_topics(timeout=1.0)
            except KafkaException:
                metadata = None
            if metadata is not None and metadata.brokers:
                if metadata.cluster_id == cluster_id:
                    return
                raise StackError(f"{self.bootstrap_servers} answers as another Kafka cluster "
                                 f"({metadata.cluster_id}): is another broker using port {self.port}?")
            time.sleep(0.1)  # poll interval; the deadline and the liveness check bound the wait

    def _write_state(self) -> None:
        state = {"pid": self.pid, "port": self.port, "controller_port": self.controller_port,
                 "bootstrap": self.bootstrap_servers, "kafka_version": KAFKA_VERSION,
                 "log": str(self.log_path)}
        tmp = self.data_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.data_dir / STATE_FILE)

    def is_running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and _alive(self.pid, str(self.config_path))

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL to the process group after ``timeout``."""
        pid = self.pid
        if pid is not None and self.is_running():
            os.kill(pid, signal.SIGTERM)
            if not self._wait_exit(time.monotonic() + timeout):
                log.warning("Kafka broker pid %s ignored SIGTERM for %gs: killing it", pid, timeout)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._wait_exit(time.monotonic() + 10)
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        self.pid, self._proc = None, None

    def _wait_exit(self, deadline: float) -> bool:
        while self.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)  # poll interval, bounded by the deadline
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
