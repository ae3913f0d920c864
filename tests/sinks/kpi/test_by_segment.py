"""``--by segment``: the KPIs with a dimension, grouped by each person's real-time segments now.

segment_memberships rows as the stream writes them: the members now are the
highest version per (profile, segment) that is an entry (segment_members_current).
A person in several segments counts in each segment's row; people in none in
'(none)'. The range is [2026-03-01, 2026-03-08).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from infra.settings import Settings
from tests.sinks.kpi.fixtures import KpiRows
from tests.sinks.kpi.test_cli import RANGE, _ok
from tests.sinks.kpi.test_kpis import run

pytestmark = pytest.mark.integration


def _people(r: KpiRows) -> None:
    """ann: vip and omnichannel, 2 orders (one through her merged cookie); bob: left vip, 1 order;
    eve: never in a segment, 1 order without a journey; dan: omnichannel (left, back) and new, no order."""
    r.touch("email_click", "2026-03-02 09:00", profile="ann", channel="email")
    p1 = r.touch("purchase", "2026-03-02 10:30", profile="ann", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", conversion_event_id=p1["event_id"])
    r.touch("purchase", "2026-03-05 12:00", profile="c1", identity_key="anonymous_id:c1", revenue="5.50")
    r.assign("anonymous_id:c1", "ann")  # the cookie's profile merged into ann: her segments count for it
    p3 = r.touch("purchase", "2026-03-03 11:00", profile="bob", revenue="20.00")
    r.journey("bob", "2026-03-03 10:00", "2026-03-03 11:00", conversion_event_id=p3["event_id"])
    r.touch("purchase", "2026-03-04 15:00", profile="eve", revenue="10.00")
    r.touch("page_view", "2026-03-05 09:00", profile="dan")
    r.segment("ann", "vip")
    r.segment("ann", "omnichannel")
    r.segment("bob", "vip")
    r.segment("bob", "vip", version=2, change="left")
    r.segment("dan", "omnichannel")
    r.segment("dan", "omnichannel", version=2, change="left")
    r.segment("dan", "omnichannel", version=3)
    r.segment("dan", "new")
    r.segment("c1", "new")
    r.segment("c1", "new", version=2, change="left")  # the merged-away profile left when its touches moved
    r.flush()
    r.flush({"segment_memberships": [r.segment("dan", "new")]})  # a replayed change: still one member


def test_conversion_rate_revenue_and_clv_by_segment(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    _people(r)
    # vip: ann (converted) -> 1/1. omnichannel: ann, dan -> 1/2. new: dan -> 0/1. (none): bob (converted), eve -> 1/2.
    assert run(r, "conversion_rate", by="segment") == [
        ("(none)", 2, 1, 0.5), ("omnichannel", 2, 1, 0.5), ("new", 1, 0, 0.0), ("vip", 1, 1, 1.0)]
    # ann's two orders (30.00 + her cookie's 5.50) in each of her segments; bob's and eve's in (none).
    assert run(r, "revenue", by="segment") == [
        ("omnichannel", 2, Decimal("35.50"), Decimal("17.75")), ("vip", 2, Decimal("35.50"), Decimal("17.75")),
        ("(none)", 2, Decimal("30.00"), Decimal("15.00"))]
    # Customers acquired in the range: ann (2 orders, 35.50), bob and eve (1 each).
    assert run(r, "clv", by="segment") == [
        ("omnichannel", 1, 2, Decimal("35.50"), Decimal("35.50")), ("vip", 1, 2, Decimal("35.50"), Decimal("35.50")),
        ("(none)", 2, 2, Decimal("30.00"), Decimal("15.00"))]
    # Other dimensions ignore the segments: every order once.
    assert run(r, "revenue", by="channel") == [("web", 4, Decimal("65.50"), Decimal("16.38"))]


def test_nobody_in_a_segment_is_all_none(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    r.touch("page_view", "2026-03-02 10:00", profile="ann")
    r.flush()
    assert run(r, "conversion_rate", by="segment") == [("(none)", 1, 0, 0.0)]


def test_the_cli_by_segment(kpi_rows: KpiRows, kpi_settings: Settings) -> None:
    _people(kpi_rows)
    out = _ok(kpi_settings, "revenue", *RANGE, "--by", "segment", "--format", "csv")
    assert out.splitlines() == ["dim,orders,revenue,avg_order_value", "omnichannel,2,35.50,17.75", "vip,2,35.50,17.75",
                                "(none),2,30.00,15.00"]
