"""Segment ticks: re-evaluate the profiles whose segments time alone may change (streams/stages/journeys.py).

A membership that depends on time (``cart_abandoner`` an hour after the cart,
``lapsed`` 30 days after the last activity) can change with no new touch. Each
evaluation stores in the profile's journey state when that may next happen
(``sd``, streams/optimization/segments.py ``next_change_at``); this module
keeps, per partition of the journey table, those profiles in a due index, and
the leader sends every partition of ``journeys.inputs`` a tick
(``{"op": "k"}``, key ``~tick``) every ``TOUCHLINE_SEGMENT_TICK_S``. The journey
stage, on a tick, re-evaluates the partition's profiles that are due, in the
same batch loop as touches, so the writes keep their order (outputs delivered,
then the state).

The index is memory only: after a rebalance it is rebuilt from the table (the
``sd`` of every state). A state written before its latest re-evaluation holds
an earlier ``sd``: the profile is re-evaluated once more, harmlessly.
"""

from __future__ import annotations

import logging

import faust

from infra.settings import Settings
from streams.partitioning import partition_of
from streams.journeys import messages
from streams.optimization.segment_changes import DUE
from streams.stages.due_index import DueIndex
from streams.stages.output import Output

log = logging.getLogger(__name__)


class SegmentTicks:
    def __init__(self, app: faust.App, table: faust.Table, settings: Settings, output: Output, topic: str) -> None:
        self._table = table
        self._partitions = settings.input_partitions
        self._dues: dict[int, DueIndex] = {}
        self._built = False

        @app.on_partitions_revoked.connect
        async def forget_segment_dues(sender, revoked, **kwargs) -> None:  # noqa: ANN001, ARG001
            # Partitions may move: rebuild from the table (the recovered truth) on next use.
            self._dues.clear()
            self._built = False

        @app.timer(settings.segment_tick_s, on_leader=True, name=f"{settings.app_id}.segment-ticks")
        async def segment_tick() -> None:
            value = messages.encode({"op": messages.TICK})
            for partition in range(self._partitions):
                await output.send(topic, messages.TICK_KEY, value, partition=partition)

    def _on(self, partition: int) -> DueIndex:
        if not self._built:
            self._rebuild()
        return self._dues.setdefault(partition, DueIndex())

    def _rebuild(self) -> None:
        """The due index of every partition in the local table (after a start or a rebalance)."""
        self._built = True
        for profile, state in self._table.items():
            due = state.get(DUE) if isinstance(state, dict) else None
            if due is not None:
                partition = partition_of(profile.encode(), self._partitions)
                self._dues.setdefault(partition, DueIndex()).schedule(profile, due)
        log.debug("segment due index rebuilt: %d profile(s)", sum(len(d.due_of) for d in self._dues.values()))

    def schedule(self, partition: int, profile: str, state: dict) -> None:
        """After an evaluation: the profile is due again at its state's ``sd`` (or never)."""
        self._on(partition).schedule(profile, state.get(DUE))

    def due(self, partition: int, now_ms: int) -> list[str]:
        """The partition's profiles due at ``now_ms`` (taken off the index: schedule them again after)."""
        return self._on(partition).pop_due(now_ms)
