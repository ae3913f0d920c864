"""Fixtures for the store's tests: one store subprocess per test module, clients, throwaway databases.

Registered by the root conftest; the helpers (``client_for``, ``store_log``) are imported directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from infra.store.process import StoreProcess


def client_for(url: str, **kwargs: object) -> Client:
    """A real clickhouse-connect HTTP client for a store URL."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return clickhouse_connect.get_client(host=host, port=int(port), **kwargs)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreProcess]:
    """A running store on a fresh data directory, for this test module."""
    process = StoreProcess(tmp_path_factory.mktemp("store"), log_level="DEBUG", exit_with_parent=True)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def client_factory(store: StoreProcess) -> Iterator[Callable[..., Client]]:
    """Makes clickhouse-connect clients for the module's store; closes them at teardown."""
    clients: list[Client] = []

    def make(**kwargs: object) -> Client:
        assert store.url is not None
        client = client_for(store.url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(client_factory: Callable[..., Client]) -> Client:
    return client_factory()


@pytest.fixture
def database(client: Client) -> Iterator[str]:
    """A throwaway database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    client.command(f"CREATE DATABASE {name}")
    yield name
    client.command(f"DROP DATABASE IF EXISTS {name}")


def store_log(store: StoreProcess) -> str:
    return Path(store.log_path).read_text(errors="replace")
