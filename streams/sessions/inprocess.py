"""The streaming rule without Kafka: per-key state, a watermark, a due index and a table of rows.

Used by the property tests (any arrival order ends at the reference) and as
the model the Faust stage follows: ``SessionStream.arrive`` is what the
stage does for one enriched touchpoint, ``finish`` what the wall-clock
watermark does when the partition goes idle. With ``archive`` (the stage's
way) finished chains move to cold values in the same store
(streams/sessions/state.py); without it each key keeps its whole history in one
value, the rule the archive is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.sessions.policy import SessionPolicy
from streams.sessions.state import add_touch, advance
from streams.sessions.touches import Touch
from streams.stages.due_index import DueIndex
from streams.stored_states import StoredStates
from streams.versions import VersionedTable

NEVER = -(2**62)
END_OF_TIME = 2**62


def SessionTable() -> VersionedTable:  # noqa: N802 - reads as the table it makes
    return VersionedTable("session_id")


@dataclass
class SessionStream:
    policy: SessionPolicy
    table: VersionedTable = field(default_factory=SessionTable)
    # Written only when the rule says so (Emits.dirty), and read back as a JSON copy, as the stage's table does.
    states: StoredStates = field(default_factory=StoredStates)
    newest: int = NEVER
    due: DueIndex = field(default_factory=DueIndex)  # one live entry per key, as the stage keeps it
    archive: bool = True

    @property
    def cold(self) -> StoredStates | None:
        return self.states if self.archive else None

    @property
    def watermark(self) -> int:
        return self.newest - self.policy.allowed_lateness_ms if self.newest > NEVER else NEVER

    def arrive(self, key: str, identity_key: str, touch: Touch) -> None:
        self.newest = max(self.newest, touch.t)
        state, fx = add_touch(self.states.get(key), key, identity_key, touch, self.watermark, self.policy,
                              cold=self.cold)
        if fx.dirty:
            self.states.put(key, state)
        self.table.apply(fx.rows)
        self.due.schedule(key, fx.due)
        self._close(self.watermark)

    def _close(self, watermark: int) -> None:
        for key in self.due.pop_due(watermark):
            state, fx = advance(self.states.get(key), watermark, self.policy, cold=self.cold)
            if fx.dirty:
                self.states.put(key, state)
            self.table.apply(fx.rows)
            if fx.due is not None and fx.due <= watermark:
                raise AssertionError("a closed session is still due")
            self.due.schedule(key, fx.due)

    def finish(self) -> None:
        """The partition went idle: the wall clock closes every open session."""
        self._close(END_OF_TIME)
