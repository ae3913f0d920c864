"""Decisions from a journey state, and which to emit: only changes, with versions that repeat on a replay."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from schemas.models import ContactDecision
from schemas.wire import AvroDecoder, AvroEncoder
from streams.journeys.context import touch_extra
from streams.journeys.state import apply, new_state
from streams.optimization.decisions import REGISTRY, decision_record, emissions, profile_decisions
from streams.optimization.policy import DEFAULT_POLICY, parse_policy
from streams.optimization.pressure import Decision
from streams.sessions.touches import Touch

DAY = 86_400_000
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)


def add(state: dict, ik: str, n: int, event_type: str, channel: str, days_ago: float, **record: object) -> None:
    touch = Touch(NOW - int(days_ago * DAY), f"e{n}", event_type, channel, "unknown", None, None, None, None, None,
                  None, None)
    extra = touch_extra({"event_type": event_type, **record})
    apply(state, {"op": "t", "ik": ik, "v": 0, "x": [list(touch), ik] + ([extra] if extra else [])})


def test_touch_extra_keeps_what_pressure_needs_and_nothing_else() -> None:
    assert touch_extra({"event_type": "consent_change", "consent": {"marketing": False}}) == {"c": False}
    assert touch_extra({"event_type": "consent_change", "consent": {"marketing": None}}) is None
    assert touch_extra({"event_type": "page_view", "consent": {"marketing": False}}) is None  # consent changes only
    assert touch_extra({"event_type": "unsubscribe", "properties": {"channel": "SMS", "reason": "x"}}) == {"u": "sms"}
    assert touch_extra({"event_type": "call", "properties": {"direction": "Inbound"}}) == {"r": "inbound"}
    assert touch_extra({"event_type": "page_view", "properties": {"path": "/"}}) is None


def test_decisions_follow_the_state_across_identifiers() -> None:
    state = new_state("p-1")
    for n in range(3):
        add(state, "email_sha256:a", n, "email_send", "email", 6 - n)
    for n in range(3, 5):
        add(state, "email_sha256:b", n, "email_send", "email", 2)  # the second address, stitched
    got = profile_decisions(state, NOW, DEFAULT_POLICY)
    assert got["email"] == Decision(False, "cap:email:7d:5", {"7d": 5}, NOW - 6 * DAY + 7 * DAY)
    add(state, "phone_sha256:c", 9, "consent_change", "web", 1, consent={"marketing": False})
    assert {d.reason for d in profile_decisions(state, NOW, DEFAULT_POLICY).values()} == {"consent_withdrawn"}


def test_a_profile_without_touches_has_none_on_record() -> None:
    assert profile_decisions(None, NOW, DEFAULT_POLICY)["sms"] == Decision(True, "no_contacts_on_record", {"7d": 0})
    state = new_state("p-1")
    add(state, "device_id:d", 1, "email_send", "email", 1)
    apply(state, {"op": "m", "ik": "device_id:d", "v": 1, "to": "p-2"})  # merged into another profile
    assert profile_decisions(state, NOW, DEFAULT_POLICY)["email"].reason == "no_contacts_on_record"
    add(state, "device_id:e", 2, "page_view", "web", 1)
    assert profile_decisions(state, NOW, DEFAULT_POLICY)["email"].reason == "within_caps"


def test_only_changes_are_emitted_with_the_next_version() -> None:
    state = new_state("p-1")
    add(state, "device_id:d", 1, "page_view", "web", 1)
    assert emissions(state, profile_decisions(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY) == []  # the baseline
    add(state, "email_sha256:a", 2, "email_send", "email", 1)
    first = emissions(state, profile_decisions(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY)
    assert [(c, v, d.counts) for c, v, d in first] == [("email", 1, {"7d": 1})]
    assert emissions(state, profile_decisions(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY) == []
    replay = copy.deepcopy(state)
    add(state, "email_sha256:a", 3, "email_send", "email", 0.5)
    add(replay, "email_sha256:a", 3, "email_send", "email", 0.5)
    second = emissions(state, profile_decisions(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY)
    assert second == emissions(replay, profile_decisions(replay, NOW, DEFAULT_POLICY), DEFAULT_POLICY)
    assert [(c, v) for c, v, _ in second] == [("email", 2)]
    # A week later both sends aged out: back to the baseline, emitted with the next version (never reset).
    later = emissions(state, profile_decisions(state, NOW + 8 * DAY, DEFAULT_POLICY), DEFAULT_POLICY)
    assert [(c, v, d.counts) for c, v, d in later] == [("email", 3, {"7d": 0})]
    assert state[REGISTRY]["email"][0] == 3 and set(state[REGISTRY]) == {"email"}


def test_a_policy_reload_alone_emits_nothing_and_the_reason_of_an_allowed_decision_is_no_change() -> None:
    state = new_state("p-1")
    add(state, "email_sha256:a", 1, "email_send", "email", 1)
    emissions(state, profile_decisions(state, NOW, DEFAULT_POLICY), DEFAULT_POLICY)
    other = parse_policy("[quiet_hours]\nstart = 0\nend = 23")  # same caps, other version
    assert emissions(state, profile_decisions(state, NOW, other, quiet_hours=False), other) == []
    stricter = parse_policy('[channels.email]\ncaps = [{window = "7d", max = 1}]')
    assert [(c, d.reason) for c, _, d in emissions(state, profile_decisions(state, NOW, stricter), stricter)] == [
        ("email", "cap:email:7d:1")]


def test_the_record_fits_the_avro_contract() -> None:
    decided = datetime(2026, 11, 20, 12, 0, 1, tzinfo=timezone.utc)
    record = decision_record("p-1", "email", 4, Decision(False, "cap:email:7d:5", {"7d": 5}, NOW + DAY), decided,
                             "e9", "abc123")
    value = AvroEncoder("contact_decision").encode(record)
    back, label = AvroDecoder("contact_decision").decode(value)
    assert label == "contact_decision.v1"
    model = ContactDecision.from_avro(back)
    assert model.next_allowed_at == datetime(2026, 11, 21, 12, tzinfo=timezone.utc) and model.counts == {"7d": 5}
    assert model.decided_at == decided and model.caused_by_event_id == "e9" and model.version == 4


def test_a_member_of_an_overriding_segment_is_decided_without_contacts() -> None:
    from streams.optimization.decisions import changed_records

    policy = parse_policy('[segments.no_sms.channels]\nsms = [{window = "7d", max = 0}]')
    state = new_state("p-1")
    add(state, "device_id:d", 1, "page_view", "web", 1)
    at = datetime.fromtimestamp(NOW / 1000, timezone.utc)
    assert changed_records(state, at, "e1", policy) == []  # the baseline, cheaply
    got = changed_records(state, at, "e1", policy, segments=frozenset({"no_sms"}))
    assert [(r["channel"], r["version"], r["reason"]) for r, _ in got] == [("sms", 1, "cap:sms:7d:0")]
    got = changed_records(state, at, "e2", policy)  # left the segment: allowed again, the next version
    assert [(r["channel"], r["version"], r["allowed"]) for r, _ in got] == [("sms", 2, True)]
