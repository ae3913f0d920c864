"""The DDL for a ClickHouse cluster, rendered from the single-server migrations.

The files in ``sinks/migrations`` are written for one server and run
unchanged there (``cluster=None``: every statement as written). With
``TOUCHLINE_CLICKHOUSE_CLUSTER`` set, each statement is rendered for that
cluster (docs/scaling.md):

- ``CREATE TABLE t ... ENGINE = XMergeTree(args)`` becomes two statements:
  ``t_local ON CLUSTER`` with ``ReplicatedXMergeTree('<path>', '{replica}', args)``,
  and ``t ON CLUSTER AS t_local ENGINE = Distributed(cluster, db, t_local,
  <sharding key>)``, so sinks and analysts keep using the name ``t``;
- ``CREATE MATERIALIZED VIEW mv TO t AS SELECT ... FROM s``: ON CLUSTER, and
  the view reads and writes the local tables (an insert on a node feeds the
  rows to that node's target shard);
- ``CREATE VIEW``: ON CLUSTER, body unchanged (views read the Distributed tables);
- ``ALTER TABLE t <column change>``: on ``t_local`` and on ``t``; any other
  ALTER only on ``t_local``; ``DROP TABLE t``: both.

Every MergeTree table needs a sharding key in ``SHARDING_KEYS``: a
ReplacingMergeTree collapses duplicates only within one shard, so all rows
with the same sorting key must land on the same shard, i.e. the key must be
a function of (a leading part of) the table's ORDER BY columns.

Only names come from settings (validated with a strict pattern); no value
from event data is ever part of the DDL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from sinks.exceptions import SinkError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# table -> sharding key of its Distributed table (must be a function of its ORDER BY columns).
SHARDING_KEYS: dict[str, str] = {
    # ORDER BY (toDate(event_time), event_id): a replayed event keeps its event_id.
    "touchpoints": "cityHash64(event_id)",
    # ORDER BY (source_topic, source_partition, source_offset, stage): one message's rejects together.
    "rejects": "cityHash64(source_topic, source_partition, source_offset)",
    # ORDER BY (identifier, ...): an identifier's history, current profile and conflicts on one
    # shard, so the materialized views' output stays on the shard the key routes it to.
    "identity_changes": "cityHash64(identifier)",
    "identity_overrides": "cityHash64(identifier)",
    "identity_conflicts": "cityHash64(identifier)",
    # Plain MergeTree (no dedup); ORDER BY (requested_at, request_id).
    "identity_erasures": "cityHash64(request_id)",
    # ORDER BY (session_key, session_id): every version and deletion of a session shares its key.
    "sessions": "cityHash64(session_key)",
    # ORDER BY (profile_id, journey_id): every version and deletion of a journey shares its profile.
    "journeys": "cityHash64(profile_id)",
    # AggregatingMergeTree, ORDER BY (hour, channel, event_type, campaign_id, device_type). Its
    # materialized view writes on the shard of the touchpoint (by event_id); the states merge across
    # shards at query time (uniqExact/uniq/maxMap), so where a row lands never changes a number.
    "kpi_hourly_state": "cityHash64(hour, channel, event_type)",
    # Plain MergeTree, ORDER BY (run_id, ...): a run's row and its credits on one shard.
    "attribution_runs": "cityHash64(run_id)",
    "attribution_credits": "cityHash64(run_id)",
    # ORDER BY (profile_id, channel, version): a profile's decisions (and their replays) on one shard.
    "contact_decisions": "cityHash64(profile_id)",
    # ORDER BY (profile_id, segment, version): a profile's memberships (and their replays) on one shard.
    "segment_memberships": "cityHash64(profile_id)",
    # ORDER BY (arm_kind, arm, run_at, run_id): an arm's history, and the replays of a record, on one shard.
    "budget_recommendations": "cityHash64(arm_kind, arm)",
    # ORDER BY conflict_id: the copies of a conflict (replays, re-detection after a merge) on one shard.
    "offer_conflicts": "cityHash64(conflict_id)",
}

LOCAL_SUFFIX = "_local"
# {shard} and {replica} are macros of each server's config (infra/clickhouse/*.xml), expanded there.
REPLICATED_PATH = "/clickhouse/tables/{{shard}}/{database}/{table}"
REPLICA_NAME = "{replica}"
# The bookkeeping table is not sharded: every server holds all of it, so `touchline migrate`
# through any server sees the same applied versions. The replica name must be unique cluster-wide.
BOOKKEEPING_PATH = "/clickhouse/tables/cluster_wide/{database}/schema_migrations"
BOOKKEEPING_REPLICA = "{shard}-{replica}"

_COLUMNS = "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
_COLUMN_ACTIONS = ("ADD COLUMN", "DROP COLUMN", "MODIFY COLUMN", "RENAME COLUMN", "COMMENT COLUMN", "CLEAR COLUMN")
_HEAD = re.compile(
    r"(?P<verb>CREATE TABLE|CREATE MATERIALIZED VIEW|CREATE VIEW|ALTER TABLE|DROP TABLE|DROP VIEW)\s+"
    r"(?P<cond>IF NOT EXISTS\s+|IF EXISTS\s+)?(?P<db>[A-Za-z_][A-Za-z0-9_]*)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)
_ENGINE = re.compile(r"ENGINE\s*=\s*([A-Za-z0-9_]+)", re.IGNORECASE)
_SETTING = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S.*?)\s*$", re.DOTALL)


def check_name(value: str, setting: str) -> str:
    if not NAME.match(value):
        raise SinkError(f"bad {setting}={value!r}: expected letters, digits and _ (not starting with a digit)")
    return value


@dataclass(frozen=True)
class Layout:
    """How the DDL of one database is laid out: a single server (cluster None) or a cluster."""

    database: str
    cluster: str | None = None

    def __post_init__(self) -> None:
        check_name(self.database, "TOUCHLINE_CLICKHOUSE_DATABASE")
        if self.cluster is not None:
            check_name(self.cluster, "TOUCHLINE_CLICKHOUSE_CLUSTER")

    # -- what migrate runs before the migrations -------------------------------------------
    def create_database(self) -> str:
        if self.cluster is None:
            return f"CREATE DATABASE IF NOT EXISTS {self.database}"
        return f"CREATE DATABASE IF NOT EXISTS {self.database} ON CLUSTER {self.cluster}"

    def bookkeeping_table(self) -> str:
        if self.cluster is None:
            return (f"CREATE TABLE IF NOT EXISTS {self.database}.schema_migrations "
                    f"{_COLUMNS} ENGINE = ReplacingMergeTree ORDER BY version")
        path = BOOKKEEPING_PATH.format(database=self.database)
        return (f"CREATE TABLE IF NOT EXISTS {self.database}.schema_migrations ON CLUSTER {self.cluster} "
                f"{_COLUMNS} ENGINE = ReplicatedReplacingMergeTree('{path}', '{BOOKKEEPING_REPLICA}') "
                "ORDER BY version")

    def mutation_target(self, table: str) -> str:
        """Where ``ALTER TABLE <here> DELETE ...`` goes: the table, or its local tables on every server."""
        check_name(table, "table")
        if self.cluster is None:
            return f"{self.database}.{table}"
        if table not in SHARDING_KEYS:
            raise SinkError(f"no sharded table {table!r} in sinks/cluster_ddl.py SHARDING_KEYS")
        return f"{self.database}.{table}{LOCAL_SUFFIX} ON CLUSTER {self.cluster}"

    # -- the migrations ------------------------------------------------------------------------
    def render(self, statements: list[str]) -> list[str]:
        """The statements to run: as written for a single server, rendered for a cluster."""
        if self.cluster is None:
            return list(statements)
        return [out for statement in statements for out in self._render(statement)]

    def _render(self, statement: str) -> list[str]:
        head = _HEAD.match(statement)
        if head is None or head["db"] != self.database:
            raise SinkError(
                f"cannot render for TOUCHLINE_CLICKHOUSE_CLUSTER={self.cluster}: expected CREATE TABLE/VIEW/"
                f"MATERIALIZED VIEW, ALTER TABLE or DROP of a {self.database}.<name>, got: {statement[:80]!r} "
                "(extend sinks/cluster_ddl.py)"
            )
        verb, name, rest = " ".join(head["verb"].upper().split()), head["name"], statement[head.end():]
        start = statement[: head.start("db")]  # verb and IF [NOT] EXISTS as written
        if verb == "CREATE TABLE":
            return self._create_table(start, name, rest)
        if verb == "CREATE MATERIALIZED VIEW":
            if not rest.lstrip().upper().startswith("TO "):
                raise SinkError(f"materialized view {name}: write it with TO <table> to render it for a cluster")
            return [f"{start}{self._qualified(name)}{self._on_cluster()}{self._to_local(rest)}"]
        if verb in ("CREATE VIEW", "DROP VIEW"):
            return [f"{start}{self._qualified(name)}{self._on_cluster()}{rest}"]
        sharded = name in SHARDING_KEYS
        local = f"{start}{self._qualified(name + LOCAL_SUFFIX)}{self._on_cluster()}{rest}"
        both = [f"{start}{self._qualified(name)}{self._on_cluster()}{rest}", local]
        if verb == "DROP TABLE":
            return both if sharded else [both[0]]
        # ALTER TABLE
        if not sharded:
            return [both[0]]
        if rest.lstrip().upper().startswith(_COLUMN_ACTIONS):
            return [local, both[0]]  # the local tables first: the Distributed table reads them
        return [local]

    def _create_table(self, start: str, name: str, rest: str) -> list[str]:
        engine_at = _find_top_level(rest, "ENGINE")
        if engine_at < 0:
            raise SinkError(f"table {name}: no ENGINE clause to render for a cluster")
        match = _ENGINE.match(rest, engine_at)
        if match is None:
            raise SinkError(f"table {name}: expected ENGINE = <name>, got {rest[engine_at:engine_at + 40]!r}")
        engine, end, args = match[1], match.end(), None
        if end < len(rest) and rest[end] == "(":
            close = _matching_paren(rest, end)
            args, end = rest[end + 1:close].strip(), close + 1
        if not engine.endswith("MergeTree"):  # Null, Memory, ...: the same table on every server
            return [f"{start}{self._qualified(name)}{self._on_cluster()}{rest}"]
        if engine.startswith("Replicated"):
            raise SinkError(f"table {name}: migrations are written for one server; use {engine[10:]}, "
                            "the cluster rendering makes it Replicated")
        if name not in SHARDING_KEYS:
            raise SinkError(f"table {name} has no sharding key: add it to SHARDING_KEYS in sinks/cluster_ddl.py "
                            "(a function of its ORDER BY columns, see docs/scaling.md)")
        path = REPLICATED_PATH.format(database=self.database, table=name)
        replicated = f"Replicated{engine}('{path}', '{REPLICA_NAME}'{', ' + args if args else ''})"
        tail = _with_replicated_dedup_window(rest[end:])
        local_name = name + LOCAL_SUFFIX
        local = (f"{start}{self._qualified(local_name)}{self._on_cluster()}"
                 f"{rest[:engine_at]}ENGINE = {replicated}{tail}")
        distributed = (f"{start}{self._qualified(name)}{self._on_cluster()} AS {self._qualified(local_name)}\n"
                       f"ENGINE = Distributed({self.cluster}, {self.database}, {local_name}, {SHARDING_KEYS[name]})")
        return [local, distributed]

    def _qualified(self, name: str) -> str:
        return f"{self.database}.{name}"

    def _on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}"

    def _to_local(self, text: str) -> str:
        """A materialized view's target and sources: the sharded tables' local tables."""
        tables = "|".join(sorted(SHARDING_KEYS, key=len, reverse=True))
        pattern = re.compile(rf"\b{re.escape(self.database)}\.({tables})\b")
        return pattern.sub(lambda m: f"{self.database}.{m[1]}{LOCAL_SUFFIX}", text)


def _with_replicated_dedup_window(tail: str) -> str:
    """A replicated table dedups inserts with replicated_deduplication_window: keep the size chosen for one server."""
    at = _find_top_level(tail, "SETTINGS")
    if at < 0:
        return tail
    comment = _find_top_level(tail, "COMMENT", at)  # the one clause that may follow SETTINGS
    end = len(tail) if comment < 0 else comment
    body = tail[at + len("SETTINGS"):end]
    pairs = [_SETTING.match(part) for part in _split_top_level(body)]
    if any(p is None for p in pairs):
        raise SinkError(f"cannot read the SETTINGS clause {body.strip()!r}")
    values = {p[1]: p[2] for p in pairs if p}
    if "non_replicated_deduplication_window" not in values or "replicated_deduplication_window" in values:
        return tail
    settings = f"{tail[:end].rstrip()}, replicated_deduplication_window = {values['non_replicated_deduplication_window']}"
    return settings + (f"\n{tail[end:]}" if comment >= 0 else "")


def _unquoted(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, char, depth) of every character outside quotes; both parentheses of a group at depth d have d."""
    depth, quote, escaped = 0, "", False
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
            continue
        if c in "'`\"":
            quote = c
            continue
        if c == ")":
            depth -= 1
        yield i, c, depth
        if c == "(":
            depth += 1


def _find_top_level(text: str, keyword: str, start: int = 0) -> int:
    """Index (from ``start``) of ``keyword`` as a whole word outside quotes and parentheses, or -1."""
    n = len(keyword)
    for i, _, depth in _unquoted(text):
        if (i >= start and depth == 0 and text[i:i + n].upper() == keyword and (i == 0 or not _word(text[i - 1]))
                and (i + n == len(text) or not _word(text[i + n]))):
            return i
    return -1


def _matching_paren(text: str, open_at: int) -> int:
    for i, c, depth in _unquoted(text[open_at:]):
        if c == ")" and depth == 0:
            return open_at + i
    raise SinkError(f"unbalanced parentheses in {text[open_at:open_at + 80]!r}")


def _split_top_level(text: str) -> list[str]:
    """``text`` cut at the commas outside quotes and parentheses."""
    cuts = [i for i, c, depth in _unquoted(text) if c == "," and depth == 0]
    return [text[a + 1:b] for a, b in pairwise([-1, *cuts, len(text)])]


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"
