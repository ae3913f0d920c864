"""Which offer conflicts a profile's journey state emits to ``<prefix>alerts.offers``, each once.

The journey stage asks ``changed_records`` whenever a profile's touches
change (streams/stages/journeys.py). The state remembers the ids of the
conflicts it has emitted (``oa``, oldest first); a conflict is emitted when
its id is not among them. The registry is the profile's detected conflicts
(streams/optimization/offers.py), at most ``MAX_REMEMBERED`` of the newest:
ids whose touches left (trimmed, or moved with an identifier to another
profile) are forgotten, so the registry is bounded by the touches the state
keeps, and by the constant for a pathological profile (whose conflicts older
than the newest ``MAX_REMEMBERED`` are then neither remembered nor emitted).

A replayed batch finds the registry as it was (the state is written only after
the alerts are delivered) and emits the same ids again; ClickHouse keeps one row
per id (offer_conflicts is a ReplacingMergeTree on it). A merge that brings
two conflicting shows into another profile emits that conflict again under
the new profile id, with the same id: readers of the topic keep one per id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.optimization.offers import Conflict, OfferShow, conflicts
from streams.optimization.policy import ContactPolicy
from streams.sessions.touches import Touch

REGISTRY = "oa"  # journey state key: ids of the conflicts emitted, oldest first
MAX_REMEMBERED = 1_000


def _offer_touches(state: dict) -> tuple[list[Touch], dict[str, dict]]:
    """The touches of a journey state that carry an offer, with their extras (most touches carry none)."""
    touches: list[Touch] = []
    extras: dict[str, dict] = {}
    for slot in state.get("s", {}).values():
        for x in slot.get("x", ()):
            if len(x) > 2 and x[2] and "o" in x[2]:
                touches.append(Touch(*x[0]))
                extras[x[0][1]] = x[2]
    return touches, extras


def new_conflicts(state: dict, policy: ContactPolicy) -> list[Conflict]:
    """The conflicts not emitted yet; updates the registry (write the state only after sending them)."""
    touches, extras = _offer_touches(state)
    detected = conflicts(touches, extras, policy.offers)[-MAX_REMEMBERED:] if touches else []
    known = set(state.get(REGISTRY, ()))
    fresh = [c for c in detected if c.conflict_id not in known]
    if detected:
        state[REGISTRY] = [c.conflict_id for c in detected]
    else:
        state.pop(REGISTRY, None)  # most profiles never see a conflict: no key at all
    return fresh


def _side(prefix: str, show: OfferShow) -> dict[str, Any]:
    return {f"{prefix}_offer_id": show.offer_id, f"{prefix}_discount_percent": show.discount,
            f"{prefix}_channel": show.channel, f"{prefix}_event_type": show.event_type,
            f"{prefix}_shown_at": show.t, f"{prefix}_event_id": show.event_id}


def conflict_record(profile_id: str, conflict: Conflict, detected_at: datetime, policy: ContactPolicy
                    ) -> dict[str, Any]:
    """The ``offer_conflict`` Avro record (times as ms since the epoch, as timestamp-millis takes them)."""
    return {"conflict_id": conflict.conflict_id, "profile_id": profile_id, "campaign_id": conflict.campaign_id,
            **_side("first", conflict.first), **_side("second", conflict.second),
            "window": policy.offers.window, "detected_at": detected_at, "policy_version": policy.version}


def changed_records(state: dict, detected_at: datetime, policy: ContactPolicy) -> list[dict[str, Any]]:
    """The Avro records of the profile's new conflicts; updates the registry."""
    return [conflict_record(state["p"], c, detected_at, policy) for c in new_conflicts(state, policy)]
