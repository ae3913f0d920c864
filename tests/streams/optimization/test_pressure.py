"""Contact pressure, list in / decisions out: caps at their boundaries, suppressions, quiet hours, next_allowed_at."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from streams.optimization.policy import DEFAULT_POLICY, parse_policy
from streams.optimization.pressure import Decision, contact_decisions
from streams.sessions.touches import Touch

HOUR, DAY = 3_600_000, 86_400_000
WEEK = 7 * DAY
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
CHANNEL_OF = {"email_send": "email", "sms_send": "sms", "push_send": "push", "call": "call_center",
              "ad_impression": "display"}


def touch(t: int, event_type: str, channel: str | None = None, event_id: str | None = None) -> Touch:
    return Touch(t, event_id or f"e-{event_type}-{t}", event_type, channel or CHANNEL_OF.get(event_type, "web"),
                 "unknown", None, None, None, None, None, None, None)


def decide(touches: list[Touch], now: int = NOW, policy=DEFAULT_POLICY, extras: dict | None = None,  # noqa: ANN001
           **kwargs: bool) -> dict[str, Decision]:
    return contact_decisions(touches, extras or {}, now, policy, **kwargs)


def emails(n: int, first: int = NOW - 6 * DAY, step: int = DAY) -> list[Touch]:
    return [touch(first + i * step, "email_send") for i in range(n)]


# -- caps ------------------------------------------------------------------------------------------------------

def test_the_fifth_email_is_allowed_the_sixth_suppressed() -> None:
    four = decide(emails(4))["email"]
    assert four == Decision(True, "within_caps", {"7d": 4}, None)  # so the 5th may be sent
    five = decide(emails(5))["email"]
    assert five == Decision(False, "cap:email:7d:5", {"7d": 5}, NOW - 6 * DAY + WEEK)  # the 6th may not
    six = decide(emails(6))["email"]
    assert six.reason == "cap:email:7d:5" and six.counts == {"7d": 6}
    assert six.next_allowed_at == NOW - 5 * DAY + WEEK  # two must age out: the second oldest's turn


def test_two_sms_reach_the_sms_cap_and_leave_email_alone() -> None:
    sms = [touch(NOW - 3 * DAY, "sms_send"), touch(NOW - HOUR, "sms_send")]
    got = decide(sms + emails(3))
    assert got["sms"] == Decision(False, "cap:sms:7d:2", {"7d": 2}, NOW - 3 * DAY + WEEK)
    assert got["email"] == Decision(True, "within_caps", {"7d": 3}, None)
    assert got["push"].allowed and got["push"].counts == {"7d": 0}  # every channel reports the policy's windows


def test_window_edges() -> None:
    oldest = NOW - WEEK  # exactly a window ago: no longer counts
    assert decide([touch(oldest, "email_send")] + emails(4))["email"].counts == {"7d": 4}
    assert decide([touch(oldest + 1, "email_send")] + emails(4))["email"] == Decision(
        False, "cap:email:7d:5", {"7d": 5}, NOW + 1)
    five = emails(5)
    release = decide(five)["email"].next_allowed_at
    assert not decide(five, now=release - 1)["email"].allowed
    assert decide(five, now=release)["email"] == Decision(True, "within_caps", {"7d": 4}, None)


def test_future_touches_count_and_duplicates_once() -> None:
    skewed = emails(4) + [touch(NOW + HOUR, "email_send")]  # a device clock ahead: still a contact
    assert decide(skewed)["email"].counts == {"7d": 5}
    assert decide(emails(4) + emails(4))["email"].counts == {"7d": 4}  # same event ids


def test_several_windows_and_the_overall_cap() -> None:
    policy = parse_policy("""
