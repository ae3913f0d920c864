"""`touchline <subcommand>` as a child process: used by the demo, the benchmark and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.settings import Settings


class TouchlineProcess:
    """One `touchline` subprocess in its own process group, output in a log file.

    ``restart_exit_codes``: like a supervisor's restart-on-failure (systemd
    ``Restart=``, a Kubernetes restart policy), a process found exited with one
    of these codes is started again, its output appended to the same log; the
    recovery watchdog's exit (streams/recovery_watchdog.py) is such a code.
    ``wrapper``: a command that execs the rest, e.g. ``ip netns exec <ns>`` to run it on a test's
    own network host (the process keeps its pid: signals reach `touchline` itself).
    """

    def __init__(self, args: list[str], settings: Settings, log_path: Path, log_level: str = "INFO",
                 restart_exit_codes: tuple[int, ...] = (), wrapper: Sequence[str] = ()):
        self.args = args
        self.log_path = log_path
        self.restart_exit_codes = restart_exit_codes
        self.restarts = 0
        self._command = [*wrapper, sys.executable, "-m", "infra.cli.main", "--log-level", log_level, *args]
        self._env = settings.to_env()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self._command, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    @property
    def running(self) -> bool:
        """Alive; a process that exited with one of ``restart_exit_codes`` is restarted first."""
        code = self.proc.poll()
        if code is not None and code in self.restart_exit_codes and not self._log.closed:
            self.restarts += 1
            self._log.write(f"--- exited with {code}: restart {self.restarts} (restart_exit_codes) ---\n".encode())
            self._log.flush()
            self.proc = self._spawn()
            return True
        return code is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (clean: flush, commit), SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole group (the crash case)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
