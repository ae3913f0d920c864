"""The KPI library's contract: names, documented headers, parameters, errors, the columns each query returns."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from infra.exceptions import TouchlineError
from sinks import kpi
from sinks.kpi.exceptions import KpiError

# The contract other code (the HTML report) reads by name and column.
CONTRACT = {
    "channel_summary": ["channel", "touches", "identifiers", "purchases", "revenue", "avg_order_value"],
    "rejects_by_reason": ["reason", "stage", "rejects", "latest_detail"],
    "conversion_rate": ["dim", "profiles", "converters", "conversion_rate"],
    "revenue": ["dim", "orders", "revenue", "avg_order_value"],
    "touches_to_convert": ["touches", "buyers", "share", "share_2_or_more"],
    "time_to_convert": ["bucket", "conversions", "share"],
    "cross_device_share": ["day", "conversions", "cross_device_conversions", "share"],
    "top_paths": ["path", "journeys", "conversions", "conversion_rate", "revenue"],
    "channel_overlap": ["channel_a", "channel_b", "profiles", "share_of_a"],
    "retention_cohorts": ["cohort_month", "customer_type", "customers", "repeat_customers", "repeat_rate"],
    "clv": ["dim", "customers", "orders", "revenue", "revenue_per_customer"],
    "contact_frequency": ["frequency_band", "profile_weeks", "unsubscribes", "unsubscribe_rate"],
    "funnel": ["step", "name", "profiles", "share_of_first"],
    "experiment_variants": ["variant_id", "profiles", "converters", "revenue", "revenue_sq"],
}
WITH_DIMENSION = {"conversion_rate", "revenue", "clv"}
START, END = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 8, tzinfo=timezone.utc)


def test_every_kpi_is_a_file_of_the_contract() -> None:
    assert kpi.available() == sorted(CONTRACT)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_every_query_is_documented_and_binds_its_parameters(name: str) -> None:
    text = (kpi.resources.files("sinks.kpi") / f"{name}.sql").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("--"))
    assert kpi.describe(name) and not kpi.describe(name).startswith("-")
    assert re.search(r"^-- Columns\b", header, re.MULTILINE) and "\n-- Parameters: " in header, name
    for column in CONTRACT[name]:
        assert re.search(rf"^--\s+{column}\b", header, re.MULTILINE), f"{name}: column {column} undocumented"
    # Values only as server-side parameters; the one textual substitution is {db}.
    braces = re.findall(r"\{[^{}]*\}", text.split("\n", header.count("\n") + 1)[-1])
    assert braces and all(b == "{db}" or kpi._PLACEHOLDER.fullmatch(b) for b in braces), braces
    assert {"start", "end"} <= set(kpi.parameters(name))
    assert kpi.has_dimension(name) == (name in WITH_DIMENSION)


def test_parameters_are_read_from_the_placeholders() -> None:
    assert kpi.parameters("experiment_variants") == {
        "experiment_id": "String", "start": "DateTime64(3, 'UTC')", "end": "DateTime64(3, 'UTC')"}
    assert kpi.parameters("revenue")["by"] == "String"


def test_bind_passes_only_what_a_query_declares_with_defaults() -> None:
    assert kpi.bind("funnel", START, END, by="campaign") == {"start": START, "end": END}
    assert kpi.bind("revenue", START, END)["by"] == "channel"
    values = kpi.bind("revenue", by="device")
    assert values["start"] == datetime(1970, 1, 1, tzinfo=timezone.utc) and values["by"] == "device"
    assert abs(values["end"] - (datetime.now(timezone.utc) + timedelta(days=1))) < timedelta(minutes=1)
    # A naive time is UTC, a date is its UTC midnight, an offset is converted.
    later = datetime(2026, 3, 8, 2, tzinfo=timezone(timedelta(hours=2)))
    assert kpi.bind("funnel", datetime(2026, 3, 1), later) == {"start": START, "end": END}
    assert kpi.bind("funnel", date(2026, 3, 1), END)["start"] == START


def test_errors_say_what_is_allowed() -> None:
    with pytest.raises(KpiError, match=r"no KPI named 'nope'; available: channel_overlap, .*top_paths"):
        kpi.bind("nope")
    with pytest.raises(KpiError, match=r"--by 'country': expected one of channel, campaign, device, segment"):
        kpi.bind("revenue", by="country")
    with pytest.raises(KpiError, match=r"KPI experiment_variants needs --id \(experiment_id: String\)"):
        kpi.bind("experiment_variants")
    with pytest.raises(KpiError, match=r"--from .* must be before --to"):
        kpi.bind("funnel", END, START)
    with pytest.raises(TouchlineError, match="TOUCHLINE_CLICKHOUSE_DATABASE"):
        kpi.load_query("funnel", "x; DROP TABLE y")


@pytest.mark.integration
@pytest.mark.parametrize("by", ["channel", "campaign", "device", "segment"])
def test_every_kpi_runs_on_an_empty_database_with_its_columns(kpi_rows, by: str) -> None:  # noqa: ANN001
    for name, columns in CONTRACT.items():
        got, rows = kpi.run(kpi_rows.client, name, kpi_rows.database, START, END, by=by, experiment_id="exp")
        assert got == columns, name
        buckets = {"touches_to_convert": 10, "time_to_convert": 7, "contact_frequency": 5, "funnel": 5}
        assert len(rows) == buckets.get(name, 0), name
