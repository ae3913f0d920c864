"""Launching and stopping ``touchline store`` as a subprocess (CLI ``dev up|down|status``, test fixtures).

``StoreProcess(data_dir).start()`` spawns ``python -m infra.store`` in its own
session (it outlives the command that started it), waits until the server
has written ``store.json`` and answers ``/ping``, and returns the URL.
``StoreProcess.from_state(data_dir)`` finds a running store from any process;
``stop()`` sends SIGTERM (clean chDB close) and SIGKILL after the timeout.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from infra.exceptions import StackError
from infra.store.state import LOG_FILE, clear_state, is_locked, live_state, pid_alive, read_state

_POLL_S = 0.05  # polling interval while waiting on a deadline; never used as synchronization


class StoreProcess:
    """One store server process on ``data_dir``; ``port=None`` lets the server pick a free port.

    By default the server outlives the process that started it (``touchline dev up``);
    ``exit_with_parent=True`` makes it stop when this process dies (tests).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        max_body_bytes: int | None = None,
        max_concurrent_queries: int | None = None,
        queue_timeout_s: float | None = None,
        user: str | None = None,
        password: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        log_level: str = "INFO",
        exit_with_parent: bool = False,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.url: str | None = None
        self.pid: int | None = None
        self._options: list[str] = ["--log-level", log_level]
        if max_body_bytes is not None:
            self._options += ["--max-body-bytes", str(max_body_bytes)]
        if max_concurrent_queries is not None:
            self._options += ["--max-concurrent-queries", str(max_concurrent_queries)]
        if queue_timeout_s is not None:
            self._options += ["--queue-timeout", str(queue_timeout_s)]
        if user is not None:
            self._options += ["--user", user]
        if tls_cert is not None and tls_key is not None:  # HTTPS; the chain is also what start() trusts
            self._options += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
        self._tls_cert = tls_cert
        if exit_with_parent:  # test fixtures: no orphaned store if the test run is killed
            self._options += ["--parent-pid", str(os.getpid())]
        self._password = password
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    @classmethod
    def from_state(cls, data_dir: Path) -> StoreProcess | None:
        """The store running on ``data_dir`` (started by anyone), or None; clears stale state."""
        state = live_state(Path(data_dir))
        if state is None:
            return None
        store = cls(data_dir, port=int(state["port"]), host=str(state["host"]))
        store.pid = int(state["pid"])
        store.url = str(state["url"])
        return store

    def start(self, timeout: float = 60.0) -> str:
        """Spawn the server and wait until it answers /ping; returns its URL."""
        if self.is_running() and self.url is not None:
            return self.url
        running = live_state(self.data_dir)
        if running is not None:
            raise StackError(
                f"store data directory {self.data_dir} is already in use by pid {running['pid']} at "
                f"{running['url']}: use it, stop it (`touchline dev down`), or pick another directory"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "infra.store", "--data-dir", str(self.data_dir),
                   "--host", self.host, "--port", str(self.port or 0), *self._options]
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._environment(), start_new_session=True,
            )
        self.pid = self._proc.pid
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise StackError(f"touchline store exited with code {code} while starting: {self._log_tail()}")
            state = read_state(self.data_dir)
            if state is not None and state.get("pid") == self.pid and _ping(str(state["url"]), self._tls_cert):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"touchline store did not answer /ping within {timeout:g}s; see {self.log_path}")
            time.sleep(_POLL_S)
        self.url = str(state["url"])
        self.port = int(state["port"])
        return self.url

    def is_running(self) -> bool:
        if self.pid is None:
            return False
        if self._proc is not None and self._proc.poll() is not None:
            return False
        return pid_alive(self.pid) and is_locked(self.data_dir)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the server closes chDB cleanly), SIGKILL if still alive after ``timeout``."""
        pid = self.pid
        if pid is not None and self._alive(pid):
            _signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                _signal(pid, signal.SIGKILL)
                if not self._wait_exit(pid, 10.0):
                    raise StackError(f"touchline store pid {pid} survived SIGKILL")
        if pid is not None:
            clear_state(self.data_dir, pid)
        self.url = None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        _reap(pid)
        return pid_alive(pid)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # so `-m infra.store` resolves from a checkout too
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        if self._password is not None:
            env["CLICKHOUSE_PASSWORD"] = self._password
        return env

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy


def _ping(url: str, ca_file: Path | None = None) -> bool:
    """Does the store answer /ping? Over HTTPS the certificate and hostname are verified (``ca_file``)."""
    opener = _OPENER
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of this process (else it lingers as a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
