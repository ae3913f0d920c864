"""Opt-outs outlive the journey state's trim as pins: they move and are erased with their identifier.

The journey state forgets converted journeys older than the retention (90
days) and keeps at most 5,000 touches per profile. Contact pressure reads the
same state, so an unsubscribe that went with the trim used to be forgotten:
the person became contactable again. Trimmed consent, unsubscribe and
resubscribe touches now stay as pins (the latest per event type and channel).
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.journeys.context import touch_extra
from streams.journeys.state import apply, journeys, new_state, settle
from streams.optimization.decisions import profile_decisions
from streams.optimization.policy import DEFAULT_POLICY
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import Touch

DAY = 86_400_000
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
POLICY = SessionPolicy()  # 90 days of retention
PINNED = DEFAULT_POLICY.suppression_event_types


def entry(n: int, event_type: str, channel: str, days_ago: float, **record: object) -> list:
    touch = Touch(NOW - int(days_ago * DAY), f"e{n:03d}", event_type, channel, "unknown", None, None, None, None,
                  None, None, None)
    extra = touch_extra({"event_type": event_type, **record})
    return [list(touch), "k"] + ([extra] if extra else [])


def add(state: dict, ik: str, *entries: list) -> None:
    for x in entries:
        apply(state, {"op": "t", "ik": ik, "v": 0, "x": x})


def old_opt_out_then_recent_life(state: dict) -> None:
    """An SMS unsubscribe and an email consent withdrawal 200 days ago, a purchase after, then recent touches."""
    add(state, "phone_sha256:p", entry(1, "unsubscribe", "sms", 200))
    add(state, "email_sha256:e", entry(2, "consent_change", "web", 199, consent={"marketing": False}),
        entry(3, "purchase", "web", 198), entry(4, "page_view", "web", 5), entry(5, "email_send", "email", 1))


def test_the_trim_keeps_old_opt_outs_as_pins() -> None:
    state = new_state("p-1")
    old_opt_out_then_recent_life(state)
    unpinned = copy.deepcopy(state)
    settle(state, POLICY, PINNED)
    settle(unpinned, POLICY)  # what the trim did before pins: the opt-outs went with the old journey
    assert [x[0][1] for slot in state["s"].values() for x in slot["x"]] == ["e004", "e005"]
    assert [x[0][1] for x in state["s"]["phone_sha256:p"]["k"]] == ["e001"]
    assert [x[0][1] for x in state["s"]["email_sha256:e"]["k"]] == ["e002"]  # the purchase is no pin
    decided = profile_decisions(state, NOW, DEFAULT_POLICY)
    assert decided["sms"].reason == decided["email"].reason == "consent_withdrawn"
    assert profile_decisions(unpinned, NOW, DEFAULT_POLICY)["email"].allowed  # the bug pins fix
    # Pins never enter journeys: the one journey left starts at the recent page view.
    assert [(j.start, len(j.touches)) for j in journeys(state, POLICY)] == [(NOW - 5 * DAY, 2)]


def test_a_later_consent_lifts_a_pinned_withdrawal_and_pins_keep_the_latest_per_type_and_channel() -> None:
    state = new_state("p-1")
    old_opt_out_then_recent_life(state)
    settle(state, POLICY, PINNED)
    add(state, "email_sha256:e", entry(6, "consent_change", "web", 0.5, consent={"marketing": True}))
    decided = profile_decisions(state, NOW, DEFAULT_POLICY)
    assert decided["email"].allowed and decided["sms"].reason == "unsubscribed:sms"
    # Two more years: the recent consent and a second unsubscribe are trimmed too; one pin per key remains.
    later = NOW + 400 * DAY
    add(state, "phone_sha256:p", entry(7, "unsubscribe", "sms", 100), entry(8, "purchase", "web", 99))
    add(state, "email_sha256:e", entry(9, "purchase", "web", 0.2), entry(10, "page_view", "web", -400))
    settle(state, POLICY, PINNED)
    assert [x[0][1] for x in state["s"]["phone_sha256:p"]["k"]] == ["e007"]  # the later sms unsubscribe
    assert [x[0][1] for x in state["s"]["email_sha256:e"]["k"]] == ["e006"]  # the later consent
    decided = profile_decisions(state, later, DEFAULT_POLICY)
    assert decided["email"].allowed and decided["sms"].reason == "unsubscribed:sms"


def test_pins_move_with_their_identifier_and_go_with_an_erasure() -> None:
    old, new = new_state("p-old"), new_state("p-new")
    old_opt_out_then_recent_life(old)
    settle(old, POLICY, PINNED)
    sends, _ = apply(old, {"op": "m", "ik": "phone_sha256:p", "v": 1, "to": "p-new"})
    assert [(to, msg["op"], [x[0][1] for x in msg["k"]]) for to, msg in sends] == [("p-new", "a", ["e001"])]
    for _, msg in sends:
        apply(new, msg)
    assert profile_decisions(new, NOW, DEFAULT_POLICY)["sms"].reason == "unsubscribed:sms"
    assert profile_decisions(old, NOW, DEFAULT_POLICY)["sms"].reason == "consent_withdrawn"  # its own pin stays
    replayed = copy.deepcopy(new)
    for _, msg in sends:  # a replayed add changes nothing
        assert apply(replayed, msg) == ([], False)
    apply(new, {"op": "d", "ik": "phone_sha256:p", "v": 2})
    assert "k" not in new["s"]["phone_sha256:p"]
    assert profile_decisions(new, NOW, DEFAULT_POLICY)["sms"].allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["unsubscribe", "subscription", "consent_change", "page_view", "purchase"]),
                          st.sampled_from(["email", "sms", "web"]), st.integers(0, 400), st.booleans()),
                min_size=1, max_size=30))
def test_suppressions_are_the_same_with_the_trim_as_without(touches) -> None:  # noqa: ANN001
    """Whatever the trim forgets, a profile's consent and unsubscribes decide as if it had kept everything."""
    state = new_state("p-1")
    for n, (event_type, channel, days_ago, marketing) in enumerate(touches):
        add(state, f"id:{n % 3}", entry(n, event_type, channel, days_ago, consent={"marketing": marketing}))
    add(state, "id:0", entry(999, "page_view", "web", 0))  # the newest touch: the trim's horizon is 90 days back
    kept_all = copy.deepcopy(state)
    settle(state, POLICY, PINNED)

    def suppressions(s: dict) -> dict:
        return {c: d.reason for c, d in profile_decisions(s, NOW, DEFAULT_POLICY).items() if not d.allowed}

    assert suppressions(state) == suppressions(kept_all)
