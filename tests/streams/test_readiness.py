"""streams/readiness.py: when a worker says it is ready."""

from __future__ import annotations

import faust

from streams.readiness import StagesState, readiness, stages_problem

READY = StagesState(rebalances=1, rebalancing=False, recovery_done=True, assigned=8)


def test_stages_problem() -> None:
    assert stages_problem(READY) is None
    assert "joining" in stages_problem(StagesState(0, False, False, 0))
    assert "recovery" in stages_problem(StagesState(1, True, False, 8))
    assert "recovery" in stages_problem(StagesState(2, False, False, 8))
    assert "more workers than partitions" in stages_problem(StagesState(1, False, True, 0))
    assert "crashed" in stages_problem(StagesState(1, False, True, 8, crashed=True))


def test_an_app_not_started_is_not_ready_and_every_probe_is_asked() -> None:
    app = faust.App("touchline-readiness-test", web_enabled=False)

    def broken() -> str | None:
        raise RuntimeError("boom")

    problems = readiness(app, {"fine": lambda: None, "sink": lambda: "sink failing", "broken": broken})
    assert set(problems) == {"stages", "sink", "broken"}
    assert "joining" in problems["stages"]
    assert problems["sink"] == "sink failing"
    assert problems["broken"] == "probe failed: RuntimeError: boom"
