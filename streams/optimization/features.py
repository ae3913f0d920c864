"""Profile features for real-time segments: what a person did, computed from their stitched touches.

A pure function of the touches the journey state holds for a profile (every
device and identifier, following merges; pins included: streams/journeys/state.py)
and their extras (streams/journeys/context.py ``touch_extra``), evaluated at
``now_ms``. Everything is event time: the same touches in any order give the
same features. Windows hold a touch while ``now - window < t`` (as contact
caps count), so at ``t + window`` exactly it has left; a touch stamped after
``now`` (a device clock ahead) is inside every window.

- **activity**: every touch except what was done *to* the person
  (``PASSIVE``: outbound sends and ad impressions); recency and frequency
  count activity, so an unopened email keeps nobody active;
- **orders**: ``purchase`` touches, with their revenue (cents, currencies not
  converted; a purchase without revenue counts 0);
- **open cart**: after the last purchase, cart lines added (``add_to_cart``)
  and not removed (``remove_from_cart``), or a ``checkout`` since the cart was
  last emptied; its time is the last cart event's. Lines come from the
  touches' extras; an add without lines counts as one unknown line, a removal
  without lines empties the cart;
- **stage** (purchase path, the first that holds; "recent" = within
  ``STAGE_WINDOW_MS``, 30 days, the journey lookback):

  1. ``cart``: an open cart changed recently;
  2. ``considering``: a recent intent touch after the last purchase: an
     ``offer_view``, a ``chat_message``, a cart event, or a ``page_view`` of a
     product page (``page_url`` containing ``/p/``: the shop's and the app's);
  3. ``purchased``: a recent purchase;
  4. ``browsing``: any recent activity;
  5. ``lapsed``: a purchase on record, no recent activity;
  6. ``inactive``: no recent activity and no purchase on record (or no touches);

- **subscription** per contact channel (email, sms, push, retargeting,
  call_center), by the contact policy's own rules (streams/optimization/pressure.py
  ``subscriptions``): ``unsubscribed``, ``consent_withdrawn`` (a marketing
  channel after a withdrawal), else ``subscribed`` (nothing on record stops
  marketing on it: opt-out, as the contact policy reads it);
- **channels** and **device types** used: the last activity time of each
  (device type ``unknown`` is no device type).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from streams.optimization.policy import CHANNELS, DEFAULT_POLICY, ContactPolicy
from streams.optimization.pressure import subscriptions
from streams.sessions.touches import Touch

DAY_MS = 86_400_000
STAGE_WINDOW_MS = 30 * DAY_MS
PASSIVE = frozenset({"email_send", "sms_send", "push_send", "ad_impression"})
PURCHASE = "purchase"
CART_ADD, CART_REMOVE, CHECKOUT = "add_to_cart", "remove_from_cart", "checkout"
INTENT = frozenset({"offer_view", "chat_message", CART_ADD, CART_REMOVE, CHECKOUT})
PRODUCT_PAGE = "/p/"
STAGES = ("cart", "considering", "purchased", "browsing", "lapsed", "inactive")
STATUSES = ("subscribed", "unsubscribed", "consent_withdrawn")


@dataclass(frozen=True)
class ProfileFeatures:
    now: int
    on_record: int = 0  # touches of any kind (passive ones too): 0 for a profile with none, in no segment
    activity: tuple[int, ...] = ()  # activity times, ascending
    purchases: tuple[int, ...] = ()  # purchase times, ascending
    revenue_to: tuple[int, ...] = ()  # revenue_to[i]: cents of purchases[0..i] together
    open_cart: int | None = None  # when the open cart last changed
    intent_at: int | None = None  # the last intent touch after the last purchase (stage considering)
    stage: str = "inactive"
    channels: Mapping[str, int] = field(default_factory=dict)  # channel -> last activity on it
    device_types: Mapping[str, int] = field(default_factory=dict)
    subscription: Mapping[str, frozenset[str]] = field(default_factory=dict)  # contact channel -> statuses

    @property
    def first_touch(self) -> int | None:
        return self.activity[0] if self.activity else None

    @property
    def last_touch(self) -> int | None:
        return self.activity[-1] if self.activity else None

    @property
    def last_purchase(self) -> int | None:
        return self.purchases[-1] if self.purchases else None

    def touches_within(self, window_ms: int) -> int:
        return len(self.activity) - bisect_right(self.activity, self.now - window_ms)

    def orders_within(self, window_ms: int) -> int:
        return len(self.purchases) - bisect_right(self.purchases, self.now - window_ms)

    def revenue_within(self, window_ms: int) -> int:
        """Cents of the purchases inside the window."""
        first = bisect_right(self.purchases, self.now - window_ms)
        if first == len(self.purchases):
            return 0
        return self.revenue_to[-1] - (self.revenue_to[first - 1] if first else 0)

    def used_within(self, used: Mapping[str, int], window_ms: int | None) -> set[str]:
        """The channels (or device types) of ``used`` with activity inside the window (None: any on record)."""
        if window_ms is None:
            return set(used)
        start = self.now - window_ms
        return {name for name, last in used.items() if last > start}


def profile_features(touches: Iterable[Touch], extras: Mapping[str, dict], now_ms: int,
                     policy: ContactPolicy | None = None) -> ProfileFeatures:
    """The features of one profile at ``now_ms``; ``extras``: event id -> touch extra.

    ``policy``: the contact policy whose suppression rules give the subscription status (default: the
    default policy).
    """
    return _features({t[1]: t for t in touches}, extras, now_ms, policy or DEFAULT_POLICY)


def state_features(state: dict | None, now_ms: int, policy: ContactPolicy | None = None) -> ProfileFeatures:
    """``profile_features`` of a journey state's touches and pins, read in place (no Touch built per touch)."""
    rows: dict[str, list] = {}
    extras: dict[str, dict] = {}
    for slot in (state or {}).get("s", {}).values():
        for entries in (slot.get("x", ()), slot.get("k", ())):
            for x in entries:
                rows[x[0][1]] = x[0]
                if len(x) > 2 and x[2]:
                    extras[x[0][1]] = x[2]
    return _features(rows, extras, now_ms, policy or DEFAULT_POLICY)


