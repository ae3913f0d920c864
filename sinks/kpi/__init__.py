"""KPI queries: one documented SQL file each, run the same on chDB and on a server."""

from __future__ import annotations

from importlib import resources

from clickhouse_connect.driver.client import Client


def available() -> list[str]:
    return sorted(e.name[:-4] for e in resources.files("sinks.kpi").iterdir() if e.name.endswith(".sql"))


def load_query(name: str, database: str) -> str:
    if name not in available():
        raise FileNotFoundError(name)
    sql = resources.files("sinks.kpi").joinpath(f"{name}.sql").read_text()
    return sql.replace("{db}", database)


def run(client: Client, name: str, database: str, **parameters: object) -> tuple[list[str], list[tuple]]:
    """Run KPI ``name`` with server-side bound parameters; return (column names, rows)."""
    result = client.query(load_query(name, database), parameters=parameters or None)
    return list(result.column_names), [tuple(r) for r in result.result_rows]
