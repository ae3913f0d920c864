"""Batching sink base class: ``add`` buffers per topic-partition, ``flush`` writes and clears.

The runner (sinks/runner.py) calls ``flush`` before it commits offsets, so a
row is committed in Kafka only once the destination has it. Writes must be
idempotent: after a crash the same batch is written again.

``flush`` hands every buffered batch to ``write_all`` at once, so a destination
that prefers few large writes (ClickHouse: about one insert per table per
second) writes all partitions' batches in one.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class Batch(Generic[Item]):
    """Consecutive messages of one topic-partition (offsets first..last, items in order)."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    items: list[Item] = field(default_factory=list)

    @property
    def dedup_token(self) -> str:
        """Same source range -> same token, so a replayed batch is dropped by the destination."""
        return f"{self.topic}:{self.partition}:{self.first_offset}-{self.last_offset}"


MAX_TOKEN_CHARS = 256  # longer joint tokens are hashed: they travel as a URL parameter


def joint_dedup_token(batches: Sequence[Batch[Any]]) -> str:
    """The token of several source ranges written as one: the same ranges give the same token, in any order."""
    token = ",".join(sorted(batch.dedup_token for batch in batches))
    if len(token) <= MAX_TOKEN_CHARS:
        return token
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


class BatchingSink(ABC, Generic[Item]):
    """Buffers items per topic-partition; subclasses implement ``write`` for one batch."""

    def __init__(self) -> None:
        self._batches: dict[tuple[str, int], Batch[Item]] = {}
        self._rows = 0

    def add(self, topic: str, partition: int, offset: int, item: Item) -> None:
        batch = self._batches.get((topic, partition))
        if batch is None:
            batch = self._batches[(topic, partition)] = Batch(topic, partition, offset, offset)
        batch.last_offset = offset
        batch.items.append(item)
        self._rows += 1

    @property
    def buffered_rows(self) -> int:
        return self._rows

    def flush(self) -> int:
        """Write every buffered batch; always clear the buffer, even on error. Returns rows written."""
        batches, self._batches, self._rows = self._batches, {}, 0
        full = [batch for batch in batches.values() if batch.items]
        if full:
            self.write_all(full)
        return sum(len(batch.items) for batch in full)

    def clear(self) -> None:
        """Drop buffered items (the runner rewinds the consumer to re-read them)."""
        self._batches, self._rows = {}, 0

    @abstractmethod
    def write(self, batch: Batch[Item]) -> None:
        """Write one batch idempotently, or raise SinkBackpressure / SinkError."""

    def write_all(self, batches: Sequence[Batch[Item]]) -> None:
        """Write the batches of one flush (one per topic-partition); by default one ``write`` each."""
        for batch in batches:
            self.write(batch)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def describe(self) -> dict[str, Any]:
        return {"sink": type(self).__name__, "buffered_rows": self._rows}
