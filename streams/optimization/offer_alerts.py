"""Which offer conflicts a profile's journey state emits to ``<prefix>alerts.offers``, each flip once.

The journey stage asks ``changed_records`` whenever a profile's touches
change (streams/stages/journeys.py). The state remembers the conflicts
detected so far (``oa``: ``[conflict id, first event id, second event id,
flip]`` each, oldest first, where ``flip`` hashes the scope and the two
offers in their order). A detected conflict is emitted unless it is known:

- its id is remembered (seen in an earlier batch), or
- a remembered conflict shares one of its two shows and its flip: the same
  flip seen through other touches because one arrived late. Touches of one
  person arrive out of event-time order across partitions (a click before
  its send, an open hours late); the flip 20% -> 50% between the last 20%
  email and the SMS stays one alert when the SMS's click arrives before the
  SMS (the alert names the click; ClickHouse keeps what was emitted).

The registry is the profile's detected conflicts now (streams/optimization/offers.py),
at most ``MAX_REMEMBERED`` of the newest: conflicts whose touches left (trimmed,
or moved with an identifier to another profile) are forgotten, so it is bounded
by the touches the state keeps, and by the constant for a pathological profile
(whose conflicts older than the newest ``MAX_REMEMBERED`` are then neither
remembered nor emitted).

A replayed batch finds the registry as it was (the state is written only after
the alerts are delivered) and emits the same ids again; ClickHouse keeps one row
per id (offer_conflicts is a ReplacingMergeTree on it). A merge that brings
two conflicting shows into another profile emits the conflict again under the
new profile id (the registry stays with the old profile), with the same id
when the same two touches witness it: readers of the topic keep one per id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from streams.optimization.offers import Conflict, OfferShow, conflicts
from streams.optimization.policy import ContactPolicy
from streams.sessions.touches import Touch

REGISTRY = "oa"  # journey state key: [conflict id, first event id, second event id, flip], oldest first
MAX_REMEMBERED = 500


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


def flip(conflict: Conflict) -> str:
    """The scope and the two offers in their order: what stays when late touches change the witnesses."""
    a, b = conflict.first, conflict.second
    text = "\x1f".join(map(str, (a.scope, a.offer_id, a.discount, b.offer_id, b.discount)))
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def new_conflicts(state: dict, policy: ContactPolicy) -> list[Conflict]:
    """The conflicts not emitted yet; updates the registry (write the state only after sending them)."""
    touches, extras = _offer_touches(state)
    detected = conflicts(touches, extras, policy.offers)[-MAX_REMEMBERED:] if touches else []
    known = state.get(REGISTRY, ())
    ids = {entry[0] for entry in known}
    witnessed = {(event_id, entry[3]) for entry in known for event_id in (entry[1], entry[2])}
    fresh = []
    entries = []
    for c in detected:
        key = flip(c)
        if c.conflict_id not in ids and (c.first.event_id, key) not in witnessed and (
                c.second.event_id, key) not in witnessed:
            fresh.append(c)
        entries.append([c.conflict_id, c.first.event_id, c.second.event_id, key])
    if entries:
        state[REGISTRY] = entries
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
