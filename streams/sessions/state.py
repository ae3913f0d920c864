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

**Hot and cold** (``cold=``, what the stage runs; without it the whole history
stays in one value, the rule this one is property-tested against). Touches
fall into *chains*: maximal runs whose gaps are shorter than the timeout after
the previous touch. A session never spans two chains (a gap at the timeout
always splits), so a chain whose sessions all closed at the watermark is
finished: all of them are emitted, and no touch within the lateness can reach
it (its reach, last touch + its timeout, is behind the watermark). Such chains
move out of the key's value into cold values per day of their start
(``~cold:<day>:<key>``: touches, their registry entries, the last touch), and
the key's value keeps only the open chains plus the span of cold days and the
cold reach. A touch or a due time then costs what the open chains cost,
whatever the history: the key's value, its changelog record and the recompute
stay small. A touch before the cold reach
(later than the lateness: rare) or a replay loads every cold day back (*thaw*),
runs the same rule over the whole history and freezes again. Retention drops a
cold day once its last session ended before the horizon (per day, where the
one-value rule forgets per session: a touch 90 days late may find one day more).
Known gap: an event id sent again with an event time after the cold reach is
not recognised as a duplicate of the cold copy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.sessions.policy import DAY_MS, SessionPolicy
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


class ColdStore(Protocol):
    """Where cold days live: the stage's table (same partition as the key), or a dict-like model."""

    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...

    def pop(self, key: str) -> None: ...


def cold_key(key: str, day: int) -> str:
    """The cold value of ``key``'s chains that start on ``day`` (days since the epoch, UTC)."""
    return f"~cold:{day}:{key}"


def new_state(key: str, identity_key: str) -> dict[str, Any]:
    # t: touches (lists, sorted by touch_order); em: session id -> [version, digest, deleted];
    # p: the profile of the newest processed touch; o: input offset applied, per source.
    # With a cold store also cd: [first, last] day that may hold a cold value and the first one's last touch;
    # cr: cold reach (no touch at or after it can change a cold chain).
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


def _chain_ends(touches: list[list], policy: SessionPolicy) -> Iterator[int]:
    """Indexes of the last touch of each chain (``touches`` sorted), lazily: freezing stops at the first open one."""
    for i, touch in enumerate(touches):
        if i + 1 == len(touches) or touches[i + 1][0] >= touch[0] + policy.timeout_after(touch[3]):
            yield i


