"""The live profile context (streams/journeys/context.py) from a journey state."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from streams.journeys.context import profile_context, touch_extra
from streams.journeys.state import apply, new_state
from streams.sessions.policy import MINUTE_MS, SessionPolicy
from streams.sessions.touches import Touch
from streams.stages.context_web import identifier_key

POLICY = SessionPolicy()
T0 = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)


def _state(*events: tuple[int, str, dict]) -> dict:
    state = new_state("p-1")
    for n, (minute, event_type, record) in enumerate(events):
        touch = Touch(T0 + minute * MINUTE_MS, f"e{n}", event_type, "web", "desktop", None, None, None, None,
                      None, None, "device_id:d1")
        extra = touch_extra({"event_type": event_type, **record})
        apply(state, {"op": "t", "ik": "device_id:d1", "v": 0,
                      "x": [list(touch), "device_id:d1"] + ([extra] if extra else [])})
    return state


def test_a_purchase_empties_the_cart_and_the_session_closes_after_the_timeout() -> None:
    item = {"sku": "A", "quantity": 1, "unit_price": "10.00"}
    state = _state((0, "add_to_cart", {"items": [item]}), (1, "purchase", {}), (2, "add_to_cart", {"items": [item]}),
                   (3, "offer_view", {"offer_id": "O-1", "discount_percent": 15}))
    doc = profile_context(state, T0 + 10 * MINUTE_MS, POLICY)
    assert doc["open_cart"]["items"] == [{"sku": "A", "quantity": 1, "unit_price": "10.00"}]
    assert doc["last_offer"]["offer_id"] == "O-1" and doc["open_session"]["touches"] == 4
    assert doc["open_journey"]["touches"] == 2  # after the purchase
    later = profile_context(state, T0 + 3 * MINUTE_MS + POLICY.timeout_ms, POLICY)
    assert later["open_session"] is None  # exactly the timeout after the last touch: closed


def test_identifiers_are_keyed_as_identity_keys_them() -> None:
    assert identifier_key("email: Ann@Example.com", "33").startswith("email_sha256:")
    assert identifier_key("email:ann@example.com", "33") == identifier_key("email:ANN@example.com", "33")
    assert identifier_key("loyalty_id:L-1", "33") == "loyalty_id:L-1"
    with pytest.raises(ValueError, match="kind:value"):
        identifier_key("ann@example.com", "33")
    with pytest.raises(ValueError, match="unknown identifier kind"):
        identifier_key("passport:X", "33")
