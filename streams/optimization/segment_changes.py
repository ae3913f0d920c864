"""Which segment membership changes a profile's journey state emits to ``<prefix>segments``.

The journey stage recomputes a profile's segments whenever its touches change
(streams/stages/journeys.py), and when a segment tick finds the profile due
because time alone may have changed a membership (``sd``, the next such time:
streams/stages/segment_ticks.py; such a change is caused by no touch), and
asks ``changed_records`` what to emit. The
state remembers, per segment, ``[version, member]`` of the last change
emitted (``sg``). A change is emitted only when membership differs, with the
next version: ``entered`` or ``left``. A profile never in a segment emits
nothing for it (not being a member is the baseline); a replayed batch
recomputes the same versions (the state was not written), so ClickHouse keeps
one row per (profile, segment, version); versions never restart, also after a
segment was left or removed from the definitions.

A segment removed from the definitions is left by its members at their next
touch (it is evaluated as not holding); its registry entry stays, so the
registry is bounded by the number of segment names ever defined.

Identity merges fall out of the recomputation: a profile whose identifiers
move away loses their touches and, with no touches left, leaves every
segment (caused by no touch); the surviving profile gains them and enters
what they make it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.optimization.features import state_features
from streams.optimization.policy import ContactPolicy
from streams.optimization.segment_definitions import SegmentDefinitions
from streams.optimization.segments import memberships, next_change_at

REGISTRY = "sg"  # journey state key: segment -> [version, 1 member | 0 not]
DUE = "sd"  # journey state key: when time alone may change a membership next (ms), for the segment ticks
ENTERED, LEFT = "entered", "left"


def emissions(state: dict, members: frozenset[str] | set[str],
              definitions: SegmentDefinitions) -> list[tuple[str, int, str]]:
    """(segment, version, entered|left) to emit, in definition order; updates the registry (write it after)."""
    registry = state.setdefault(REGISTRY, {})
    out = []
    for name in (*definitions.names, *(n for n in registry if n not in definitions.segments)):
        member = int(name in members)
        known = registry.get(name)
        if (known is None and not member) or (known is not None and known[1] == member):
            continue
        version = 1 if known is None else known[0] + 1
        registry[name] = [version, member]
        out.append((name, version, ENTERED if member else LEFT))
    if not registry:
        del state[REGISTRY]  # most profiles are in no segment: no key at all
    return out


def membership_record(profile_id: str, segment: str, version: int, change: str, evaluated_at: datetime,
                      caused_by: str | None, definitions_version: str) -> dict[str, Any]:
    """The ``segment_membership`` Avro record."""
    return {"profile_id": profile_id, "segment": segment, "version": version, "change": change,
            "evaluated_at": evaluated_at, "caused_by_event_id": caused_by, "definitions_version": definitions_version}


def changed_records(state: dict, evaluated_at: datetime, caused_by: str | None, definitions: SegmentDefinitions,
                    policy: ContactPolicy) -> tuple[frozenset[str], list[dict[str, Any]]]:
    """(the profile's segments now, the Avro records of the changes to emit); updates the registry and ``sd``,
    the time the profile is due again with no new touch (``segments.next_change_at``)."""
    now_ms = int(evaluated_at.timestamp() * 1000)
    features = state_features(state, now_ms, policy)
    members = frozenset(memberships(features, definitions))
    due = next_change_at(features, definitions)
    if due is None:
        state.pop(DUE, None)
    else:
        state[DUE] = due
    return members, [membership_record(state["p"], name, version, change, evaluated_at, caused_by,
                                       definitions.version)
                     for name, version, change in emissions(state, members, definitions)]
