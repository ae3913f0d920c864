"""The one ClickHouse code path: clickhouse-connect, to a server or to the local `touchline store`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from infra import metrics
from infra.exceptions import ConfigError
from infra.settings import Settings
from sinks.base import Batch, BatchingSink, joint_dedup_token
from sinks.exceptions import SinkBackpressure, SinkError

log = logging.getLogger(__name__)

# Server answers that mean "later", not "never": overload, limits, replicas, network.
RETRIABLE_CODES = {
    159,  # TIMEOUT_EXCEEDED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    236,  # ABORTED: the server (or `touchline store`) is shutting down
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT: retrying is safe, the tables keep one row per key and version
    394,  # QUERY_WAS_CANCELLED: e.g. by a server restart
    999,  # KEEPER_EXCEPTION
}


AUTHENTICATION_FAILED = 516  # also what ClickHouse answers for an unknown user


def connect(settings: Settings, **kwargs: Any) -> Client:
    """A clickhouse-connect client for the configured URL; a ConfigError naming the setting if it fails.

    Over https:// the server's certificate and hostname are always verified, against
    TOUCHLINE_CLICKHOUSE_CA_FILE when set (else the system's CAs, via certifi/truststore).
    """
    url = settings.clickhouse_http_url()
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    tls: dict[str, Any] = {"verify": True}
    if secure and settings.clickhouse_ca_file is not None:
        tls["ca_cert"] = str(settings.clickhouse_ca_file)
    try:
        return clickhouse_connect.get_client(
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            secure=secure,
            username=settings.clickhouse_username,
            password=settings.clickhouse_password.get_secret_value(),
            connect_timeout=min(settings.clickhouse_timeout_s, 10),
            send_receive_timeout=settings.clickhouse_timeout_s,
            query_retries=1,
            **tls,
            **kwargs,
        )
    except ClickHouseError as exc:
        raise _connect_error(url, settings, exc) from None


def _connect_error(url: str, settings: Settings, exc: ClickHouseError) -> ConfigError:
    """Which setting to check, by what went wrong (never a secret's value)."""
    text = _first_line(exc)
    if getattr(exc, "code", None) == AUTHENTICATION_FAILED:
        return ConfigError(
            f"ClickHouse at {url} refused user {settings.clickhouse_username!r}: check "
            f"TOUCHLINE_CLICKHOUSE_USERNAME and TOUCHLINE_CLICKHOUSE_PASSWORD: {text}")
    if "SSLError" in text or "CERTIFICATE_VERIFY_FAILED" in text:
        return ConfigError(
            f"TLS with ClickHouse at {url} failed: check TOUCHLINE_CLICKHOUSE_CA_FILE (the CA that signed the "
            f"server's certificate; the certificate must name the host in TOUCHLINE_CLICKHOUSE_URL): {text}")
    return ConfigError(f"cannot reach ClickHouse at {url} (TOUCHLINE_CLICKHOUSE_URL): {text}")


def is_retriable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):  # connection refused/reset, timeouts
        return True
    return isinstance(exc, DatabaseError) and getattr(exc, "code", None) in RETRIABLE_CODES


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


class ClickHouseSink(BatchingSink[tuple]):
    """Inserts rows into one table, one insert per flush (all source partitions' batches together).

    ClickHouse wants few large inserts (each makes a part to merge); one per
    partition and table cost the embedded store about as much CPU as the
    worker's own stages (docs/benchmarks.md).

    Idempotent: the insert carries ``insert_deduplication_token`` (the source
    topic:partition:offsets ranges it holds), and tables are ReplacingMergeTree
    on the event's key as the backstop for batches cut differently on replay.
    """

    def __init__(
        self,
        client_factory: Callable[[], Client],
        table: str,
        columns: Sequence[str],
        retry_after: float = 1.0,
    ):
        super().__init__()
        self._client_factory = client_factory
        self._client: Client | None = None
        self.table = table
        self.columns = list(columns)
        self.retry_after = retry_after
        self._types: list[str] | None = None
        self._label = metrics.table_label(table)

    def write(self, batch: Batch[tuple]) -> None:
        self._insert(batch.items, batch.dedup_token)

    def write_all(self, batches: Sequence[Batch[tuple]]) -> None:
        if len(batches) == 1:
            self.write(batches[0])
            return
        self._insert([item for batch in batches for item in batch.items], joint_dedup_token(batches))

    def _insert(self, items: list[tuple], dedup_token: str) -> None:
        started = time.monotonic()
        try:
            client = self._client or self._connect()
            client.insert(
                self.table,
                items,
                column_names=self.columns,
                # Known types skip the client's DESCRIBE round trip on every insert.
                column_type_names=self._types or self._column_types(client),
                settings={"insert_deduplication_token": dedup_token},
            )
        except (ClickHouseError, ConfigError) as exc:
            retriable = isinstance(exc, ConfigError) or is_retriable(exc)
            metrics.CLICKHOUSE_ERRORS.labels(table=self._label, kind="retriable" if retriable else "fatal").inc()
            if retriable:
                self._client = None  # reconnect next time; the old pool may be dead
                raise SinkBackpressure(
                    f"ClickHouse unavailable writing {len(items)} rows to {self.table}: {_first_line(exc)}",
                    retry_after=self.retry_after,
                ) from exc
            raise SinkError(f"insert into {self.table} failed: {_first_line(exc)}") from exc
        self._observe(len(items), time.monotonic() - started)

    def _observe(self, rows: int, seconds: float) -> None:
        metrics.SINK_ROWS.labels(table=self._label).inc(rows)
        metrics.CLICKHOUSE_INSERT_ROWS.labels(table=self._label).observe(rows)
        metrics.CLICKHOUSE_INSERT_SECONDS.labels(table=self._label).observe(seconds)

    def _column_types(self, client: Client) -> list[str]:
        database, _, table = self.table.rpartition(".")
        rows = client.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            parameters={"db": database or client.database or "default", "t": table},
        ).result_rows
        types = dict(rows)
        missing = [c for c in self.columns if c not in types]
        if missing:
            raise SinkError(f"table {self.table} has no column(s) {missing}: run `touchline migrate`")
        self._types = [types[c] for c in self.columns]
        return self._types

    def _connect(self) -> Client:
        self._client = self._client_factory()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
