"""What on-call reads from ClickHouse: dead-letter counts and rows, last flush per table.

Every value goes in as a server-side query parameter (``{name:Type}``),
identifiers included (``{db:Identifier}``); no user text is ever pasted into
SQL. Every query carries ``max_execution_time`` and a LIMIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from infra.exceptions import TouchlineError
from infra.ops.preview import PREVIEW_BYTES
from infra.ops.replay import REPLAY_HEADER
from schemas.reasons import matching

MAX_GROUPS = 1000  # (reason, stage) pairs: a bounded answer even if stages invent reasons
UNKNOWN_TABLE, UNKNOWN_DATABASE = 60, 81


class StoreQueryError(TouchlineError):
    """A ClickHouse query failed; the message says which and what to do."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable  # the server stopped answering (vs. a query it refused)


@dataclass(frozen=True)
class DlqCount:
    reason: str
    stage: str
    last_window: int
    total: int
    latest: datetime | None


@dataclass(frozen=True)
class TableFlush:
    table: str
    rows: int  # stored rows, replaced duplicates not yet merged away included
    last_flush: datetime | None  # max(inserted_at): the server's clock when the newest row was inserted


@dataclass(frozen=True)
class DlqFilter:
    reason: str | None = None
    stage: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, dict[str, object]]:
        """A WHERE clause of fixed fragments, and the parameters they bind (a reason: with its split-out codes)."""
        clauses, params = ["1"], {}
        for name, value, clause in (
            ("reasons", list(matching(self.reason)) if self.reason else None, "has({reasons:Array(String)}, reason)"),
            ("stage", self.stage, "stage = {stage:String}"),
            ("since", self.since, "rejected_at >= {since:DateTime64(3, 'UTC')}"),
            ("until", self.until, "rejected_at < {until:DateTime64(3, 'UTC')}"),
        ):
            if value is not None:
                clauses.append(clause)
                params[name] = value
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class DeadLetterRow:
    rejected_at: datetime
    reason: str
    stage: str
    field: str | None
    event_id: str | None
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    payload_bytes: int
    head: bytes  # the first PREVIEW_BYTES bytes of the payload
    replay_of: str | None  # the original position, when this message was itself a replay


class Store:
    def __init__(self, client: Client, database: str, timeout_s: float):
        self.client, self.database = client, database
        self.settings = {"max_execution_time": max(1, int(timeout_s))}

    def _query(self, what: str, sql: str, params: dict[str, object], **kwargs: object) -> list[tuple]:
        try:
            return self.client.query(sql, parameters={"db": self.database, **params}, settings=self.settings,
                                     **kwargs).result_rows
        except ClickHouseError as exc:
            code = getattr(exc, "code", None)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            hint = ("run `touchline migrate` (or check TOUCHLINE_CLICKHOUSE_DATABASE)"
                    if code in (UNKNOWN_TABLE, UNKNOWN_DATABASE) else
                    "check TOUCHLINE_CLICKHOUSE_URL; TOUCHLINE_CLICKHOUSE_TIMEOUT_S bounds each query")
            raise StoreQueryError(f"{what} in ClickHouse database {self.database} failed: {first}: {hint}",
                                  unreachable=isinstance(exc, OperationalError)) from None

    def dlq_counts(self, window_s: int) -> list[DlqCount]:
        rows = self._query(
            "counting dead letters",
            "SELECT reason, stage, countIf(rejected_at >= now64(3) - toIntervalSecond({window:UInt32})), count(), "
            "max(rejected_at) FROM {db:Identifier}.rejects FINAL GROUP BY reason, stage "
            "ORDER BY count() DESC, reason, stage LIMIT {limit:UInt32}",
            {"window": window_s, "limit": MAX_GROUPS},
        )
        return [DlqCount(*row) for row in rows]

    def table_flushes(self) -> list[TableFlush]:
        """Every MergeTree table of the database with an ``inserted_at`` column (DEFAULT now64(3) in the DDL).

        On a cluster (docs/scaling.md) the Distributed tables, which read all shards, stand for their
        ``<table>_local`` tables.
        """
        tables = self._query(
            "listing tables",
            "SELECT name FROM system.tables WHERE database = {db:String} "
            "AND (engine LIKE '%MergeTree' OR engine = 'Distributed') "
            "AND name IN (SELECT table FROM system.columns WHERE database = {db:String} AND name = 'inserted_at') "
            "AND name NOT IN (SELECT concat(name, '_local') FROM system.tables "
            "WHERE database = {db:String} AND engine = 'Distributed') "
            "ORDER BY name LIMIT 100",
            {},
        )
        flushes = []
        for (table,) in tables:
            rows, last = self._query(
                f"reading the last flush of {table}",
                "SELECT count(), maxOrNull(inserted_at) FROM {db:Identifier}.{table:Identifier}",
                {"table": table},
            )[0]
            flushes.append(TableFlush(table, rows, last))
        return flushes

    def dead_letters(self, where: DlqFilter, limit: int) -> tuple[int, list[DeadLetterRow]]:
        """(how many match, the newest ``limit`` of them)."""
        clause, params = where.where()
        total = self._query("counting dead letters", "SELECT count() FROM {db:Identifier}.rejects FINAL WHERE "
                            + clause, params)[0][0]
        rows = self._query(
            "reading dead letters",
            "SELECT rejected_at, reason, stage, field, event_id, detail, source_topic, source_partition, "
            "source_offset, length(payload), substring(payload, 1, {head:UInt32}) AS head, "
            "arrayFirst(h -> h.1 = {replay_header:String}, headers).2 AS replay_of "
            "FROM {db:Identifier}.rejects FINAL WHERE " + clause
            + " ORDER BY rejected_at DESC, source_topic, source_partition, source_offset LIMIT {limit:UInt32}",
            {**params, "head": PREVIEW_BYTES, "replay_header": REPLAY_HEADER, "limit": limit},
            column_formats={"head": "bytes", "replay_of": "bytes"},
        )
        return total, [DeadLetterRow(*row[:10], bytes(row[10]),
                                     bytes(row[11]).decode("utf-8", "replace") if row[11] else None)
                       for row in rows]
