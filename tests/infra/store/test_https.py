"""The store over HTTPS: clickhouse-connect verifies it, bad clients do not stall or break the server."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import clickhouse_connect
import pytest

from infra.store.process import StoreProcess
from infra.tlscerts import LocalCerts, ensure_local_certs
from tests.fixtures import wait_for
from tests.infra.store.fixtures import store_log

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> LocalCerts:
    return ensure_local_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_store(tmp_path_factory: pytest.TempPathFactory, certs: LocalCerts) -> Iterator[StoreProcess]:
    store = StoreProcess(tmp_path_factory.mktemp("store"), tls_cert=certs.cert_file, tls_key=certs.key_file,
                         exit_with_parent=True)
    store.start()
    yield store
    store.stop()


def https_client(store: StoreProcess, certs: LocalCerts, host: str = "127.0.0.1"):  # noqa: ANN201
    return clickhouse_connect.get_client(host=host, port=store.port, secure=True, verify=True,
                                         ca_cert=str(certs.ca_file), connect_timeout=5, send_receive_timeout=10)


def test_url_is_https_and_clients_verify_it(https_store: StoreProcess, certs: LocalCerts) -> None:
    assert https_store.url == f"https://127.0.0.1:{https_store.port}"
    for host in ("127.0.0.1", "localhost"):  # both names are in the certificate
        client = https_client(https_store, certs, host)
        try:
            client.command("CREATE TABLE IF NOT EXISTS tls_rows (id UInt32) ENGINE = MergeTree ORDER BY id")
            client.insert("tls_rows", [(i,) for i in range(1000)], column_names=["id"])
            assert client.command("SELECT count() FROM tls_rows") >= 1000
        finally:
            client.close()


def test_a_stalled_tls_client_does_not_block_others(https_store: StoreProcess, certs: LocalCerts) -> None:
    """The handshake runs in the connection's thread: a client that connects and says nothing blocks nobody."""
    with socket.create_connection(("127.0.0.1", https_store.port), timeout=10):
        client = https_client(https_store, certs)
        try:
            assert client.command("SELECT 1") == 1
        finally:
            client.close()


def test_plain_http_and_untrusting_clients_are_refused_and_logged(https_store: StoreProcess) -> None:
    answer = b""
    with socket.create_connection(("127.0.0.1", https_store.port), timeout=10) as plain:
        plain.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            while chunk := plain.recv(4096):  # until the server closes (bounded by the socket timeout)
                answer += chunk
        except ConnectionResetError:
            pass
    assert b"Ok." not in answer
    context = ssl.create_default_context()  # the system CAs: ours is not among them
    with socket.create_connection(("127.0.0.1", https_store.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="127.0.0.1")
    wait_for(lambda: store_log(https_store).count("TLS handshake with 127.0.0.1 failed") >= 2, 10,
             "the store to log both refused handshakes")
