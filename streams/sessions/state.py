"""One session key's state in the stream, and what it emits: pure functions, JSON-able state.

The state keeps the key's touches (bounded by retention and a cap) and, per
session id it ever emitted, the version and digest of the last row. Sessions
are recomputed from the touches (``split.sessionize``), so the outcome never
depends on arrival order; what the watermark decides is only *when* a
session is emitted:

- a session is emitted once it is closed, i.e. its ``closes_at`` (last touch
  + channel timeout) is at or below the partition's watermark (newest event
  time seen minus the allowed lateness). A touch up to the allowed lateness
  late can only extend a session that is not closed yet, so it joins or
  merges sessions before anything is emitted, exactly as in order;
- a later touch changes a session already emitted: it is emitted again with
  a higher version (ClickHouse keeps the latest), and a session id that no
  longer exists (an earlier touch became the first, two sessions merged)
  gets a deletion row with a higher version.

Replays (the input offset is at or below the one the state has applied)
re-send every row the key currently asserts, with the same versions: a
worker killed after its state landed but before its rows did loses nothing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from streams.sessions.policy import SessionPolicy
from streams.sessions.split import Session, runs, session_of, sessionize, touch_order
from streams import versions
from streams.sessions.touches import Touch
from streams.versions import Emission, reconcile


@dataclass
class SessionRow:
    """A row for the sessions table: a session at a version, or the deletion of a session id."""

    session_id: str
    session_key: str
    identity_key: str
    version: int
    deleted: bool
    start: int
    session: Session | None  # None for a deletion
    profile_id: str | None


@dataclass
class Emits:
    rows: list[SessionRow] = field(default_factory=list)
    due: int | None = None  # when the earliest open session closes (event time), if any
    dirty: bool = False


def new_state(key: str, identity_key: str) -> dict[str, Any]:
    # t: touches (lists, sorted by touch_order); em: session id -> [version, digest, deleted];
    # p: the profile of the newest processed touch; o: input offset applied, per source.
    return {"k": key, "ik": identity_key, "t": [], "em": {}, "p": None, "o": {}}


def _is_replay(state: dict, source: tuple[str, int] | None) -> bool:
    if source is None:
        return False
    name, offset = source
    return offset <= state["o"].get(name, -1)


def _insert(state: dict, touch: Touch) -> bool:
    """Add ``touch``; a duplicate event id keeps the copy first in touch order. True if anything changed."""
    touches = state["t"]
    for i, known in enumerate(touches):  # duplicates are rare; event ids are unique per key in practice
        if known[1] == touch.event_id:
            if touch_order(touch) >= touch_order(Touch(*known)):
                return False
            del touches[i]
            break
    # Sorted by (t, event_id): bisect on those two, never on the rest (which may hold None).
    keys = [(t[0], t[1]) for t in touches]
    touches.insert(bisect.bisect(keys, (touch.t, touch.event_id)), list(touch))
    return True


def _trim(state: dict, policy: SessionPolicy) -> None:
    """Forget whole sessions that ended more than the retention before the newest touch, then cap."""
    touches = state["t"]
    if not touches:
        return
    horizon = touches[-1][0] - policy.retention_ms
    if touches[0][0] >= horizon and len(touches) <= policy.max_touches_per_key:
        return  # nothing to forget (the common case: no session computed)
    sessions = sessionize(state["k"], [Touch(*t) for t in touches], policy)
    keep_from = next((s.start for s in sessions if s.end >= horizon), touches[-1][0])
    state["t"] = [t for t in touches if t[0] >= keep_from][-policy.max_touches_per_key:]
    # Sessions that start before what is kept are final: never delete or re-emit them.
    kept_from = state["t"][0][0] if state["t"] else keep_from
    versions.forget(state["em"], lambda digest: digest[0] < kept_from)


def _sessions(state: dict, policy: SessionPolicy) -> list[Session]:
    """The key's sessions; its touches are kept sorted and unique, so no dedup pass is needed."""
    return [session_of(state["k"], run, policy) for run in runs([Touch(*t) for t in state["t"]], policy)]


def _settle(state: dict, watermark: int, policy: SessionPolicy, fx: Emits) -> None:
    """Emit closed sessions whose row changed and deletions of vanished ids; compute the next due time."""
    sessions = _sessions(state, policy)
    current = {s.session_id: (s.digest(), s) for s in sessions}
    for emission in reconcile(state["em"], current, lambda s: s.closes_at(policy) <= watermark):
        fx.rows.append(_as_row(state, emission))
        fx.dirty = True
    open_closes = [s.closes_at(policy) for s in sessions if s.closes_at(policy) > watermark]
    fx.due = min(open_closes) if open_closes else None


def _as_row(state: dict, e: Emission) -> SessionRow:
    return SessionRow(e.row_id, state["k"], state["ik"], e.version, e.item is None, e.start, e.item, state["p"])


def reassert(state: dict, policy: SessionPolicy) -> list[SessionRow]:
    """Every row this key currently asserts, at its current version (for replays)."""
    current = {s.session_id: (s.digest(), s) for s in _sessions(state, policy)}
    return [_as_row(state, e) for e in versions.reassert(state["em"], current)]


def add_touch(state: dict | None, key: str, identity_key: str, touch: Touch, watermark: int,
              policy: SessionPolicy, source: tuple[str, int] | None = None) -> tuple[dict, Emits]:
    """A touch arrives for ``key``; ``watermark`` is its partition's, after this touch."""
    state = new_state(key, identity_key) if state is None else state
    fx = Emits()
    if _is_replay(state, source):
        fx.rows = reassert(state, policy)
        _settle(state, watermark, policy, fx)
        return state, fx
    changed = _insert(state, touch)
    if touch.profile_id != state["p"]:
        state["p"] = touch.profile_id
        changed = True
    if changed:
        _trim(state, policy)
    if source is not None:
        state["o"][source[0]] = source[1]
    _settle(state, watermark, policy, fx)
    fx.dirty = fx.dirty or changed or source is not None
    return state, fx


def advance(state: dict, watermark: int, policy: SessionPolicy,
            source: tuple[str, int] | None = None) -> tuple[dict, Emits]:
    """The watermark moved past this key's due time: emit what closed."""
    fx = Emits()
    if _is_replay(state, source):
        fx.rows = reassert(state, policy)
    _settle(state, watermark, policy, fx)
    if source is not None and not _is_replay(state, source):
        state["o"][source[0]] = source[1]
        fx.dirty = True
    return state, fx
