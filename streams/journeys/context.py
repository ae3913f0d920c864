"""Live profile context for staff handoff: what a clerk or agent needs to resume, from the journey state.

Everything is derived from the profile's touches as the journey stage holds
them (so it follows identity merges like the journeys do): the last touches,
the session still open now, the cart since the last conversion, the last offer
shown and the best offer valid now (streams/optimization/offers.py), the journey
under way, the real-time segments the profile is in and its next best channel
(streams/optimization/next_channel.py).
Touches that carry an offer or cart lines
keep them in their slot entry (``touch_extra``); nothing else is stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from streams.journeys.build import split_journeys, unique
from streams.journeys.state import touches_of
from streams.optimization.next_channel import outlook_answer, profile_outlook
from streams.optimization.offers import best_offer, offer_view
from streams.optimization.policy import DEFAULT_POLICY, ContactPolicy
from streams.sessions.policy import SessionPolicy
from streams.sessions.split import runs, session_of
from streams.sessions.touches import Touch

CART_ADD, CART_REMOVE = "add_to_cart", "remove_from_cart"
LAST_TOUCHES = 10


CONSENT_CHANGE = "consent_change"
EXTRA_PROPERTY_CHARS = 32


def touch_extra(record: dict[str, Any]) -> dict[str, Any] | None:
    """What the context and contact pressure need beyond the touch, compact (None when nothing).

    ``o``/``d`` offer and discount, ``i`` cart lines; for contact pressure
    (streams/optimization/pressure.py) ``c`` consent.marketing of a consent
    change, ``u`` properties.channel (the channel an unsubscribe is about) and
    ``r`` properties.direction (an outbound or inbound call), when present.
    """
    extra: dict[str, Any] = {}
    if record.get("offer_id"):
        extra["o"] = record["offer_id"]
        if record.get("discount_percent") is not None:
            extra["d"] = float(record["discount_percent"])
    if record.get("event_type") in (CART_ADD, CART_REMOVE) and record.get("items"):
        extra["i"] = [[i["sku"], int(i["quantity"]), str(i["unit_price"])] for i in record["items"]]
    if record.get("event_type") == CONSENT_CHANGE and (record.get("consent") or {}).get("marketing") is not None:
        extra["c"] = bool(record["consent"]["marketing"])
    properties = record.get("properties") or {}
    for key, short in (("channel", "u"), ("direction", "r")):
        if properties.get(key):
            extra[short] = str(properties[key])[:EXTRA_PROPERTY_CHARS].lower()
    return extra or None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _touch_view(t: Touch) -> dict[str, Any]:
    return {"event_id": t.event_id, "event_type": t.event_type, "at": _iso(t.t), "channel": t.channel,
            "device_type": t.device_type, "campaign_id": t.campaign_id, "page_url": t.page_url}


def _open_session(ordered: list, now_ms: int, policy: SessionPolicy) -> dict[str, Any] | None:
    by_key: dict[str, list[Touch]] = defaultdict(list)
    for touch, key in ordered:
        by_key[key].append(touch)
    best = None
    for key, touches in by_key.items():
        last_run = runs(touches, policy)[-1]
        if last_run[-1].t + policy.timeout_after(last_run[-1].channel) > now_ms:
            if best is None or last_run[-1].t > best[1][-1].t:
                best = (key, last_run)
    if best is None:
        return None
    s = session_of(best[0], best[1], policy)
    return {"session_id": s.session_id, "session_key": s.session_key, "started": _iso(s.start),
            "last_touch": _iso(s.end), "touches": s.touches, "channels": list(s.channels),
            "device_type": s.device_type,
            "landing": {"channel": s.landing.channel, "campaign_id": s.landing.campaign_id,
                        "source": s.landing.source, "medium": s.landing.medium, "page_url": s.landing.page_url}}


def _open_cart(ordered: list, extras: dict[str, dict], policy: SessionPolicy) -> dict[str, Any] | None:
    lines: dict[str, list] = {}  # sku -> [quantity, unit price]
    updated = None
    for touch, _ in ordered:
        if policy.is_goal(touch.event_type):
            lines, updated = {}, None  # a conversion empties the cart
            continue
        items = (extras.get(touch.event_id) or {}).get("i")
        if not items:
            continue
        sign = -1 if touch.event_type == CART_REMOVE else 1
        for sku, quantity, price in items:
            line = lines.setdefault(sku, [0, price])
            line[0] += sign * quantity
            line[1] = price
            if line[0] <= 0:
                del lines[sku]
        updated = touch.t
    if not lines:
        return None
    items = [{"sku": sku, "quantity": q, "unit_price": p} for sku, (q, p) in sorted(lines.items())]
    value = sum(Decimal(p) * q for q, p in lines.values())
    return {"items": items, "value": str(value), "updated": _iso(updated)}


def _last_offer(ordered: list, extras: dict[str, dict]) -> dict[str, Any] | None:
    for touch, _ in reversed(ordered):
        extra = extras.get(touch.event_id) or {}
        if "o" in extra:
            return {"offer_id": extra["o"], "discount_percent": extra.get("d"), "channel": touch.channel,
                    "campaign_id": touch.campaign_id, "shown": _iso(touch.t), "event_id": touch.event_id}
    return None


def _best_offer(ordered: list, extras: dict[str, dict], now_ms: int, policy: ContactPolicy) -> dict[str, Any] | None:
    best = best_offer((t for t, _ in ordered), extras, now_ms, policy.offers)
    return None if best is None else offer_view(best, policy.offers, _iso)


def profile_context(state: dict, now_ms: int, policy: SessionPolicy, segments: Iterable[str] = (),
                    contact_policy: ContactPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """The handoff view of one profile's journey state at wall-clock ``now_ms``.

    ``segments``: the profile's real-time segments at ``now_ms`` (streams/optimization/segments.py
    ``profile_segments``), shown sorted. ``contact_policy``: the policy in force (its ``[offers]`` say
    which offer is valid; its caps, under the segments' overrides, exclude channels from the next best).
    """
    segments = frozenset(segments)
    ordered = unique(touches_of(state))
    extras = {x[0][1]: x[2] for slot in state["s"].values() for x in slot.get("x", ()) if len(x) > 2 and x[2]}
    journeys = split_journeys(state["p"], ordered, policy)
    current = journeys[-1] if journeys and not journeys[-1].converted else None
    return {
        "profile_id": state["p"],
        "as_of": _iso(now_ms),
        "identifiers": sorted(k for k, slot in state["s"].items() if "x" in slot),
        "last_touches": [_touch_view(t) for t, _ in reversed(ordered[-LAST_TOUCHES:])],
        "open_session": _open_session(ordered, now_ms, policy),
        "open_cart": _open_cart(ordered, extras, policy),
        "last_offer": _last_offer(ordered, extras),
        "best_offer": _best_offer(ordered, extras, now_ms, contact_policy),
        "open_journey": None if current is None else {
            "journey_id": current.journey_id, "started": _iso(current.start), "touches": len(current.touches),
            "sessions": current.sessions, "channel_path": list(current.channel_path),
            "devices": len(current.devices)},
        "segments": sorted(segments),
        "next_best_channel": outlook_answer(profile_outlook(state, now_ms, contact_policy, segments), contact_policy),
    }
