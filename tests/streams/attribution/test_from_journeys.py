"""Paths from journeys: one touch per session (its landing), sends left out, goal value, open journeys."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from streams.attribution.from_journeys import paths_from_journeys
from streams.attribution.paths import DAY_MS, Path, PathTouch
from streams.journeys.build import journeys_of
from streams.sessions.policy import HOUR_MS, MINUTE_MS, SessionPolicy
from streams.sessions.touches import Touch

POLICY = SessionPolicy()
T0 = int(datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc).timestamp() * 1000)


def touch(at_ms: int, n: str, event_type: str, channel: str, key: str, campaign: str | None = None,
          source: str | None = None, medium: str | None = None, revenue_cents: int | None = None) -> tuple[Touch, str]:
    device = key if key.startswith("device_id:") else None
    t = Touch(t=T0 + at_ms, event_id=n, event_type=event_type, channel=channel, device_type="mobile",
              campaign_id=campaign, source=source, medium=medium, page_url=None, revenue_cents=revenue_cents,
              profile_id=None, device=device)
    return t, key


PHONE, LAPTOP, MAIL = "device_id:phone", "device_id:laptop", "user_id:u1|email"
DAY = 24 * HOUR_MS
TOUCHES = [
    # Session 1 on the phone: an ad seen, clicked, two pages on the site (channel web): one display touch.
    touch(0, "e01", "ad_impression", "display", PHONE, "cmp-disp"),
    touch(10_000, "e02", "ad_click", "display", PHONE, "cmp-disp"),
    touch(MINUTE_MS, "e03", "page_view", "web", PHONE),
    touch(2 * MINUTE_MS, "e04", "page_view", "web", PHONE),
    # A send (no touch of the person) and, 3 hours later, its open: one email touch.
    touch(HOUR_MS, "e05", "email_send", "email", MAIL, "cmp-mail"),
    touch(4 * HOUR_MS, "e06", "email_open", "email", MAIL, "cmp-mail"),
    # Next day on the laptop: a direct visit, then the purchase in the same session (no touch of its own).
    touch(DAY, "e07", "page_view", "direct", LAPTOP),
    touch(DAY + 5 * MINUTE_MS, "e08", "purchase", "web", LAPTOP, revenue_cents=4_999),
    # After the goal: an open journey from an organic search landing.
    touch(2 * DAY, "e09", "search_click", "organic_search", PHONE, source="google", medium="organic"),
    touch(2 * DAY + MINUTE_MS, "e10", "page_view", "web", PHONE),
]


def test_one_touch_per_session_landing_and_the_goal_value() -> None:
    bought, still_open = paths_from_journeys(journeys_of("p-1", TOUCHES, POLICY), POLICY)
    assert bought == Path((PathTouch(T0, "display", "cmp-disp"), PathTouch(T0 + 4 * HOUR_MS, "email", "cmp-mail"),
                           PathTouch(T0 + DAY, "direct", None, direct=True)),
                          converted=True, value=Decimal("49.99"), end=T0 + DAY + 5 * MINUTE_MS)
    assert still_open == Path((PathTouch(T0 + 2 * DAY, "organic_search"),), converted=False,
                              end=T0 + 2 * DAY + MINUTE_MS)


def test_every_event_but_sends_without_per_session() -> None:
    bought, _ = paths_from_journeys(journeys_of("p-1", TOUCHES, POLICY), POLICY, per_session=False)
    assert [t.channel for t in bought.touches] == ["display", "display", "web", "web", "email", "direct", "web"]


def test_the_lookback_counts_back_from_the_conversion() -> None:
    # One day back from the purchase (day 1 + 5 min) is day 0 + 5 min: the display touch (day 0, 0:00) goes.
    bought, _ = paths_from_journeys(journeys_of("p-1", TOUCHES, POLICY), POLICY, lookback_ms=DAY_MS)
    assert [t.channel for t in bought.touches] == ["email", "direct"]


def test_a_journey_of_sends_only_is_an_empty_non_converting_path() -> None:
    (only_sends,) = paths_from_journeys(journeys_of("p-2", [TOUCHES[4]], POLICY), POLICY)
    assert only_sends == Path((), converted=False, end=T0 + HOUR_MS)
