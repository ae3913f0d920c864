"""The store through the real clickhouse-connect client (and plain HTTP, as curl users see it)."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.parse
import urllib.request
import zlib
from datetime import datetime, timezone
from decimal import Decimal

import lz4.frame
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.summary import QuerySummary


pytestmark = pytest.mark.integration

TYPED_DDL = """
CREATE TABLE {db}.typed (
    id UInt32, name String, note Nullable(String), channel LowCardinality(String),
    big Int64, ratio Float64, revenue Decimal(18, 2), at DateTime64(3, 'UTC'),
    tags Array(String), attrs Map(String, String), flag Bool
) ENGINE = MergeTree ORDER BY id
"""
TYPED_ROWS = [
    (1, "alice", None, "web", -(2**62), 0.1, Decimal("0.29"),
     datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc), ["a", "b"], {"k": "v"}, True),
    (2, "bøb ☃", "a note", "sms", 2**62, -1.5e300, Decimal("-12345678.90"),
     datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc), [], {}, False),
    (3, "", "", "app", 0, 0.0, Decimal("0.01"),
     datetime(2026, 7, 1, tzinfo=timezone.utc), ["x" * 1000], {"a": "", "": "b"}, True),
]
TYPED_COLUMNS = ["id", "name", "note", "channel", "big", "ratio", "revenue", "at", "tags", "attrs", "flag"]


def http(url: str, body: bytes | None = None, params: dict[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP request (as curl would send it): (status, headers, body)."""
    full = f"{url}/?{urllib.parse.urlencode(params)}" if params else f"{url}/"
    request = urllib.request.Request(full, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_ping_and_root(store, client):
    assert client.ping()
    for path in ("/ping", "/"):
        with urllib.request.urlopen(f"{store.url}{path}", timeout=10) as response:
            assert response.read() == b"Ok.\n"


def test_connect_probes(client):
    assert client.server_version == "26.9.2.1"
    assert client.command("SELECT 1 AS check") == 1
    assert client.command("SELECT version(), timezone()")[0] == "26.9.2.1"
    settings = client.query("SELECT name, value, readonly FROM system.settings LIMIT 10000")
    assert settings.row_count > 100


def test_ddl_and_commands(client, database):
    summary = client.command(f"CREATE TABLE {database}.t (a UInt8) ENGINE = MergeTree ORDER BY a")
    assert isinstance(summary, QuerySummary)
    assert client.command(f"EXISTS TABLE {database}.t") == 1
    assert client.command(f"SELECT count() FROM {database}.t WHERE a > 100") == 0
    assert client.command(f"SELECT a FROM {database}.t") == ""  # a result set, empty
    assert client.query(f"SHOW TABLES FROM {database}").result_rows == [("t",)]


@pytest.mark.parametrize("compress", [True, False], ids=["lz4", "plain"])
def test_typed_rows_round_trip(client_factory, database, compress):
    client = client_factory(compress=compress, tz_mode="aware")  # default naive_utc drops UTC tzinfo
    client.command(TYPED_DDL.format(db=database))
    summary = client.insert(f"{database}.typed", TYPED_ROWS, column_names=TYPED_COLUMNS)
    assert summary.written_rows == len(TYPED_ROWS)
    result = client.query(f"SELECT {', '.join(TYPED_COLUMNS)} FROM {database}.typed ORDER BY id")
    assert result.result_rows == [tuple(row) for row in TYPED_ROWS]
    revenue = [row[6] for row in result.result_rows]
    assert revenue[0] == Decimal("0.29") and str(revenue[0]) == "0.29"  # money is exact
    assert all(row[7].utcoffset().total_seconds() == 0 for row in result.result_rows)


def test_insert_arrow_and_query_arrow(client, database):
    client.command(f"CREATE TABLE {database}.a (id UInt32, s String) ENGINE = MergeTree ORDER BY id")
    table = pa.table({"id": pa.array(range(1000), pa.uint32()), "s": [str(i) for i in range(1000)]})
    client.insert_arrow(f"{database}.a", table)
    back = client.query_arrow(f"SELECT id, s FROM {database}.a ORDER BY id")
    assert back.to_pydict() == table.to_pydict() and back.schema.field("id").type == pa.uint32()


def test_dedup_token_stores_a_batch_once(client, database):
    client.command(
        f"CREATE TABLE {database}.d (id UInt32, v String) ENGINE = ReplacingMergeTree ORDER BY id "
        "SETTINGS non_replicated_deduplication_window = 1000"
    )
    rows = [(i, f"v{i}") for i in range(500)]
    for _ in range(2):
        client.insert(f"{database}.d", rows, settings={"insert_deduplication_token": "topic:0:0-499"})
    assert client.command(f"SELECT count() FROM {database}.d") == 500
    # Control: another token is another batch (the dedup came from the token, not luck).
    client.insert(f"{database}.d", rows, settings={"insert_deduplication_token": "topic:0:500-999"})
    assert client.command(f"SELECT count() FROM {database}.d") == 1000


def test_settings_apply_to_one_request_only(client):
    assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
    assert client.command("SELECT getSetting('max_threads')") != 1
    tz = client.query("SELECT timezone()", settings={"session_timezone": "Asia/Tokyo"})
    assert tz.result_rows == [("Asia/Tokyo",)]
    assert client.command("SELECT timezone()") != "Asia/Tokyo"


def test_max_execution_time_is_enforced(client):
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT sleepEachRow(0.05) FROM numbers(100) SETTINGS max_block_size = 1",
                     settings={"max_execution_time": 0.3})
    assert info.value.code == 159 and "TIMEOUT_EXCEEDED" in str(info.value)


