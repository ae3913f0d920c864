"""The partitioned stitching protocol: one identifier's state machine, as pure functions.

Every identifier is owned by the Kafka partition its key hashes to; each
function below reads and writes the state of ONE identifier (the message's
``to``) and returns messages for other identifiers, which Kafka routes to
their owners. No stage ever reads state owned by another partition.

Two things converge independently of arrival order:

- Labels (HashMin): every identifier keeps the smallest label it has heard
  (initially itself) and tells its neighbours when it drops; shared
  identifiers neither adopt nor forward labels. Within a set of identifiers
  connected by non-shared links, all end with the same label: the minimum.
- Owners: the identifier named by a label owns the component. Each member
  reports (``member``, versioned) what resolution needs to its label's owner
  and leaves its previous owner. The owner runs ``resolve`` over its members
  and sends each member its profile (``assign``, versioned). An owner that
  gets a smaller label hands its members the new label; a non-owner that
  receives a report answers with its own label. At the fixed point every
  component sits at one live owner, which computed its profiles from all of
  its links: exactly ``reference.stitch`` of the same events.

Every handler is idempotent and monotone (min labels, min link stamps, max
versions), so at-least-once redelivery is harmless. A restarted worker may
find its state ahead of its input (the changelog landed, some outgoing
messages did not): a message at or below the offset that last changed an
identifier is a replay, and the identifier then re-sends everything it
currently asserts (``reassert``), which covers whatever was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.identity.identifiers import erased_identifier, profile_id_for
from streams.identity.observe import Observation, is_shared
from streams.identity.policy import IdentityPolicy
from streams.identity.resolve import Member, resolve

State = dict[str, Any]
Message = dict[str, Any]
# last_seen is kept at this resolution: one changelog write per identifier per minute, not per event
LAST_SEEN_STEP_MS = 60_000
MAX_CONFLICT_KEYS = 1000


@dataclass
class Effects:
    messages: list[Message] = field(default_factory=list)  # each to the owner of msg["to"]
    changes: list[dict[str, Any]] = field(default_factory=list)  # identity changes for the changes topic
    dirty: bool = False  # the state must be written back
    profile: str | None = None  # observe only: the event's profile id as known now


def new_state(identifier: str, event_time: int) -> State:
    return {"fs": event_time, "ls": event_time, "e": {}, "sh": False, "lb": identifier, "v": 0,
            "p": None, "po": identifier, "pv": 0, "cv": 0, "o": {}}


def profile_of(identifier: str, state: State | None) -> str:
    """The identifier's profile as known here; its own singleton profile until an owner says otherwise."""
    return (state or {}).get("p") or profile_id_for(identifier)


def observe(state: State | None, obs: Observation, policy: IdentityPolicy, src: tuple[str, int]) -> tuple[State, Effects]:
    """An event arrives at its anchor: record its links, tell the linked identifiers."""
    me = obs.anchor
    fx = Effects()
    replay = _is_replay(state, src)
    if state is None:
        state = new_state(me, obs.event_time)
        fx.dirty = report = True
    else:
        report = False
    if obs.event_time < state["fs"]:
        state["fs"], fx.dirty, report = obs.event_time, True, True
    if obs.event_time >= state["ls"] + LAST_SEEN_STEP_MS:
        state["ls"], fx.dirty = obs.event_time, True
    for other in obs.identifiers[1:]:
        change = _add_link(state, me, other, obs.stamp, policy, fx, anchor=True)
        if change:
            # The link goes first: it creates the other identifier's state, which the label then updates.
            fx.messages.append({"op": "link", "to": other, "peer": me, "t": obs.event_time, "eid": obs.event_id})
            if not state["sh"]:
                if change is _NEW:
                    fx.messages.append({"op": "label", "to": other, "label": state["lb"]})
                report = True
    if report:
        _report(state, me, fx)
    if replay:
        reassert(state, me, fx)
    _stamp(state, src, fx)
    fx.profile = profile_of(me, state)
    return state, fx


