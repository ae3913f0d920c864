"""The session rule at its boundaries (streams/sessions/split.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from infra.exceptions import ConfigError
from infra.settings import Settings
from streams.sessions.policy import HOUR_MS, MINUTE_MS, SessionPolicy, session_policy_from_settings
from streams.sessions.split import sessionize
from streams.sessions.touches import Touch, session_key, touch_of

POLICY = SessionPolicy()
T0 = int(datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc).timestamp() * 1000)


def touch(minute: float, n: int | None = None, channel: str = "web", event_type: str = "page_view",
          revenue_cents: int | None = None, campaign: str | None = None) -> Touch:
    return Touch(t=T0 + int(minute * MINUTE_MS), event_id=f"e{n if n is not None else minute}",
                 event_type=event_type, channel=channel, device_type="mobile", campaign_id=campaign,
                 source=None, medium=None, page_url=None, revenue_cents=revenue_cents, profile_id="p-1",
                 device="anonymous_id:a1")


def spans(touches: list[Touch], policy: SessionPolicy = POLICY) -> list[tuple[int, int]]:
    return [((s.start - T0) // MINUTE_MS, s.touches) for s in sessionize("anonymous_id:a1", touches, policy)]


def test_a_gap_below_the_timeout_joins_and_a_gap_at_it_splits() -> None:
    almost = touch(0)._replace(t=T0 + 30 * MINUTE_MS - 1, event_id="e-almost")
    assert spans([touch(0), almost]) == [(0, 2)]
    assert spans([touch(0), touch(30)]) == [(0, 1), (30, 1)]


def test_a_session_crossing_midnight_stays_one() -> None:
    before = 14 * 60 + 50  # 23:50 UTC
    assert spans([touch(before), touch(before + 20), touch(before + 40)]) == [(before, 3)]


def test_the_maximum_length_cuts_a_runaway_session() -> None:
    every_10_min_for_25_h = [touch(m) for m in range(0, 25 * 60, 10)]
    # 24 h from the first touch: 144 touches (0 .. 23:50); the touch at 24:00 starts the next session.
    assert spans(every_10_min_for_25_h) == [(0, 144), (24 * 60, 6)]


def test_a_late_touch_bridging_two_sessions_merges_them() -> None:
    apart = [touch(0), touch(40)]
    assert spans(apart) == [(0, 1), (40, 1)]
    assert spans([*apart, touch(20)]) == [(0, 3)]


def test_the_timeout_follows_the_channel_of_the_previous_touch() -> None:
    policy = SessionPolicy(channel_timeout_ms={"store": 2 * HOUR_MS})
    assert spans([touch(0, channel="store"), touch(90, channel="web")], policy) == [(0, 2)]
    assert spans([touch(0, channel="web"), touch(90, channel="store")], policy) == [(0, 1), (90, 1)]


def test_duplicates_count_once_and_the_order_of_arrival_does_not_matter() -> None:
    touches = [touch(0), touch(5), touch(5), touch(12)]
    assert spans(touches) == spans(list(reversed(touches))) == [(0, 3)]


def test_a_session_counts_conversions_revenue_channels_and_lands_on_its_first_touch() -> None:
    touches = [touch(3, channel="app"), touch(0, channel="email", campaign="spring"),
               touch(9, event_type="purchase", revenue_cents=4_999), touch(10, event_type="purchase",
                                                                           revenue_cents=1)]
    (session,) = sessionize("anonymous_id:a1", touches, POLICY)
    assert (session.touches, session.conversions, session.revenue_cents) == (4, 2, 5_000)
    assert session.channels == ("email", "app", "web")
    assert (session.landing.channel, session.landing.campaign_id) == ("email", "spring")
    assert session.session_id == sessionize("anonymous_id:a1", list(reversed(touches)), POLICY)[0].session_id


def test_the_key_is_the_device_or_else_the_person_on_the_channel() -> None:
    base = {"event_id": "e1", "event_type": "page_view", "channel": "web", "device_type": "mobile",
            "event_time": datetime(2026, 11, 2, tzinfo=timezone.utc), "identity_key": "user_id:u1"}
    assert session_key({**base, "device_id": "d1", "anonymous_id": "a1"}) == ("device_id:d1", "device_id:d1")
    assert session_key({**base, "anonymous_id": "a1"}) == ("anonymous_id:a1", "anonymous_id:a1")
    assert session_key({**base, "channel": "email"}) == ("user_id:u1|email", "user_id:u1")
    # A store kiosk is shared: the person at it, not the kiosk, makes the session.
    assert session_key({**base, "channel": "store", "device_type": "kiosk", "device_id": "kiosk-7"}) == (
        "user_id:u1|store", "user_id:u1")
    assert session_key({**base, "identity_key": None}) == ("event:e1", "event:e1")
    assert touch_of({**base, "anonymous_id": "a1"}).t == int(base["event_time"].timestamp() * 1000)


def test_settings_errors_name_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"TOUCHLINE_SESSION_.*unknown channels \['webb'\]"):
        session_policy_from_settings(Settings(session_channel_timeouts_s={"webb": 60}))
    with pytest.raises(ConfigError, match="maximum session length"):
        session_policy_from_settings(Settings(session_timeout_s=3600, session_max_length_s=600))


def test_a_digest_equals_its_json_copy() -> None:
    # The emitted-rows registry keeps digests in the table as JSON (streams/versions.py): a tuple in a digest
    # never equals its decoded list, and every unchanged session was re-emitted on rocksdb:// (8.3 rows/event).
    (session,) = sessionize("anonymous_id:a1", [touch(0, 1), touch(5, 2, channel="app")], POLICY)
    assert json.loads(json.dumps(session.digest())) == session.digest()
