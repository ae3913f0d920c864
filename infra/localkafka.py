"""A real Apache Kafka broker (KRaft, single node, 127.0.0.1 only) run as a child process.

Its jars come from Maven Central once (``infra.kafkajars``); later starts work
offline and take seconds. A started broker writes ``<data_dir>/broker.json`` so
another process (``touchline dev status|down``) can find and stop it.

By default it has one PLAINTEXT listener. ``secure=True`` replaces it by a
SASL_SSL listener (TLS with a throwaway CA, PLAIN and SCRAM users):
see ``infra.localkafka_secure``; ``client_config()`` / ``client_settings()``
say how to connect.
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.exceptions import StackError
from infra.kafkajars import (
    KAFKA_FILES,
    KAFKA_VERSION,
    ensure_kafka_jars,
    kafka_jars_dir,
    need_java,
)
from infra.localkafka_secure import MECHANISMS as SECURE_MECHANISMS
from infra.localkafka_secure import PROTOCOL as SECURE_PROTOCOL
from infra.localkafka_secure import SecureSetup
from infra.pids import pid_alive

STATE_FILE = "broker.json"
log = logging.getLogger(__name__)

__all__ = ["KAFKA_VERSION", "STATE_FILE", "LocalKafka", "ensure_kafka_jars", "free_port",
           "kafka_jars_dir", "read_state", "stop_from_state"]


def _check_mechanism(mechanism: str) -> None:
    if mechanism not in SECURE_MECHANISMS:
        raise StackError(f"SASL mechanism {mechanism!r} is not enabled on the local broker: use one of "
                         f"{', '.join(SECURE_MECHANISMS)}")


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
                 cache_dir: Path | None = None, secure: bool = False, users: Mapping[str, str] | None = None,
                 tls_listener: bool = False, ssl_port: int | None = None, node_id: int = 1,
                 quorum_voters: str | None = None, cluster_id: str | None = None, host: str = "127.0.0.1"):
        """``secure``: one SASL_SSL listener instead of PLAINTEXT; ``users`` (name -> password) may use
        PLAIN and SCRAM-SHA-256/512 (default: one user ``touchline`` with a random password, kept in
        ``data_dir`` for restarts). ``tls_listener``: also an SSL listener (TLS, no login) on ``ssl_port``.
        ``node_id``, ``quorum_voters`` (``id@host:port,...``) and ``cluster_id``: one node of a cluster
        (``infra.localkafka_cluster``); alone, it is node 1 and its own quorum. ``host``: the address the
        clients' (PLAINTEXT) listener binds and advertises, for a broker in a network namespace a test made
        (tests/infra/test_multi_host.py); the controller listener stays on 127.0.0.1."""
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.node_id, self.cluster_id = node_id, cluster_id
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
        self.secure = secure or users is not None or tls_listener or ssl_port is not None
        if self.secure and host != "127.0.0.1":
            raise StackError(f"a secure local broker listens on 127.0.0.1 only, not {host}")
        self._users = users
        self.ssl_port = ssl_port or (free_port() if tls_listener else None)
        while self.ssl_port is not None and self.ssl_port in (self.port, self.controller_port):
            self.ssl_port = free_port()
        self._security: SecureSetup | None = None
        self.quorum_voters = quorum_voters or f"{node_id}@127.0.0.1:{self.controller_port}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def security_protocol(self) -> str:
        return SECURE_PROTOCOL if self.secure else "PLAINTEXT"

    @property
    def security(self) -> SecureSetup:
        """Certificates and users of a secure broker (made on first use, kept in ``data_dir``)."""
        if not self.secure:
            raise StackError(f"the broker in {self.data_dir} is not secure: start it with secure=True")
        if self._security is None:
            self._security = SecureSetup.prepare(self.data_dir, self._users)
        return self._security

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) clients of a secure broker trust."""
        return self.security.tls.ca_file

    @property
    def users(self) -> dict[str, str]:
        """Client users of a secure broker, name -> password."""
        return dict(self.security.users)

    def client_config(self, mechanism: str = "SCRAM-SHA-512", user: str | None = None) -> dict[str, Any]:
        """librdkafka (confluent-kafka) settings to reach this broker (as ``user``, default the first)."""
        if not self.secure:
            return {"bootstrap.servers": self.bootstrap_servers}
        _check_mechanism(mechanism)
        return self.security.client_config(self.bootstrap_servers, mechanism, user)

    def client_settings(self, mechanism: str | None = "SCRAM-SHA-512", user: str | None = None) -> dict[str, Any]:
        """The ``infra.settings.Settings`` fields that point Touchline at this broker.

        ``mechanism=None``: the TLS-only listener (``tls_listener=True``), protocol SSL, no login.
        """
        if not self.secure:
            return {"kafka_bootstrap_servers": self.bootstrap_servers, "kafka_security_protocol": "PLAINTEXT"}
        if mechanism is None:
            if self.ssl_port is None:
                raise StackError("this broker has no TLS-only listener: start it with tls_listener=True")
            return self.security.settings(f"127.0.0.1:{self.ssl_port}", None, None)
        _check_mechanism(mechanism)
        return self.security.settings(self.bootstrap_servers, mechanism, user)

    @classmethod
    def from_state(cls, data_dir: Path) -> LocalKafka | None:
        """The broker another process started in ``data_dir``, or None if none is running."""
        state = read_state(data_dir)
        if state is None:
            return None
        broker = cls(data_dir, port=state["port"], controller_port=state["controller_port"],
                     secure=state.get("security_protocol") == SECURE_PROTOCOL, ssl_port=state.get("ssl_port"))
        broker.pid = int(state["pid"])
        return broker

    def config(self) -> dict[str, str]:
        p, c = self.port, self.controller_port
        return {
            "process.roles": "broker,controller", "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum_voters,
            "listeners": f"PLAINTEXT://{self.host}:{p},CONTROLLER://127.0.0.1:{c}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{p}",
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
            **(self.security.broker_config(p, c, self.ssl_port) if self.secure else {}),
            **self.extra_config,
        }

    def _java(self, main: str, *args: str, heap: str) -> list[str]:
        return [need_java(), "-Xms256m", f"-Xmx{heap}", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{KAFKA_FILES / 'log4j.properties'}",
                f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
                "-cp", str(kafka_jars_dir(self.cache_dir) / "*"), main, *args]

    def start(self, timeout: float = 90, wait: bool = True) -> str:
        """Format storage (first time), launch the broker, return bootstrap servers once it answers.

        ``wait=False`` returns once launched: a cluster node answers only once a quorum of its
        controllers runs, so the cluster launches every node before waiting (``wait_ready``)."""
        if self.is_running() or read_state(self.data_dir):
            raise StackError(f"a Kafka broker already runs in {self.data_dir}: stop it first")
        ensure_kafka_jars(self.cache_dir, log=log.info)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        # 0600: in secure mode it holds the PLAIN users' passwords
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in self.config().items()))
        self._format()
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(self._java("kafka.Kafka", str(self.config_path), heap=self.heap),
                                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.pid = self._proc.pid
        self._write_state()
        if wait:
            self.wait_ready(timeout)
        return self.bootstrap_servers

    def wait_ready(self, timeout: float = 90) -> None:
        """Until the broker answers as its cluster (stopped if it does not in ``timeout`` seconds)."""
        try:
            self._wait_ready(self._formatted_cluster_id(), time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Kafka %s broker ready at %s %s (pid %s, data in %s)",
                 KAFKA_VERSION, self.security_protocol, self.bootstrap_servers, self.pid, self.data_dir)

    def _format(self) -> None:
        """Format the storage unless already done (saves a JVM start)."""
        meta = self.data_dir / "data" / "meta.properties"
        if not meta.exists():
            scram = self.security.format_args() if self.secure else []
            cluster_id = self.cluster_id or _cluster_id()
            fmt = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                                            "-c", str(self.config_path), "--ignore-formatted", *scram,
                                            heap="256m"),
                                 capture_output=True, text=True, timeout=120)
            if fmt.returncode != 0:
                raise StackError(f"formatting Kafka storage in {self.data_dir} failed:\n{fmt.stdout}{fmt.stderr}")

    def _formatted_cluster_id(self) -> str:
        """The cluster id the storage was formatted with (a node must answer as that cluster)."""
        meta = self.data_dir / "data" / "meta.properties"
        lines = (line.partition("=") for line in meta.read_text().splitlines())
        return next(value for key, _, value in lines if key.strip() == "cluster.id")

    def _wait_ready(self, cluster_id: str, deadline: float) -> None:
        """Poll a metadata request until our broker lists itself; fail fast if the process dies."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient

        auth_errors: list[str] = []

        def on_error(error: KafkaError) -> None:
            if error.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL):
                auth_errors.append(error.str())

        # In secure mode this checks what clients need: the certificate, the SCRAM user, the listener.
        admin = AdminClient({**self.client_config(), "log_level": 0,  # quiet while refused
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250, "error_cb": on_error})
        while True:
            if not self.is_running():
                code = self._proc.returncode if self._proc else None
                raise StackError(f"the Kafka broker exited (code {code}) during start-up; "
                                 f"last lines of {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                why = f" (last client error: {auth_errors[-1]})" if auth_errors else ""
                raise StackError(f"the Kafka broker at {self.bootstrap_servers} did not answer in time{why}; "
                                 f"last lines of {self.log_path}:\n{self.log_tail()}")
            try:
                metadata = admin.list_topics(timeout=1.0)
            except KafkaException:
                metadata = None
                admin.poll(0)  # serves on_error: a TLS/login problem shows in the timeout message
            if metadata is not None and metadata.brokers:
                if metadata.cluster_id == cluster_id:
                    return
                raise StackError(f"{self.bootstrap_servers} answers as another Kafka cluster "
                                 f"({metadata.cluster_id}): is another broker using port {self.port}?")
            time.sleep(0.1)  # poll interval; the deadline and the liveness check bound the wait

    def _write_state(self) -> None:
        state = {"pid": self.pid, "port": self.port, "controller_port": self.controller_port,
                 "bootstrap": self.bootstrap_servers, "kafka_version": KAFKA_VERSION,
                 "log": str(self.log_path), "security_protocol": self.security_protocol}
        if self.secure:
            state["ca_file"] = str(self.ca_file)  # users and passwords stay in the 0600 users.json
            if self.ssl_port is not None:
                state["ssl_port"] = self.ssl_port
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
