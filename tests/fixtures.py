"""Session-wide real components and factories.

One Kafka broker and one ClickHouse endpoint per test session:
- default: the project's own broker (Maven-fetched Kafka, KRaft) and
  `touchline store` (chDB behind the ClickHouse HTTP interface);
- TOUCHLINE_TEST_DOCKER=1 with a Docker engine: testcontainers Kafka and a
  ClickHouse server instead (same tests, same client code).
Each test gets its own topic prefix, ClickHouse database and consumer
groups from ``settings_factory``, so tests never share state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.processes import TouchlineProcess
from infra.settings import Settings
from streams.recovery_watchdog import EXIT_CODE as RESTART_ME


def _use_docker() -> bool:
    if os.environ.get("TOUCHLINE_TEST_DOCKER") != "1":
        return False
    if shutil.which("docker") is None or subprocess.run(
        ["docker", "info"], capture_output=True, timeout=20
    ).returncode != 0:
        pytest.exit("TOUCHLINE_TEST_DOCKER=1 but no Docker engine answers `docker info`", returncode=3)
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real broker for the whole session."""
    if _use_docker():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from infra.localkafka import LocalKafka, ensure_kafka_jars

    ensure_kafka_jars()
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HTTP URL of a real ClickHouse engine for the whole session."""
    if _use_docker():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer("clickhouse/clickhouse-server:24.8") as container:
            host = container.get_container_host_ip()
            yield f"http://{host}:{container.get_exposed_port(8123)}"
        return
    from infra.store.process import StoreProcess

    store = StoreProcess(tmp_path_factory.mktemp("store"))
    url = store.start()
    try:
        yield url
    finally:
        store.stop()


@pytest.fixture
def settings_factory(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings isolated to this test: own topic prefix, database, app id and data dir."""
    token = uuid.uuid4().hex[:8]

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = dict(
            kafka_bootstrap_servers=kafka_bootstrap,
            clickhouse_url=clickhouse_url,
            topic_prefix=f"t{token}.",
            clickhouse_database=f"t_{token}",
            app_id=f"touchline-t{token}",
            data_dir=tmp_path / "touchline",
            worker_web_port=0,
            sink_batch_seconds=0.5,
        )
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def worker_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., TouchlineProcess]]:
    """Starts `touchline <args>` subprocesses; stops every one at teardown.

    A failing test's report ends with each process's log tail (see
    ``pytest_runtest_makereport``): CI keeps only the output, not tmp_path.
    """
    started: list[TouchlineProcess] = []
    request.node.stash[_PROCESSES] = started

    def start(settings: Settings, *args: str, restart_exit_codes: tuple[int, ...] = (RESTART_ME,),
              wrapper: tuple[str, ...] = ()) -> TouchlineProcess:
        # As in production, a supervisor starts again a worker that stopped to be restarted.
        worker = TouchlineProcess(list(args) or ["worker"], settings, tmp_path / f"worker-{len(started)}.log",
                                  restart_exit_codes=restart_exit_codes, wrapper=wrapper)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


_PROCESSES = pytest.StashKey[list[TouchlineProcess]]()
_LOG_TAIL_LINES = 40


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for index, process in enumerate(item.stash.get(_PROCESSES, [])):
        try:
            tail = process.log_tail(_LOG_TAIL_LINES)
        except OSError as exc:
            tail = f"(no log: {exc})"
        report.sections.append((f"log tail of process {index}: touchline {' '.join(process.args)}", tail))


def wait_for(predicate: Callable[[], object], timeout: float, what: str | Callable[[], str],
             interval: float = 0.2) -> object:
    """Poll ``predicate`` until truthy or the deadline; the failure says what was awaited.

    ``what`` may be a callable, asked at the deadline (to say how far it got).
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)  # polling interval, not synchronization: the deadline bounds it
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what() if callable(what) else what} "
                         f"(last: {last!r})")


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves non-daemon threads behind (they hang the session at exit)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test left threads running: {[t.name for t in leaked]}"
