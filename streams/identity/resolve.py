"""Profiles from a linked set of identifiers: the stitching decision, as one pure function.

``resolve(members, policy)`` is a function of the data only (identifiers,
their links with the earliest event that made each link, shared flags), never
of arrival order, so the streaming owners, the batch reference and a replay
all give the same profiles and the same canonical profile ids.

The rules, in order:

1. Shared identifiers (a kiosk, a test address; see ``policy.shared_after``)
   link nothing.
2. Person-level links (user id, loyalty id, email, phone seen in one event)
   join profiles in event-time order (earliest link first, ties by event id
   then identifier) unless the joined profile would break a per-kind limit or
   the identifier cap: that link is refused and recorded as a conflict.
3. Device-level links (cookie <-> app device id) join device groups the same way.
4. Each device group then joins every person-level profile it touches, or,
   if joining them all would break a limit (a family laptop used by two
   logged-in people), joins none of them and records a conflict. A device
   cannot tell two people apart; refusing beats guessing, and the result
   does not depend on which person used the device first.

The canonical identifier of a profile is its smallest by (kind priority,
first seen, identifier); the profile id is a hash of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.identity.identifiers import PERSON_KINDS, RANK, kind_of, profile_id_for
from streams.identity.policy import IdentityPolicy

EdgeStamp = tuple[int, str]  # (event time in epoch ms, event id) of the earliest event carrying the link


@dataclass(frozen=True)
class Member:
    """What resolution needs to know about one identifier."""

    first_seen: int
    shared: bool = False
    edges: Mapping[str, EdgeStamp] = field(default_factory=dict)


@dataclass(frozen=True)
class Conflict:
    """A link refused because the joined profile would break a rule."""

    identifier: str  # the identifier that would have linked the two sides
    other: str  # the identifier on the other side of that link
    event_id: str  # the (earliest) event that carried the link
    event_time: int
    reason: str  # "limit:<kind>" or "identifier_cap"
    profile: str = ""  # the profile on the identifier's side
    other_profile: str = ""  # the profile on the other side

    @property
    def key(self) -> str:
        return f"{self.identifier}|{self.other}"


@dataclass(frozen=True)
class Resolution:
    profiles: dict[str, str]  # every member -> its profile id
    conflicts: list[Conflict]


class _Groups:
    """Union-find whose roots know their kind counts and size, to test a join against the limits."""

    def __init__(self, nodes: list[str], policy: IdentityPolicy):
        self.parent = {n: n for n in nodes}
        self.counts = {n: {kind_of(n): 1} for n in nodes}
        self.size = dict.fromkeys(nodes, 1)
        self.policy = policy

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def breach(self, roots: list[str]) -> str | None:
        """The rule a group made of these roots would break, or None."""
        totals: dict[str, int] = {}
        for root in roots:
            for kind, count in self.counts[root].items():
                totals[kind] = totals.get(kind, 0) + count
        for kind in sorted(totals, key=RANK.__getitem__):
            if totals[kind] > self.policy.limit(kind):
                return f"limit:{kind}"
        if sum(self.size[r] for r in roots) > self.policy.max_identifiers_per_profile:
            return "identifier_cap"
        return None

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size.pop(rb)
        merged = self.counts[ra]
        for kind, count in self.counts.pop(rb).items():
            merged[kind] = merged.get(kind, 0) + count
        return ra


def resolve(members: Mapping[str, Member], policy: IdentityPolicy) -> Resolution:
    linking = sorted(i for i, m in members.items() if not m.shared)
    in_scope = set(linking)
    links: dict[tuple[str, str], EdgeStamp] = {}
    for a in linking:
        for b, stamp in members[a].edges.items():
            if b in in_scope and b != a:
                pair = (a, b) if a < b else (b, a)
                known = links.get(pair)
                if known is None or tuple(stamp) < known:
                    links[pair] = (stamp[0], stamp[1])
    ordered = sorted(links.items(), key=lambda item: (item[1], item[0]))
    person = {n: kind_of(n) in PERSON_KINDS for n in linking}
    groups = _Groups(linking, policy)
    refused: list[tuple[str, str, EdgeStamp, str, str, str]] = []  # (id, other, stamp, reason, root, other root)

    def join_pairs(want_person: bool) -> None:
        for (a, b), stamp in ordered:
            if person[a] is want_person and person[b] is want_person:
                ra, rb = groups.find(a), groups.find(b)
                if ra == rb:
                    continue
                reason = groups.breach([ra, rb])
                if reason:
                    refused.append((a, b, stamp, reason, ra, rb))
                else:
                    groups.union(a, b)

    join_pairs(True)
    join_pairs(False)
    _attach_devices(ordered, person, groups, refused)

    profiles: dict[str, str] = {}
    by_root: dict[str, list[str]] = {}
    for node in linking:
        by_root.setdefault(groups.find(node), []).append(node)
    for nodes in by_root.values():
        canonical = min(nodes, key=lambda n: (RANK[kind_of(n)], members[n].first_seen, n))
        profile = profile_id_for(canonical)
        for node in nodes:
            profiles[node] = profile
    for node, member in members.items():
        if member.shared:
            profiles[node] = profile_id_for(node)
    conflicts = [
        Conflict(a, b, stamp[1], stamp[0], reason, profiles[groups.find(ra)], profiles[groups.find(rb)])
        for a, b, stamp, reason, ra, rb in refused
    ]
    return Resolution(profiles, conflicts)


def _attach_devices(ordered, person, groups: _Groups, refused: list) -> None:  # noqa: ANN001
    """Rule 4: each device group joins all the person-level profiles it touches, or none."""
    touches: dict[str, list[tuple[EdgeStamp, str, str]]] = {}  # device root -> (stamp, device id, person id)
    for (a, b), stamp in ordered:  # already in (stamp, pair) order
        if person[a] != person[b]:
            device, who = (b, a) if person[a] else (a, b)
            touches.setdefault(groups.find(device), []).append((stamp, device, who))
    for device_root in sorted(touches, key=lambda root: (touches[root][0][0], root)):
        joined: list[str] = [groups.find(device_root)]
        for stamp, device, who in touches[device_root]:
            target = groups.find(who)
            if target in joined:
                continue
            reason = groups.breach([*joined, target])
            if reason:
                refused.append((device, who, stamp, reason, joined[1] if len(joined) > 1 else joined[0], target))
                break
            joined.append(target)
        else:
            for root in joined[1:]:
                groups.union(joined[0], root)