def handle(state: State | None, msg: Message, policy: IdentityPolicy, src: tuple[str, int]) -> tuple[State | None, Effects]:
    """One protocol message for identifier ``msg["to"]``; returns its new state (None = deleted)."""
    fx = Effects()
    me = msg["to"]
    replay = _is_replay(state, src)
    state = _HANDLERS[msg["op"]](state, me, msg, policy, fx)
    if state is not None:
        if replay:
            reassert(state, me, fx)
        _stamp(state, src, fx)
    return state, fx


def reassert(state: State, me: str, fx: Effects) -> None:
    """Re-send everything this identifier currently asserts; receivers ignore what they already know."""
    for peer, (t, eid) in state["e"].items():
        fx.messages.append({"op": "link", "to": peer, "peer": me, "t": t, "eid": eid})
        if not state["sh"]:
            fx.messages.append({"op": "label", "to": peer, "label": state["lb"]})
    if state["sh"]:
        fx.messages.append({"op": "leave", "to": state["lb"], "node": me, "v": state["v"]})
    else:
        fx.messages.append(_member_message(state, me))
    own = state.get("own")
    if own:
        for node, (profile, version) in own["sent"].items():
            fx.messages.append({"op": "assign", "to": node, "owner": me, "v": version, "profile": profile})
    for node in state.get("fm", ()):
        fx.messages.append({"op": "label", "to": node, "label": state["lb"]})
    # Changes are re-emitted with their versions: the sink's tables keep one row per version.
    if state["p"] is not None:
        fx.changes.append(_assigned(me, state))
    if state["sh"]:
        fx.changes.append(_shared(me, state))
    if own:
        fx.changes.extend(own["cf"].values())


# -- handlers -------------------------------------------------------------------


