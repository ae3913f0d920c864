"""Who owns a store data directory: a lock held for the server's lifetime and a state file.

Layout of a data directory::

    store.lock   flock(2)-locked by the running server (the kernel drops it when the process dies)
    store.json   {"pid", "host", "port", "url", "started_at"} written once the server listens
    store.log    the server's output when started by StoreProcess
    chdb/        the chDB (ClickHouse) data

The lock, not the state file, is the truth: a state file whose lock is free
was left by a killed server and is stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO

from infra.exceptions import StackError
from infra.pids import pid_alive

STATE_FILE = "store.json"
LOCK_FILE = "store.lock"
LOG_FILE = "store.log"
ENGINE_DIR = "chdb"


def read_state(data_dir: Path) -> dict | None:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(data_dir: Path, host: str, port: int, scheme: str = "http") -> dict:
    state = {
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "url": f"{scheme}://{host}:{port}",
        "started_at": time.time(),
    }
    tmp = data_dir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, data_dir / STATE_FILE)
    return state


def clear_state(data_dir: Path, pid: int | None = None) -> None:
    """Remove the state file (only if it belongs to ``pid``, when given)."""
    state = read_state(data_dir)
    if state is not None and pid is not None and state.get("pid") != pid:
        return
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def is_locked(data_dir: Path) -> bool:
    """Whether a live process holds the data directory's lock."""
    try:
        handle = open(data_dir / LOCK_FILE, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def live_state(data_dir: Path) -> dict | None:
    """The state of the server running on ``data_dir``, or None; removes a stale state file."""
    state = read_state(data_dir)
    if state is None:
        return None
    if is_locked(data_dir) and pid_alive(int(state.get("pid", 0))):
        return state
    clear_state(data_dir, state.get("pid"))
    return None


class DataDirLock:
    """The exclusive claim of one server process on a data directory."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._handle: IO[str] | None = None

    def acquire(self, wait_s: float = 1.0) -> None:
        """Take the lock, or raise StackError naming the process that holds it.

        ``wait_s`` covers a concurrent ``is_locked`` probe, which holds the lock for microseconds.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / LOCK_FILE, "a+")  # noqa: SIM115
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise StackError(self._in_use_message()) from None
                time.sleep(0.05)  # polling a lock; the deadline bounds it
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def _in_use_message(self) -> str:
        state = read_state(self.data_dir) or {}
        owner = f"pid {state['pid']} at {state.get('url')}" if "pid" in state else "another process"
        return (
            f"store data directory {self.data_dir} is already in use by {owner}: chDB lets one process "
            "open a directory. Use that store, stop it (`touchline dev down`), or pick another --data-dir."
        )

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
