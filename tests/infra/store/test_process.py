"""The store as an OS process: start/stop, restart with data intact, one owner per directory, stale state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from infra.exceptions import StackError
from infra.store.process import StoreProcess
from infra.store.state import STATE_FILE, read_state
from tests.infra.store.fixtures import client_for, store_log

pytestmark = pytest.mark.integration


@pytest.fixture
def started():
    """Starts StoreProcess objects; stops whatever still runs at teardown."""
    stores: list[StoreProcess] = []

    def start(store: StoreProcess) -> StoreProcess:
        stores.append(store)
        store.start()
        return store

    yield start
    for store in stores:
        store.stop()


def _insert_rows(url: str, n: int) -> None:
    client = client_for(url)
    try:
        client.command("CREATE TABLE IF NOT EXISTS kept (id UInt32, v Decimal(18, 2)) ENGINE = MergeTree ORDER BY id")
        client.insert("kept", [(i, f"{i}.29") for i in range(n)], column_names=["id", "v"])
    finally:
        client.close()


def _count(url: str) -> int:
    client = client_for(url)
    try:
        return client.command("SELECT count() FROM kept WHERE v - toDecimal64(id, 2) = 0.29")
    finally:
        client.close()


def test_restart_keeps_data_and_cleans_state(tmp_path, started):
    store = started(StoreProcess(tmp_path, exit_with_parent=True))
    assert store.is_running() and store.url == read_state(tmp_path)["url"]
    _insert_rows(store.url, 1000)
    store.stop()
    assert not store.is_running()
    assert not (tmp_path / STATE_FILE).exists()
    assert "chDB closed" in store_log(store)  # SIGTERM closed the engine cleanly

    again = started(StoreProcess(tmp_path, exit_with_parent=True))
    assert _count(again.url) == 1000


def test_store_survives_sigkill_and_stale_state_is_detected(tmp_path, started):
    store = started(StoreProcess(tmp_path, exit_with_parent=True))
    _insert_rows(store.url, 500)
    os.kill(store.pid, signal.SIGKILL)
    store._proc.wait(10)  # reap it, as its parent
    assert (tmp_path / STATE_FILE).exists()  # left behind by the killed server
    assert StoreProcess.from_state(tmp_path) is None  # lock free -> stale
    assert not (tmp_path / STATE_FILE).exists()
    again = started(StoreProcess(tmp_path, exit_with_parent=True))
    assert _count(again.url) == 500


def test_from_state_finds_and_stops_a_store(tmp_path, started):
    store = started(StoreProcess(tmp_path, exit_with_parent=True))
    found = StoreProcess.from_state(tmp_path)
    assert found is not None and (found.url, found.pid) == (store.url, store.pid)
    assert found.is_running()
    found.stop()  # not its child: signals by pid and polls
    assert StoreProcess.from_state(tmp_path) is None
    assert not store.is_running()


def test_state_of_a_dead_pid_is_stale(tmp_path):
    (tmp_path / STATE_FILE).write_text(json.dumps({"pid": 2**22 + 17, "host": "127.0.0.1", "port": 1,
                                                    "url": "http://127.0.0.1:1"}))
    assert StoreProcess.from_state(tmp_path) is None
    assert not (tmp_path / STATE_FILE).exists()


def test_second_store_on_same_directory_fails_fast(tmp_path, started):
    store = started(StoreProcess(tmp_path, exit_with_parent=True))
    with pytest.raises(StackError, match=r"already in use by pid \d+ at http://127.0.0.1:\d+"):
        StoreProcess(tmp_path, exit_with_parent=True).start()
    # The server itself refuses too (e.g. a second `touchline store` in a terminal): exit code 2.
    result = subprocess.run(
        [sys.executable, "-m", "infra.store", "--data-dir", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert f"already in use by pid {store.pid}" in result.stderr
    assert "BAD_ARGUMENTS" not in result.stderr
    assert store.is_running() and _ping(store.url)


def test_fixed_port_and_start_is_idempotent(tmp_path, started):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = started(StoreProcess(tmp_path, port=port, exit_with_parent=True))
    assert store.url == f"http://127.0.0.1:{port}"
    assert store.start() == store.url


def _ping(url: str) -> bool:
    client = client_for(url)
    try:
        return client.ping()
    finally:
        client.close()


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        store = StoreProcess(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(StackError, match="cannot listen on 127.0.0.1"):
            store.start()
    assert not store.is_running() and StoreProcess.from_state(tmp_path) is None


LAUNCHER = """
import sys
import time
from pathlib import Path
from infra.store.process import StoreProcess
store = StoreProcess(Path(sys.argv[1]), exit_with_parent=sys.argv[2] == "tied")
print(store.start(), store.pid, flush=True)
if sys.argv[2] == "tied":
    sys.stdin.read()  # stay alive until killed
"""


def _launch(data_dir, mode: str) -> tuple[subprocess.Popen, int]:
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(data_dir), mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _url, pid = launcher.stdout.readline().split()
    return launcher, int(pid)


def test_store_outlives_the_command_that_started_it(tmp_path):
    launcher, pid = _launch(tmp_path, "detached")  # like `touchline dev up`
    assert launcher.wait(30) == 0
    found = StoreProcess.from_state(tmp_path)  # like `touchline dev status` / `down`
    assert found is not None and found.pid == pid
    found.stop()
    assert StoreProcess.from_state(tmp_path) is None


def test_store_tied_to_its_parent_stops_when_the_parent_is_killed(tmp_path):
    launcher, pid = _launch(tmp_path, "tied")
    assert StoreProcess.from_state(tmp_path) is not None
    launcher.kill()
    launcher.wait(10)
    deadline = time.monotonic() + 20
    while StoreProcess.from_state(tmp_path) is not None and time.monotonic() < deadline:
        time.sleep(0.1)  # polling interval; the deadline bounds it
    assert StoreProcess.from_state(tmp_path) is None
    assert "parent process" in store_log_of(tmp_path)


def store_log_of(data_dir) -> str:
    return (data_dir / "store.log").read_text(errors="replace")
