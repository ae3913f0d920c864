"""The cluster rendering of the migrations (sinks/cluster_ddl.py) and the single-server DDL it must not change.

Pure tests of the rendering, then the real engine (the session's ClickHouse
endpoint): the single-server migrations apply, and every statement rendered
for a cluster parses (``formatQuery``). Running the cluster DDL itself needs
Replicated tables, i.e. ClickHouse Keeper and a remote_servers cluster,
which the embedded engine does not have (docs/scaling.md says how to run
it with infra/docker-compose.cluster.yml).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable

import pytest

from infra.exceptions import ConfigError
from infra.settings import Settings, load_settings
from sinks.clickhouse import connect
from sinks.cluster_ddl import SHARDING_KEYS, Layout
from sinks.exceptions import SinkError
from sinks.migrate import load_migrations, migrate

DB, CLUSTER = "touchline", "touchline_cluster"

# The migration files as applied to existing databases: editing one breaks them (checksum mismatch).
APPLIED_CHECKSUMS = {
    1: "d78c590441fb87b4", 2: "0d90352767ccbc6c", 3: "0972aedd0f2a8876", 4: "06ba9d816bc4b2e3",
    5: "469d833446d79bc5", 6: "b74e238186dfd680", 7: "305b81835f05de66",
    8: "8472816f8d548e71", 9: "8c0fc7272c009cae", 10: "3712b5f1d578e4be",
    11: "ffa579153b2c1463",
}
# sha256 of every single-server statement migrate ran before the cluster variant existed (commit be76744):
# the migrations up to this version.
SINGLE_SERVER_DDL_SHA256 = "80c6e7d791fb8654"
BEFORE_CLUSTER_VARIANT = 5


def _statements(up_to: int | None = None) -> list[str]:
    return [s for m in load_migrations() if up_to is None or m.version <= up_to for s in m.statements(DB)]


def _cluster() -> list[str]:
    return Layout(DB, CLUSTER).render(_statements())


def _merge_tree_tables() -> dict[str, str]:
    """table -> its CREATE statement, for every MergeTree table of the migrations."""
    tables = {}
    for statement in _statements():
        head = re.match(rf"CREATE TABLE IF NOT EXISTS {DB}\.(\w+)", statement)
        if head and re.search(r"^ENGINE = \w*MergeTree", statement, re.MULTILINE):
            tables[head[1]] = statement
    return tables


def _engine_args(statement: str) -> str:
    """The engine's arguments as written ('' without parentheses)."""
    match = re.search(r"^ENGINE = \w+(?:\((.*)\))?$", statement, re.MULTILINE)
    assert match, statement
    return match[1] or ""


def _order_by_columns(statement: str) -> set[str]:
    order_by = re.search(r"^ORDER BY (.+)$", statement, re.MULTILINE)
    assert order_by, statement
    return set(re.findall(r"[a-z_]+", order_by[1]))


# -- single server: unchanged ------------------------------------------------------------------------

def test_migration_files_are_the_applied_ones() -> None:
    assert {m.version: m.checksum for m in load_migrations()} == APPLIED_CHECKSUMS


