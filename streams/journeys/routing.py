"""The identity stage's side of journeys: where an identifier's touches go, and when they move.

The identity stage is the one place that handles an identifier's events and
its profile changes in order (both are keyed by the identifier), so it tells
the journey stage, in that order: each touch goes to the identifier's profile
of the moment (``t``), and each profile change of an identifier that has sent
touches becomes a move (``m``) to the profile it leaves (streams/journeys/state.py).

The identifier's stays are remembered in its identity state under ``jh``
([profile, version], the last few): a replayed change (the identity protocol
re-asserts its current assignment after a restart) re-sends the moves, in case
the first sending was lost with the worker; stale moves are ignored downstream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.sessions.touches import Touch

STAYS_KEPT = 8
_PROFILE_FIELD = Touch._fields.index("profile_id")
Send = tuple[str, dict[str, Any]]  # (profile the message is keyed by, message)


def touch_message(identity_state: dict, anchor: str, profile: str, touch: Touch, session_key: str,
                  extra: dict[str, Any] | None = None) -> tuple[Send, bool]:
    """The journey message of a touch stitched under ``anchor``; True if the identity state changed.

    ``extra``: the touch's offer and cart lines, for the live profile context (streams/journeys/context.py).
    """
    version = identity_state["cv"]
    stays = identity_state.get("jh")
    changed = False
    if not stays or stays[-1][0] != profile:
        identity_state["jh"] = ([*stays, [profile, version]] if stays else [[profile, version]])[-STAYS_KEPT:]
        changed = True
    fields = list(touch)
    fields[_PROFILE_FIELD] = None  # a journey's touches carry no profile (the slot's owner is it); not _replace: 2 us
    entry = [fields, session_key] + ([extra] if extra else [])
    return (profile, {"op": "t", "ik": anchor, "v": version, "x": entry}), changed


def move_messages(me: str, identity_state: dict | None, changes: Iterable[dict]) -> tuple[list[Send], bool]:
    """Moves for ``me``'s assigned changes (only if it has sent touches); True if the identity state changed."""
    if identity_state is None or not identity_state.get("jh"):
        return [], False
    stays = identity_state["jh"]
    sends: list[Send] = []
    changed = False
    for change in changes:
        if change.get("kind") != "assigned" or change.get("identifier") != me or not change.get("profile_id"):
            continue
        version, profile = change["version"], change["profile_id"]
        if version > stays[-1][1]:
            if profile != stays[-1][0]:
                sends.append((stays[-1][0], {"op": "m", "ik": me, "v": version, "to": profile}))
                stays.append([profile, version])
                del stays[:-STAYS_KEPT]
                changed = True
        else:  # a replay: re-send every move remembered
            sends.extend((a[0], {"op": "m", "ik": me, "v": b[1], "to": b[0]}) for a, b in zip(stays, stays[1:]))
    return sends, changed


def drop_message(me: str, identity_state: dict | None) -> list[Send]:
    """``me`` was erased: its touches leave its last profile's journeys."""
    if identity_state is None or not identity_state.get("jh"):
        return []
    return [(identity_state["jh"][-1][0], {"op": "d", "ik": me, "v": identity_state["cv"] + 1})]
