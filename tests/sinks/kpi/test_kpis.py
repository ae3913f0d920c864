"""Every KPI on small hand-built rows in the real engine; each expected row is worked out in the test.

People are named (ann, bob, ...): ``touch(profile="ann")`` stores a touchpoint
of profile ``p-ann`` under identity key ``user_id:ann``. The range is
[2026-03-01, 2026-03-08) unless a test says otherwise: a row at 03-01 00:00 is
inside, one at 03-08 00:00 outside.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from sinks import kpi
from tests.sinks.kpi.fixtures import KpiRows, at

pytestmark = pytest.mark.integration

START, END = at("2026-03-01 00:00"), at("2026-03-08 00:00")
SEND = ("email_send", "sms_send", "push_send")


def run(rows: KpiRows, name: str, start: datetime = START, end: datetime = END, **params: object) -> list[tuple]:
    return kpi.run(rows.client, name, rows.database, start, end, **params)[1]


def test_conversion_rate_by_channel_campaign_device_with_a_merge_and_the_range_edges(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    r.touch("email_click", "2026-03-02 09:00", profile="ann", channel="email", campaign="spring")
    r.touch("page_view", "2026-03-02 10:00", profile="ann")
    purchase = r.touch("purchase", "2026-03-02 10:30", profile="ann", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", conversion_event_id=purchase["event_id"])
    # ann's phone cookie, stored under its own profile; identity later merged it into ann.
    r.touch("page_view", "2026-03-04 10:00", profile="c1", identity_key="anonymous_id:c1", device_type="mobile")
    r.assign("anonymous_id:c1", "ann")
    r.touch("email_send", "2026-03-02 08:00", profile="bob", channel="email", campaign="spring")  # not a touch
    r.touch("page_view", "2026-03-03 11:00", profile="bob", device_type="mobile")
    # eve: touch and conversion exactly at the start (inside).
    r.touch("social_click", "2026-03-01 00:00", profile="eve", channel="social")
    r.journey("eve", "2026-02-28 12:00", "2026-03-01 00:00", conversion_type="subscription")
    # fay converted a millisecond before the start: touched, not a converter.
    r.touch("page_view", "2026-03-02 12:00", profile="fay")
    r.journey("fay", "2026-02-28 12:00", "2026-02-28 23:59:59.999")
    # dee: everything exactly at the end (outside).
    r.touch("page_view", "2026-03-08 00:00", profile="dee")
    r.journey("dee", "2026-03-07 00:00", "2026-03-08 00:00")
    r.flush()
    r.flush({"touchpoints": [purchase]})  # the purchase replayed in another batch

    # web: ann (twice: her own touches and her merged cookie's), bob, fay -> 3 people; ann converted -> 1/3.
    # email: ann only (bob's send is not a touch) -> 1/1. social: eve -> 1/1.
    assert run(r, "conversion_rate", by="channel") == [
        ("web", 3, 1, 0.3333), ("email", 1, 1, 1.0), ("social", 1, 1, 1.0)]
    # (not set): ann, bob, fay, eve -> 4, converters ann and eve -> 0.5; spring: ann -> 1/1.
    assert run(r, "conversion_rate", by="campaign") == [("(not set)", 4, 2, 0.5), ("spring", 1, 1, 1.0)]
    # desktop: ann, eve, fay -> 3, converters ann, eve -> 2/3; mobile: bob and ann's merged cookie -> 1/2.
    assert run(r, "conversion_rate", by="device") == [("desktop", 3, 2, 0.6667), ("mobile", 2, 1, 0.5)]
    # Before the merge reached ClickHouse, the cookie would have been a fourth, non-converting person on mobile.


def test_conversion_rate_counts_a_journey_once_when_a_later_version_or_deletion_replaces_it(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    r.touch("page_view", "2026-03-02 10:00", profile="ann")
    r.touch("page_view", "2026-03-02 10:00", profile="bob")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", journey_id="j-ann", converted=False)
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", journey_id="j-ann", version=2)  # converted now
    r.journey("bob", "2026-03-02 09:00", "2026-03-02 10:30", journey_id="j-bob")
    r.journey("bob", "2026-03-02 09:00", "2026-03-02 10:30", journey_id="j-bob", version=2, is_deleted=True)
    r.flush()
    # ann's newest version converted; bob's only conversion was deleted (merged away): 1 of 2.
    assert run(r, "conversion_rate") == [("web", 2, 1, 0.5)]


def test_revenue_orders_and_average_order_value(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    # ann's first purchase: the last campaign touch of its journey is the email click (09:00).
    r.touch("ad_click", "2026-02-27 09:00", profile="ann", channel="display", campaign="summer")  # before the journey
    r.touch("email_click", "2026-03-02 09:00", profile="ann", channel="email", campaign="spring")
    r.touch("page_view", "2026-03-02 10:00", profile="ann")
    p1 = r.touch("purchase", "2026-03-02 10:30", profile="ann", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", conversion_event_id=p1["event_id"])
    # ann's second purchase, in the app: its journey has only a push send with a campaign -> (not set).
    r.touch("push_send", "2026-03-05 11:30", profile="ann", channel="push", device_type="mobile", campaign="push1")
    p2 = r.touch("purchase", "2026-03-05 12:00", profile="ann", channel="app", device_type="mobile", revenue="20.50")
    r.journey("ann", "2026-03-05 11:00", "2026-03-05 12:00", conversion_event_id=p2["event_id"])
    # bob: a store purchase with no journey yet: 30 days back, his social click's campaign.
    r.touch("social_click", "2026-03-01 12:00", profile="bob", channel="social", campaign="fall")
    p3 = r.touch("purchase", "2026-03-03 15:00", profile="bob", channel="store", device_type="pos_terminal",
                 revenue="0.29")
    # eve at the start (in), dee at the end (out).
    r.touch("purchase", "2026-03-01 00:00", profile="eve", revenue="10.00")
    r.touch("purchase", "2026-03-08 00:00", profile="dee", revenue="999.00")
    r.flush()
    r.flush({"touchpoints": [p3]})  # bob's purchase replayed in another batch: still one order

    # web: ann 30.00 + eve 10.00 = 40.00 in 2 orders (20.00); app 20.50; store 0.29 (exact cents).
    assert run(r, "revenue", by="channel") == [
        ("web", 2, Decimal("40.00"), Decimal("20.00")), ("app", 1, Decimal("20.50"), Decimal("20.50")),
        ("store", 1, Decimal("0.29"), Decimal("0.29"))]
    # (not set): ann's app order 20.50 + eve 10.00 = 30.50 / 2 = 15.25; spring 30.00; fall 0.29.
    assert run(r, "revenue", by="campaign") == [
        ("(not set)", 2, Decimal("30.50"), Decimal("15.25")), ("spring", 1, Decimal("30.00"), Decimal("30.00")),
        ("fall", 1, Decimal("0.29"), Decimal("0.29"))]
    assert run(r, "revenue", by="device") == [
        ("desktop", 2, Decimal("40.00"), Decimal("20.00")), ("mobile", 1, Decimal("20.50"), Decimal("20.50")),
        ("pos_terminal", 1, Decimal("0.29"), Decimal("0.29"))]


def test_touches_to_convert_counts_visits_not_events(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    # ann: 4 touchpoints. The email click (no device: its own run, user_id:ann|email) is 1; on laptop d1 the
    # pages at 09:01 and 09:20 are 1, 10:00 (40 min later) is 1, the purchase at 10:30 (exactly 30 min later)
    # is 1. The email send at 09:05 is not a touch.
    r.touch("email_click", "2026-03-02 09:00", profile="ann", channel="email")
    r.touch("email_send", "2026-03-02 09:05", profile="ann", channel="email")
    for t in ("09:01", "09:20", "10:00"):
        page = r.touch("page_view", f"2026-03-02 {t}", profile="ann", device_id="d1")
    p = r.touch("purchase", "2026-03-02 10:30", profile="ann", device_id="d1", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 10:30", conversion_event_id=p["event_id"])
    # bob: a page and the purchase 5 minutes later on one cookie -> 1.
    r.touch("page_view", "2026-03-03 10:00", profile="bob", anonymous_id="a1")
    r.touch("purchase", "2026-03-03 10:05", profile="bob", anonymous_id="a1", revenue="5.00")
    r.journey("bob", "2026-03-03 10:00", "2026-03-03 10:05")
    # eve: a kiosk in the store, then the till 10 minutes later: shared terminals go by the person and
    # channel (user_id:eve|store), so 1 visit, not 2 devices.
    r.touch("store_visit", "2026-03-05 10:00", profile="eve", channel="store", device_type="kiosk", device_id="k1")
    r.touch("purchase", "2026-03-05 10:10", profile="eve", channel="store", device_type="pos_terminal",
            device_id="pos1", revenue="12.00")
    r.journey("eve", "2026-03-05 10:00", "2026-03-05 10:10")
    # cat: 11 pages an hour apart and the purchase an hour after the last -> 12 -> '10+'.
    for hour in range(11):
        r.touch("page_view", f"2026-03-04 {hour:02d}:00", profile="cat", device_id="d3")
    r.touch("purchase", "2026-03-04 11:00", profile="cat", device_id="d3", revenue="1.00")
    r.journey("cat", "2026-03-04 00:00", "2026-03-04 11:00")
    # Not purchases: dee's subscription, fay's open journey; gus bought at the end (outside).
    r.journey("dee", "2026-03-02 00:00", "2026-03-02 01:00", conversion_type="subscription")
    r.journey("fay", "2026-03-02 00:00", "2026-03-02 01:00", converted=False)
    r.journey("gus", "2026-03-07 00:00", "2026-03-08 00:00")
    r.flush()
    r.flush({"touchpoints": [page]})  # a replayed page: still one touch

    # 4 purchases: 1 touchpoint: bob, eve (2 -> 0.5); 4: ann (0.25); 10+: cat (0.25). 2 or more: 2/4.
    expected = {"1": (2, 0.5), "4": (1, 0.25), "10+": (1, 0.25)}
    assert run(r, "touches_to_convert") == [
        (bucket, *expected.get(bucket, (0, 0.0)), 0.5) for bucket in [*map(str, range(1, 10)), "10+"]]


def test_time_to_convert_buckets_are_lower_bound_inclusive(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    end = "2026-03-07 12:00"
    for start in ("2026-03-07 11:00:00.001",  # 59 min 59.999 s: '< 1 h'
                  "2026-03-07 11:00",         # exactly 1 h: '1-24 h'
                  "2026-03-05 12:00",         # 2 d: '1-3 d'
                  "2026-03-04 12:00",         # exactly 3 d: '3-7 d'
                  "2026-02-25 12:00",         # 10 d: '7-14 d'
                  "2026-02-15 12:00",         # 20 d: '14-30 d'
                  "2026-02-05 12:00"):        # exactly 30 d: '30+ d'
        r.journey("ann", start, end)
    r.journey("bob", "2026-03-07 11:30", end, conversion_type="subscription")  # a conversion too: '< 1 h'
    r.journey("cat", "2026-03-07 11:30", end, converted=False)                # open: not a conversion
    # A journey re-emitted with a later version: only the newest counts (10 min -> '< 1 h', not '1-3 d').
    r.journey("dee", "2026-03-05 12:00", end, journey_id="j-dee")
    r.journey("dee", "2026-03-07 11:50", end, journey_id="j-dee", version=2)
    r.flush()
    # 9 conversions: '< 1 h' 3 (3/9 = 0.3333), the six others 1 each (0.1111).
    assert run(r, "time_to_convert") == [
        ("< 1 h", 3, 0.3333), ("1-24 h", 1, 0.1111), ("1-3 d", 1, 0.1111), ("3-7 d", 1, 0.1111),
        ("7-14 d", 1, 0.1111), ("14-30 d", 1, 0.1111), ("30+ d", 1, 0.1111)]


def test_cross_device_share_per_day(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    r.journey("ann", "2026-03-01 09:00", "2026-03-02 10:00", cross_device=True)
    r.journey("bob", "2026-03-02 09:00", "2026-03-02 10:00")
    r.journey("cat", "2026-03-02 09:00", "2026-03-02 23:59:59.999")
    r.journey("dee", "2026-03-03 09:00", "2026-03-03 10:00", cross_device=True)
    r.journey("eve", "2026-03-03 09:00", "2026-03-03 10:00", cross_device=True, converted=False)  # open
    r.journey("fay", "2026-03-07 09:00", "2026-03-08 00:00", cross_device=True)  # at the end: outside
    r.flush()
    # 03-02: ann (cross), bob, cat -> 1/3; 03-03: dee -> 1/1; eve's open journey is no conversion.
    assert run(r, "cross_device_share") == [(date(2026, 3, 2), 3, 1, 0.3333), (date(2026, 3, 3), 1, 1, 1.0)]


def test_top_paths_are_visit_landings_with_repeats_collapsed(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    # ann: a display click on laptop d1 and its page (one visit: display), an email click at 12:00 (email),
    # a page on d1 at 12:01 (a new visit on d1, 3 h later: web) and the purchase in it -> display > email > web.
    r.touch("ad_click", "2026-03-02 09:00", profile="ann", channel="display", device_id="d1")
    r.touch("page_view", "2026-03-02 09:01", profile="ann", device_id="d1")
    r.touch("email_click", "2026-03-02 12:00", profile="ann", channel="email")
    r.touch("page_view", "2026-03-02 12:01", profile="ann", device_id="d1")
    r.touch("purchase", "2026-03-02 12:05", profile="ann", device_id="d1", revenue="30.00")
    r.journey("ann", "2026-03-02 09:00", "2026-03-02 12:05", value="30.00")
    # bob: the same path.
    r.touch("ad_click", "2026-03-03 10:00", profile="bob", channel="display", device_id="d2")
    r.touch("email_click", "2026-03-03 14:00", profile="bob", channel="email")
    r.touch("purchase", "2026-03-03 14:02", profile="bob", device_id="d2", revenue="10.00")
    r.journey("bob", "2026-03-03 10:00", "2026-03-03 14:02", value="10.00")
    # dee: a direct visit that bought -> direct.
    r.touch("page_view", "2026-03-04 10:00", profile="dee", channel="direct", device_id="d4")
    r.touch("purchase", "2026-03-04 10:03", profile="dee", device_id="d4", revenue="5.00")
    r.journey("dee", "2026-03-04 10:00", "2026-03-04 10:03", value="5.00")
    # cat and fay, open: display; fay clicked two display ads 2 h apart (display, display -> display).
    r.touch("ad_click", "2026-03-05 10:00", profile="cat", channel="display", device_id="d3")
    r.journey("cat", "2026-03-05 10:00", "2026-03-05 10:00", converted=False)
    r.touch("ad_click", "2026-03-05 09:00", profile="fay", channel="display", device_id="d5")
    r.touch("ad_click", "2026-03-05 11:00", profile="fay", channel="display", device_id="d5")
    r.journey("fay", "2026-03-05 09:00", "2026-03-05 11:00", converted=False)
    # eve's open journey holds only an email send: no path of her own, left out.
    r.touch("email_send", "2026-03-05 09:00", profile="eve", channel="email")
    r.journey("eve", "2026-03-05 09:00", "2026-03-05 09:00", converted=False)
    r.flush()
    assert run(r, "top_paths") == [
        ("display > email > web", 2, 2, 1.0, Decimal("40.00")),
        ("direct", 1, 1, 1.0, Decimal("5.00")),
        ("display", 2, 0, 0.0, Decimal("0.00"))]


def test_channel_overlap_pairs_people_touched_in_both(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    for channel in ("web", "email", "app"):
        r.touch("page_view", "2026-03-02 10:00", profile="ann", channel=channel)
    for channel in ("web", "email"):
        r.touch("page_view", "2026-03-02 10:00", profile="bob", channel=channel)
    r.touch("page_view", "2026-03-02 10:00", profile="cat")
    r.touch("app_open", "2026-03-03 10:00", profile="c9", identity_key="anonymous_id:c9", channel="app")
    r.assign("anonymous_id:c9", "cat")  # cat's app install, merged into cat
    r.touch("page_view", "2026-03-02 10:00", profile="dee")
    r.touch("email_send", "2026-03-02 10:00", profile="dee", channel="email")  # a send: not email for dee
    r.touch("page_view", "2026-03-08 00:00", profile="dee", channel="app")       # at the end: outside
    r.flush()
    # web: ann, bob, cat, dee (4); email: ann, bob (2); app: ann, cat (2).
    # app+web: ann, cat -> 2, 2/2 of app; email+web: ann, bob -> 2, 2/2 of email; app+email: ann -> 1, 1/2.
    assert run(r, "channel_overlap") == [
        ("app", "web", 2, 1.0), ("email", "web", 2, 1.0), ("app", "email", 1, 0.5)]


def test_retention_cohorts_split_single_channel_and_omnichannel(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    start, end = at("2026-03-01 00:00"), at("2026-05-01 00:00")
    # ann: email click, then her first purchase on the web -> omnichannel; buys again in April -> repeat.
    r.touch("email_click", "2026-03-04 10:00", profile="ann", channel="email")
    r.touch("purchase", "2026-03-05 10:00", profile="ann", revenue="10.00")
    r.touch("purchase", "2026-04-10 10:00", profile="ann", revenue="10.00")
    # bob: web only -> single_channel, no repeat.
    r.touch("page_view", "2026-03-10 09:00", profile="bob")
    r.touch("purchase", "2026-03-10 10:00", profile="bob", revenue="10.00")
    # eve: an email send (not a touch) then a web purchase -> single_channel; her second purchase is at the
    # end (outside) -> no repeat.
    r.touch("email_send", "2026-03-19 10:00", profile="eve", channel="email")
    r.touch("purchase", "2026-03-20 10:00", profile="eve", revenue="10.00")
    r.touch("purchase", "2026-05-01 00:00", profile="eve", revenue="10.00")
    # cat: store only, April cohort, repeat.
    r.touch("store_visit", "2026-04-02 09:00", profile="cat", channel="store")
    r.touch("purchase", "2026-04-02 10:00", profile="cat", channel="store", revenue="10.00")
    r.touch("purchase", "2026-04-20 10:00", profile="cat", channel="store", revenue="10.00")
    # fay: social click, then an app purchase -> omnichannel (a later email does not matter).
    r.touch("social_click", "2026-04-01 10:00", profile="fay", channel="social")
    r.touch("purchase", "2026-04-05 10:00", profile="fay", channel="app", revenue="10.00")
    r.touch("email_click", "2026-04-06 10:00", profile="fay", channel="email")
    # dee first bought in February: not a customer of these cohorts.
    r.touch("purchase", "2026-02-15 10:00", profile="dee", revenue="10.00")
    r.touch("purchase", "2026-03-05 10:00", profile="dee", revenue="10.00")
    r.flush()
    assert run(r, "retention_cohorts", start, end) == [
        (date(2026, 3, 1), "single_channel", 2, 0, 0.0),   # bob, eve
        (date(2026, 3, 1), "omnichannel", 1, 1, 1.0),      # ann
        (date(2026, 4, 1), "single_channel", 1, 1, 1.0),   # cat
        (date(2026, 4, 1), "omnichannel", 1, 0, 0.0)]      # fay


def test_clv_is_revenue_to_date_per_customer_by_first_touch(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    start, end = at("2026-03-01 00:00"), at("2026-04-01 00:00")
    # ann: first touch a social click (spring, mobile); two orders 30 + 20.
    r.touch("social_click", "2026-02-20 10:00", profile="ann", channel="social", campaign="spring",
            device_type="mobile")
    r.touch("purchase", "2026-03-05 10:00", profile="ann", revenue="30.00")
    r.touch("purchase", "2026-03-20 10:00", profile="ann", revenue="20.00")
    # bob: an email send first (not a touch), then a web page (desktop, no campaign); one order of 10.
    r.touch("email_send", "2026-02-01 10:00", profile="bob", channel="email", campaign="spring")
    r.touch("page_view", "2026-02-10 10:00", profile="bob")
    r.touch("purchase", "2026-03-10 10:00", profile="bob", revenue="10.00")
    # cat: social (fall, desktop); 5.00 in range, 100 at the end (not yet "to date").
    r.touch("social_click", "2026-02-25 10:00", profile="cat", channel="social", campaign="fall")
    r.touch("purchase", "2026-03-15 10:00", profile="cat", revenue="5.00")
    r.touch("purchase", "2026-04-01 00:00", profile="cat", revenue="100.00")
    # dee was acquired in February: not a customer of this range.
    r.touch("purchase", "2026-02-15 10:00", profile="dee", revenue="7.00")
    r.touch("purchase", "2026-03-15 10:00", profile="dee", revenue="7.00")
    r.flush()
    # social: ann + cat -> 2 customers, 3 orders, 55.00, 27.50 each; web: bob 10.00.
    assert run(r, "clv", start, end, by="channel") == [
        ("social", 2, 3, Decimal("55.00"), Decimal("27.50")), ("web", 1, 1, Decimal("10.00"), Decimal("10.00"))]
    assert run(r, "clv", start, end, by="campaign") == [
        ("spring", 1, 2, Decimal("50.00"), Decimal("50.00")), ("(not set)", 1, 1, Decimal("10.00"), Decimal("10.00")),
        ("fall", 1, 1, Decimal("5.00"), Decimal("5.00"))]
    assert run(r, "clv", start, end, by="device") == [
        ("mobile", 1, 2, Decimal("50.00"), Decimal("50.00")), ("desktop", 2, 2, Decimal("15.00"), Decimal("7.50"))]


def test_contact_frequency_bands_per_profile_week(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    start, end = at("2026-03-02 00:00"), at("2026-03-16 00:00")  # Monday 03-02 .. Sunday 03-15: two ISO weeks
    # ann: week 1 one email ('1'); week 2 two emails and an SMS ('2-3') and she unsubscribes that week.
    r.touch("email_send", "2026-03-03 10:00", profile="ann", channel="email")
    for day in ("09", "10"):
        r.touch("email_send", f"2026-03-{day} 10:00", profile="ann", channel="email")
    r.touch("sms_send", "2026-03-15 23:59:59.999", profile="ann", channel="sms")
    r.touch("unsubscribe", "2026-03-11 10:00", profile="ann", channel="email")
    # bob: 4 pushes and an outbound call ('4-5'); his inbound call is not a contact.
    for day in ("02", "03", "04", "05"):
        r.touch("push_send", f"2026-03-{day} 10:00", profile="bob", channel="push")
    r.touch("call", "2026-03-06 10:00", profile="bob", channel="call_center", properties={"direction": "outbound"})
    r.touch("call", "2026-03-07 10:00", profile="bob", channel="call_center")
    # cat: 10 emails in week 1 ('10+') and unsubscribes.
    for minute in range(10):
        r.touch("email_send", f"2026-03-04 10:{minute:02d}", profile="cat", channel="email")
    r.touch("unsubscribe", "2026-03-05 10:00", profile="cat", channel="email")
    # dee unsubscribed without any contact that week: no profile-week.
    r.touch("unsubscribe", "2026-03-05 10:00", profile="dee", channel="email")
    # eve: two emails in week 1 ('2-3'); the one at the end is outside.
    r.touch("email_send", "2026-03-02 00:00", profile="eve", channel="email")
    r.touch("email_send", "2026-03-08 23:00", profile="eve", channel="email")
    r.touch("email_send", "2026-03-16 00:00", profile="eve", channel="email")
    r.flush()
    # '1': ann w1; '2-3': ann w2 (unsubscribed), eve w1 -> 1/2; '4-5': bob; '10+': cat (unsubscribed).
    assert run(r, "contact_frequency", start, end) == [
        ("1", 1, 0, 0.0), ("2-3", 2, 1, 0.5), ("4-5", 1, 0, 0.0), ("6-9", 0, 0, None), ("10+", 1, 1, 1.0)]


def test_funnel_steps_in_order_within_30_days(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    start, end = at("2026-03-01 00:00"), at("2026-04-01 00:00")
    steps = ("email_click", "page_view", "add_to_cart", "checkout", "purchase")
    for minute, event_type in enumerate(steps):  # ann: every step -> 5
        r.touch(event_type, f"2026-03-02 10:0{minute}", profile="ann")
    for minute, event_type in enumerate(("page_view", "add_to_cart")):  # bob: -> 3
        r.touch(event_type, f"2026-03-02 10:0{minute}", profile="bob")
    r.touch("store_visit", "2026-03-03 10:00", profile="cat", channel="store")  # cat: a store sale -> 1
    r.touch("purchase", "2026-03-03 10:10", profile="cat", channel="store")
    r.touch("email_send", "2026-03-03 10:00", profile="dee", channel="email")  # dee: not a visit -> 0
    r.touch("email_open", "2026-03-03 11:00", profile="dee", channel="email")
    r.touch("add_to_cart", "2026-03-01 00:00", profile="eve")  # eve: a cart (a visit), then a page -> 2
    r.touch("page_view", "2026-03-02 00:00", profile="eve")
    r.touch("page_view", "2026-03-01 00:00", profile="fay")  # fay: the cart 30 d 23 h later is too late -> 2
    r.touch("add_to_cart", "2026-03-31 23:00", profile="fay")
    r.flush()
    # visit: ann bob cat eve fay (5); page_view: ann bob eve fay (4); cart: ann bob (2); checkout, purchase: ann.
    assert run(r, "funnel", start, end) == [
        (1, "visit", 5, 1.0), (2, "page_view", 4, 0.8), (3, "add_to_cart", 2, 0.4), (4, "checkout", 1, 0.2),
        (5, "purchase", 1, 0.2)]


def test_experiment_variants_first_exposure_wins_and_outcomes_follow_it(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    control, one_page = {"exp-a": "control"}, {"exp-a": "one-page"}
    # ann's cookie saw one-page at 08:00, ann (logged in) saw control at 10:00; identity merged the cookie
    # into ann, so her first exposure is one-page. She converts twice after it: 20 + 10.
    r.touch("page_view", "2026-03-02 08:00", profile="c1", identity_key="anonymous_id:c1", experiments=one_page)
    r.assign("anonymous_id:c1", "ann")
    r.touch("page_view", "2026-03-02 10:00", profile="ann", experiments=control)
    r.journey("ann", "2026-03-02 08:00", "2026-03-02 11:00", value="20.00")
    r.journey("ann", "2026-03-03 08:00", "2026-03-04 11:00", value="10.00")
    # bob: control; converted before exposure (99) and after the end (50): neither counts.
    r.touch("page_view", "2026-03-02 10:00", profile="bob", experiments=control)
    r.journey("bob", "2026-02-28 08:00", "2026-03-01 11:00", value="99.00")
    r.journey("bob", "2026-03-08 08:00", "2026-03-09 11:00", value="50.00")
    # cat: control, converts for 5.50. dee: one-page, no conversion.
    r.touch("page_view", "2026-03-03 10:00", profile="cat", experiments={"exp-a": "control", "exp-b": "x"})
    r.journey("cat", "2026-03-05 08:00", "2026-03-05 11:00", value="5.50")
    r.touch("page_view", "2026-03-04 10:00", profile="dee", experiments=one_page)
    # eve is only in another experiment; fay was exposed at the end (outside).
    r.touch("page_view", "2026-03-04 10:00", profile="eve", experiments={"exp-b": "y"})
    r.touch("page_view", "2026-03-08 00:00", profile="fay", experiments=control)
    r.flush()
    # control: bob, cat -> 2 people, 1 converter, 5.50, 5.50^2 = 30.25.
    # one-page: ann, dee -> 2 people, 1 converter, 30.00, 30^2 + 0^2 = 900.
    assert run(r, "experiment_variants", experiment_id="exp-a") == [
        ("control", 2, 1, Decimal("5.50"), Decimal("30.2500")),
        ("one-page", 2, 1, Decimal("30.00"), Decimal("900.0000"))]
    assert run(r, "experiment_variants", experiment_id="exp-none") == []


def test_channel_summary_and_rejects_keep_working_with_a_range(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    purchase = r.touch("purchase", "2026-03-02 10:00", profile="ann", revenue="0.29")
    r.touch("page_view", "2026-03-02 09:00", profile="ann")
    r.touch("page_view", "2026-03-08 00:00", profile="bob")
    r.flush()
    r.flush({"touchpoints": [purchase]})
    # In range: ann's two events; identifiers: the user_id ann.
    assert run(r, "channel_summary") == [("web", 2, 1, 1, Decimal("0.29"), Decimal("0.29"))]
    assert kpi.run(r.client, "channel_summary", r.database)[1] == [("web", 3, 2, 1, Decimal("0.29"), Decimal("0.29"))]
    r.client.insert(f"{r.database}.rejects", [
        ["bad_avro", "cannot decode", "ingest", "t", 0, 1, b"", at("2026-03-02 10:00")],
        ["bad_avro", "cannot decode again", "ingest", "t", 0, 2, b"", at("2026-03-03 10:00")],
        ["bad_avro", "late", "ingest", "t", 0, 3, b"", at("2026-03-08 00:00")]],
        column_names=["reason", "detail", "stage", "source_topic", "source_partition", "source_offset", "payload",
                      "rejected_at"])
    assert run(r, "rejects_by_reason") == [("bad_avro", "ingest", 2, "cannot decode again")]


def test_times_with_milliseconds_bind_exactly(kpi_rows: KpiRows) -> None:
    r = kpi_rows
    r.touch("page_view", "2026-03-02 10:00:00.123", profile="ann")
    r.flush()
    edge = datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert run(r, "conversion_rate", start=edge, end=at("2026-03-03 00:00")) == [("web", 1, 0, 0.0)]
    assert run(r, "conversion_rate", start=START, end=edge) == []