[channels.sms]
caps = [{window = "24h", max = 1}, {window = "7d", max = 3}]
[overall]
caps = [{window = "7d", max = 4}]
""")
    sms = [touch(NOW - 2 * DAY, "sms_send"), touch(NOW - HOUR, "sms_send")]
    got = decide(sms, policy=policy)
    assert got["sms"] == Decision(False, "cap:sms:24h:1", {"24h": 1, "7d": 2, "all:7d": 2}, NOW - HOUR + DAY)
    got = decide(sms + emails(2, first=NOW - 3 * DAY), policy=policy)
    # Overall 4 of 4: every channel waits for the oldest contact to age out, sms also for its 24 h cap.
    assert got["push"] == Decision(False, "cap:all:7d:4", {"24h": 0, "7d": 0, "all:7d": 4}, NOW - 3 * DAY + WEEK)
    assert got["sms"].next_allowed_at == NOW - 3 * DAY + WEEK and got["sms"].reason == "cap:all:7d:4"


def test_a_cap_of_zero_switches_a_channel_off() -> None:
    policy = parse_policy('[channels.push]\ncaps = [{window = "7d", max = 0}]')
    assert decide([], policy=policy)["push"] == Decision(False, "cap:push:7d:0", {"7d": 0}, None)


def test_what_counts_as_a_contact() -> None:
    extras = {"in": {"r": "inbound"}, "out": {"r": "outbound"}}
    calls = [touch(NOW - DAY, "call", event_id="in"), touch(NOW - DAY, "call", event_id="out"),
             touch(NOW - 2 * DAY, "call", event_id="plain")]
    policy = parse_policy('[channels.call_center]\ncaps = [{window = "7d", max = 5}]')
    assert decide(calls, policy=policy, extras=extras)["call_center"].counts == {"7d": 2}  # inbound is no contact
    ads = [touch(NOW - HOUR, "ad_impression"), touch(NOW - HOUR, "ad_impression", "social", "s1"),
           touch(NOW - HOUR, "ad_impression", "video", "v1")]
    assert decide(ads)["retargeting"].counts == {"7d": 0}  # not configured
    with_ads = parse_policy('[channels.retargeting]\ncontact_events = ["ad_impression"]\n'
                            'caps = [{window = "24h", max = 2}]')
    got = decide(ads, policy=with_ads)["retargeting"]
    assert got.counts == {"24h": 2, "7d": 2} and got.reason == "cap:retargeting:24h:2"  # video is not retargeting
    assert decide([touch(NOW - DAY, "email_send", "web")])["email"].counts == {"7d": 0}  # not an email channel


# -- unsubscribe and consent -----------------------------------------------------------------------------------

def test_an_unsubscribe_suppresses_its_channel_at_once() -> None:
    got = decide([touch(NOW - DAY, "unsubscribe", "email")])
    assert got["email"] == Decision(False, "unsubscribed:email", {"7d": 0}, None)
    assert all(got[name].allowed for name in ("sms", "push", "retargeting", "call_center"))


def test_an_unsubscribe_through_no_contact_channel_suppresses_all_unless_it_names_one() -> None:
    web = touch(NOW - DAY, "unsubscribe", "web", "u1")
    assert [d.reason for d in decide([web]).values()] == [
        f"unsubscribed:{name}" for name in ("email", "sms", "push", "retargeting", "call_center")]
    named = decide([web], extras={"u1": {"u": "sms"}})
    assert not named["sms"].allowed and named["email"].allowed


def test_a_later_subscription_lifts_an_unsubscribe_of_its_channel_only() -> None:
    unsub = touch(NOW - 2 * DAY, "unsubscribe", "email")
    resub = touch(NOW - DAY, "subscription", "email")
    assert decide([resub, unsub])["email"].allowed  # event time decides, not list order
    earlier = touch(NOW - 3 * DAY, "subscription", "email")
    assert not decide([unsub, earlier])["email"].allowed
    web_purchase = touch(NOW - DAY, "subscription", "web")  # a subscription product bought on the web
    assert not decide([unsub, web_purchase])["email"].allowed


def test_a_consent_withdrawal_suppresses_every_marketing_channel_until_given_again() -> None:
    off, on = touch(NOW - 2 * DAY, "consent_change", event_id="off"), touch(NOW - DAY, "consent_change", event_id="on")
    extras = {"off": {"c": False}, "on": {"c": True}}
    got = decide([off], extras=extras)
    assert {d.reason for d in got.values()} == {"consent_withdrawn"}
    assert all(d.next_allowed_at is None for d in got.values())
    assert all(d.allowed for d in decide([on, off], extras=extras).values())
    service = parse_policy("[channels.call_center]\nmarketing = false")
    assert decide([off], policy=service, extras=extras)["call_center"].allowed
    # Consent given again does not undo an unsubscribe (the simulator sends one right after an unsubscribe).
    unsub = touch(NOW - 3 * DAY, "unsubscribe", "email")
    assert decide([unsub, off, on], extras=extras)["email"].reason == "unsubscribed:email"
    no_answer = touch(NOW - DAY, "consent_change", event_id="none")  # consent.marketing not stated: no change
    assert decide([off, no_answer], extras=extras)["email"].reason == "consent_withdrawn"


def test_suppressions_win_over_caps() -> None:
    got = decide(emails(6) + [touch(NOW - HOUR, "unsubscribe", "email")])["email"]
    assert got.reason == "unsubscribed:email" and got.next_allowed_at is None and got.counts == {"7d": 6}


# -- quiet hours ------------------------------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
QUIET = parse_policy('[quiet_hours]\nstart = 21\nend = 8\ntimezone = "Europe/Paris"\nchannels = ["sms", "push"]')


def paris(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=PARIS).timestamp() * 1000)


def test_quiet_hours_across_midnight_in_paris() -> None:
    late = decide([], now=paris(20, 22, 30), policy=QUIET)
    assert late["sms"] == Decision(False, "quiet_hours", {"7d": 0}, paris(21, 8))  # 08:00 the next morning
    assert late["email"].allowed  # not a quiet channel
    early = decide([], now=paris(21, 7, 59), policy=QUIET)["push"]
    assert early.reason == "quiet_hours" and early.next_allowed_at == paris(21, 8)
    assert decide([], now=paris(20, 21), policy=QUIET)["sms"].reason == "quiet_hours"  # start is inclusive
    assert decide([], now=paris(21, 8), policy=QUIET)["sms"].allowed  # end is exclusive
    assert decide([], now=paris(20, 20, 59), policy=QUIET)["sms"].allowed
    # 21:00 in Paris is 20:00 UTC in November: the zone, not UTC, decides.
    assert datetime.fromtimestamp(paris(20, 21) / 1000, timezone.utc).hour == 20
    assert decide([], now=paris(20, 22, 30), policy=QUIET, quiet_hours=False)["sms"].allowed  # the topic's view


def test_quiet_hours_in_summer_time_and_the_same_day() -> None:
    policy = parse_policy('[quiet_hours]\nstart = 12\nend = 14\ntimezone = "America/New_York"')
    noon = int(datetime(2026, 7, 1, 12, 30, tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)
    got = decide([], now=noon, policy=policy)["email"]
    assert got.reason == "quiet_hours"
    assert got.next_allowed_at == int(datetime(2026, 7, 1, 14, tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)


def test_a_cap_released_during_quiet_hours_waits_for_their_end() -> None:
    now = paris(20, 12)
    sms = [touch(paris(14, 23), "sms_send"), touch(paris(19, 10), "sms_send")]  # the oldest ages out at 23:00 on the 21st
    got = decide(sms, now=now, policy=QUIET)["sms"]
    assert got.reason == "cap:sms:7d:2" and got.next_allowed_at == paris(22, 8)
    assert decide(sms, now=now, policy=QUIET, quiet_hours=False)["sms"].next_allowed_at == paris(21, 23)


# -- properties --------------------------------------------------------------------------------------------------

contact_times = st.lists(st.integers(min_value=NOW - 10 * DAY, max_value=NOW + DAY), max_size=12)


@settings(max_examples=300, deadline=None)
@given(times=contact_times, cap=st.integers(min_value=1, max_value=6), seed=st.integers(0, 1000))
def test_allowed_iff_under_the_cap_and_next_allowed_at_is_exact(times: list[int], cap: int, seed: int) -> None:
    policy = parse_policy(f'[channels.email]\ncaps = [{{window = "7d", max = {cap}}}]')
    touches = [touch(t, "email_send", event_id=f"e{i}") for i, t in enumerate(times)]
    got = decide(touches, policy=policy)["email"]
    inside = sum(1 for t in times if t > NOW - WEEK)
    assert got.counts == {"7d": inside}
    assert got.allowed == (inside < cap)
    shuffled = touches[:]
    random.Random(seed).shuffle(shuffled)
    assert decide(shuffled, policy=policy)["email"] == got  # arrival order never matters
    if not got.allowed:
        assert got.next_allowed_at > NOW
        assert not decide(touches, now=got.next_allowed_at - 1, policy=policy)["email"].allowed
        assert decide(touches, now=got.next_allowed_at, policy=policy)["email"].allowed


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=2 * 366 * 24 * 60), start=st.integers(0, 23),
       end=st.integers(0, 23))
def test_quiet_hours_end_when_they_say(minutes: int, start: int, end: int) -> None:
    if start == end:
        return
    policy = parse_policy(f'[quiet_hours]\nstart = {start}\nend = {end}\ntimezone = "Europe/Paris"')
    now = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000) + minutes * 60_000
    got = decide([], now=now, policy=policy)["sms"]
    hour = datetime.fromtimestamp(now / 1000, PARIS).hour
    quiet = start <= hour < end if start < end else (hour >= start or hour < end)
    assert got.allowed == (not quiet)
    if quiet:
        at = datetime.fromtimestamp(got.next_allowed_at / 1000, PARIS)
        assert got.next_allowed_at > now and got.next_allowed_at - now <= DAY + HOUR  # a DST day is 25 h long
        assert at.minute == 0 and decide([], now=got.next_allowed_at, policy=policy)["sms"].allowed


def test_decision_kinds_are_the_metric_labels() -> None:
    assert Decision(True, "within_caps").kind == "allow"
    assert Decision(False, "cap:email:7d:5").kind == "suppress_cap"
    assert Decision(False, "unsubscribed:sms").kind == "suppress_unsubscribed"
    assert Decision(False, "consent_withdrawn").kind == "suppress_consent"
    assert Decision(False, "quiet_hours").kind == "suppress_quiet_hours"


def test_dates_sanity() -> None:
    assert paris(21, 8) - paris(20, 22, 30) == 9 * HOUR + 30 * 60_000
    assert timedelta(milliseconds=WEEK).days == 7


# -- segment overrides -------------------------------------------------------------------------------------------

OVERRIDES = parse_policy("""
[segments.vip.channels]
email = [{window = "7d", max = 8}]

