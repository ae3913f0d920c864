"""Insert throughput of `touchline store`: ``python -m tests.infra.store.throughput``.

Batches of 10k rows x 30 columns shaped like touchpoint rows (14 String,
6 LowCardinality(String), 5 integers, 3 Float64, 1 Decimal(18, 2) for money,
1 DateTime64(3, 'UTC')) into a ReplacingMergeTree, as the sink sends them.
Three numbers: ``client.insert()`` end to end (row building not timed; the
client's own Native encoding is part of it), ``client.insert_arrow()``, and
the store alone, fed lz4 Native request bodies encoded before timing.
Prints rows/s; it asserts no threshold.
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.transform import NativeTransform

from infra.store.process import StoreProcess
from tests.infra.store.fixtures import client_for

CHANNELS = ("web", "app", "email", "sms", "push", "pos")
COLUMNS = (
    [(f"s{i}", "String") for i in range(14)]
    + [(f"lc{i}", "LowCardinality(String)") for i in range(6)]
    + [("id", "UInt64"), ("seq", "UInt32"), ("i0", "Int64"), ("i1", "Int64"), ("i2", "Int32")]
    + [(f"f{i}", "Float64") for i in range(3)]
    + [("revenue", "Decimal(18, 2)"), ("at", "DateTime64(3, 'UTC')")]
)
NAMES = [name for name, _ in COLUMNS]
ARROW_TYPES = {
    "String": pa.string(), "LowCardinality(String)": pa.string(), "UInt64": pa.uint64(), "UInt32": pa.uint32(),
    "Int64": pa.int64(), "Int32": pa.int32(), "Float64": pa.float64(), "Decimal(18, 2)": pa.decimal128(18, 2),
    "DateTime64(3, 'UTC')": pa.timestamp("ms", tz="UTC"),
}


def create_table(client: Client, table: str) -> None:
    ddl = ", ".join(f"{name} {ch_type}" for name, ch_type in COLUMNS)
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(f"CREATE TABLE {table} ({ddl}) ENGINE = ReplacingMergeTree ORDER BY (id, at)")


def make_rows(start: int, n: int) -> list[tuple]:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        (
            *(f"value-{k}-{i}" for i in range(14)),
            *(CHANNELS[(k + i) % len(CHANNELS)] for i in range(6)),
            k, k % 1000, k * 7, -k, k % 100_000,
            k / 3.0, k * 0.25, 1.0 / (k + 1),
            Decimal(k % 100_000) / 100,
            base + timedelta(milliseconds=k),
        )
        for k in range(start, start + n)
    ]


def measure(url: str, batches: int = 10, batch_rows: int = 10_000, compress: bool = True) -> float:
    """Rows per second of ``client.insert()`` into the store."""
    client = client_for(url, compress=compress)
    try:
        table = f"throughput_{'lz4' if compress else 'plain'}"
        create_table(client, table)
        data = [make_rows(b * batch_rows, batch_rows) for b in range(batches)]
        started = time.perf_counter()
        for b, rows in enumerate(data):
            client.insert(table, rows, column_names=NAMES, settings={"insert_deduplication_token": f"b{b}"})
        elapsed = time.perf_counter() - started
        assert client.command(f"SELECT count() FROM {table}") == batches * batch_rows
        return batches * batch_rows / elapsed
    finally:
        client.close()


def arrow_table(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows))
    return pa.Table.from_arrays([pa.array(col, type=ARROW_TYPES[t]) for col, (_, t) in zip(columns, COLUMNS)],
                                names=NAMES)


def measure_arrow(url: str, batches: int = 10, batch_rows: int = 10_000) -> float:
    """Rows per second of ``client.insert_arrow()`` (Arrow tables built before timing)."""
    client = client_for(url)
    try:
        table = "throughput_arrow"
        create_table(client, table)
        data = [arrow_table(make_rows(b * batch_rows, batch_rows)) for b in range(batches)]
        started = time.perf_counter()
        for b, batch in enumerate(data):
            client.insert_arrow(table, batch, settings={"insert_deduplication_token": f"b{b}"})
        elapsed = time.perf_counter() - started
        assert client.command(f"SELECT count() FROM {table}") == batches * batch_rows
        return batches * batch_rows / elapsed
    finally:
        client.close()


def measure_store_only(url: str, batches: int = 10, batch_rows: int = 10_000) -> float:
    """Rows per second of the store alone: the client's lz4 request bodies, encoded before timing."""
    client = client_for(url)
    try:
        table = "throughput_store_only"
        create_table(client, table)
        bodies = []
        for b in range(batches):
            context = client.create_insert_context(table, NAMES, data=make_rows(b * batch_rows, batch_rows))
            context.compression = "lz4"
            bodies.append(b"".join(NativeTransform.build_insert(context)))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.perf_counter()
        for body in bodies:
            request = urllib.request.Request(f"{url}/", data=body, headers={"Content-Encoding": "lz4"})
            with opener.open(request, timeout=60) as response:
                response.read()
        elapsed = time.perf_counter() - started
        assert client.command(f"SELECT count() FROM {table}") == batches * batch_rows
        return batches * batch_rows / elapsed
    finally:
        client.close()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = StoreProcess(Path(tmp) / "store", exit_with_parent=True)
        url = store.start()
        try:
            for compress in (True, False):
                rate = measure(url, compress=compress)
                print(f"client.insert ({'lz4' if compress else 'plain'}), 10 x 10k rows x 30 columns: {rate:,.0f} rows/s")
            print(f"client.insert_arrow: {measure_arrow(url):,.0f} rows/s")
            print(f"store alone (pre-encoded lz4 bodies): {measure_store_only(url):,.0f} rows/s")
        finally:
            store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
