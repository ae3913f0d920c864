"""Faust's stalled-commit alarm, kept for stalls: silent while a partition has nothing to commit.

Faust's livelock check (``verify_event_path``, every 2.5 commit intervals) logs
``Has not committed TP(...) (last commit N minutes ago)`` when a partition's
last commit is older than ``broker_commit_livelock_soft_timeout``
(TOUCHLINE_WORKER_COMMIT_STALL_ALARM_S) and its fetch position is behind its
high watermark. Faust only commits when an offset moved, so after a quiet spell
the age of the last commit is the age of the last event; an independent run saw
the alarm after 28 idle minutes with every committed offset at the high
watermark (issue 20). A stall is events processed (acked) and not committed:
acked offsets waiting, or a gap before them (an event never acked holds
back every later one). When neither is there, the partition has nothing to
commit, and its last-commit time is moved to now before Faust looks.
"""

from __future__ import annotations

from collections.abc import Sized

import faust.transport.drivers.aiokafka as faust_aiokafka


def nothing_to_commit(acked: Sized | None, gap: Sized | None) -> bool:
    """True when no processed event of the partition waits for a commit (Faust's consumer bookkeeping)."""
    return not acked and not gap


def install() -> None:
    """Wrap Faust's aiokafka consumer check once per process (idempotent)."""
    consumer_class = faust_aiokafka.Consumer
    if getattr(consumer_class.verify_event_path, "touchline_guarded", False):
        return
    original = consumer_class.verify_event_path

    def verify_event_path(self, now: float, tp) -> None:  # noqa: ANN001 - faust's TP
        if nothing_to_commit(self._acked.get(tp), self._gap.get(tp)):
            self._thread.tp_last_committed_at[tp] = now  # idle is not stalled
        return original(self, now, tp)

    verify_event_path.touchline_guarded = True  # type: ignore[attr-defined]
    consumer_class.verify_event_path = verify_event_path
