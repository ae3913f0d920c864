"""KPI queries: one documented SQL file each (``sinks/kpi/<name>.sql``), the same on chDB and a server.

Every query takes ClickHouse server-side parameters (``{name:Type}``, bound
by the client, never formatted into the SQL); the one textual substitution is
``{db}``, the database name, a validated setting. ``run`` binds only the
parameters a query declares, so a query without a dimension ignores ``by``.
docs/analysts.md defines every KPI.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources

from clickhouse_connect.driver.client import Client

from sinks.cluster_ddl import check_name
from sinks.kpi.exceptions import KpiError

# --by: channel, campaign, device of the touch or order; segment: the person's real-time segments now
# (segment_members_current, one row per segment, '(none)' for people in none).
DIMENSIONS = ("channel", "campaign", "device", "segment")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# {name:Type} placeholders; a type may hold parentheses and quotes, never braces.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")
# What a caller names each parameter (the CLI option) in errors.
_OPTION = {"start": "--from", "end": "--to", "by": "--by", "experiment_id": "--id"}


def available() -> list[str]:
    return sorted(e.name[:-4] for e in resources.files("sinks.kpi").iterdir() if e.name.endswith(".sql"))


def _text(name: str) -> str:
    if name not in available():
        raise KpiError(f"no KPI named {name!r}; available: {', '.join(available())}")
    return resources.files("sinks.kpi").joinpath(f"{name}.sql").read_text()


def describe(name: str) -> str:
    """The KPI's one-line description: the first line of its header comment."""
    first = _text(name).splitlines()[0]
    return first.removeprefix("--").strip()


def load_query(name: str, database: str) -> str:
    check_name(database, "TOUCHLINE_CLICKHOUSE_DATABASE")
    return _text(name).replace("{db}", database)


def parameters(name: str) -> dict[str, str]:
    """The parameters KPI ``name`` declares: {name: ClickHouse type}, in order of first use."""
    found: dict[str, str] = {}
    for param, type_ in _PLACEHOLDER.findall(_text(name)):
        if param != "db":
            found.setdefault(param, type_)
    return found


def has_dimension(name: str) -> bool:
    return "by" in parameters(name)


def utc(value: datetime | date) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC, a date as its midnight UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), timezone.utc)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def time_range(start: datetime | date | None = None, end: datetime | date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC with the defaults: 1970-01-01 and now + 1 day."""
    start_t = utc(start) if start is not None else EPOCH
    end_t = utc(end) if end is not None else datetime.now(timezone.utc) + timedelta(days=1)
    if start_t >= end_t:
        raise KpiError(f"--from ({start_t.isoformat()}) must be before --to ({end_t.isoformat()})")
    return start_t, end_t


def bind(name: str, start: datetime | date | None = None, end: datetime | date | None = None,
         by: str | None = None, **extra: object) -> dict[str, object]:
    """The parameter values for KPI ``name``: defaults filled in, checked, only those it declares."""
    declared = parameters(name)
    start_t, end_t = time_range(start, end)
    if by is not None and by not in DIMENSIONS:
        raise KpiError(f"--by {by!r}: expected one of {', '.join(DIMENSIONS)}")
    values: dict[str, object] = {"start": start_t, "end": end_t, "by": by or DIMENSIONS[0]}
    for key, value in extra.items():
        if value is not None:
            values[key] = value
    missing = [p for p in declared if p not in values]
    if missing:
        raise KpiError(f"KPI {name} needs {', '.join(_OPTION.get(p, p) for p in missing)} "
                       f"({', '.join(f'{p}: {declared[p]}' for p in missing)})")
    return {p: values[p] for p in declared}


def run(client: Client, name: str, database: str, start: datetime | date | None = None,
        end: datetime | date | None = None, by: str | None = None,
        **extra: object) -> tuple[list[str], list[tuple]]:
    """Run KPI ``name``; return (column names, rows).

    ``start`` inclusive (default 1970-01-01), ``end`` exclusive (default now + 1 day), both UTC
    (naive values are taken as UTC); ``by``: channel (default), campaign, device or segment, for the KPIs
    with a dimension; ``extra``: further parameters a KPI declares (``experiment_id``).
    """
    parameters_ = bind(name, start, end, by, **extra)
    sql = load_query(name, database)
    result = client.query(sql, parameters=parameters_)
    columns = list(result.column_names)
    if not columns:  # an empty result carries no header: ask the query's shape
        columns = [row[0] for row in client.query(f"DESCRIBE (\n{sql}\n)", parameters=parameters_).result_rows]
    return columns, [tuple(r) for r in result.result_rows]
