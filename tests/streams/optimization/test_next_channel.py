"""Next-best-channel, list in / ranking out: evidence, the prior, window edges, exclusions."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from streams.journeys.state import apply, new_state
from streams.optimization.next_channel import (
    NOT_MEASURED, ChannelOutlook, channel_outlook, next_best_channel, outlook_answer, profile_outlook,
)
from streams.optimization.policy import CHANNELS, DEFAULT_POLICY, parse_policy
from streams.optimization.pressure import contact_decisions
from streams.sessions.touches import Touch

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
CHANNEL_OF = {"email_send": "email", "email_open": "email", "email_click": "email", "sms_send": "sms",
              "sms_click": "sms", "push_send": "push", "push_open": "push", "call": "call_center",
              "ad_impression": "display", "ad_click": "display"}
_ids = iter(range(10**9))


def touch(t: int, event_type: str, channel: str | None = None, event_id: str | None = None) -> Touch:
    return Touch(t, event_id or f"e{next(_ids):06d}", event_type, channel or CHANNEL_OF.get(event_type, "web"),
                 "unknown", None, None, None, None, None, None, None)


def rank(touches: list[Touch], now: int = NOW, policy=DEFAULT_POLICY, extras: dict | None = None,  # noqa: ANN001
         ) -> list[ChannelOutlook]:
    extras = extras or {}
    return channel_outlook(touches, extras, now, policy, contact_decisions(touches, extras, now, policy))


def by_channel(outlook: list[ChannelOutlook]) -> dict[str, ChannelOutlook]:
    return {o.channel: o for o in outlook}


def test_nobody_on_record_gets_the_prior_everywhere_and_email_first_by_channel_order() -> None:
    outlook = rank([])
    assert [(o.channel, o.probability, o.excluded) for o in outlook] == [
        ("email", 0.25, None), ("sms", 0.25, None), ("push", 0.25, None),
        ("retargeting", None, NOT_MEASURED),  # the default policy counts no ad impressions as contacts
        ("call_center", None, NOT_MEASURED)]  # a call has no engagement event
    assert next_best_channel(outlook).channel == "email"


def test_engaged_contacts_raise_a_channel_and_ignored_ones_lower_it() -> None:
    touches = []
    for day in range(1, 5):  # four emails, none opened
        touches.append(touch(NOW - day * 4 * DAY, "email_send"))
    for day in (2, 9):  # two pushes, both opened (one of them twice: still one engaged push)
        touches += [touch(NOW - day * DAY, "push_send"), touch(NOW - day * DAY + MINUTE, "push_open")]
    touches.append(touch(NOW - 2 * DAY + 2 * MINUTE, "push_open"))
    outlook = rank(touches)
    got = by_channel(outlook)
    assert (got["email"].engaged, got["email"].contacts, got["email"].probability) == (0, 4, 1 / 8)
    assert (got["push"].engaged, got["push"].contacts, got["push"].probability) == (2, 2, 3 / 6)
    assert (got["sms"].contacts, got["sms"].probability) == (0, 0.25)  # never tried: the prior
    assert [o.channel for o in outlook] == ["push", "sms", "email", "retargeting", "call_center"]


def test_an_open_and_a_click_of_one_email_are_one_engaged_contact() -> None:
    touches = [touch(NOW - 5 * DAY, "email_send"), touch(NOW - 5 * DAY + HOUR, "email_open"),
               touch(NOW - 5 * DAY + HOUR + MINUTE, "email_click"), touch(NOW - 4 * DAY, "email_send")]
    email = by_channel(rank(touches))["email"]
    assert (email.engaged, email.contacts, email.pending) == (1, 2, 0)
    assert email.probability == (1 + 1) / (1 + 3 + 2)


def test_an_engagement_goes_to_the_latest_contact_within_engaged_within() -> None:
    late_open = [touch(NOW - 10 * DAY, "email_send"), touch(NOW - 7 * DAY, "email_open")]  # exactly 3 days later
    assert by_channel(rank(late_open))["email"].engaged == 0
    in_time = [touch(NOW - 10 * DAY, "email_send"), touch(NOW - 7 * DAY - 1, "email_open")]  # 3 days - 1 ms
    assert by_channel(rank(in_time))["email"].engaged == 1
    # Two sends, then an open: the open is the second send's (the latest before it), the first is not engaged.
    two = [touch(NOW - 10 * DAY, "email_send"), touch(NOW - 9 * DAY, "email_send"),
           touch(NOW - 9 * DAY + 1, "email_open")]
    email = by_channel(rank(two))["email"]
    assert (email.engaged, email.contacts) == (1, 2)
    orphan = [touch(NOW - DAY, "email_open")]  # an open of a send not on record: no evidence
    assert by_channel(rank(orphan))["email"].contacts == 0


def test_window_and_maturity_edges_to_the_millisecond() -> None:
    old = [touch(NOW - 30 * DAY, "sms_send")]  # exactly the window old: no longer counts
    assert by_channel(rank(old))["sms"].contacts == 0
    assert by_channel(rank([touch(NOW - 30 * DAY + 1, "sms_send")]))["sms"].contacts == 1
    # Not engaged yet: pending until engaged_within (3d) is over, then a contact without engagement.
    recent = [touch(NOW - 3 * DAY + 1, "sms_send")]
    assert (by_channel(rank(recent))["sms"].contacts, by_channel(rank(recent))["sms"].pending) == (0, 1)
    matured = [touch(NOW - 3 * DAY, "sms_send")]
    assert (by_channel(rank(matured))["sms"].contacts, by_channel(rank(matured))["sms"].pending) == (1, 0)
    # Engaged already: counts at once.
    clicked = [touch(NOW - HOUR, "sms_send"), touch(NOW - HOUR + MINUTE, "sms_click")]
    sms = by_channel(rank(clicked))["sms"]
    assert (sms.engaged, sms.contacts, sms.pending, sms.probability) == (1, 1, 0, 2 / 5)


def test_suppressed_channels_are_excluded_with_the_decision_reason() -> None:
    touches = [touch(NOW - 3 * DAY, "sms_send"), touch(NOW - 3 * DAY + MINUTE, "sms_click"),
               touch(NOW - 2 * DAY, "sms_send"), touch(NOW - 2 * DAY + MINUTE, "sms_click")]  # best, and capped
    outlook = rank(touches)
    assert by_channel(outlook)["sms"].excluded == "cap:sms:7d:2" and by_channel(outlook)["sms"].probability == 3 / 6
    assert next_best_channel(outlook).channel == "email"
    assert [o.channel for o in outlook][-3:] == ["sms", "retargeting", "call_center"]  # excluded last, in order
    unsubscribed = touches[:2] + [touch(NOW - HOUR, "unsubscribe", "sms")]
    assert by_channel(rank(unsubscribed))["sms"].excluded == "unsubscribed:sms"


def test_nothing_may_be_contacted() -> None:
    withdrawn = Touch(NOW - HOUR, "c1", "consent_change", "web", "desktop", None, None, None, None, None, None, None)
    outlook = rank([withdrawn], extras={"c1": {"c": False}})
    assert next_best_channel(outlook) is None
    answer = outlook_answer(outlook, DEFAULT_POLICY)
    assert answer["channel"] is None and answer["probability"] is None
    assert {r["channel"]: r["excluded"] for r in answer["ranking"]} == {
        "email": "consent_withdrawn", "sms": "consent_withdrawn", "push": "consent_withdrawn",
        "retargeting": "consent_withdrawn", "call_center": "consent_withdrawn"}  # the suppression comes first


def test_the_policy_measures_retargeting_and_changes_the_prior() -> None:
    policy = parse_policy('[channels.retargeting]\ncontact_events = ["ad_impression"]\n'
                          '[next_channel]\nprior_alpha = 1\nprior_beta = 1\nwindow = "7d"\n')
    touches = [touch(NOW - 5 * DAY, "ad_impression"), touch(NOW - 5 * DAY + MINUTE, "ad_click"),
               touch(NOW - 8 * DAY, "email_send")]  # the email is older than the 7-day window
    got = by_channel(rank(touches, policy=policy))
    assert (got["retargeting"].engaged, got["retargeting"].contacts, got["retargeting"].probability) == (1, 1, 2 / 3)
    assert (got["email"].contacts, got["email"].probability) == (0, 0.5)
    assert next_best_channel(rank(touches, policy=policy)).channel == "retargeting"


def test_a_profile_state_and_the_answer() -> None:
    state = new_state("p-1")
    for t in (touch(NOW - 2 * DAY, "push_send"), touch(NOW - 2 * DAY + MINUTE, "push_open")):
        apply(state, {"op": "t", "ik": "device_id:d", "v": 0, "x": [list(t), "device_id:d"]})
    answer = outlook_answer(profile_outlook(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY)
    assert answer["channel"] == "push" and answer["probability"] == 0.4
    assert answer["ranking"][0] == {"channel": "push", "probability": 0.4, "engaged": 1, "contacts": 1,
                                    "pending": 0, "excluded": None}
    assert answer["prior"] == {"alpha": 1.0, "beta": 3.0} and answer["window"] == "30d"
    assert answer["policy_version"] == DEFAULT_POLICY.version
    assert outlook_answer(profile_outlook(None, NOW, DEFAULT_POLICY), DEFAULT_POLICY)["channel"] == "email"


# -- properties ------------------------------------------------------------------------------------------------

EVENTS = ["email_send", "email_open", "email_click", "sms_send", "sms_click", "push_send", "push_open",
          "unsubscribe", "call"]
touch_specs = st.lists(st.tuples(st.integers(min_value=-40 * DAY, max_value=HOUR), st.sampled_from(EVENTS),
                                 st.sampled_from(["email", "sms", "push", "web"])), max_size=30)


def _touches(spec: list) -> list[Touch]:
    out = []
    for n, (t, event_type, unsubscribe_channel) in enumerate(spec):
        channel = unsubscribe_channel if event_type == "unsubscribe" else CHANNEL_OF[event_type]
        out.append(touch(NOW + t, event_type, channel, f"e{n:03d}"))
    return out


@settings(max_examples=300, deadline=None)
@given(spec=touch_specs, seed=st.integers(0, 10_000))
def test_arrival_order_never_matters(spec: list, seed: int) -> None:
    touches = _touches(spec)
    shuffled = touches[:]
    random.Random(seed).shuffle(shuffled)
    assert rank(touches) == rank(shuffled)


@settings(max_examples=300, deadline=None)
@given(spec=touch_specs, caps=st.integers(0, 3))
def test_a_suppressed_channel_is_never_recommended(spec: list, caps: int) -> None:
    policy = parse_policy(f'[channels.email]\ncaps = [{{window = "7d", max = {caps}}}]\n'
                          f'[channels.push]\ncaps = [{{window = "24h", max = {caps}}}]\n')
    touches = _touches(spec)
    decisions = contact_decisions(touches, {}, NOW, policy)
    outlook = channel_outlook(touches, {}, NOW, policy, decisions)
    assert sorted(o.channel for o in outlook) == sorted(CHANNELS)
    best = next_best_channel(outlook)
    assert best is None or decisions[best.channel].allowed
    for o in outlook:
        assert (o.excluded is None) == (decisions[o.channel].allowed and o.probability is not None)
        if o.probability is not None:
            assert 0 < o.probability < 1 and 0 <= o.engaged <= o.contacts
            assert o.probability == (1 + o.engaged) / (4 + o.contacts)
    allowed = [o for o in outlook if o.excluded is None]
    assert all(a.probability >= b.probability for a, b in zip(allowed, allowed[1:]))
    assert outlook[:len(allowed)] == allowed  # the allowed ones first
