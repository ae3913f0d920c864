"""Batch reference: the profiles a finished event set should have, from the same pure rules.

The streaming stage must end with exactly these profiles whatever the order,
partitioning or worker count (tests/streams/identity compare them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.identity.observe import is_shared, observation_of
from streams.identity.policy import IdentityPolicy
from streams.identity.resolve import EdgeStamp, Member, Resolution, resolve


def stitch(records: Iterable[Mapping[str, Any]], policy: IdentityPolicy) -> Resolution:
    first_seen: dict[str, int] = {}
    edges: dict[str, dict[str, EdgeStamp]] = {}
    for record in records:
        obs = observation_of(record, policy)
        if obs is None:
            continue
        for identifier in obs.identifiers:
            seen = first_seen.get(identifier)
            first_seen[identifier] = obs.event_time if seen is None else min(seen, obs.event_time)
            edges.setdefault(identifier, {})
        anchor = obs.anchor
        for other in obs.identifiers[1:]:  # a star from the anchor, as the stream links them
            for a, b in ((anchor, other), (other, anchor)):
                known = edges[a].get(b)
                if known is None or obs.stamp < known:
                    edges[a][b] = obs.stamp
    members = {}
    for identifier, links in edges.items():
        shared = is_shared(links, policy)
        members[identifier] = Member(first_seen[identifier], shared, {} if shared else links)
    return resolve(members, policy)
