"""BatchingSink: buffering per topic-partition, flush writes everything and always clears."""

from __future__ import annotations

import pytest

from sinks.base import MAX_TOKEN_CHARS, Batch, BatchingSink, joint_dedup_token
from sinks.exceptions import SinkBackpressure


class ListSink(BatchingSink[str]):
    """In-memory sink for unit-testing the base class only (pipeline tests use ClickHouse)."""

    def __init__(self, fail_on: str | None = None):
        super().__init__()
        self.written: list[Batch[str]] = []
        self.fail_on = fail_on

    def write(self, batch: Batch[str]) -> None:
        if self.fail_on and self.fail_on in batch.items:
            raise SinkBackpressure("down", retry_after=0.1)
        self.written.append(batch)


def test_add_groups_by_topic_partition_in_offset_order() -> None:
    sink = ListSink()
    for offset, (partition, item) in enumerate([(0, "a"), (1, "b"), (0, "c"), (1, "d"), (0, "e")]):
        sink.add("t", partition, 10 + offset, item)
    assert sink.buffered_rows == 5
    assert sink.flush() == 5
    batches = {(b.topic, b.partition): b for b in sink.written}
    assert batches[("t", 0)].items == ["a", "c", "e"]
    assert (batches[("t", 0)].first_offset, batches[("t", 0)].last_offset) == (10, 14)
    assert batches[("t", 1)].items == ["b", "d"]
    assert (batches[("t", 1)].first_offset, batches[("t", 1)].last_offset) == (11, 13)
    assert sink.buffered_rows == 0
    assert sink.flush() == 0


def test_dedup_token_is_a_function_of_the_source_range() -> None:
    a = Batch("topic", 3, 100, 199, ["x"])
    b = Batch("topic", 3, 100, 199, ["y"])
    c = Batch("topic", 3, 100, 200, ["x"])
    assert a.dedup_token == b.dedup_token == "topic:3:100-199"
    assert c.dedup_token != a.dedup_token


def test_flush_hands_every_partitions_batch_to_one_write_all() -> None:
    calls: list[list[tuple[str, int]]] = []

    class JointSink(ListSink):
        def write_all(self, batches) -> None:  # noqa: ANN001
            calls.append([(b.topic, b.partition) for b in batches])

    sink = JointSink()
    for offset, partition in enumerate([0, 1, 2, 1]):
        sink.add("t", partition, offset, "x")
    assert sink.flush() == 4
    assert calls == [[("t", 0), ("t", 1), ("t", 2)]]


def test_joint_dedup_token_is_a_function_of_the_source_ranges_in_any_order() -> None:
    a, b = Batch("t", 0, 5, 9, ["x"]), Batch("t", 1, 7, 7, ["y"])
    assert joint_dedup_token([a, b]) == joint_dedup_token([b, a]) == "t:0:5-9,t:1:7-7"
    assert joint_dedup_token([a, Batch("t", 1, 7, 8, ["y"])]) != joint_dedup_token([a, b])
    many = [Batch("a-long-topic-name", p, 1_000_000, 2_000_000, ["x"]) for p in range(64)]
    token = joint_dedup_token(many)
    assert token.startswith("sha256:") and len(token) <= MAX_TOKEN_CHARS
    assert token == joint_dedup_token(list(reversed(many)))


def test_flush_clears_the_buffer_even_when_a_write_fails() -> None:
    sink = ListSink(fail_on="bad")
    sink.add("t", 0, 0, "bad")
    with pytest.raises(SinkBackpressure) as info:
        sink.flush()
    assert info.value.retry_after == 0.1
    assert str(info.value) == "down"
    assert sink.buffered_rows == 0


def test_clear_drops_buffer() -> None:
    sink = ListSink()
    sink.add("t", 0, 0, "a")
    sink.clear()
    assert sink.flush() == 0 and sink.written == []
