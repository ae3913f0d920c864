"""The journey rule (streams/journeys/build.py) on hand-made touch sets."""

from __future__ import annotations

from datetime import datetime, timezone

from streams.journeys.build import journeys_of
from streams.sessions.policy import DAY_MS, HOUR_MS, MINUTE_MS, SessionPolicy
from streams.sessions.touches import Touch

POLICY = SessionPolicy(lookback_ms=30 * DAY_MS)
T0 = int(datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc).timestamp() * 1000)


def touch(at_ms: int, n: str, channel: str = "web", event_type: str = "page_view", device: str | None = "device_id:d1",
          device_type: str = "mobile", revenue_cents: int | None = None) -> tuple[Touch, str]:
    t = Touch(t=T0 + at_ms, event_id=n, event_type=event_type, channel=channel, device_type=device_type,
              campaign_id=f"c-{channel}", source=None, medium=None, page_url=None, revenue_cents=revenue_cents,
              profile_id=None, device=device)
    return t, device or f"user_id:u1|{channel}"


def test_a_goal_ends_a_journey_and_the_next_touch_opens_another() -> None:
    touches = [touch(0, "a"), touch(HOUR_MS, "b", "email", device=None),
               touch(2 * HOUR_MS, "c", event_type="purchase", revenue_cents=4_999), touch(3 * HOUR_MS, "d")]
    bought, still_open = journeys_of("p-1", reversed(touches), POLICY)
    assert [t.event_id for t, _ in bought.touches] == ["a", "b", "c"]
    assert bought.converted and bought.goal.event_id == "c" and bought.last.event_id == "b"
    assert bought.value_cents == 4_999 and bought.time_to_convert_ms == 2 * HOUR_MS
    assert bought.channel_path == ("web", "email", "web")
    assert [t.event_id for t, _ in still_open.touches] == ["d"] and not still_open.converted
    assert still_open.value_cents == 0 and still_open.time_to_convert_ms is None


def test_touches_older_than_the_lookback_before_the_goal_are_in_no_journey() -> None:
    lookback = POLICY.lookback_ms
    touches = [touch(0, "old"), touch(1, "inside"), touch(lookback + 1, "goal", event_type="subscription")]
    (journey,) = journeys_of("p-1", touches, POLICY)
    assert [t.event_id for t, _ in journey.touches] == ["inside", "goal"]  # exactly the lookback back: inside
    (open_journey,) = journeys_of("p-1", touches[:2] + [touch(lookback + 1, "later")], POLICY)
    assert [t.event_id for t, _ in open_journey.touches] == ["inside", "later"]


def test_a_repeated_channel_collapses_in_the_path_and_duplicates_count_once() -> None:
    touches = [touch(0, "a"), touch(MINUTE_MS, "b"), touch(2 * MINUTE_MS, "c", "email", device=None),
               touch(3 * MINUTE_MS, "d"), touch(MINUTE_MS, "b")]
    (journey,) = journeys_of("p-1", touches, POLICY)
    assert journey.channel_path == ("web", "email", "web")
    assert len(journey.touches) == 4
    assert journey.sessions == 2  # the phone's web session, and the email touch's own session key


def test_a_six_session_fourteen_day_three_device_journey() -> None:
    """The issue's hard case: starts on the phone, goes on by email and tablet, buys on the laptop."""
    devices = [("device_id:phone", "mobile"), ("device_id:tablet", "tablet"), ("device_id:laptop", "desktop")]
    touches = []
    for day in range(0, 15, 2):  # 8 visits, two days apart: each its own session
        device, kind = devices[min(day // 5, 2)]
        touches.append(touch(day * DAY_MS, f"v{day}", device=device, device_type=kind))
        touches.append(touch(day * DAY_MS + 5 * MINUTE_MS, f"v{day}b", device=device, device_type=kind))
    touches.append(touch(9 * DAY_MS, "mail", "email", device=None))
    touches.append(touch(14 * DAY_MS + 10 * MINUTE_MS, "buy", event_type="purchase", device="device_id:laptop",
                         device_type="desktop", revenue_cents=12_000))
    (journey,) = journeys_of("p-1", touches, POLICY)
    assert journey.converted and journey.sessions == 9 and len(journey.touches) == 18
    assert journey.devices == ("device_id:phone", "device_id:tablet", "device_id:laptop")
    assert journey.device_types == ("mobile", "tablet", "desktop")
    assert journey.time_to_convert_ms == 14 * DAY_MS + 10 * MINUTE_MS
    assert journey.channel_path == ("web", "email", "web")


def test_ids_depend_on_profile_and_first_touch_only() -> None:
    a = journeys_of("p-1", [touch(0, "a"), touch(HOUR_MS, "b")], POLICY)[0]
    b = journeys_of("p-1", [touch(0, "a"), touch(2 * HOUR_MS, "c")], POLICY)[0]
    c = journeys_of("p-2", [touch(0, "a")], POLICY)[0]
    assert a.journey_id == b.journey_id != c.journey_id


def test_identifiers_one_event_carried_are_one_device_and_emails_are_none() -> None:
    import random

    phone, app, tablet_app, desk = "device_id:phone", "anonymous_id:app", "anonymous_id:tab", "anonymous_id:desk"
    linked = lambda at, n, a, b, kind="mobile": (touch(at, n, "app", device=a, device_type=kind)[0]  # noqa: E731
                                                  ._replace(also_device=b), a)
    touches = [touch(0, "a", "paid_search", device=phone), linked(MINUTE_MS, "b", phone, app),
               touch(2 * MINUTE_MS, "c", "app", device=app), touch(3 * MINUTE_MS, "d", "email", device=None,
                                                                 device_type="unknown"),
               linked(4 * MINUTE_MS, "e", "device_id:tab", tablet_app, "tablet"),
               touch(5 * MINUTE_MS, "f", device=desk, device_type="desktop"),
               touch(6 * MINUTE_MS, "g", device=desk, device_type="desktop", event_type="purchase")]
    for seed in range(20):  # any arrival order: the same devices, named alike
        order = random.Random(seed).sample(touches, len(touches))
        (journey,) = journeys_of("p-1", order, POLICY)
        assert journey.devices == ("anonymous_id:app", "anonymous_id:tab", "anonymous_id:desk")
        assert journey.device_types == ("mobile", "tablet", "desktop")
