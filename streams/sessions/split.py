"""Sessions from one key's touches: the pure rule the stream and the batch reference share.

Touches are ordered by (event time, event id). A touch starts a new session
when the gap since the previous touch is at least the previous touch's
channel timeout (a gap exactly at the timeout splits), or when it comes at or
after the session's start plus the maximum length (a runaway session is cut,
the rest starts a new one). Midnight means nothing: a session crossing it
stays one. The result depends only on the set of touches, never on the order
they arrived in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import Touch


def runs(touches: Sequence[Touch], policy: SessionPolicy) -> list[list[Touch]]:
    """Split touches sorted by (t, event_id) into sessions' touch lists."""
    out: list[list[Touch]] = []
    for touch in touches:
        if out:
            run = out[-1]
            prev = run[-1]
            if touch.t - prev.t < policy.timeout_after(prev.channel) and touch.t - run[0].t < policy.max_length_ms:
                run.append(touch)
                continue
        out.append([touch])
    return out


def session_id(key: str, first: Touch) -> str:
    """Deterministic: the key and the session's first touch (a replay gives the same id)."""
    return "s-" + hashlib.sha256(f"{key}\x1f{first.t}\x1f{first.event_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Session:
    session_id: str
    session_key: str
    start: int  # ms
    end: int  # ms, the last touch
    touches: int
    conversions: int
    revenue_cents: int
    channels: tuple[str, ...]  # in order of first appearance
    device_type: str  # of the first touch
    landing: Touch  # the first touch: channel, campaign, source, medium, page
    last: Touch

    def closes_at(self, policy: SessionPolicy) -> int:
        """Event time from which no in-order touch can extend it any more."""
        return self.end + policy.timeout_after(self.last.channel)

    def digest(self) -> list:
        """What a row shows, minus the profile known when it was emitted (see sessions/stage.py).

        In JSON form (lists, no tuples): it is compared with the copy the table store gives back
        (streams/stored_states.py), and a tuple never equals its decoded list.
        """
        return [self.start, self.end, self.touches, self.conversions, self.revenue_cents, list(self.channels),
                self.last.event_id]


def session_of(key: str, run: Sequence[Touch], policy: SessionPolicy) -> Session:
    channels: list[str] = []
    for touch in run:
        if touch.channel not in channels:
            channels.append(touch.channel)
    goals = [t for t in run if policy.is_goal(t.event_type)]
    return Session(
        session_id=session_id(key, run[0]), session_key=key, start=run[0].t, end=run[-1].t, touches=len(run),
        conversions=len(goals), revenue_cents=sum(t.revenue_cents or 0 for t in goals),
        channels=tuple(channels), device_type=run[0].device_type, landing=run[0], last=run[-1],
    )


def sessionize(key: str, touches: Sequence[Touch], policy: SessionPolicy) -> list[Session]:
    """All sessions of one key; ``touches`` need not be sorted, duplicates (same event id) count once."""
    return [session_of(key, run, policy) for run in runs(unique_touches(touches), policy)]


def touch_order(touch: Touch) -> tuple:
    return (touch.t, touch.event_id, repr(touch))


def unique_touches(touches: Sequence[Touch]) -> list[Touch]:
    """Sorted by (t, event_id), one per event id: the first in that order (so arrival order never matters)."""
    seen: set[str] = set()
    out = []
    for touch in sorted(touches, key=touch_order):
        if touch.event_id not in seen:
            seen.add(touch.event_id)
            out.append(touch)
    return out