def test_database_parameter_selects_the_current_database(client_factory, database):
    client = client_factory(database=database)
    assert client.command("SELECT currentDatabase()") == database


def test_query_parameters_are_bound_by_the_engine(client):
    result = client.query("SELECT {s:String} AS s, {n:UInt8} + 1 AS n", parameters={"s": "hé 'x'", "n": 41})
    assert result.result_rows == [("hé 'x'", 42)]


def test_unknown_table_raises_database_error(client):
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT * FROM nowhere_at_all")
    assert info.value.code == 60 and "UNKNOWN_TABLE" in str(info.value)
    with pytest.raises(DatabaseError) as info:
        client.insert("nowhere_at_all", [(1,)], column_names=["a"], column_type_names=["UInt8"])
    assert "UNKNOWN_TABLE" in str(info.value)


def test_syntax_error_raises_database_error(client):
    with pytest.raises(DatabaseError) as info:
        client.command("SELEC 1")
    assert info.value.code == 62 and "SYNTAX_ERROR" in str(info.value)


def test_error_response_has_clickhouse_shape(store):
    status, headers, body = http(store.url, b"SELECT * FROM nowhere_at_all")
    assert status == 404
    assert headers["X-ClickHouse-Exception-Code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception: ")
    assert body.rstrip().endswith(b"(UNKNOWN_TABLE) (version 26.9.2.1)")
    status, headers, body = http(store.url, b"SELECT 1", params={"no_such_setting": "1"})
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (404, "115")


def test_plain_http_formats_and_query_param_plus_body(store):
    status, headers, body = http(store.url, b"SELECT number FROM numbers(3)")
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b"0\n1\n2\n", "TabSeparated")
    _, headers, body = http(store.url, b"SELECT number AS n FROM numbers(2) FORMAT JSONEachRow")
    assert (body, headers["X-ClickHouse-Format"]) == (b'{"n":0}\n{"n":1}\n', "JSONEachRow")
    _, _, body = http(store.url, b"SELECT 1 AS a, 'x' AS b", params={"default_format": "CSVWithNames"})
    assert body == b'"a","b"\n1,"x"\n'
    _, _, body = http(store.url, b"WHERE number > 0", params={"query": "SELECT number FROM numbers(3)"})
    assert body == b"1\n2\n"
    _, _, body = http(store.url, params={"query": "SELECT 41 + 1"})
    assert body == b"42\n"


def test_get_queries_are_read_only(store, database):
    status, headers, _ = http(store.url, params={"query": f"CREATE TABLE {database}.nope (a UInt8) ENGINE = Memory"})
    assert status == 500 and headers["X-ClickHouse-Exception-Code"] == "164"  # READONLY


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "lz4", "zstd"])
@pytest.mark.parametrize("statement_in", ["param", "body"])
def test_insert_with_content_encoding(store, client, database, encoding, statement_in):
    client.command(f"CREATE TABLE {database}.e (a UInt32, b String) ENGINE = MergeTree ORDER BY a")
    data = "".join(f"{i},row {i}\n" for i in range(5000)).encode()
    statement = f"INSERT INTO {database}.e FORMAT CSV"
    params = {"query": statement} if statement_in == "param" else {}
    raw = data if statement_in == "param" else f"{statement}\n".encode() + data
    half = len(raw) // 2
    encoded = {
        "identity": lambda b: b,
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "lz4": lambda b: lz4.frame.compress(b[:half]) + lz4.frame.compress(b[half:]),  # two frames
        "zstd": _zstd_compress,
    }[encoding](raw)
    status, _, body = http(store.url, encoded, params=params, headers={"Content-Encoding": encoding})
    assert status == 200, body
    assert client.command(f"SELECT count(), sum(a) FROM {database}.e") == ["5000", str(sum(range(5000)))]


def _zstd_compress(data: bytes) -> bytes:
    zstd = pytest.importorskip("backports.zstd")
    return zstd.compress(data)


def test_unsupported_requests_are_refused_clearly(store):
    cases = [
        ({"compress": "1"}, {}, "NOT_IMPLEMENTED"),
        ({}, {"Content-Type": "multipart/form-data; boundary=x"}, "NOT_IMPLEMENTED"),
        ({}, {"Content-Encoding": "br"}, "UNKNOWN_COMPRESSION_METHOD"),
    ]
    for params, headers, name in cases:
        status, _, body = http(store.url, b"SELECT 1", params=params, headers=headers)
        assert status >= 400 and name.encode() in body, (params, headers, body)
    status, _, body = http(store.url.rstrip("/") + "/play", b"SELECT 1")
    assert status == 501 and b"no handler for /play" in body
    status, _, body = http(store.url, b"   ")
    assert status == 400 and b"Empty query" in body


def test_insert_reports_summary_and_query_id(client, database):
    client.command(f"CREATE TABLE {database}.s (a UInt8) ENGINE = MergeTree ORDER BY a")
    summary = client.insert(f"{database}.s", [(1,), (2,)], column_names=["a"])
    assert summary.written_rows == 2 and summary.query_id()
    result = client.query("SELECT 1", settings={"query_id": "my-query-1"})
    assert result.summary["query_id"] == "my-query-1"


def test_async_insert_setting_is_applied(client, database):
    client.command(f"CREATE TABLE {database}.ai (a UInt8) ENGINE = MergeTree ORDER BY a")
    client.insert(f"{database}.ai", [(1,), (2,)], column_names=["a"],
                  settings={"async_insert": 1, "wait_for_async_insert": 1})
    assert client.command(f"SELECT count() FROM {database}.ai") == 2
    assert client.command("SELECT getSetting('async_insert')", settings={"async_insert": 1}) == "true"
