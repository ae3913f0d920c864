"""Is this worker ready: what GET /ready answers (streams/stages/ops_web.py).

Ready means processing: the Faust consumer has joined its group, has input
partitions assigned, and no rebalance or table recovery is under way (Faust
pauses the streams until recovery ends); and every other probe registered on
the pipeline (``Pipeline.probes``: the sink thread, in ``touchline worker``)
reports no problem. A probe is a function returning None, or a sentence
saying what is wrong.

A worker with more members than partitions in its group gets no partition
and stays not ready: it is a standby, not serving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import faust

Probe = Callable[[], "str | None"]


@dataclass(frozen=True)
class StagesState:
    """What readiness needs from the Faust app, read at one moment."""

    rebalances: int  # started since the process started
    rebalancing: bool  # a rebalance or its table recovery is under way
    recovery_done: bool  # the table recovery of the last rebalance has completed
    assigned: int  # assigned partitions of the agents' input topics
    crashed: bool = False


def stages_problem(state: StagesState) -> str | None:
    if state.crashed:
        return "the Faust app crashed; the worker is stopping"
    if state.rebalances == 0:
        return "not yet assigned partitions (joining the consumer group)"
    if state.rebalancing or not state.recovery_done:
        return "a rebalance or table recovery is under way"
    if state.assigned == 0:
        return "no input partitions assigned (more workers than partitions?)"
    return None


def stages_state(app: faust.App) -> StagesState:
    from streams.stages.consumer_metrics import source_partitions

    try:
        assigned = len(source_partitions(app))
    except Exception:  # noqa: BLE001 - consumer not started yet
        assigned = 0
    return StagesState(
        rebalances=app.rebalancing_count,
        rebalancing=bool(app.rebalancing or app.in_recovery),
        recovery_done=app.tables.recovery.completed.is_set(),
        assigned=assigned,
        crashed=app.crashed,
    )


def readiness(app: faust.App, probes: Mapping[str, Probe]) -> dict[str, str]:
    """Check name -> problem, for the checks that fail (empty: ready)."""
    problems = {}
    stages = stages_problem(stages_state(app))
    if stages is not None:
        problems["stages"] = stages
    for name, probe in probes.items():
        try:
            problem = probe()
        except Exception as exc:  # noqa: BLE001 - a broken probe means "cannot tell": not ready
            problem = f"probe failed: {type(exc).__name__}: {exc}"
        if problem is not None:
            problems[name] = problem
    return problems
