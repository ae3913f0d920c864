"""What one touchpoint tells identity stitching: its usable identifiers, anchor first, and when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.identity.identifiers import PERSON_KINDS, identifiers_of, kind_of
from streams.identity.policy import IdentityPolicy


@dataclass(frozen=True)
class Observation:
    identifiers: tuple[str, ...]  # usable (not junk), highest priority first; [0] is the anchor
    event_time: int  # epoch ms
    event_id: str

    @property
    def anchor(self) -> str:
        return self.identifiers[0]

    @property
    def stamp(self) -> tuple[int, str]:
        return self.event_time, self.event_id


def observation_of(record: Mapping[str, Any], policy: IdentityPolicy) -> Observation | None:
    """None when every identifier of the event is junk (it then belongs to no profile)."""
    identifiers = tuple(dict.fromkeys(policy.usable(identifiers_of(record))))
    if not identifiers:
        return None
    event_time = record["event_time"]
    millis = int(event_time.timestamp() * 1000) if isinstance(event_time, datetime) else int(event_time)
    return Observation(identifiers, millis, str(record["event_id"]))


def is_shared(neighbors: Mapping[str, Any] | set[str], policy: IdentityPolicy) -> bool:
    """Seen with too many person-level identifiers (a kiosk, a test address), or too many of any kind."""
    if len(neighbors) > policy.max_edges_per_identifier:
        return True
    return sum(1 for n in neighbors if kind_of(n) in PERSON_KINDS) > policy.shared_after
