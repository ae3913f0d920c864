"""Recovery watchdog: a worker whose table recovery has stopped for good leaves, so the group heals.

After every rebalance Faust pauses the agents, reads the tables' changelogs
and only then resumes them (its ``Recovery`` service). In faust-streaming
0.15, a changelog request that outlasts ``broker_request_timeout`` (a seek or
a high-watermark fetch during a slow rebalance) ends that service's loop as
if the worker were stopping (``Recovery._wait`` reads a timeout as
"stopped"). Nothing is logged above debug level, the process stays alive and
a member of the group, and the partitions it was given are never processed.
If that was its first recovery, Faust never starts the app's timers and web
server either (they wait for the first recovery), which is why this watchdog
is a service of its own, started with the worker, not an app timer.

Every ``TICK_S`` it looks at the recovery service and stops the worker, with
an error saying why, when

- the recovery loop has ended while the worker is not stopping (the case
  above: it never comes back), or
- a rebalance, its table recovery or the first join has been under way for
  ``TOUCHLINE_WORKER_RECOVERY_STALL_S`` with no changelog record read (stuck
  some other way; a long recovery that keeps reading does not count).

A recovery under way for ``REPORT_AFTER_S`` logs, once, where each of its
tasks waits: the line that says where the next stuck worker stopped.

The worker leaves the group on the way out, so the others take its
partitions at once, and exits with ``EXIT_CODE`` for the supervisor
(systemd, Kubernetes) to start it again. Nothing is lost: offsets are
committed only for what was processed. Should Faust's internals move (no
loop task found), the first check is skipped with a warning and the stall
timer alone applies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import faust
from mode import Service

from infra.settings import ENV_PREFIX

log = logging.getLogger(__name__)

TICK_S = 5.0
REPORT_AFTER_S = 60.0
LOOP_TASK = "_restart_recovery"  # the Faust Recovery service's task that runs one recovery per rebalance
EXIT_CODE = 75  # EX_TEMPFAIL: a temporary failure, "restart me" (a failed batch exits 70: a bug)


@dataclass(frozen=True)
class RecoverySnapshot:
    """What the watchdog needs from the Faust app, read at one moment."""

    loop_running: bool | None  # the recovery loop task is alive; None: cannot tell (not started, or Faust moved)
    stopping: bool  # the worker is shutting down: the loop ends normally
    recovering: bool  # joining the group, or a rebalance or its table recovery under way
    records_read: int  # changelog offsets reached so far (grows while recovery reads)


class RecoveryWatch:
    """Decides, from successive snapshots, whether recovery has stopped for good (pure: time is passed in)."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self._since: float | None = None  # when recovery was last seen starting or reading
        self._records_read: int | None = None

    def problem(self, snapshot: RecoverySnapshot, now: float) -> str | None:
        if snapshot.stopping:
            return None
        if snapshot.loop_running is False:
            return ("Faust's table-recovery loop has ended while the worker runs (faust-streaming ends it when a "
                    "changelog request outlasts broker_request_timeout): its partitions would never be processed")
        if not snapshot.recovering:
            self._since = self._records_read = None
            return None
        if self._since is None or snapshot.records_read != self._records_read:
            self._since, self._records_read = now, snapshot.records_read
            return None
        if now - self._since >= self.stall_s:
            return (f"joining the group or a table recovery has read no changelog record for "
                    f"{now - self._since:.0f} s ({ENV_PREFIX}WORKER_RECOVERY_STALL_S={self.stall_s:g})")
        return None

    def recovering_for(self, now: float) -> float:
        """Seconds since the current recovery last read a record (0 when none is under way)."""
        return 0.0 if self._since is None else now - self._since


def snapshot(app: faust.App) -> RecoverySnapshot:
    recovery = app.tables.recovery
    names = [repr(getattr(future, "__wrapped__", future)) for future in list(recovery._futures)]
    return RecoverySnapshot(
        loop_running=any(LOOP_TASK in name for name in names) if names else None,
        stopping=bool(app.should_stop or recovery.should_stop),
        recovering=bool(app.rebalancing_count == 0 or app.rebalancing or app.in_recovery),
        records_read=sum(offset or 0 for offsets in (recovery.active_offsets, recovery.standby_offsets)
                         for offset in list(offsets.values())),  # None: not read yet
    )


class RecoveryWatchdog(Service):
    """Runs beside the Faust app in the worker process; calls ``on_stuck(problem)`` once, when stuck."""

    def __init__(self, app: faust.App, stall_s: float, on_stuck: Callable[[str], None], **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.app, self.on_stuck = app, on_stuck
        self.watch = RecoveryWatch(stall_s)
        self._warned_no_loop = self._reported = self._fired = False

    @Service.timer(TICK_S)
    async def _check(self) -> None:
        if self._fired:
            return
        try:
            self._check_once()
        except Exception:  # noqa: BLE001 - a watchdog's own failure must not stop the worker it watches
            log.exception("recovery watchdog: the check failed; trying again in %g s", TICK_S)

    def _check_once(self) -> None:
        state = snapshot(self.app)
        now = time.monotonic()
        if state.loop_running is None and self.app.rebalancing_count > 0 and not self._warned_no_loop:
            self._warned_no_loop = True
            log.warning("recovery watchdog: no %s task on Faust's Recovery service (faust-streaming changed?); "
                        "only %sWORKER_RECOVERY_STALL_S applies", LOOP_TASK, ENV_PREFIX)
        problem = self.watch.problem(state, now)
        if state.recovering and self.watch.recovering_for(now) >= REPORT_AFTER_S and not self._reported:
            self._reported = True
            log.warning("recovery watchdog: a rebalance has been under way for %.0f s; Faust's recovery tasks "
                        "wait here:\n%s", self.watch.recovering_for(now), self.app.tables.recovery.human_tracebacks())
        if not state.recovering:
            self._reported = False
        if problem is not None:
            self._fired = True
            log.critical("recovery watchdog: %s. Stopping this worker so the group gives its partitions to the "
                         "others; the supervisor should start it again (exit code %d). If it recurs, see "
                         "docs/runbook.md, 'Worker stuck in recovery'.", problem, EXIT_CODE)
            self.on_stuck(problem)