[segments.winback]
overall = [{window = "7d", max = 3}]

[segments.quiet.channels]
email = [{window = "14d", max = 2}]
sms = [{window = "7d", max = 0}]
""")


def test_a_segment_override_replaces_the_channel_caps_of_its_members() -> None:
    six = emails(6)
    assert decide(six, policy=OVERRIDES)["email"].reason == "cap:email:7d:5"  # no segment: the channel's own
    vip = decide(six, policy=OVERRIDES, segments={"vip"})
    assert vip["email"] == Decision(True, "within_caps", {"7d": 6}, None)
    eight = decide(emails(8, step=DAY // 2), policy=OVERRIDES, segments={"vip"})["email"]
    assert eight == Decision(False, "cap:email:7d:8", {"7d": 8}, NOW - 6 * DAY + WEEK)
    assert decide(six, policy=OVERRIDES, segments={"vip", "unknown"})["sms"].reason == "within_caps"  # sms: own caps


def test_several_overriding_segments_first_in_file_order_per_channel() -> None:
    six = emails(6)
    both = decide(six, policy=OVERRIDES, segments={"quiet", "vip"})  # vip comes first in the file
    assert both["email"].allowed and both["email"].counts == {"7d": 6}  # counts: the windows of the caps applied
    # quiet overrides sms alone: a cap of 0 switches it off without any contact on record.
    assert both["sms"] == Decision(False, "cap:sms:7d:0", {"7d": 0}, None)
    quiet = decide(six, policy=OVERRIDES, segments={"quiet"})["email"]
    assert quiet.reason == "cap:email:14d:2" and quiet.counts == {"7d": 6, "14d": 6}
    assert quiet.next_allowed_at == NOW - 2 * DAY + 14 * DAY


def test_an_overall_override_and_its_counts() -> None:
    sends = emails(2) + [touch(NOW - HOUR, "sms_send")]
    got = decide(sends, policy=OVERRIDES, segments={"winback"})
    assert {name: d.reason for name, d in got.items()} == {name: "cap:all:7d:3" for name in got}
    assert got["push"].counts == {"7d": 0, "all:7d": 3}
    assert decide(sends, policy=OVERRIDES)["push"].counts == {"7d": 0}  # non-members: no overall cap, no count
