"""Profile features, list in / features out: activity, orders and revenue at window edges, the cart, the
purchase-path stage, subscription status by the contact policy's rules, channels and devices used."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from streams.journeys.context import touch_extra
from streams.journeys.state import apply, new_state
from streams.optimization.features import STAGE_WINDOW_MS, ProfileFeatures, profile_features, state_features
from streams.optimization.policy import parse_policy
from streams.sessions.touches import Touch

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
PRODUCT = "https://shop.example.com/p/0007"


def touch(t: int, event_type: str = "page_view", channel: str = "web", *, device_type: str = "desktop",
          revenue_cents: int | None = None, page_url: str | None = None, event_id: str | None = None) -> Touch:
    return Touch(t, event_id or f"e-{event_type}-{channel}-{t}", event_type, channel, device_type, None, None, None,
                 page_url, revenue_cents, None, None)


def features(touches: list[Touch], extras: dict | None = None, now: int = NOW, policy=None) -> ProfileFeatures:  # noqa: ANN001
    return profile_features(touches, extras or {}, now, policy)


def cart(t: int, event_type: str, *lines: tuple[str, int]) -> tuple[Touch, dict]:
    """A cart touch and its extras entry, as touch_extra keeps them."""
    record = {"event_type": event_type, "items": [{"sku": s, "quantity": q, "unit_price": "9.90"} for s, q in lines]}
    event = touch(t, event_type)
    extra = touch_extra(record)
    return event, ({event.event_id: extra} if extra else {})


# -- activity, orders, revenue -------------------------------------------------------------------------------

def test_activity_leaves_out_what_was_done_to_the_person() -> None:
    f = features([touch(NOW - 5 * DAY, "email_send", "email", device_type="unknown"),
                  touch(NOW - 4 * DAY, "email_open", "email", device_type="mobile"),
                  touch(NOW - 3 * DAY, "ad_impression", "display"), touch(NOW - 2 * DAY, "sms_send", "sms"),
                  touch(NOW - DAY, "push_send", "push")])
    assert f.activity == (NOW - 4 * DAY,) and f.first_touch == f.last_touch == NOW - 4 * DAY
    assert f.on_record == 5 and f.channels == {"email": NOW - 4 * DAY} and f.device_types == {"mobile": NOW - 4 * DAY}
    assert features([]).on_record == 0 and features([]).stage == "inactive"


def test_orders_and_revenue_in_a_window_to_the_millisecond() -> None:
    window = 90 * DAY
    edge = touch(NOW - window, "purchase", revenue_cents=10_000)  # exactly a window ago: left it
    inside = touch(NOW - window + 1, "purchase", revenue_cents=29)
    later = touch(NOW - DAY, "purchase", revenue_cents=None)  # no revenue: an order worth 0
    f = features([later, edge, inside])
    assert f.orders_within(window) == 2 and f.revenue_within(window) == 29
    assert f.orders_within(window + 1) == 3 and f.revenue_within(window + 1) == 10_029
    assert f.orders_within(DAY) == 0 and f.revenue_within(DAY) == 0  # NOW - DAY itself has left a 1-day window
    assert f.orders_within(DAY + 1) == 1 and f.last_purchase == NOW - DAY
    assert features([touch(NOW + HOUR, "purchase", revenue_cents=5)]).revenue_within(MINUTE) == 5  # clock ahead
    assert f.touches_within(window) == 2


def test_duplicates_count_once() -> None:
    t = touch(NOW - DAY, "purchase", revenue_cents=500)
    assert features([t, t, t]).revenue_within(7 * DAY) == 500


# -- the cart and the stage ----------------------------------------------------------------------------------

def test_open_cart_from_lines_checkout_and_purchase() -> None:
    add, add_x = cart(NOW - 3 * HOUR, "add_to_cart", ("A", 2), ("B", 1))
    remove_a, rm_x = cart(NOW - 2 * HOUR, "remove_from_cart", ("A", 2))
    remove_b, rb_x = cart(NOW - HOUR, "remove_from_cart", ("B", 1))
    extras = add_x | rm_x | rb_x
    assert features([add], extras).open_cart == NOW - 3 * HOUR
    assert features([add, remove_a], extras).open_cart == NOW - 2 * HOUR  # B is left: the last change counts
    assert features([add, remove_a, remove_b], extras).open_cart is None  # emptied
    assert features([remove_b, add, remove_a], extras).stage == "considering"  # any arrival order: emptied
    checkout = touch(NOW - 90 * MINUTE, "checkout")
    assert features([add, checkout], extras).open_cart == NOW - 90 * MINUTE
    assert features([checkout]).open_cart == NOW - 90 * MINUTE  # a checkout holds a cart even without lines
    assert features([checkout, remove_a, remove_b], extras).open_cart is None  # every line removed after it
    purchase = touch(NOW - 30 * MINUTE, "purchase", revenue_cents=1980)
    assert features([add, checkout, purchase], extras).open_cart is None
    no_lines = touch(NOW - 10 * MINUTE, "add_to_cart")
    assert features([add, purchase, no_lines], extras).open_cart == NOW - 10 * MINUTE  # one unknown line
    assert features([no_lines, touch(NOW - MINUTE, "remove_from_cart")]).open_cart is None  # no lines: emptied


def test_the_stage_first_that_holds() -> None:
    old = NOW - STAGE_WINDOW_MS  # exactly the stage window ago: no longer recent
    browse = touch(NOW - DAY, "page_view", page_url="https://shop.example.com/c/sale")
    product = touch(NOW - 2 * DAY, "page_view", page_url=PRODUCT)
    app_product = touch(NOW - 2 * DAY, "page_view", "app", page_url="shopapp://p/0007")
    purchase = touch(NOW - 3 * DAY, "purchase", revenue_cents=100)
    add, extras = cart(NOW - 4 * DAY, "add_to_cart", ("A", 1))
    assert features([add], extras).stage == "cart"
    assert features([add, purchase], extras).stage == "purchased"  # the purchase emptied the cart
    assert features([purchase, product]).stage == "considering"  # after the purchase: shopping again
    assert features([purchase, app_product]).stage == "considering"
    before = touch(NOW - 4 * DAY, "page_view", page_url=PRODUCT)
    assert features([before, purchase]).stage == "purchased"  # before the purchase: that path ended in it
    assert features([purchase, browse]).stage == "purchased"  # a category page after it is no intent
    assert features([touch(NOW - DAY, "offer_view")]).stage == "considering"
    assert features([touch(NOW - DAY, "chat_message", "live_chat")]).stage == "considering"
    assert features([browse]).stage == "browsing"
    assert features([touch(old, "purchase"), browse]).stage == "browsing"
    assert features([touch(old, "purchase")]).stage == "lapsed"
    assert features([touch(old + 1, "purchase")]).stage == "purchased"
    assert features([touch(old, "page_view", page_url=PRODUCT)]).stage == "inactive"
    assert features([touch(NOW - DAY, "email_send", "email")]).stage == "inactive"  # nothing done by the person
    old_cart, old_x = cart(old, "add_to_cart", ("A", 1))
    assert features([old_cart], old_x).stage == "inactive" and features([old_cart], old_x).open_cart == old


# -- subscription, by the contact policy's rules -------------------------------------------------------------

def test_subscription_status_per_channel() -> None:
    def statuses(touches: list[Touch], extras: dict | None = None, policy=None) -> dict[str, set[str]]:  # noqa: ANN001
        return {k: set(v) for k, v in features(touches, extras, policy=policy).subscription.items()}

    everyone = {"email": {"subscribed"}, "sms": {"subscribed"}, "push": {"subscribed"},
                "retargeting": {"subscribed"}, "call_center": {"subscribed"}}
    assert statuses([touch(NOW - DAY)]) == everyone
    unsub = touch(NOW - 3 * DAY, "unsubscribe", "email")
    assert statuses([unsub]) == everyone | {"email": {"unsubscribed"}}
    resub = touch(NOW - 2 * DAY, "subscription", "email")
    assert statuses([resub, unsub]) == everyone  # a later resubscribe on email lifts it, whatever the arrival order
    web = touch(NOW - DAY, "unsubscribe", "web")  # a preference centre: every channel
    assert all(v == {"unsubscribed"} for v in statuses([web]).values())
    withdrawn = touch(NOW - HOUR, "consent_change", "web")
    extras = {withdrawn.event_id: {"c": False}}
    got = statuses([unsub, withdrawn], extras)
    assert got["email"] == {"unsubscribed", "consent_withdrawn"} and got["sms"] == {"consent_withdrawn"}
    service_calls = parse_policy("[channels.call_center]\nmarketing = false")
    assert statuses([withdrawn], extras, service_calls)["call_center"] == {"subscribed"}
    sms_hint = touch(NOW - HOUR, "unsubscribe", "web", event_id="u-hint")
    assert statuses([sms_hint], {"u-hint": {"u": "sms"}})["sms"] == {"unsubscribed"}  # properties.channel


def test_channels_and_device_types_used() -> None:
    f = features([touch(NOW - 40 * DAY, "store_visit", "store", device_type="pos_terminal"),
                  touch(NOW - 2 * DAY, "app_open", "app", device_type="mobile"),
                  touch(NOW - DAY, "page_view", "web", device_type="mobile"),
                  touch(NOW - HOUR, "call", "call_center", device_type="unknown")])
    assert f.used_within(f.channels, 30 * DAY) == {"app", "web", "call_center"}
    assert f.used_within(f.channels, None) == {"store", "app", "web", "call_center"}
    assert f.used_within(f.device_types, 30 * DAY) == {"mobile"}
    assert f.used_within(f.device_types, 40 * DAY + 1) == {"mobile", "pos_terminal"}


def test_state_features_read_every_slot_and_the_pins() -> None:
    state = new_state("p-1")
    touches = [touch(NOW - DAY, "page_view"), touch(NOW - 2 * DAY, "unsubscribe", "email")]
    for ik, t in zip(("device_id:a", "email_sha256:b"), touches):
        apply(state, {"op": "t", "ik": ik, "v": 0, "x": [list(t), ik] + ([{"u": "email"}] if ik[0] == "e" else [])})
    pinned = touch(NOW - 200 * DAY, "consent_change", event_id="pin")  # trimmed long ago, kept as a pin
    state["s"]["email_sha256:b"]["k"] = [[list(pinned), "email_sha256:b", {"c": False}]]
    got = state_features(state, NOW)
    assert got == features([*touches, pinned], {"e-unsubscribe-email-" + str(NOW - 2 * DAY): {"u": "email"},
                                                "pin": {"c": False}})
    assert got.on_record == 3 and got.first_touch == NOW - 200 * DAY
    assert got.subscription["sms"] == {"consent_withdrawn"} and got.subscription["email"] == {
        "unsubscribed", "consent_withdrawn"}
    assert state_features(None, NOW) == features([])


# -- event time only ------------------------------------------------------------------------------------------

EVENT_TYPES = ["page_view", "purchase", "add_to_cart", "remove_from_cart", "checkout", "offer_view", "email_send",
               "unsubscribe", "subscription", "consent_change", "app_open"]


@st.composite
def histories(draw) -> tuple[list[Touch], dict]:  # noqa: ANN001
    n = draw(st.integers(0, 25))
    touches, extras = [], {}
    for i in range(n):
        event_type = draw(st.sampled_from(EVENT_TYPES))
        t = NOW + draw(st.integers(-100 * DAY, DAY))
        event = touch(t, event_type, draw(st.sampled_from(["web", "email", "sms", "app"])),
                      revenue_cents=draw(st.integers(0, 10_000)) if event_type == "purchase" else None,
                      page_url=draw(st.sampled_from([None, PRODUCT])), event_id=f"e{i}")
        touches.append(event)
        if event_type in ("add_to_cart", "remove_from_cart") and draw(st.booleans()):
            extras[event.event_id] = {"i": [[draw(st.sampled_from("AB")), draw(st.integers(1, 3)), "1.00"]]}
        elif event_type == "consent_change":
            extras[event.event_id] = {"c": draw(st.booleans())}
    return touches, extras


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_arrival_order_and_duplicates_do_not_matter(history: tuple[list[Touch], dict], rng: random.Random) -> None:
    touches, extras = history
    shuffled = touches + rng.sample(touches, k=min(3, len(touches)))  # some delivered twice
    rng.shuffle(shuffled)
    assert features(shuffled, extras) == features(touches, extras)
