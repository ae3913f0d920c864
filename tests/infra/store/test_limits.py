"""Bounds and credentials: body size limit, concurrent-query limit, optional user/password."""

from __future__ import annotations

import threading
import time

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from infra.store.process import StoreProcess
from tests.infra.store.fixtures import client_for

pytestmark = pytest.mark.integration

LIMIT = 1024 * 1024
USER, PASSWORD = "touchline", "s3cret pass"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    store = StoreProcess(tmp_path_factory.mktemp("small-store"), max_body_bytes=LIMIT,
                         max_concurrent_queries=1, queue_timeout_s=0.5, user=USER, password=PASSWORD,
                         exit_with_parent=True)
    store.start()
    yield store
    store.stop()


@pytest.fixture
def small_client(small_store):
    client = client_for(small_store.url, username=USER, password=PASSWORD)
    yield client
    client.close()


def test_wrong_password_is_refused(small_store):
    with pytest.raises(DatabaseError) as info:
        client_for(small_store.url, username=USER, password="wrong")
    assert info.value.code == 516 and "AUTHENTICATION_FAILED" in str(info.value)


@pytest.mark.parametrize("compress", [True, False], ids=["lz4", "plain"])
def test_body_over_limit_is_refused_and_nothing_is_inserted(small_store, small_client, compress):
    small_client.command("DROP TABLE IF EXISTS big")
    small_client.command("CREATE TABLE big (id UInt32, s String) ENGINE = MergeTree ORDER BY id")
    rows = [(i, f"{i:0>200}") for i in range(20_000)]  # ~4 MiB of Native, over the 1 MiB limit
    client = client_for(small_store.url, username=USER, password=PASSWORD, compress=compress)
    try:
        with pytest.raises(DatabaseError) as info:
            client.insert("big", rows, column_names=["id", "s"])
    finally:
        client.close()
    message = str(info.value)
    assert info.value.code == 229 and "QUERY_IS_TOO_LARGE" in message
    assert f"limit of {LIMIT} bytes" in message and "--max-body-bytes" in message
    assert small_client.command("SELECT count() FROM big") == 0
    small_client.insert("big", rows[:1000], column_names=["id", "s"])  # under the limit: fine
    assert small_client.command("SELECT count() FROM big") == 1000


def test_queries_beyond_the_concurrency_limit_wait_then_fail(small_store, small_client):
    errors: list[BaseException] = []
    slow_client = client_for(small_store.url, username=USER, password=PASSWORD)  # connect probes done here

    def slow() -> None:
        try:
            slow_client.command("SELECT sleep(2)")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        # SELECT 1 succeeds until the slow query holds the only slot; then it waits 0.5 s and fails.
        deadline = time.monotonic() + 10
        with pytest.raises(DatabaseError) as info:
            while time.monotonic() < deadline:
                small_client.command("SELECT 1")
                time.sleep(0.05)  # polling interval: leaves the slot free for the slow query to take
        assert info.value.code == 202 and "--max-concurrent-queries" in str(info.value)
    finally:
        thread.join(30)
        slow_client.close()
    assert not errors
    assert small_client.command("SELECT 1") == 1
