"""Real-time segments: the definitions file, memberships at their edges, and the changes a journey state emits."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from schemas.models import SegmentMembership
from schemas.wire import AvroDecoder, AvroEncoder
from streams.journeys.context import touch_extra
from streams.journeys.state import apply, new_state
from streams.optimization.exceptions import SegmentsError
from streams.optimization.features import profile_features
from streams.optimization.policy import DEFAULT_POLICY
from streams.optimization.segment_changes import REGISTRY, changed_records, emissions
from streams.optimization.segment_definitions import (
    DEFAULT_DEFINITIONS, DEFAULT_TEXT, load_definitions, parse_definitions,
)
from streams.optimization.segments import memberships, next_change_at, profile_segments
from streams.sessions.touches import Touch

EXAMPLE = Path(__file__).parents[3] / "infra" / "segments.example.toml"
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
AT = datetime.fromtimestamp(NOW / 1000, timezone.utc)


def touch(t: int, event_type: str = "page_view", channel: str = "web", *, revenue_cents: int | None = None,
          device_type: str = "desktop", event_id: str | None = None) -> Touch:
    return Touch(t, event_id or f"e-{event_type}-{channel}-{t}", event_type, channel, device_type, None, None, None,
                 None, revenue_cents, None, None)


def segments(touches: list[Touch], extras: dict | None = None, now: int = NOW, definitions=DEFAULT_DEFINITIONS,  # noqa: ANN001
             ) -> set[str]:
    return memberships(profile_features(touches, extras or {}, now), definitions)


# -- the file ------------------------------------------------------------------------------------------------

def test_the_defaults_are_the_example_file_and_the_version_ignores_layout() -> None:
    assert DEFAULT_DEFINITIONS.names == ("vip", "cart_abandoner", "lapsed", "new", "omnichannel", "unsubscribed_email")
    assert load_definitions(EXAMPLE).version == DEFAULT_DEFINITIONS.version
    assert parse_definitions("# comment\n" + DEFAULT_TEXT.replace(" = ", "=")).version == DEFAULT_DEFINITIONS.version
    assert parse_definitions("").segments == {}


@pytest.mark.parametrize(("text", "message"), [
    ("[segments.vip", r"not valid TOML"),
    ('[segments."VIP Club"]\nall = [{stage = "cart"}]', r"segments: segment names \['VIP Club'\] must be lower-case"),
    ("[segments.vip]\ndescription = 'x'", r"segments\.vip: no conditions: give all = \[\.\.\.\] and/or any"),
    ("[segments.vip]\nall = []", r"segments\.vip: no conditions"),
    ("[segments.vip]\nwhen = []", r"segments\.vip\.when: not a setting of a segment: use description, all, any"),
    ('[segments.vip]\nall = [{revenu = {window = "90d", min = 500}}]',
     r"segments\.vip\.all\[0\]\.revenu: not a condition or one of its settings \(misspelt\? conditions: all, any,"),
    ('[segments.vip]\nall = [{revenue = {window = "90x", min = 500}}]',
     r"segments\.vip\.all\[0\]\.revenue\.window: '90x' is not a duration"),
    ('[segments.vip]\nall = [{revenue = {window = "91d", min = 500}}]', r"'91d' is longer than 90 days"),
    ('[segments.vip]\nall = [{revenue = {window = "90d"}}]', r"revenue: give min, max or both"),
    ('[segments.vip]\nall = [{revenue = {window = "90d", min = "4.999"}}]', r"revenue\.min: '4\.999' has more than 2"),
    ('[segments.vip]\nall = [{revenue = {window = "90d", min = 9, max = 5}}]', r"min 9 is above max 5"),
    ('[segments.vip]\nall = [{revenue = {window = "90d", min = -1}}]', r"revenue\.min: Input should be greater"),
    ('[segments.x]\nall = [{orders = {window = "30d", min = 1}, stage = "cart"}]',
     r"segments\.x\.all\[0\]: a condition has exactly one of .*; got orders, stage \(put several in all"),
    ("[segments.x]\nall = [{}]", r"segments\.x\.all\[0\]: a condition has exactly one of .*; got none"),
    ('[segments.x]\nany = [{all = []}]', r"segments\.x\.any\[0\]: all is empty"),
    ('[segments.x]\nall = [{stage = "carts"}]', r"segments\.x\.all\[0\]\.stage\[0\]: 'carts' is not one of 'cart'"),
    ('[segments.x]\nall = [{subscription = {fax = "unsubscribed"}}]',
     r"subscription\.fax: 'fax' is not one of 'email', 'sms'"),
    ('[segments.x]\nall = [{subscription = {email = "gone"}}]',
     r"subscription\.email\[0\]: 'gone' is not one of 'subscribed', 'unsubscribed' or 'consent_withdrawn'"),
    ('[segments.x]\nall = [{channels = {any_of = ["tv"]}}]', r"channels: unknown channel\(s\) \['tv'\]"),
    ('[segments.x]\nall = [{device_types = {any_of = "unknown"}}]', r"device_types: unknown device type\(s\)"),
    ('[segments.x]\nall = [{channels = {window = "7d"}}]', r"channels: give any_of \(a non-empty list\), min_distinct"),
    ('[segments.x]\nall = [{any = [{last_touch = {}}]}]', r"segments\.x\.all\[0\]\.any\[0\]\.last_touch: give within"),
    ('[segments.x]\nall = [{last_touch = {within = "1d", older_than = "1d"}}]', r"must be longer than older_than"),
    ("[segment.x]", r"segment: not a setting of the segment definitions: put segments under \[segments\.<name>\]"),
])
def test_a_bad_file_names_the_segment_the_field_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(SegmentsError, match=r"^segment definitions f\.toml: .*" + message):
        parse_definitions(text, "f.toml")


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SegmentsError, match=r"no such file \(set TOUCHLINE_SEGMENTS_FILE"):
        load_definitions(tmp_path / "nope.toml")


# -- the default segments at their edges ----------------------------------------------------------------------

def test_vip_from_revenue_in_90_days_to_the_cent_and_the_millisecond() -> None:
    assert "vip" in segments([touch(NOW - DAY, "purchase", revenue_cents=50_000)])
    assert "vip" not in segments([touch(NOW - DAY, "purchase", revenue_cents=49_999)])
    split = [touch(NOW - 90 * DAY + 1, "purchase", revenue_cents=30_000), touch(NOW - HOUR, "purchase",
                                                                                revenue_cents=20_000)]
    assert "vip" in segments(split)
    assert "vip" not in segments(split, now=NOW + 1)  # the older purchase leaves the window at NOW - 90d + 1 + 90d


def test_cart_abandoner_an_hour_after_the_last_cart_change() -> None:
    add = touch(NOW - HOUR, "add_to_cart")
    assert "cart_abandoner" in segments([add])
    assert "cart_abandoner" not in segments([add], now=NOW - 1)  # 1 ms short of an hour
    assert "cart_abandoner" in segments([add, touch(NOW - MINUTE)])  # later browsing: still abandoned
    assert "cart_abandoner" not in segments([add, touch(NOW - MINUTE, "purchase", revenue_cents=100)])
    assert "cart_abandoner" not in segments([add], now=NOW - HOUR + 30 * DAY)  # no longer a recent cart


def test_lapsed_new_omnichannel_unsubscribed_email() -> None:
    purchase = touch(NOW - 60 * DAY, "purchase", revenue_cents=100)
    assert segments([purchase]) == {"lapsed"}
    assert segments([purchase], now=NOW - 1) == set()  # the purchase 1 ms short of 60 days
    assert segments([purchase, touch(NOW - 30 * DAY + 1)]) == set()  # active 1 ms inside the 30 days
    assert segments([purchase, touch(NOW - 30 * DAY, "email_send", "email")]) == {"lapsed"}  # sends are no activity
    assert segments([touch(NOW - 30 * DAY + 1)]) == {"new"}
    assert segments([touch(NOW - 30 * DAY)]) == set()
    three = [touch(NOW - 89 * DAY, "store_visit", "store"), touch(NOW - 2 * DAY, "app_open", "app"),
             touch(NOW - DAY, "email_open", "email")]
    assert segments(three) == {"omnichannel"}
    assert segments(three, now=NOW + DAY) == set()  # the store visit is 90 days old: 2 channels
    unsub = touch(NOW - 100 * DAY, "unsubscribe", "email")
    assert segments([unsub]) == {"unsubscribed_email"}  # an opt-out never ages out
    consent = touch(NOW - DAY, "consent_change", event_id="c1")
    assert segments([consent], {"c1": {"c": False}}) == {"new", "unsubscribed_email"}
    assert segments([consent], {"c1": {"c": True}}) == {"new"}


def test_a_profile_without_touches_is_in_no_segment() -> None:
    everyone = parse_definitions('[segments.all]\nall = [{subscription = {email = "subscribed"}}]')
    assert segments([], definitions=everyone) == set()
    assert segments([touch(NOW - DAY, "email_send", "email")], definitions=everyone) == {"all"}


# -- the rule language -----------------------------------------------------------------------------------------

def test_all_any_and_nesting() -> None:
    d = parse_definitions("""