def _freeze(state: dict, watermark: int, policy: SessionPolicy, cold: ColdStore) -> bool:
    """Move the chains closed at ``watermark`` (a prefix of the touches) to cold days. True if any moved."""
    touches = state["t"]
    chains = []  # (first index, last index) of each closed chain
    first = 0
    for last in _chain_ends(touches, policy):
        # Closed when every session in it is (a session cut by the maximum length may close after the chain's
        # last touch + its timeout, if it ended on a channel with a longer timeout). Only a prefix moves.
        if max(t[0] + policy.timeout_after(t[3]) for t in touches[first:last + 1]) > watermark:
            break
        chains.append((first, last))
        first = last + 1
    if not chains:
        return False
    frozen, state["t"] = touches[:first], touches[first:]
    cut = state["t"][0][0] if state["t"] else None
    starts = [frozen[a][0] for a, _ in chains]
    days: dict[int, dict] = {}
    for a, b in chains:
        day = days.setdefault(frozen[a][0] // DAY_MS, {"t": [], "em": {}, "end": 0})
        day["t"].extend(frozen[a:b + 1])
        day["end"] = frozen[b][0]
    for row_id, entry in list(state["em"].items()):
        start = entry[1][0]
        if cut is not None and start >= cut:
            continue
        # A registry entry goes with the chain its session started in: both leave together under retention.
        chain = max(bisect.bisect(starts, start) - 1, 0)
        days[frozen[chains[chain][0]][0] // DAY_MS]["em"][row_id] = entry
        del state["em"][row_id]
    for day, part in days.items():
        known = cold.get(cold_key(state["k"], day)) or {"t": [], "em": {}, "end": 0}
        cold.put(cold_key(state["k"], day), {"t": known["t"] + part["t"], "em": {**known["em"], **part["em"]},
                                            "end": max(known["end"], part["end"])})
    span = state.get("cd") or [min(days), max(days), 0]
    first_end = max(span[2], days[span[0]]["end"]) if span[0] in days else span[2]
    state["cd"] = [span[0], max(span[1], *days), first_end]  # frozen chains come after every cold one
    last = frozen[-1]
    state["cr"] = last[0] + policy.timeout_after(last[3])
    _forget_cold_days(state, (state["t"][-1][0] if state["t"] else last[0]) - policy.retention_ms, cold)
    return True


def _forget_cold_days(state: dict, horizon: int, cold: ColdStore) -> None:
    """Drop the oldest cold days while their chains all ended before ``horizon`` (the retention)."""
    first, last, first_end = state["cd"]
    if first_end >= horizon:
        return  # the common case, read from the key's value alone
    while first <= last:
        value = cold.get(cold_key(state["k"], first))
        if value is not None:
            if value["end"] >= horizon:
                first_end = value["end"]
                break
            cold.pop(cold_key(state["k"], first))
        first += 1
    # Days are kept as a span, not a list: the key's value stays the same size whatever its history.
    state["cd"] = [first, last, first_end] if first <= last else None


def _thaw(state: dict, cold: ColdStore) -> bool:
    """Load every cold day back into the key's value (and drop them from the store). True if any."""
    span = state.get("cd")
    if not span:
        return False
    touches: list[list] = []
    emitted: dict[str, list] = {}
    for day in range(span[0], span[1] + 1):
        value = cold.get(cold_key(state["k"], day))
        if value is not None:
            cold.pop(cold_key(state["k"], day))
            touches.extend(value["t"])
            emitted.update(value["em"])
    state["t"] = touches + state["t"]  # every cold touch comes before the first hot one
    state["em"] = {**emitted, **state["em"]}
    state["cd"], state["cr"] = None, None
    return True


def add_touch(state: dict | None, key: str, identity_key: str, touch: Touch, watermark: int,
              policy: SessionPolicy, source: tuple[str, int] | None = None,
              cold: ColdStore | None = None) -> tuple[dict, Emits]:
    """A touch arrives for ``key``; ``watermark`` is its partition's, after this touch.

    ``cold``: keep finished chains there (module docstring); None keeps the whole history in the state.
    """
    state = new_state(key, identity_key) if state is None else state
    fx = Emits()
    if _is_replay(state, source):
        thawed = cold is not None and _thaw(state, cold)
        fx.rows = reassert(state, policy)
        _settle(state, watermark, policy, fx)
        if cold is not None:
            fx.dirty = _freeze(state, watermark, policy, cold) or thawed or fx.dirty
        return state, fx
    reach = state.get("cr")
    changed = cold is not None and reach is not None and touch.t < reach and _thaw(state, cold)
    changed = _insert(state, touch) or changed
    if touch.profile_id != state["p"]:
        state["p"] = touch.profile_id
        changed = True
    if changed:
        _trim(state, policy)
    if source is not None:
        state["o"][source[0]] = source[1]
    _settle(state, watermark, policy, fx)
    if cold is not None and _freeze(state, watermark, policy, cold):
        changed = True
    fx.dirty = fx.dirty or changed or source is not None
    return state, fx


def advance(state: dict, watermark: int, policy: SessionPolicy,
            source: tuple[str, int] | None = None, cold: ColdStore | None = None) -> tuple[dict, Emits]:
    """The watermark moved past this key's due time: emit what closed (and, with ``cold``, freeze it)."""
    fx = Emits()
    replay = _is_replay(state, source)
    thawed = replay and cold is not None and _thaw(state, cold)
    if replay:
        fx.rows = reassert(state, policy)
    _settle(state, watermark, policy, fx)
    if cold is not None and (_freeze(state, watermark, policy, cold) or thawed):
        fx.dirty = True
    if source is not None and not replay:
        state["o"][source[0]] = source[1]
        fx.dirty = True
    return state, fx