_T, _ID, _TYPE, _CHANNEL, _DEVICE, _PAGE, _REVENUE = 0, 1, 2, 3, 4, 8, 9  # Touch fields, by position
_IN_ORDER = itemgetter(_T, _ID)


def _features(rows: Mapping[str, Sequence], extras: Mapping[str, dict], now_ms: int,
              policy: ContactPolicy) -> ProfileFeatures:
    """The features of touches as sequences in Touch's field order (a Touch, or a state's list), one per id."""
    ordered = sorted(rows.values(), key=_IN_ORDER)
    recent = now_ms - STAGE_WINDOW_MS
    activity: list[int] = []
    purchases: list[int] = []
    revenue_to: list[int] = []
    channels: dict[str, int] = {}
    device_types: dict[str, int] = {}
    lines: dict[str, int] = {}  # the cart since the last purchase: sku -> quantity
    checkout = False
    cart_at: int | None = None
    intent_at: int | None = None  # the last intent touch after the last purchase
    suppression_types = policy.suppression_event_types
    suppressions: list[Touch] = []
    for touch in ordered:
        kind, t = touch[_TYPE], touch[_T]
        if kind in suppression_types:
            suppressions.append(Touch(*touch))
        if kind in PASSIVE:
            continue
        activity.append(t)
        channels[touch[_CHANNEL]] = t
        if touch[_DEVICE] != "unknown":
            device_types[touch[_DEVICE]] = t
        if kind == PURCHASE:
            purchases.append(t)
            revenue_to.append((revenue_to[-1] if revenue_to else 0) + (touch[_REVENUE] or 0))
            lines, checkout, cart_at, intent_at = {}, False, None, None  # a purchase empties the cart
            continue
        if kind in INTENT or (kind == "page_view" and PRODUCT_PAGE in (touch[_PAGE] or "")):
            intent_at = t
        if kind in (CART_ADD, CART_REMOVE, CHECKOUT):
            _cart_event(lines, kind, (extras.get(touch[_ID]) or {}).get("i"))
            if kind == CHECKOUT:
                checkout = True
            elif kind == CART_REMOVE and not lines:
                checkout = False  # emptied: a checkout before it no longer holds a cart open
            cart_at = t
    open_cart = cart_at if (lines or checkout) else None
    last_purchase = purchases[-1] if purchases else None
    if open_cart is not None and open_cart > recent:
        stage = "cart"
    elif intent_at is not None and intent_at > recent:
        stage = "considering"
    elif last_purchase is not None and last_purchase > recent:
        stage = "purchased"
    elif activity and activity[-1] > recent:
        stage = "browsing"
    elif last_purchase is not None:
        stage = "lapsed"
    else:
        stage = "inactive"
    unsubscribed, withdrawn = subscriptions(suppressions, extras, policy)
    subscription = {}
    for name in CHANNELS:
        statuses = set()
        if name in unsubscribed:
            statuses.add("unsubscribed")
        if withdrawn and policy.channel(name).marketing:
            statuses.add("consent_withdrawn")
        subscription[name] = frozenset(statuses or {"subscribed"})
    return ProfileFeatures(now_ms, len(ordered), tuple(activity), tuple(purchases), tuple(revenue_to), open_cart,
                           intent_at, stage, channels, device_types, subscription)


def _cart_event(lines: dict[str, int], kind: str, items: list | None) -> None:
    """Apply one cart event's lines ([sku, quantity, unit price], from touch_extra) to the open cart."""
    if kind == CHECKOUT:
        return
    if not items:
        if kind == CART_ADD:
            lines["?"] = lines.get("?", 0) + 1  # an add without lines: one unknown line
        else:
            lines.clear()  # a removal without lines: the cart is emptied
        return
    sign = 1 if kind == CART_ADD else -1
    for sku, quantity, _price in items:
        left = lines.get(sku, 0) + sign * int(quantity)
        if left > 0:
            lines[sku] = left
        else:
            lines.pop(sku, None)
