"""`touchline kpi` through click's runner, against the session's ClickHouse endpoint."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result

from infra.cli.main import cli
from infra.settings import Settings
from sinks import kpi
from tests.sinks.kpi.fixtures import KpiRows

RANGE = ["--from", "2026-03-01", "--to", "2026-03-08T00:00:00Z"]


def _invoke(settings: Settings | None, *args: str) -> Result:
    env = settings.to_env(base={}) if settings is not None else {}
    return CliRunner().invoke(cli, ["kpi", *args], env=env)


def _ok(settings: Settings, *args: str) -> str:
    result = _invoke(settings, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _scenario(r: KpiRows) -> None:
    """ann bought twice (30.00 after the spring email, 0.29), bob once (10.00); ann and bob are in exp-a."""
    r.touch("email_click", "2026-03-02 09:00", profile="ann", channel="email", campaign="spring",
            experiments={"exp-a": "one-page"})
    p1 = r.touch("purchase", "2026-03-02 10:00", profile="ann", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:00", value="30.00", conversion_event_id=p1["event_id"])
    p2 = r.touch("purchase", "2026-03-04 10:00", profile="ann", revenue="0.29")
    r.journey("ann", "2026-03-04 10:00", "2026-03-04 10:00", value="0.29", conversion_event_id=p2["event_id"])
    r.touch("page_view", "2026-03-03 09:00", profile="bob", device_type="mobile", experiments={"exp-a": "control"})
    p3 = r.touch("purchase", "2026-03-03 09:30", profile="bob", device_type="mobile", revenue="10.00")
    r.journey("bob", "2026-03-03 09:00", "2026-03-03 09:30", value="10.00", conversion_event_id=p3["event_id"])
    r.touch("page_view", "2026-03-03 09:00", profile="cat", experiments={"exp-a": "control"})
    r.flush()


def test_list_shows_every_kpi_with_its_description() -> None:
    out = _invoke(None, "list").stdout
    for name in kpi.available():
        assert name in out and kpi.describe(name) in out
    assert "experiment " in out and "rollup-backfill" in out
    assert _invoke(None, "--list").stdout == out


@pytest.mark.integration
def test_kpi_by_campaign_as_csv_and_json(kpi_rows: KpiRows, kpi_settings: Settings) -> None:
    _scenario(kpi_rows)
    # spring: ann's first order (the email click is its journey's last campaign touch); (not set): ann's second
    # order (its journey starts after the click) and bob's: 0.29 + 10.00 = 10.29 in 2 orders, 5.145 -> 5.15
    # (cents, half away from zero).
    out = _ok(kpi_settings, "revenue", *RANGE, "--by", "campaign", "--format", "csv")
    assert out.splitlines() == ["dim,orders,revenue,avg_order_value", "spring,1,30.00,30.00",
                                "(not set),2,10.29,5.15"]
    lines = _ok(kpi_settings, "conversion_rate", *RANGE, "--by", "device", "--format", "json").splitlines()
    # desktop: ann and cat, ann converted; mobile: bob, converted.
    assert [json.loads(line) for line in lines] == [
        {"dim": "desktop", "profiles": 2, "converters": 1, "conversion_rate": 0.5},
        {"dim": "mobile", "profiles": 1, "converters": 1, "conversion_rate": 1.0}]
    table = _ok(kpi_settings, "funnel", *RANGE).splitlines()
    assert table[0].split() == ["step", "name", "profiles", "share_of_first"] and len(table) == 7


@pytest.mark.integration
def test_kpi_experiment_prints_every_variant(kpi_rows: KpiRows, kpi_settings: Settings) -> None:
    _scenario(kpi_rows)
    rows = [json.loads(line) for line in
            _ok(kpi_settings, "experiment", "--id", "exp-a", *RANGE, "--format", "json").splitlines()]
    assert [r["variant"] for r in rows] == ["control", "one-page"]
    control, one_page = rows
    # control: bob (converted, 10.00) and cat -> rate 0.5, revenue per profile 5.00;
    # one-page: ann, both conversions after her exposure -> 1.0, 30.29.
    assert (control["profiles"], control["converters"], control["conversion_rate"]) == (2, 1, 0.5)
    assert (one_page["profiles"], one_page["converters"], one_page["revenue_per_profile"]) == (1, 1, 30.29)
    assert control["revenue_per_profile"] == 5.0
    assert control["cr_low"] < 0.5 < control["cr_high"]
    assert control["p_best_conversion"] + one_page["p_best_conversion"] == pytest.approx(1.0, abs=1e-3)
    assert one_page["p_best_revenue"] > 0.5
    result = _invoke(kpi_settings, "experiment", "--id", "exp-none")
    assert result.exit_code == 0 and "no profile exposed to experiment 'exp-none'" in result.output
    # The raw KPI takes --id too.
    assert _ok(kpi_settings, "experiment_variants", "--id", "exp-a", *RANGE, "--format", "csv").splitlines() == [
        "variant_id,profiles,converters,revenue,revenue_sq", "control,2,1,10.00,100.0000",
        "one-page,1,1,30.29,917.4841"]


@pytest.mark.integration
def test_rollup_backfill_command(kpi_rows: KpiRows, kpi_settings: Settings) -> None:
    _scenario(kpi_rows)
    kpi_rows.client.command(f"TRUNCATE TABLE {kpi_rows.database}.kpi_hourly_state")
    result = _invoke(kpi_settings, "rollup-backfill")
    assert result.exit_code == 0, result.output
    assert "rolled up 6 stored touchpoint row(s)" in result.output
    assert kpi_rows.client.query(
        f"SELECT sum(revenue) FROM {kpi_rows.database}.kpi_hourly").result_rows[0][0] == Decimal("40.29")


@pytest.mark.parametrize(("args", "fragments"), [
    (["revenue", "--by", "country"], ["'--by'", "'country' is not one of 'channel', 'campaign', 'device', 'segment'"]),
    (["revenue", "--from", "last week"], ["'--from'", "ISO-8601", "'last week'"]),
    (["revenue", "--format", "xml"], ["'--format'", "'table', 'csv', 'json'"]),
    (["nope"], ["NAME", "no KPI named 'nope'", "conversion_rate", "experiment", "rollup-backfill"]),
    (["funnel", "--by", "channel"], ["'--by'", "does not apply to funnel", "clv, conversion_rate, revenue"]),
    (["experiment"], ["needs --id"]),
    (["funnel", "--id", "exp-a"], ["'--id'", "experiment and experiment_variants"]),
])
def test_errors_name_the_option_and_the_allowed_values(args: list[str], fragments: list[str]) -> None:
    result = _invoke(None, *args)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


@pytest.mark.integration
def test_an_empty_range_before_the_start_is_refused(kpi_settings: Settings) -> None:
    result = _invoke(kpi_settings, "funnel", "--from", "2026-03-08", "--to", "2026-03-01")
    assert result.exit_code == 2
    assert "--from (2026-03-08T00:00:00+00:00) must be before --to (2026-03-01T00:00:00+00:00)" in result.output
