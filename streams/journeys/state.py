"""One profile's journey state in the stream, and what it emits: pure functions, JSON-able state.

A profile holds its touches in *slots*, one per identity key (the identifier
a touch was stitched under, streams/sessions/touches.py). Identity moves
identifiers between profiles; a slot moves with its identifier, so a profile's
touches are always those of the identifiers it owns now -- what ClickHouse's
touchpoints_resolved says -- and journeys of merged profiles combine.

Messages, all keyed by the profile they are for (streams/journeys/messages.py):

- ``t`` (touch): from the identity stage, to the identifier's profile of the
  moment, tagged with the identifier's change version ``v``;
- ``m`` (move): from the identity stage when the identifier's profile changes
  at version ``v``: the old profile sends the slot's touches on (``a``) and
  keeps a tombstone ``{v, fw}``;
- ``a`` (add): a moved slot's touches, tagged with the move's version;
- ``d`` (drop): the identifier was erased: its touches go, a tombstone stays.

*Pins* (``k`` in a slot and in add messages): consent and unsubscribe touches
that the trim (retention, touch cap) removes stay as pins, the latest per
event type and subject channel, so an opt-out never expires with the
journey data (streams/optimization/decisions.py reads them). They move and
are erased with their identifier like its touches, and never enter journeys.

Messages for one identifier travel different partitions and may cross, so the
versions decide: a touch or add tagged below a tombstone's version belongs to
an earlier stay and follows the tombstone on; one tagged at or above it means
the identifier came back. A move at or below what the slot knows is stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams import versions
from streams.journeys.build import Journey, JourneyTouch, split_journeys, unique
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import Touch

MAX_TOMBSTONES = 1_000  # per profile; the oldest go first (a message that old has long arrived)
MAX_TOUCHES_PER_PROFILE = 5_000  # a bot or a shared test account; the oldest touches go first


@dataclass
class JourneyRow:
    journey_id: str
    profile_id: str
    version: int
    deleted: bool
    start: int
    journey: Journey | None  # None for a deletion


def new_state(profile_id: str) -> dict[str, Any]:
    # s: identity key -> slot (live {"v", "x": [[touch, session key], ...]} or tombstone {"v", "fw"});
    # em: journey id -> [version, digest, deleted] (streams/versions.py).
    return {"p": profile_id, "s": {}, "em": {}}


def _tombstone(state: dict, ik: str, version: int, forward_to: str) -> None:
    slots = state["s"]
    slots.pop(ik, None)  # re-inserted last: tombstones are evicted oldest first
    slots[ik] = {"v": version, "fw": forward_to}
    tombstones = [k for k, slot in slots.items() if "fw" in slot]
    for old in tombstones[: max(0, len(tombstones) - MAX_TOMBSTONES)]:
        del slots[old]


def _take_in(state: dict, ik: str, version: int, touches: Iterable[list],
             pins: list | None = None) -> tuple[list[tuple[str, dict]], bool]:
    """Touches (and pins) of ``ik`` tagged ``version`` arrive: keep them, or send them after the identifier."""
    slot = state["s"].get(ik)
    touches = list(touches)
    if slot is not None and "fw" in slot and version < slot["v"]:
        if not slot["fw"]:
            return [], False  # erased since
        return [(slot["fw"], _add(ik, version, touches, pins))], False
    if slot is None or "fw" in slot:
        slot = state["s"][ik] = {"v": version, "x": []}
    else:
        slot["v"] = max(slot["v"], version)
    known = {x[0][1] for x in slot["x"]}
    added = [x for x in touches if x[0][1] not in known]
    slot["x"].extend(added)
    return [], bool(added) | _pin(slot, pins or ())


def _add(ik: str, version: int, touches: list, pins: list | None) -> dict:
    return {"op": "a", "ik": ik, "v": version, "x": touches, **({"k": pins} if pins else {})}


def _pin_key(entry: list) -> tuple[str, str]:
    # (event type, the channel it is about: properties.channel when sent, else the touch's channel)
    extra = entry[2] if len(entry) > 2 and entry[2] else {}
    return entry[0][2], extra.get("u") or entry[0][3]


def _pin(slot: dict, entries: Iterable[list]) -> bool:
    """Keep in ``slot`` the latest of ``entries`` per pin key; True if the pins changed."""
    pins = {_pin_key(e): e for e in slot.get("k", ())}
    changed = False
    for entry in entries:
        key = _pin_key(entry)
        held = pins.get(key)
        if held is None or (entry[0][0], entry[0][1]) > (held[0][0], held[0][1]):  # (event time, event id)
            pins[key] = entry
            changed = True
    if changed:
        slot["k"] = sorted(pins.values(), key=lambda e: (e[0][0], e[0][1]))
    return changed


def apply(state: dict, msg: dict) -> tuple[list[tuple[str, dict]], bool]:
    """One message; returns (messages to send, each to a profile; whether the state changed)."""
    op, ik, version = msg["op"], msg["ik"], msg["v"]
    if op == "t":
        return _take_in(state, ik, version, [msg["x"]])
    if op == "a":
        return _take_in(state, ik, version, msg["x"], msg.get("k"))
    slot = state["s"].get(ik)
    if slot is not None and version <= slot["v"]:
        return [], False  # stale: the slot already knows a later stay or move
    touches = slot["x"] if slot is not None and "x" in slot else []
    pins = slot.get("k") if slot is not None else None
    if op == "m":
        _tombstone(state, ik, version, msg["to"])
        # Sent even when empty: it revives a tombstone the identifier left at its new profile
        # earlier, so touches that went round it stop being sent back and forth.
        sends = [(msg["to"], _add(ik, version, chunk, pins if i == 0 else None))
                 for i, chunk in enumerate(_chunks(touches))]
        return sends, True
    if op == "d":
        _tombstone(state, ik, version, "")
        return [], True
    raise ValueError(f"unknown journey message op {op!r}")


ADD_CHUNK = 500  # touches per add message: well under Kafka's 1 MB default message size


def _chunks(touches: list) -> list[list]:
    return [touches[i:i + ADD_CHUNK] for i in range(0, len(touches), ADD_CHUNK)] or [[]]


def touches_of(state: dict) -> list[JourneyTouch]:
    return [(Touch(*x[0]), x[1]) for slot in state["s"].values() for x in slot.get("x", ())]


def _trim(state: dict, ordered: list[JourneyTouch], policy: SessionPolicy,
          pinned_types: frozenset[str]) -> list[JourneyTouch]:
    """Forget whole journeys that converted more than the retention before the newest touch, then cap.

    Forgotten touches of ``pinned_types`` (consent, unsubscribe, resubscribe) stay as the slot's pins.
    """
    if not ordered:
        return ordered
    horizon = ordered[-1][0].t - policy.retention_ms
    if ordered[0][0].t >= horizon and len(ordered) <= MAX_TOUCHES_PER_PROFILE:
        return ordered
    cut = 0
    for i, (touch, _) in enumerate(ordered):
        if touch.t >= horizon:
            break
        if policy.is_goal(touch.event_type):
            cut = i + 1  # a journey ends here: what follows does not depend on what came before
    kept = ordered[cut:][-MAX_TOUCHES_PER_PROFILE:]
    keep_ids = {t.event_id for t, _ in kept}
    for slot in state["s"].values():
        if "x" in slot:
            _pin(slot, [x for x in slot["x"] if x[0][1] not in keep_ids and x[0][2] in pinned_types])
            slot["x"] = [x for x in slot["x"] if x[0][1] in keep_ids]
    # Journeys that start before what is kept are final: never delete or re-emit them.
    kept_from = kept[0][0].t if kept else horizon
    versions.forget(state["em"], lambda digest: digest[0] < kept_from)
    return kept


def journeys(state: dict, policy: SessionPolicy) -> list[Journey]:
    return split_journeys(state["p"], unique(touches_of(state)), policy)


def settle(state: dict, policy: SessionPolicy, pinned_types: frozenset[str] = frozenset()) -> list[JourneyRow]:
    """Rows that bring the journeys table to this profile's journeys now (new versions and deletions).

    ``pinned_types``: event types whose touches outlive the trim as pins (the contact policy's
    consent, unsubscribe and resubscribe events).
    """
    ordered = _trim(state, unique(touches_of(state)), policy, pinned_types)
    current = {j.journey_id: (j.digest(), j) for j in split_journeys(state["p"], ordered, policy)}
    return [JourneyRow(e.row_id, state["p"], e.version, e.item is None, e.start, e.item)
            for e in versions.reconcile(state["em"], current)]