def _on_link(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State:
    t = msg["t"]
    if state is None:
        state, report = new_state(me, t), True
        fx.dirty = True
    else:
        report = False
    if t < state["fs"]:
        state["fs"], fx.dirty, report = t, True, True
    change = _add_link(state, me, msg["peer"], (t, msg["eid"]), policy, fx, anchor=False)
    if change and not state["sh"]:
        if change is _NEW:
            fx.messages.append({"op": "label", "to": msg["peer"], "label": state["lb"]})
        report = True
    if report:
        _report(state, me, fx)
    return state


def _on_label(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    label = msg["label"]
    if state is None or state["sh"] or label >= state["lb"]:
        return state
    _relabel(state, me, label, fx)
    return state


def _on_member(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    node = msg["node"]
    if state is None:  # this owner was forgotten: the reporter starts over under its own label
        fx.messages.append({"op": "reset", "to": node, "owner": me})
        return None
    if state["lb"] != me:  # not an owner (any more): point the reporter at the current label
        fx.messages.append({"op": "label", "to": node, "label": state["lb"]})
        return state
    own = state.setdefault("own", {"m": {}, "sent": {}, "cf": {}})
    known = own["m"].get(node)
    if known is not None and known["v"] >= msg["v"]:
        return state
    if known is None and len(own["m"]) >= policy.max_component_members:
        # Bounded owner state: an over-full component takes no new member; the
        # identifier keeps its singleton profile and the refusal is visible.
        _conflict_once(state, fx, {"identifier": node, "other_identifier": me, "reason": "component_cap"})
        return state
    own["m"][node] = {"v": msg["v"], "fs": msg["fs"], "sh": msg["sh"], "e": msg["e"]}
    fx.dirty = True
    _recompute(state, me, policy, fx)
    return state


def _on_leave(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    own = state.get("own") if state else None
    if not own:
        return state
    known = own["m"].get(msg["node"])
    if known is None or known["v"] >= msg["v"]:
        return state
    own["m"][msg["node"]] = {"v": msg["v"], "gone": True}
    own["sent"].pop(msg["node"], None)
    fx.dirty = True
    _recompute(state, me, policy, fx)
    return state


def _on_assign(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    if state is None or state["sh"] or msg["owner"] != state["lb"]:
        return state
    if state["po"] == msg["owner"] and msg["v"] <= state["pv"]:
        return state
    state["po"], state["pv"] = msg["owner"], msg["v"]
    fx.dirty = True
    if state["p"] != msg["profile"]:
        state["cv"] += 1
        state["pp"], state["p"] = state["p"], msg["profile"]
        fx.changes.append(_assigned(me, state))
    return state


def _assigned(me: str, state: State) -> dict[str, Any]:
    return {"kind": "assigned", "identifier": me, "profile_id": state["p"], "previous_profile_id": state.get("pp"),
            "version": state["cv"]}


def _shared(me: str, state: State) -> dict[str, Any]:
    return {"kind": "shared", "identifier": me, "profile_id": profile_of(me, state), "version": state["cv"]}


def _on_reset(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    """The owner of this identifier's label was forgotten: start over from its own label."""
    if state is None or state["lb"] != msg["owner"] or msg["owner"] == me:
        return state
    state["lb"], state["po"], state["pv"] = me, me, 0
    fx.dirty = True
    if not state["sh"]:
        for peer in state["e"]:
            fx.messages.append({"op": "label", "to": peer, "label": me})
    _report(state, me, fx)
    return state


def _on_forget(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> None:
    """GDPR erasure of one identifier: its links, its state, and its place in any profile."""
    if state is None:
        return None
    for peer in state["e"]:
        fx.messages.append({"op": "unlink", "to": peer, "peer": me})
    if state["lb"] != me:
        fx.messages.append({"op": "leave", "to": state["lb"], "node": me, "v": state["v"] + 1})
    for node, info in (state.get("own") or {"m": {}})["m"].items():
        if node != me and not info.get("gone"):
            fx.messages.append({"op": "reset", "to": node, "owner": me})
    # The erasure trail names no identifier: only a hash of it, and the request id.
    fx.changes.append({"kind": "erased", "identifier": erased_identifier(me),
                       "profile_id": state["p"] or profile_id_for(me), "reason": msg.get("request", ""),
                       "version": state["cv"] + 1})
    fx.dirty = True
    return None


def _on_unlink(state: State | None, me: str, msg: Message, policy: IdentityPolicy, fx: Effects) -> State | None:
    if state is None or msg["peer"] not in state["e"]:
        return state
    del state["e"][msg["peer"]]
    fx.dirty = True
    _report(state, me, fx)
    return state


_HANDLERS = {
    "link": _on_link, "label": _on_label, "member": _on_member, "leave": _on_leave, "assign": _on_assign,
    "reset": _on_reset, "forget": _on_forget, "unlink": _on_unlink,
}
OPS = frozenset(_HANDLERS)


def forget_message(identifier: str, request_id: str) -> Message:
    """The command that erases one identifier (sent by `touchline identity forget`)."""
    return {"op": "forget", "to": identifier, "request": request_id}


# -- helpers --------------------------------------------------------------------


_NEW, _EARLIER = "new", "earlier"


def _add_link(state: State, me: str, other: str, stamp: tuple[int, str], policy: IdentityPolicy, fx: Effects,
              anchor: bool) -> str | None:
    """Record a link, keeping its earliest stamp: _NEW, _EARLIER (than known) or None (nothing learnt).

    A shared anchor still passes its links on (every identifier of an event
    must exist, and the other side counts the link), but only remembers
    ``max_edges_per_identifier`` of them: bounded state, some repeated sends.
    """
    if other == me or (state["sh"] and not anchor):
        return None
    links = state["e"]
    known = links.get(other)
    if known is not None and tuple(known) <= stamp:
        return None
    if known is None and len(links) > policy.max_edges_per_identifier:
        return _NEW  # full (so shared): forwarded, not stored
    links[other] = [stamp[0], stamp[1]]
    fx.dirty = True
    if known is None and not state["sh"] and is_shared(links, policy):
        _become_shared(state, me, fx)
    return _NEW if known is None else _EARLIER


def _become_shared(state: State, me: str, fx: Effects) -> None:
    # It links nothing from now on, so its profile is its own, whoever owns its label:
    # it leaves its owner (which stops linking through it) and stops following labels.
    state["sh"] = True
    state["cv"] += 1
    fx.changes.append(_shared(me, state))
    state["v"] += 1
    fx.messages.append({"op": "leave", "to": state["lb"], "node": me, "v": state["v"]})
    own_profile = profile_id_for(me)
    if state["p"] != own_profile:
        state["cv"] += 1
        state["pp"], state["p"] = state["p"], own_profile
        fx.changes.append(_assigned(me, state))


def _relabel(state: State, me: str, label: str, fx: Effects) -> None:
    old = state["lb"]
    state["lb"], state["po"], state["pv"] = label, label, 0
    fx.dirty = True
    for peer in state["e"]:
        fx.messages.append({"op": "label", "to": peer, "label": label})
    own = state.pop("own", None)
    if own:  # hand the members over: each reports to the new label
        former = [n for n, info in own["m"].items() if n != me and not info.get("gone")]
        for node in former:
            fx.messages.append({"op": "label", "to": node, "label": label})
        state["fm"] = former
    elif old != me:
        fx.messages.append({"op": "leave", "to": old, "node": me, "v": state["v"] + 1})
    _report(state, me, fx)


def _report(state: State, me: str, fx: Effects) -> None:
    if state["sh"]:  # a shared identifier is nobody's member (see _become_shared)
        return
    state["v"] += 1
    fx.dirty = True
    fx.messages.append(_member_message(state, me))


def _member_message(state: State, me: str) -> Message:
    return {"op": "member", "to": state["lb"], "node": me, "v": state["v"], "fs": state["fs"],
            "sh": state["sh"], "e": state["e"]}


def _recompute(state: State, me: str, policy: IdentityPolicy, fx: Effects) -> None:
    own = state["own"]
    members = {node: Member(info["fs"], info["sh"], {p: (s[0], s[1]) for p, s in info["e"].items()})
               for node, info in own["m"].items() if not info.get("gone")}
    resolution = resolve(members, policy)
    for node, profile in resolution.profiles.items():
        sent = own["sent"].get(node)
        if sent is None or sent[0] != profile:
            # One counter per identifier for its whole life, so an owner that is
            # forgotten and re-formed never reuses a version a member has seen.
            state["ov"] = version = state.get("ov", 0) + 1
            own["sent"][node] = [profile, version]
            fx.messages.append({"op": "assign", "to": node, "owner": me, "v": version, "profile": profile})
    for conflict in resolution.conflicts:
        _conflict_once(state, fx, {
            "identifier": conflict.identifier, "other_identifier": conflict.other, "reason": conflict.reason,
            "event_id": conflict.event_id, "event_time": conflict.event_time,
            "profile_id": conflict.profile, "other_profile_id": conflict.other_profile,
        })


def _conflict_once(state: State, fx: Effects, conflict: dict[str, Any]) -> None:
    """Emit a conflict the first time this owner sees it (kept, bounded, for re-emission on replay)."""
    own = state.setdefault("own", {"m": {}, "sent": {}, "cf": {}})
    key = f"{conflict['identifier']}|{conflict['other_identifier']}|{conflict['reason']}"
    if key in own["cf"]:
        return
    if len(own["cf"]) >= MAX_CONFLICT_KEYS:
        del own["cf"][next(iter(own["cf"]))]
    state["cv"] += 1
    own["cf"][key] = record = {"kind": "conflict", "version": state["cv"], **conflict}
    fx.changes.append(record)
    fx.dirty = True


def _is_replay(state: State | None, src: tuple[str, int]) -> bool:
    return state is not None and state["o"].get(src[0], -1) >= src[1]


def _stamp(state: State, src: tuple[str, int], fx: Effects) -> None:
    if fx.dirty:
        state["o"][src[0]] = max(state["o"].get(src[0], -1), src[1])
