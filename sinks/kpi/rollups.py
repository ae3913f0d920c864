"""Backfill of the hourly KPI rollups (sinks/migrations/0006_kpi_rollups.sql) from stored touchpoints.

The materialized view fills ``kpi_hourly_state`` from the rows inserted after
it was created; rows stored before (a database migrated to 0006 with history)
need one backfill. The rollup states are replay-safe (distinct event ids, a
revenue map keyed by event id), so a backfill over hours the view already
counted, or run twice, changes no number. The SELECT is the view's own,
read from the migration, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from clickhouse_connect.driver.client import Client

from sinks.cluster_ddl import check_name
from sinks.kpi import time_range
from sinks.kpi.exceptions import KpiError
from sinks.migrate import load_migrations

ROLLUP_MIGRATION = 6
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS \S+\.kpi_hourly_mv TO (\S+) AS\s+(SELECT\b.+)", re.DOTALL)
_RANGE = ("event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}")


def backfill_sql(database: str) -> str:
    """INSERT INTO <db>.kpi_hourly_state <the view's SELECT over the touchpoints in [start, end)>."""
    check_name(database, "TOUCHLINE_CLICKHOUSE_DATABASE")
    migration = next(m for m in load_migrations() if m.version == ROLLUP_MIGRATION)
    for statement in migration.statements(database):
        match = _VIEW.match(statement)
        if match:
            source = f"FROM {database}.touchpoints\n"
            select = match[2].replace(source, f"FROM (SELECT * FROM {database}.touchpoints WHERE {_RANGE})\n", 1)
            if select == match[2]:
                break
            return f"INSERT INTO {match[1]}\n{select}"
    raise KpiError(f"migration {ROLLUP_MIGRATION:04d} has no kpi_hourly_mv reading {database}.touchpoints")


def backfill(client: Client, database: str, start: datetime | date | None = None,
             end: datetime | date | None = None) -> int:
    """Add the touchpoints with event_time in [start, end) to the rollups; return how many rows were read."""
    start_t, end_t = time_range(start, end)
    parameters = {"start": start_t, "end": end_t}
    client.command(backfill_sql(database), parameters=parameters)
    read = client.query(f"SELECT count() FROM {database}.touchpoints WHERE {_RANGE}", parameters=parameters)
    return int(read.result_rows[0][0])
