"""Attribution runs in ClickHouse (migration 0007): write a run, read the latest credits."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from sinks.attribution_job import AttributionRun

RUN_COLUMNS = ("run_id", "computed_at", "window_start", "window_end", "lookback_days", "paths", "converted_paths",
               "conversions_value", "unattributed_conversions", "unattributed_value", "seconds")
CREDIT_COLUMNS = ("run_id", "model", "credited_by", "key", "conversions", "value")


def write_run(client: Client, database: str, run: AttributionRun) -> None:
    """Credits first, the run row last: attribution_latest only sees runs whose row exists, so a run that
    failed halfway is never the latest (its credit rows stay unreferenced)."""
    rows = [(run.run_id, model, by, key, conversions, credits.value.get(key, 0.0))
            for (model, by), credits in sorted(run.credits.items())
            for key, conversions in credits.conversions.items()]
    if rows:
        client.insert(f"{database}.attribution_credits", rows, column_names=list(CREDIT_COLUMNS))
    client.insert(f"{database}.attribution_runs", [tuple(getattr(run, c) for c in RUN_COLUMNS)],
                  column_names=list(RUN_COLUMNS))


def latest_credits(client: Client, database: str, by: str = "channel") -> dict[str, dict[str, float]]:
    """Model -> key -> credited conversions, from the newest run ({} before the first run)."""
    rows = client.query(f"SELECT model, key, conversions FROM {database}.attribution_latest"
                        " WHERE credited_by = {by:String} ORDER BY model, key", parameters={"by": by}).result_rows
    credits: dict[str, dict[str, float]] = {}
    for model, key, conversions in rows:
        credits.setdefault(model, {})[key] = conversions
    return credits


def latest_run(client: Client, database: str) -> dict | None:
    """The newest run's row (window, paths, unattributed), or None before the first run."""
    result = client.query(f"SELECT {', '.join(RUN_COLUMNS)} FROM {database}.attribution_runs"
                          " ORDER BY computed_at DESC LIMIT 1")
    return dict(zip(RUN_COLUMNS, result.result_rows[0])) if result.result_rows else None
