"""FloodFilter: the first line of a kind passes, repeats within the interval are held back and counted."""

from __future__ import annotations

import logging

from infra.logflood import FloodFilter


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_are_held_back_and_counted_then_let_through_after_the_interval() -> None:
    now = [0.0]
    flood = FloodFilter(interval_s=30, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    passed = []
    for second in range(0, 65):  # one retry every 0.25 s for 65 s: 260 lines
        for quarter in range(4):
            now[0] = second + quarter / 4
            record = _record("aiokafka.conn", template, 1, "refused")
            if flood.filter(record):
                passed.append((now[0], record.getMessage()))
    assert [t for t, _ in passed] == [0.0, 30.0, 60.0]
    assert passed[0][1] == "Unable connect to node with id 1: refused"
    assert passed[1][1].endswith("[119 more like this in the last 30s]")
    assert passed[2][1].endswith("[119 more like this in the last 30s]")


def test_own_lines_other_templates_and_critical_lines_are_never_held() -> None:
    flood = FloodFilter(interval_s=30, clock=lambda: 0.0)
    assert all(flood.filter(_record("sinks.runner", "sink offsets not committed (%s)", i)) for i in range(5))
    assert flood.filter(_record("aiokafka.conn", "first kind"))
    assert flood.filter(_record("aiokafka.conn", "second kind"))
    assert not flood.filter(_record("aiokafka.conn", "first kind"))
    assert flood.filter(_record("aiokafka.conn", "first kind", level=logging.CRITICAL))


def test_faust_recovery_milestones_are_printed_at_every_rebalance() -> None:
    flood = FloodFilter(interval_s=30, clock=lambda: 0.0)
    milestone = "[^---Recovery]: Worker ready"
    assert all(flood.filter(_record("faust.tables.recovery", milestone, level=logging.INFO)) for _ in range(3))
    assert flood.filter(_record("faust.tables.recovery", "Recovery stalled", level=logging.WARNING))
    assert not flood.filter(_record("faust.tables.recovery", "Recovery stalled", level=logging.WARNING))
