"""`touchline report`: the analyst KPIs, attribution and experiments as one self-contained HTML page.

``data.gather`` reads everything from ClickHouse into ``data.ReportData``;
``figures`` draws each figure as inline SVG; ``html.render`` lays out the
page. ``write_report`` does all three into a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from sinks.report.data import ReportData, gather


def write_report(client: Client, database: str, out: Path, start: datetime, end: datetime,
                 experiment_ids: Sequence[str] | None = None) -> ReportData:
    """Gather, render and write the page to ``out`` (its folder is created); returns what it showed."""
    from sinks.report.html import render

    data = gather(client, database, start, end, experiment_ids)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(out)
    return data


__all__ = ["ReportData", "gather", "write_report"]