def test_single_server_ddl_is_byte_for_byte_what_it_was() -> None:
    layout = Layout(DB)
    assert layout.create_database() == "CREATE DATABASE IF NOT EXISTS touchline"
    assert layout.bookkeeping_table() == (
        "CREATE TABLE IF NOT EXISTS touchline.schema_migrations (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    assert layout.render(_statements()) == _statements()
    ddl = [layout.create_database(), layout.bookkeeping_table(),
           *layout.render(_statements(up_to=BEFORE_CLUSTER_VARIANT))]
    assert hashlib.sha256("\n;\n".join(ddl).encode()).hexdigest()[:16] == SINGLE_SERVER_DDL_SHA256
    assert layout.mutation_target("touchpoints") == "touchline.touchpoints"


# -- cluster ------------------------------------------------------------------------------------------

def test_every_cluster_statement_runs_on_cluster() -> None:
    layout = Layout(DB, CLUSTER)
    for statement in [layout.create_database(), layout.bookkeeping_table(), *_cluster()]:
        assert re.match(rf"(CREATE|ALTER)[A-Z ]+ {DB}(\.\w+)? ON CLUSTER {CLUSTER}\b", statement), statement


def test_every_merge_tree_table_is_a_replicated_local_table_plus_a_distributed_table() -> None:
    rendered = _cluster()
    tables = _merge_tree_tables()
    assert set(tables) == set(SHARDING_KEYS)
    for table, original in tables.items():
        engine = re.search(r"^ENGINE = (\w+)", original, re.MULTILINE)[1]
        args = _engine_args(original)
        local = [s for s in rendered if s.startswith(f"CREATE TABLE IF NOT EXISTS {DB}.{table}_local ")]
        assert len(local) == 1, table
        expected = f"Replicated{engine}('/clickhouse/tables/{{shard}}/{DB}/{table}', '{{replica}}'"
        expected += f", {args})" if args else ")"
        assert f"ENGINE = {expected}\n" in local[0] or local[0].endswith(f"ENGINE = {expected}")
        # Columns, PARTITION BY and ORDER BY as written.
        assert original[original.index("\n("):original.index("ENGINE")] in local[0]
        for clause in ("PARTITION BY", "ORDER BY"):
            line = re.search(rf"^{clause} .+$", original, re.MULTILINE)
            assert line is None or line[0] in local[0]
        distributed = [s for s in rendered if s.startswith(f"CREATE TABLE IF NOT EXISTS {DB}.{table} ")]
        assert distributed == [(
            f"CREATE TABLE IF NOT EXISTS {DB}.{table} ON CLUSTER {CLUSTER} AS {DB}.{table}_local\n"
            f"ENGINE = Distributed({CLUSTER}, {DB}, {table}_local, {SHARDING_KEYS[table]})"
        )]
        assert rendered.index(local[0]) < rendered.index(distributed[0])


def test_replacing_merge_tree_keeps_version_and_is_deleted() -> None:
    sessions = next(s for s in _cluster() if s.startswith(f"CREATE TABLE IF NOT EXISTS {DB}.sessions_local "))
    assert (f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{DB}/sessions', '{{replica}}', "
            "version, is_deleted)") in sessions


def test_insert_dedup_window_is_kept_on_replicated_tables() -> None:
    for statement in _cluster():
        if "non_replicated_deduplication_window = 10000" in statement:
            assert "replicated_deduplication_window = 10000" in statement.replace("non_replicated_", "")


def test_dedup_window_goes_into_settings_before_a_comment() -> None:
    table = (f"CREATE TABLE IF NOT EXISTS {DB}.rejects (a String, engine String) ENGINE = ReplacingMergeTree(a) "
             "ORDER BY a SETTINGS non_replicated_deduplication_window = 100 COMMENT 'SETTINGS, ENGINE = x'")
    local = Layout(DB, CLUSTER).render([table])[0]
    assert local.endswith("SETTINGS non_replicated_deduplication_window = 100, replicated_deduplication_window = 100"
                          "\nCOMMENT 'SETTINGS, ENGINE = x'")
    assert "(a String, engine String) ENGINE = ReplicatedReplacingMergeTree(" in local


def test_sharding_keys_are_functions_of_the_sorting_key() -> None:
    """ReplacingMergeTree collapses only within a shard: equal sorting keys must mean the same shard."""
    for table, statement in _merge_tree_tables().items():
        key_columns = set(re.findall(r"\(([^)]*)\)", SHARDING_KEYS[table])[0].replace(" ", "").split(","))
        assert key_columns and key_columns <= _order_by_columns(statement), table


def test_materialized_views_move_rows_between_local_tables_of_the_same_shard() -> None:
    views = [s for s in _cluster() if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 3  # identity_overrides_mv, identity_conflicts_mv, kpi_hourly_mv
    rollups = {t for t, s in _merge_tree_tables().items() if re.search(r"^ENGINE = AggregatingMergeTree", s, re.M)}
    assert rollups == {"kpi_hourly_state"}
    for view in views:
        target = re.search(rf" TO {DB}\.(\w+)_local AS", view)
        sources = re.findall(rf"FROM {DB}\.(\w+)", view)
        assert target and sources and all(s.endswith("_local") for s in sources), view
        if target[1] in rollups:
            # A rollup's rows of one key may sit on several shards: its states (uniqExact, uniq,
            # maxMap) merge at query time, so only reading the local table matters.
            continue
        # The view copies `identifier` unchanged, so source and target rows shard alike.
        for source in sources:
            assert SHARDING_KEYS[source.removesuffix("_local")] == SHARDING_KEYS[target[1]]


def test_views_are_unchanged_apart_from_on_cluster() -> None:
    originals = [s for s in _statements() if s.startswith("CREATE VIEW")]
    rendered = [s for s in _cluster() if s.startswith("CREATE VIEW")]
    assert len(originals) == len(rendered) >= 4  # identity_current, touchpoints/sessions_resolved, attribution_latest
    for original, view in zip(originals, rendered):
        name = re.match(rf"CREATE VIEW IF NOT EXISTS ({DB}\.\w+)", original)[1]
        assert view == original.replace(name, f"{name} ON CLUSTER {CLUSTER}", 1)


def test_column_changes_go_to_local_and_distributed_tables_other_alters_only_local() -> None:
    layout = Layout(DB, CLUSTER)
    add = f"ALTER TABLE {DB}.touchpoints ADD COLUMN IF NOT EXISTS x String"
    assert layout.render([add]) == [
        f"ALTER TABLE {DB}.touchpoints_local ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS x String",
        f"ALTER TABLE {DB}.touchpoints ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS x String",
    ]
    ttl = f"ALTER TABLE {DB}.rejects MODIFY TTL toDate(rejected_at) + 30"
    assert layout.render([ttl]) == [f"ALTER TABLE {DB}.rejects_local ON CLUSTER {CLUSTER} MODIFY TTL toDate(rejected_at) + 30"]
    drop = f"DROP TABLE IF EXISTS {DB}.journeys"
    assert layout.render([drop]) == [f"DROP TABLE IF EXISTS {DB}.journeys ON CLUSTER {CLUSTER}",
                                     f"DROP TABLE IF EXISTS {DB}.journeys_local ON CLUSTER {CLUSTER}"]
    assert layout.mutation_target("touchpoints") == f"{DB}.touchpoints_local ON CLUSTER {CLUSTER}"


def test_bookkeeping_table_is_replicated_on_every_server() -> None:
    ddl = Layout(DB, CLUSTER).bookkeeping_table()
    assert ("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/cluster_wide/touchline/schema_migrations', "
            "'{shard}-{replica}') ORDER BY version") in ddl


# -- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "a-b", "x; DROP TABLE t", "1st", "c`"])
def test_bad_cluster_names_are_refused_naming_the_setting(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SinkError, match="TOUCHLINE_CLICKHOUSE_CLUSTER"):
        Layout(DB, name)
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_CLUSTER", name)
    with pytest.raises(ConfigError, match="TOUCHLINE_CLICKHOUSE_CLUSTER"):
        load_settings()


@pytest.mark.parametrize(("statement", "fragment"), [
    (f"CREATE TABLE IF NOT EXISTS {DB}.clicks (a String) ENGINE = MergeTree ORDER BY a", "SHARDING_KEYS"),
    (f"CREATE TABLE IF NOT EXISTS {DB}.touchpoints (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
     "Replicated"),
    (f"RENAME TABLE {DB}.a TO {DB}.b", "extend sinks/cluster_ddl.py"),
    ("CREATE TABLE IF NOT EXISTS other.touchpoints (a String) ENGINE = MergeTree ORDER BY a", "extend"),
    (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.mv ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a", "TO <table>"),
])
def test_what_cannot_be_rendered_fails_saying_why(statement: str, fragment: str) -> None:
    with pytest.raises(SinkError, match=re.escape(fragment)):
        Layout(DB, CLUSTER).render([statement])


def test_tables_without_merge_tree_are_created_on_every_server_as_written() -> None:
    null = f"CREATE TABLE IF NOT EXISTS {DB}.incoming (a String) ENGINE = Null"
    assert Layout(DB, CLUSTER).render([null]) == [
        f"CREATE TABLE IF NOT EXISTS {DB}.incoming ON CLUSTER {CLUSTER} (a String) ENGINE = Null"]


# -- the real engine --------------------------------------------------------------------------------------

@pytest.fixture
def clickhouse_settings(clickhouse_url: str) -> Callable[..., Settings]:
    """Settings for the session's ClickHouse endpoint with a database of this test's own (no Kafka needed)."""
    database = f"t_{uuid.uuid4().hex[:8]}"
    return lambda **overrides: Settings(clickhouse_url=clickhouse_url, clickhouse_database=database, **overrides)


@pytest.mark.integration
def test_single_server_migrations_apply_and_refuse_a_cluster_later(clickhouse_settings) -> None:  # noqa: ANN001
    settings = clickhouse_settings()
    client, db = connect(settings), settings.clickhouse_database
    assert migrate(client, db) == sorted(APPLIED_CHECKSUMS)
    assert migrate(client, db) == []
    engines = dict(client.query("SELECT name, engine FROM system.tables WHERE database = {db:String}",
                                parameters={"db": db}).result_rows)
    assert engines["schema_migrations"] == "ReplacingMergeTree"
    for table in SHARDING_KEYS:
        assert engines[table].endswith("MergeTree") and not engines[table].startswith("Replicated"), table
    assert not any(name.endswith("_local") for name in engines)
    applied = client.query(f"SELECT version, checksum FROM {db}.schema_migrations FINAL ORDER BY version")
    assert dict(applied.result_rows) == APPLIED_CHECKSUMS
    with pytest.raises(SinkError, match=f"single ClickHouse server.*TOUCHLINE_CLICKHOUSE_CLUSTER={CLUSTER}"):
        migrate(client, db, CLUSTER)


@pytest.mark.integration
def test_every_cluster_statement_parses(clickhouse_settings) -> None:  # noqa: ANN001
    """ClickHouse's own parser accepts each rendered statement (formatQuery; running them needs Keeper)."""
    settings = clickhouse_settings()
    client = connect(settings)
    layout = Layout(settings.clickhouse_database, CLUSTER)
    statements = [layout.create_database(), layout.bookkeeping_table(),
                  *layout.render([s for m in load_migrations() for s in m.statements(settings.clickhouse_database)]),
                  f"ALTER TABLE {layout.mutation_target('touchpoints')} DELETE WHERE identity_key IN ('x')"]
    for statement in statements:
        formatted = client.query("SELECT formatQuery(%(q)s)", parameters={"q": statement}).result_rows[0][0]
        assert f"ON CLUSTER {CLUSTER}" in formatted, statement
    with pytest.raises(Exception, match="Syntax error"):  # the check can fail
        client.query("SELECT formatQuery(%(q)s)", parameters={"q": "CREATE TABLE x ON CLUSTER (a"})
