"""Journeys from one profile's touches: the pure rule the stream and the batch reference share.

Touches are ordered by (event time, event id), one per event id. A goal touch
(purchase, subscription, or a configured goal event type) ends a converted
journey: the touches since the previous goal that lie within the lookback
before it, the goal included. The touches after the last goal form the open
journey, from the first one within the lookback of its newest touch. Older
touches belong to no journey. The result depends only on the set of touches.

A journey's id is the profile and its first touch: when identity merges two
profiles, the combined journeys get new ids under the surviving profile and
the old rows are deleted, so a row id never moves between two owners (whose
version counters are independent).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.sessions.policy import SessionPolicy
from streams.sessions.split import runs
from streams.sessions.touches import Touch

# A touch as journeys keep it: the touch and its session key (to count sessions).
JourneyTouch = tuple[Touch, str]


@dataclass(frozen=True)
class Journey:
    journey_id: str
    profile_id: str
    touches: tuple[JourneyTouch, ...]  # ordered; the goal last when converted
    converted: bool
    sessions: int
    # Device identifier -> the device it is (see ``device_names``); identifiers absent are their own device.
    device_names: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def first(self) -> Touch:
        return self.touches[0][0]

    @property
    def goal(self) -> Touch | None:
        return self.touches[-1][0] if self.converted else None

    @property
    def last(self) -> Touch:
        """The last touch before the goal (the goal itself if nothing came before it); the newest if open."""
        if self.converted and len(self.touches) > 1:
            return self.touches[-2][0]
        return self.touches[-1][0]

    @property
    def start(self) -> int:
        return self.first.t

    @property
    def end(self) -> int:
        return self.touches[-1][0].t

    @property
    def channel_path(self) -> tuple[str, ...]:
        """Channels in touch order, a repeat of the previous channel collapsed (web, web, email -> web, email)."""
        path: list[str] = []
        for touch, _ in self.touches:
            if not path or path[-1] != touch.channel:
                path.append(touch.channel)
        return tuple(path)

    @property
    def devices(self) -> tuple[str, ...]:
        """Distinct devices, in order of first use: identifiers one event carried together are one device,
        and touches without a device (an email open, a store visit, a call) add none."""
        names = self.device_names
        return tuple(dict.fromkeys(names.get(t.device, t.device) for t, _ in self.touches if t.device))

    @property
    def device_types(self) -> tuple[str, ...]:
        """Device types of the touches made on a device, in order of first use (no ``unknown`` for an email)."""
        return tuple(dict.fromkeys(t.device_type for t, _ in self.touches if t.device))

    @property
    def value_cents(self) -> int:
        goal = self.goal
        return (goal.revenue_cents or 0) if goal is not None else 0

    @property
    def time_to_convert_ms(self) -> int | None:
        return self.end - self.start if self.converted else None

    def digest(self) -> list:
        """What a row shows ([0] is the start: see streams/versions.py)."""
        return [self.start, self.end, len(self.touches), self.sessions, self.converted, self.value_cents,
                list(self.channel_path), list(self.devices), list(self.device_types), self.last.event_id,
                self.touches[-1][0].event_id]


def journey_id(profile_id: str, first: Touch) -> str:
    return "j-" + hashlib.sha256(f"{profile_id}\x1f{first.event_id}".encode()).hexdigest()[:24]


def order(jt: JourneyTouch) -> tuple:
    return (jt[0].t, jt[0].event_id, repr(jt))


def unique(touches: Iterable[JourneyTouch]) -> list[JourneyTouch]:
    """Sorted by (t, event_id), one per event id: the first in that order (arrival order never matters)."""
    seen: set[str] = set()
    out = []
    for jt in sorted(touches, key=order):
        if jt[0].event_id not in seen:
            seen.add(jt[0].event_id)
            out.append(jt)
    return out


def count_sessions(touches: Sequence[JourneyTouch], policy: SessionPolicy) -> int:
    """Sessions the journey's touches fall in: per session key, split by the session rule."""
    by_key: dict[str, list[Touch]] = defaultdict(list)
    for touch, key in touches:
        by_key[key].append(touch)
    return sum(len(runs(group, policy)) for group in by_key.values())


def device_names(touches: Iterable[JourneyTouch]) -> dict[str, str]:
    """Device identifier -> its device's name, for identifiers linked by an event that carried both.

    The links are the profile's touches' (``Touch.also_device``); a device's name is the smallest
    identifier of its linked group, so the names depend only on the set of touches.
    """
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for touch, _ in touches:
        if touch.device and touch.also_device:
            a, b = root(touch.device), root(touch.also_device)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {x: root(x) for x in parent}


def _journey(profile_id: str, touches: list[JourneyTouch], converted: bool, policy: SessionPolicy,
             names: Mapping[str, str]) -> Journey:
    newest = touches[-1][0].t
    inside = [jt for jt in touches if jt[0].t >= newest - policy.lookback_ms]
    return Journey(journey_id(profile_id, inside[0][0]), profile_id, tuple(inside), converted,
                   count_sessions(inside, policy), names)


def split_journeys(profile_id: str, touches: Sequence[JourneyTouch], policy: SessionPolicy) -> list[Journey]:
    """Journeys of touches already sorted and unique (see ``unique``); devices linked across all of them."""
    names = device_names(touches)
    out: list[Journey] = []
    pending: list[JourneyTouch] = []
    for jt in touches:
        pending.append(jt)
        if policy.is_goal(jt[0].event_type):
            out.append(_journey(profile_id, pending, True, policy, names))
            pending = []
    if pending:
        out.append(_journey(profile_id, pending, False, policy, names))
    return out


def journeys_of(profile_id: str, touches: Iterable[JourneyTouch], policy: SessionPolicy) -> list[Journey]:
    """All journeys of one profile; ``touches`` in any order, duplicates (same event id) counted once."""
    return split_journeys(profile_id, unique(touches), policy)
