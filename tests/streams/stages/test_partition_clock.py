"""The sessions stage's in-memory due index (streams/stages/sessions.py PartitionClock)."""

from __future__ import annotations

from streams.stages.sessions import PartitionClock


def test_due_keys_come_out_once_in_time_order_and_rescheduling_supersedes() -> None:
    clock = PartitionClock()
    clock.schedule("a", 30)
    clock.schedule("b", 10)
    clock.schedule("a", 50)  # a's open session was extended: the entry at 30 is stale
    clock.schedule("c", 20)
    clock.schedule("c", None)  # c's sessions all closed
    assert clock.pop_due(40) == ["b"]
    assert clock.pop_due(40) == []
    assert clock.pop_due(60) == ["a"]
    assert clock.due_of == {}


def test_stale_entries_are_bounded() -> None:
    clock = PartitionClock()
    for due in range(100_000):  # one key whose session keeps growing, with the watermark not moving
        clock.schedule("busy", due)
    assert len(clock.due) <= 2 * len(clock.due_of) + 1025
    assert clock.pop_due(99_999) == ["busy"]
