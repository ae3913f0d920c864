"""Contact decisions of a profile's journey state, and which of them to emit to ``decisions.contact``.

The journey stage holds every profile's stitched touches; after each batch it
asks ``emissions`` what changed. A profile's state remembers, per channel,
``[version, digest]`` of the last decision emitted (``cd``). A decision is
emitted only when its digest differs, with the next version: a profile that
was never contacted emits nothing (its decisions equal the baseline, an
empty profile's), an email send emits the email decision (its count moved),
and a replayed batch recomputes the same versions (the state was not
written), so ClickHouse keeps one row per (profile, channel, version).

The digest leaves out the reason of an allowed decision (``within_caps`` and
``no_contacts_on_record`` mean the same to a sender) and the policy version
(a reload reaches a profile at its next change, not as a flood).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from streams.optimization.policy import CHANNELS, ContactPolicy
from streams.optimization.pressure import NO_CONTACTS, Decision, contact_decisions
from streams.sessions.touches import Touch

REGISTRY = "cd"  # journey state key: channel -> [version, digest]


def profile_decisions(state: dict | None, now_ms: int, policy: ContactPolicy, *,
                      quiet_hours: bool = True, segments: frozenset[str] | set[str] = frozenset(),
                      ) -> dict[str, Decision]:
    """Decisions for a journey state (None: a profile with no touches on record) and its real-time segments."""
    touches: list[Touch] = []
    extras: dict[str, dict] = {}
    live = False
    types = policy.event_types
    for slot in (state or {}).get("s", {}).values():
        for x in (*slot.get("x", ()), *slot.get("k", ())):  # pins: opt-outs the trim kept (journeys/state.py)
            live = True
            if x[0][2] in types:  # event_type: most touches are no contact, skip them cheaply
                touches.append(Touch(*x[0]))
                if len(x) > 2 and x[2]:
                    extras[x[0][1]] = x[2]
    decisions = contact_decisions(touches, extras, now_ms, policy, quiet_hours=quiet_hours, segments=segments)
    if live:
        return decisions
    return {name: Decision(True, NO_CONTACTS, d.counts) if d.allowed else d for name, d in decisions.items()}


def digest(decision: Decision) -> str:
    body = (decision.allowed, "" if decision.allowed else decision.reason, sorted(decision.counts.items()),
            decision.next_allowed_at)
    return hashlib.blake2b(repr(body).encode(), digest_size=6).hexdigest()  # str, int, bool, None: a stable repr


_BASELINES: dict[str, dict[str, str]] = {}  # policy version -> digests of an empty profile's decisions


def _baseline(policy: ContactPolicy) -> dict[str, str]:
    baseline = _BASELINES.get(policy.version)
    if baseline is None:
        empty = contact_decisions([], {}, 0, policy, quiet_hours=False)
        baseline = {name: digest(d) for name, d in empty.items()}
        if len(_BASELINES) > 16:  # policies reloaded over a worker's life: keep a few
            _BASELINES.clear()
        _BASELINES[policy.version] = baseline
    return baseline


def emissions(state: dict, decisions: dict[str, Decision],
              policy: ContactPolicy) -> list[tuple[str, int, Decision]]:
    """(channel, version, decision) to emit; updates the state's registry (write the state after sending)."""
    registry = state.setdefault(REGISTRY, {})
    out = []
    for name in CHANNELS:
        decision = decisions[name]
        now = digest(decision)
        known = registry.get(name)
        if known is None:
            if now == _baseline(policy)[name]:
                continue
            version = 1
        elif known[1] == now:
            continue
        else:
            version = known[0] + 1
        registry[name] = [version, now]
        out.append((name, version, decision))
    return out


def decision_record(profile_id: str, channel: str, version: int, decision: Decision, decided_at: datetime,
                    caused_by: str | None, policy_version: str) -> dict[str, Any]:
    """The ``contact_decision`` Avro record."""
    return {
        "profile_id": profile_id, "channel": channel, "version": version, "allowed": decision.allowed,
        "reason": decision.reason, "counts": dict(decision.counts),
        "next_allowed_at": decision.next_allowed_at, "decided_at": decided_at,
        "caused_by_event_id": caused_by, "policy_version": policy_version,
    }


def http_answer(profile_id: str | None, channel: str, decision: Decision, policy_version: str,
                iso: Any) -> dict[str, Any]:  # noqa: ANN401 - iso: ms -> ISO string
    """The body of ``GET .../can_contact/<channel>/``."""
    return {
        "profile_id": profile_id, "channel": channel, "allowed": decision.allowed,
        "reason": decision.reason,
        "counts": decision.counts,
        "next_allowed_at": None if decision.next_allowed_at is None else iso(decision.next_allowed_at),
        "policy_version": policy_version,
    }


def _any_relevant(state: dict, policy: ContactPolicy) -> bool:
    types = policy.event_types
    return any(x[0][2] in types for slot in state["s"].values() for x in slot.get("x", ()))


def touch_of_message(msg: dict) -> tuple[str, int] | None:
    """(event id, event time ms) of the (newest) touch a journey message brings, if any: what a decision is
    caused by."""
    if msg.get("op") == "t":
        return msg["x"][0][1], msg["x"][0][0]
    if msg.get("op") == "a" and msg.get("x"):
        return msg["x"][-1][0][1], msg["x"][-1][0][0]
    return None


def changed_records(state: dict, decided_at: datetime, caused_by: str | None, policy: ContactPolicy,
                    segments: frozenset[str] | set[str] = frozenset()) -> list[tuple[dict[str, Any], Decision]]:
    """The Avro records (and decisions) to emit for a profile whose touches changed; updates the registry.

    ``segments``: the profile's real-time segments now (their ``[segments.*]`` caps apply).
    """
    overridden = bool(segments) and not policy.segments.keys().isdisjoint(segments)
    if not state.get(REGISTRY) and not overridden and not _any_relevant(state, policy):
        # Never decided and nothing to decide on: the baseline (most profiles, cheaply). Not so for a
        # member of an overriding segment: a cap of 0 suppresses a channel without any contact.
        return []
    now_ms = int(decided_at.timestamp() * 1000)
    decisions = profile_decisions(state, now_ms, policy, quiet_hours=False,  # quiet hours: the clock's, not touches'
                                  segments=segments)
    return [(decision_record(state["p"], channel, version, decision, decided_at, caused_by, policy.version), decision)
            for channel, version, decision in emissions(state, decisions, policy)]