[segments.mobile_buyer]
all = [{ orders = { window = "30d", min = 1 } }, { device_types = { window = "30d", any_of = ["mobile", "tablet"] } }]

[segments.engaged]
any = [{ touches = { window = "7d", min = 3 } }, { all = [{ stage = "cart" }, { orders = { window = "90d", max = 0 } }] }]

[segments.both]
all = [{ last_touch = { within = "2d", older_than = "1h" } }]
any = [{ channels = { any_of = ["store", "app"] } }, { channels = { min_distinct = 3 } }]
""")
    mobile = touch(NOW - DAY, "purchase", device_type="mobile", revenue_cents=1)
    assert segments([mobile], definitions=d) == {"mobile_buyer", "both"} - {"both"}  # web, 1 channel: not both
    assert segments([mobile, touch(NOW - 2 * HOUR, "app_open", "app")], definitions=d) == {"mobile_buyer", "both"}
    pages = [touch(NOW - n * DAY) for n in (1, 2, 3)]
    assert segments(pages, definitions=d) == {"engaged"}
    assert segments(pages[:2] + [touch(NOW - DAY, "add_to_cart")], definitions=d) == {"engaged"}
    assert segments(pages[:1] + [touch(NOW - 50 * DAY, "purchase"), touch(NOW - DAY, "add_to_cart")],
                    definitions=d) == set()  # a cart, but an order in 90 days
    assert segments([touch(NOW - 2 * DAY, "app_open", "app")], definitions=d) == set()  # exactly 2 days: not within


@st.composite
def histories(draw) -> list[Touch]:  # noqa: ANN001
    kinds = ["page_view", "purchase", "add_to_cart", "email_open", "app_open", "store_visit", "email_send"]
    return [touch(NOW + draw(st.integers(-95 * DAY, HOUR)), kind := draw(st.sampled_from(kinds)),
                  draw(st.sampled_from(["web", "app", "store", "email", "sms"])),
                  revenue_cents=draw(st.integers(0, 40_000)) if kind == "purchase" else None, event_id=f"e{i}")
            for i in range(draw(st.integers(0, 20)))]


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_memberships_ignore_arrival_order_and_duplicates(touches: list[Touch], rng: random.Random) -> None:
    again = touches + rng.sample(touches, k=min(4, len(touches)))
    rng.shuffle(again)
    assert segments(again) == segments(touches)


@settings(max_examples=300, deadline=None)
@given(st.integers(-100 * DAY, DAY), st.integers(1, 90 * 24), st.integers(-2, 2))
def test_an_order_counts_exactly_while_younger_than_the_window(t: int, hours: int, offset: int) -> None:
    window = hours * HOUR
    d = parse_definitions(f'[segments.buyer]\nall = [{{orders = {{window = "{hours}h", min = 1}}}}]')
    now = NOW + t + window + offset  # the purchase is at NOW + t; it leaves the window at NOW + t + window
    assert (segments([touch(NOW + t, "purchase")], now=now, definitions=d) == {"buyer"}) == (offset < 0)


# -- changes from a journey state ----------------------------------------------------------------------------

def add(state: dict, ik: str, n: int, event_type: str, channel: str, at_ms: int, **record: object) -> None:
    t = Touch(at_ms, f"e{n}", event_type, channel, "desktop", None, None, None, None,
              record.pop("revenue_cents", None), None, None)
    extra = touch_extra({"event_type": event_type, **record})
    apply(state, {"op": "t", "ik": ik, "v": 0, "x": [list(t), ik] + ([extra] if extra else [])})


def test_only_changes_are_emitted_with_versions_that_repeat_on_replay_and_never_reset() -> None:
    state = new_state("p-1")
    add(state, "device_id:a", 1, "add_to_cart", "web", NOW - 2 * HOUR, items=[{"sku": "A", "quantity": 1,
                                                                                  "unit_price": "600.00"}])
    members, records = changed_records(state, AT, "e1", DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    assert members == {"cart_abandoner", "new"}
    assert [(r["segment"], r["version"], r["change"], r["caused_by_event_id"]) for r in records] == [
        ("cart_abandoner", 1, "entered", "e1"), ("new", 1, "entered", "e1")]  # definition order
    assert state[REGISTRY] == {"cart_abandoner": [1, 1], "new": [1, 1]}
    assert changed_records(state, AT, "e1", DEFAULT_DEFINITIONS, DEFAULT_POLICY)[1] == []  # nothing changed

    before = copy.deepcopy(state)
    add(state, "device_id:a", 2, "purchase", "web", NOW - HOUR, revenue_cents=60_000)
    _, records = changed_records(state, AT, "e2", DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    assert [(r["segment"], r["version"], r["change"]) for r in records] == [
        ("vip", 1, "entered"), ("cart_abandoner", 2, "left")]
    replayed = copy.deepcopy(before)  # the state was not written: the batch is replayed
    add(replayed, "device_id:a", 2, "purchase", "web", NOW - HOUR, revenue_cents=60_000)
    assert changed_records(replayed, AT, "e2", DEFAULT_DEFINITIONS, DEFAULT_POLICY)[1] == records

    add(state, "device_id:a", 3, "add_to_cart", "web", NOW - 2 * HOUR + 1)  # before the purchase: no cart
    # In the purchase's millisecond, after it by event id (e4 > e2): a cart again, exactly an hour old.
    add(state, "device_id:a", 4, "add_to_cart", "web", NOW - HOUR)
    _, records = changed_records(state, AT, "e4", DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    assert [(r["segment"], r["version"], r["change"]) for r in records] == [("cart_abandoner", 3, "entered")]
    record = records[0]
    assert record["definitions_version"] == DEFAULT_DEFINITIONS.version and record["evaluated_at"] == AT
    decoded, _ = AvroDecoder("segment_membership").decode(AvroEncoder("segment_membership").encode(record))
    assert SegmentMembership.from_avro(decoded).model_dump() == record


def test_a_merge_leaves_the_old_profile_and_enters_the_survivor() -> None:
    old, survivor = new_state("p-old"), new_state("p-new")
    add(old, "email_sha256:a", 1, "purchase", "web", NOW - DAY, revenue_cents=70_000)
    assert [r["change"] for r in changed_records(old, AT, "e1", DEFAULT_DEFINITIONS, DEFAULT_POLICY)[1]] == [
        "entered", "entered"]  # vip, new
    sends, _ = apply(old, {"op": "m", "ik": "email_sha256:a", "v": 1, "to": "p-new"})
    _, left = changed_records(old, AT, None, DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    assert [(r["segment"], r["version"], r["change"], r["caused_by_event_id"]) for r in left] == [
        ("vip", 2, "left", None), ("new", 2, "left", None)]
    for _, msg in sends:
        apply(survivor, msg)
    members, entered = changed_records(survivor, AT, "e1", DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    assert members == {"vip", "new"} and [(r["profile_id"], r["version"]) for r in entered] == [("p-new", 1)] * 2


def test_a_removed_segment_is_left_and_its_version_kept() -> None:
    state = new_state("p-1")
    add(state, "device_id:a", 1, "page_view", "web", NOW - DAY)
    changed_records(state, AT, "e1", DEFAULT_DEFINITIONS, DEFAULT_POLICY)
    only_vip = parse_definitions(DEFAULT_TEXT.split("[segments.cart_abandoner]")[0])
    assert emissions(state, profile_segments(state, NOW, only_vip, DEFAULT_POLICY), only_vip) == [("new", 2, "left")]
    assert emissions(state, {"new"}, DEFAULT_DEFINITIONS) == [("new", 3, "entered")]  # back: the next version
    nobody = new_state("p-2")
    assert emissions(nobody, set(), DEFAULT_DEFINITIONS) == [] and REGISTRY not in nobody


# -- when time alone may change a membership (the segment ticks) ------------------------------------------------

def test_next_change_is_the_earliest_touch_time_plus_a_duration_the_definitions_use() -> None:
    def due(touches: list[Touch], now: int = NOW) -> int | None:
        return next_change_at(profile_features(touches, {}, now), DEFAULT_DEFINITIONS)

    add = touch(NOW - 59 * MINUTE, "add_to_cart")
    assert due([add]) == NOW + MINUTE  # cart_abandoner: the open cart an hour old
    assert "cart_abandoner" in segments([add], now=NOW + MINUTE)
    assert due([add], now=NOW + MINUTE) == NOW - 59 * MINUTE + 30 * DAY  # then: the stage window, and `new`
    purchase = touch(NOW - 59 * DAY, "purchase", revenue_cents=1)
    assert due([purchase], now=NOW - DAY + 1) == NOW + DAY  # lapsed: purchase 60 days old (activity 30 already)
    assert due([], now=NOW) is None
    assert next_change_at(profile_features([add], {}, NOW), parse_definitions("")) is None
    subscribed = parse_definitions('[segments.s]\nall = [{subscription = {email = "unsubscribed"}}]')
    assert next_change_at(profile_features([touch(NOW, "unsubscribe", "email")], {}, NOW), subscribed) is None


@settings(max_examples=200, deadline=None)
@given(histories(), st.lists(st.integers(0, 95 * DAY), min_size=1, max_size=5))
def test_no_membership_changes_before_the_next_change(touches: list[Touch], offsets: list[int]) -> None:
    now = NOW
    for _ in range(4):  # follow a few changes along
        due = next_change_at(profile_features(touches, {}, now), DEFAULT_DEFINITIONS)
        members = segments(touches, now=now)
        later = [now + o for o in offsets if due is None or now + o < due]
        assert all(segments(touches, now=t) == members for t in later), (now, due)
        if due is None:
            break
        now = due
