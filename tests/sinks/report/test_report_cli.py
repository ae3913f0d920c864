"""`touchline report` on the real ClickHouse store: the page's tables show what the KPIs return.

A small hand-built world (three people, a purchase each for two of them, an
experiment, a channel named like markup) in a database of the test's own;
`touchline attribution run` and `touchline report` run through the CLI;
every table of the page is read back and compared with ``sinks.kpi.run``
(and the attribution store, the experiment report) over the same range.
No Kafka: the report reads only ClickHouse.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli.main import cli
from infra.settings import Settings
from sinks import kpi
from sinks.attribution_store import latest_credits
from sinks.clickhouse import connect
from sinks.kpi.experiments import experiment_report
from sinks.migrate import migrate
from sinks.report.data import NO_ATTRIBUTION, NO_EXPERIMENTS
from tests.sinks.kpi.fixtures import KpiRows, at
from sinks.report.read import read_tables
from tests.sinks.report.svgparse import column, parse_page, tables

pytestmark = pytest.mark.integration

HOSTILE = "<script>alert(1)</script>"
START, END = at("2026-03-01 00:00"), at("2026-03-08 00:00")
RANGE = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-03-08T00:00:00Z"]
EXPERIMENT = "exp_button"


@pytest.fixture
def store(clickhouse_url: str) -> Iterator[tuple[Settings, KpiRows]]:
    """A migrated database of the test's own on the session's store, and a row factory for it."""
    settings = Settings(clickhouse_url=clickhouse_url, clickhouse_database=f"t_{uuid.uuid4().hex[:8]}")
    client = connect(settings)
    migrate(client, settings.clickhouse_database)
    yield settings, KpiRows(client, settings.clickhouse_database)
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.close()


def _world(rows: KpiRows) -> None:
    control, green = {EXPERIMENT: "control"}, {EXPERIMENT: "green"}
    rows.touch("page_view", "2026-03-02 10:00", profile="ann", channel="web", experiments=control)
    rows.touch("email_send", "2026-03-02 18:00", profile="ann", channel="email")
    rows.touch("email_click", "2026-03-03 09:00", profile="ann", channel="email", campaign="spring")
    rows.touch("purchase", "2026-03-03 09:05", profile="ann", channel="web", revenue="50.00", experiments=control)
    rows.journey("ann", "2026-03-02 10:00", "2026-03-03 09:05", value="50.00", channel_path=("web", "email", "web"),
                 conversion_event_id="ann-purchase")
    rows.touch("ad_click", "2026-03-02 12:00", profile="bob", channel="display", device_type="mobile",
               campaign="spring", experiments=green)
    rows.touch("page_view", "2026-03-04 08:00", profile="bob", channel="web", experiments=green)
    rows.touch("purchase", "2026-03-04 08:10", profile="bob", channel="web", revenue="120.00", experiments=green)
    rows.journey("bob", "2026-03-02 12:00", "2026-03-04 08:10", value="120.00", cross_device=True,
                 channel_path=("display", "web", "web"), conversion_event_id="bob-purchase")
    rows.touch("email_send", "2026-03-02 09:00", profile="cy", channel="email")
    rows.touch("page_view", "2026-03-02 09:30", profile="cy", channel=HOSTILE, experiments=control)
    rows.touch("unsubscribe", "2026-03-02 09:40", profile="cy", channel="email")
    rows.journey("cy", "2026-03-02 09:30", "2026-03-02 09:40", converted=False, channel_path=(HOSTILE, "email"))
    rows.flush()


def _invoke(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=settings.to_env(base={}), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _same(shown: str | None, expected: object) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return shown is None
    if isinstance(expected, (list, tuple)):
        expected = " > ".join(map(str, expected))
    if isinstance(expected, (date, datetime)):
        return shown == expected.isoformat()[:10]
    if isinstance(expected, (int, float, Decimal)):
        return shown is not None and math.isclose(float(shown), float(expected), rel_tol=1e-9, abs_tol=1e-12)
    return shown == str(expected)


def _key(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return " > ".join(map(str, value))
    return value.isoformat()[:10] if isinstance(value, (date, datetime)) else str(value)


def _assert_table(text: str, table: str, columns: Sequence[str], rows: Sequence[tuple], key: str,
                  renamed: dict[str, str] | None = None, exact: bool = True) -> None:
    """Every row of the KPI (keyed by ``key``) is in the page's table, every column it shows equal.

    ``exact``: the table has no other row (``False`` for a table joining two KPIs)."""
    renamed = renamed or {}
    shown = read_tables(text)[table]
    by_key = {r[renamed.get(key, key)]: r for r in shown}
    assert rows and len(by_key) == len(shown), table
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        cells = by_key[_key(record[key])]
        for name, value in record.items():
            header = renamed.get(name, name)
            if header in cells:
                assert _same(cells[header], value), (table, record[key], name, cells[header], value)
    if exact:
        assert len(shown) == len(rows), table


KPI_TABLES = {  # page table -> (KPI, key column)
    "funnel": ("funnel", "step"),
    "touches_to_convert": ("touches_to_convert", "touches"),
    "top_paths": ("top_paths", "path"),
    "cross_device_share": ("cross_device_share", "day"),
    "contact_frequency": ("contact_frequency", "frequency_band"),
}


def test_report_tables_show_what_the_kpis_return(store: tuple[Settings, KpiRows], tmp_path: Path) -> None:
    settings, rows = store
    _world(rows)
    client, db = rows.client, rows.database
    _invoke(settings, "attribution", "run", *RANGE)
    out = tmp_path / "out" / "report.html"
    assert _invoke(settings, "report", "--out", str(out), *RANGE).strip() == str(out)
    text = out.read_text(encoding="utf-8")
    page = parse_page(text)

    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    fields = {dd.get("data-field"): "".join(dd.itertext()) for dd in page.iter("dd")}
    assert fields["database"] == db and "2026-03-01T00:00:00Z" in fields["range"]

    for table, (name, key) in KPI_TABLES.items():
        columns, result = kpi.run(client, name, db, start=START, end=END)
        _assert_table(text, table, columns, result, key)

    rate_columns, rates = kpi.run(client, "conversion_rate", db, start=START, end=END, by="channel")
    _assert_table(text, "channels", rate_columns, rates, "dim", {"dim": "channel"}, exact=False)
    revenue_columns, revenue = kpi.run(client, "revenue", db, start=START, end=END, by="channel")
    _assert_table(text, "channels", revenue_columns, revenue, "dim", {"dim": "channel"}, exact=False)
    web = column(text, "channels", "channel").index("web")
    assert float(column(text, "channels", "revenue")[web]) == 170.0  # both purchases were on the web

    credits = latest_credits(client, db, by="channel")
    head, body = tables(page)["attribution"]
    assert set(head[1:]) == set(credits) and len(credits) >= 8
    shown = {r[0].text: dict(zip(head[1:], (float(td.get("data-value")) for td in r[1:]))) for r in body}
    for model, by_channel in credits.items():
        assert math.isclose(sum(by_channel.values()), 2.0)  # two conversions to credit
        for channel, value in by_channel.items():
            assert math.isclose(shown[channel][model], value, abs_tol=1e-12)

    columns, result = experiment_report(client, db, EXPERIMENT, start=START, end=END)
    _assert_table(text, f"experiment:{EXPERIMENT}", columns, result, "variant")
    assert [r["variant"] for r in read_tables(text)[f"experiment:{EXPERIMENT}"]] == ["control", "green"]


def test_report_on_an_empty_database_says_what_is_missing(store: tuple[Settings, KpiRows], tmp_path: Path) -> None:
    settings, _ = store
    out = tmp_path / "report.html"
    _invoke(settings, "report", "--out", str(out), *RANGE)
    page = parse_page(out.read_text(encoding="utf-8"))
    notes = {s.get("id"): "".join(s.find("p").itertext()) for s in page.iter("section") if s.find("p") is not None}
    assert notes["attribution"] == NO_ATTRIBUTION
    assert notes["experiments"] == NO_EXPERIMENTS
    assert notes["funnel"] == notes["touches"] == notes["paths"] == "no data in this time range"
    assert not list(page.iter("figure"))


def test_report_reads_only_the_experiments_asked_for(store: tuple[Settings, KpiRows], tmp_path: Path) -> None:
    settings, rows = store
    _world(rows)
    out = tmp_path / "report.html"
    _invoke(settings, "report", "--out", str(out), *RANGE, "--experiment", "other")
    page = parse_page(out.read_text(encoding="utf-8"))
    assert [h3.text for h3 in page.iter("h3")] == ["Experiment other"]
    assert "no data in this time range" in "".join(page.find(".//section[@id='experiments']").itertext())
