"""The journey stage without Kafka: profile states fed by per-profile FIFO queues, and a table of rows.

A queue per profile stands for its Kafka partition (messages keyed by one
profile keep their order; different profiles' messages interleave freely).
The property tests drive it with every interleaving hypothesis finds and
compare the table with the batch reference; the Faust stage does what
``step`` does, one message at a time, and ``settle`` once per batch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from streams.journeys.state import apply, new_state, settle
from streams.sessions.policy import SessionPolicy
from streams.versions import VersionedTable


@dataclass
class JourneyNetwork:
    policy: SessionPolicy
    table: VersionedTable = field(default_factory=lambda: VersionedTable("journey_id"))
    states: dict[str, dict] = field(default_factory=dict)
    queues: dict[str, deque] = field(default_factory=dict)
    delivered: int = 0

    def send(self, profile: str, msg: dict) -> None:
        self.queues.setdefault(profile, deque()).append(msg)

    def pending(self) -> list[str]:
        return [p for p, q in self.queues.items() if q]

    def step(self, profile: str, settle_now: bool = True) -> None:
        """Deliver the oldest message queued for ``profile``."""
        msg = self.queues[profile].popleft()
        self.delivered += 1
        state = self.states.setdefault(profile, new_state(profile))
        sends, _changed = apply(state, msg)
        for target, out in sends:
            self.send(target, out)
        if settle_now:
            self.settle(profile)

    def settle(self, profile: str) -> None:
        self.table.apply(settle(self.states[profile], self.policy))

    def drain(self) -> None:
        while pending := self.pending():
            for profile in pending:
                while self.queues[profile]:
                    self.step(profile)
