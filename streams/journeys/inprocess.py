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
from streams.stored_states import StoredStates
from streams.versions import VersionedTable


@dataclass
class JourneyNetwork:
    policy: SessionPolicy
    table: VersionedTable = field(default_factory=lambda: VersionedTable("journey_id"))
    # Written only when a message changed the state or rows were emitted, and read back as a JSON copy,
    # as the stage's table does.
    states: StoredStates = field(default_factory=StoredStates)
    queues: dict[str, deque] = field(default_factory=dict)
    delivered: int = 0

    def send(self, profile: str, msg: dict) -> None:
        self.queues.setdefault(profile, deque()).append(msg)

    def pending(self) -> list[str]:
        return [p for p, q in self.queues.items() if q]

    def step(self, profile: str, settle_now: bool = True) -> None:
        """Deliver the oldest message queued for ``profile`` (and settle it, as the stage does per batch)."""
        msg = self.queues[profile].popleft()
        self.delivered += 1
        state = self.states.get(profile) or new_state(profile)
        sends, changed = apply(state, msg)
        for target, out in sends:
            self.send(target, out)
        rows = settle(state, self.policy) if settle_now else []
        if changed or rows:  # the stage writes a state only then
            self.states.put(profile, state)
        self.table.apply(rows)

    def settle(self, profile: str) -> None:
        state = self.states.get(profile)
        if state is None:
            return
        rows = settle(state, self.policy)
        if rows:
            self.states.put(profile, state)
        self.table.apply(rows)

    def drain(self) -> None:
        while pending := self.pending():
            for profile in pending:
                while self.queues[profile]:
                    self.step(profile)
