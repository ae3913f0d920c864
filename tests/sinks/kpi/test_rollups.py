"""Hourly KPI rollups (0006): kept by the materialized view, replay-safe, equal to the KPIs, backfillable."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from sinks import kpi
from sinks.kpi.rollups import backfill
from tests.sinks.kpi.fixtures import KpiRows, at

pytestmark = pytest.mark.integration

H10, H11 = datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11)
NOT_SET = "(not set)"


def _hourly(r: KpiRows) -> list[tuple]:
    return r.client.query(f"SELECT * FROM {r.database}.kpi_hourly ORDER BY hour, event_type, campaign_id").result_rows


def _daily(r: KpiRows) -> list[tuple]:
    return r.client.query(f"SELECT * FROM {r.database}.kpi_daily ORDER BY event_type, campaign_id").result_rows


def _traffic(r: KpiRows) -> dict:
    """Two batches; the second replays ann's purchase (same event id, as a redelivered message would)."""
    r.touch("page_view", "2026-03-02 10:05", profile="ann")
    ann_buys = r.touch("purchase", "2026-03-02 10:20", profile="ann", revenue="30.00")
    r.touch("page_view", "2026-03-02 10:40", profile="bob")
    r.touch("purchase", "2026-03-02 10:50", profile="bob", campaign="spring", revenue="5.00")
    r.flush()
    r.touch("purchase", "2026-03-02 10:59:59.999", profile="cat", revenue="0.29")
    r.touch("page_view", "2026-03-02 11:00", profile="ann")
    r.pending["touchpoints"].append(ann_buys)
    r.flush()
    return ann_buys


# hour, channel, event_type, campaign_id, device_type, touches, profiles, purchases, revenue
EXPECTED_HOURLY = [
    # ann and bob viewed a page between 10:00 and 11:00; ann again at 11:00 (the next hour).
    (H10, "web", "page_view", NOT_SET, "desktop", 2, 2, 0, Decimal("0.00")),
    # ann 30.00 (stored twice, counted once) + cat 0.29 at 10:59:59.999.
    (H10, "web", "purchase", NOT_SET, "desktop", 2, 2, 2, Decimal("30.29")),
    (H10, "web", "purchase", "spring", "desktop", 1, 1, 1, Decimal("5.00")),
    (H11, "web", "page_view", NOT_SET, "desktop", 1, 1, 0, Decimal("0.00")),
]
# The day merges the hours' states: 3 page views by 2 people (ann counted once), not 2 + 1 people.
EXPECTED_DAILY = [
    (date(2026, 3, 2), "web", "page_view", NOT_SET, "desktop", 3, 2, 0, Decimal("0.00")),
    (date(2026, 3, 2), "web", "purchase", NOT_SET, "desktop", 2, 2, 2, Decimal("30.29")),
    (date(2026, 3, 2), "web", "purchase", "spring", "desktop", 1, 1, 1, Decimal("5.00")),
]


def test_rollups_follow_inserts_and_count_a_replayed_event_once(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    _traffic(r)
    assert r.client.query(f"SELECT count() FROM {r.database}.touchpoints").result_rows == [(7,)]  # the replay is stored
    assert _hourly(r) == EXPECTED_HOURLY
    assert _daily(r) == EXPECTED_DAILY
    # The same numbers as the KPI over the deduplicated touchpoints.
    assert kpi.run(r.client, "revenue", r.database, at("2026-03-02 00:00"), at("2026-03-03 00:00"))[1] == [
        ("web", 3, Decimal("35.29"), Decimal("11.76"))]
    # Coarser cuts merge the states: the hour's distinct people over every event type is 3 (ann, bob, cat).
    assert r.client.query(
        f"SELECT uniqMerge(profiles_state), uniqExactMerge(touches_state) FROM {r.database}.kpi_hourly_state "
        "WHERE hour = '2026-03-02 10:00:00'").result_rows == [(3, 5)]


def test_a_backfill_restores_history_and_changes_nothing_counted(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    _traffic(r)
    backfill(r.client, r.database)  # everything is already counted: same numbers
    assert _hourly(r) == EXPECTED_HOURLY
    # History from before the view existed: empty the rollup, then backfill one hour, then the rest.
    r.client.command(f"TRUNCATE TABLE {r.database}.kpi_hourly_state")
    assert _hourly(r) == []
    assert backfill(r.client, r.database, at("2026-03-02 11:00"), at("2026-03-02 12:00")) == 1
    assert _hourly(r) == EXPECTED_HOURLY[3:]
    assert backfill(r.client, r.database) == 7  # rows read, the replay included
    backfill(r.client, r.database)
    assert _hourly(r) == EXPECTED_HOURLY
    assert _daily(r) == EXPECTED_DAILY
