"""Keys due at a time: a heap with one live entry per key (the sessions' closing times, the segment ticks).

In memory only: each stage rebuilds it from its table after a rebalance.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass
class DueIndex:
    due: list[tuple[int, str]] = field(default_factory=list)  # heap; stale entries are skipped
    due_of: dict[str, int] = field(default_factory=dict)

    def schedule(self, key: str, due: int | None) -> None:
        """``key`` is due at ``due`` (ms), replacing what it was due at; None: not due at all."""
        if due is None:
            self.due_of.pop(key, None)
        elif self.due_of.get(key) != due:
            self.due_of[key] = due
            heapq.heappush(self.due, (due, key))
            if len(self.due) > 2 * len(self.due_of) + 1024:  # bounded: drop the stale entries
                self.due = [(d, k) for k, d in self.due_of.items()]
                heapq.heapify(self.due)

    def pop_due(self, watermark: int) -> list[str]:
        """The keys due at or before ``watermark``, earliest first; they are no longer scheduled."""
        keys = []
        while self.due and self.due[0][0] <= watermark:
            due, key = heapq.heappop(self.due)
            if self.due_of.get(key) == due:
                del self.due_of[key]
                keys.append(key)
        return keys
