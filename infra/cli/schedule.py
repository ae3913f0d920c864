"""Scheduled jobs (`attribution run --every`, `optimize budget`): run now, then every N seconds.

A run that fails (ClickHouse or Kafka unreachable, a query error) is logged
with its error and retried after a backoff that starts short (a blip heals
in seconds) and doubles up to the period, so a store that is down for an
hour costs one log line per period, not a crash and not a busy loop. The
loop never stops on a failed run; Ctrl-C (or SIGTERM through the caller's
supervisor) stops it. Runs start on a fixed rate: a run that takes 10 s of a
60 s period is followed by a 50 s wait, a run longer than the period by the
next one at once.

A single run (``every=None``) is just the call: its error propagates, and
the CLI prints it as one line. A ``click.ClickException`` (an option the
user must fix) stops a scheduled loop too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import click

from infra.exceptions import TouchlineError

log = logging.getLogger(__name__)

FIRST_RETRY_S = 5.0


def retry_delay(failures: int, every: float, first: float = FIRST_RETRY_S) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: first, 2 first, 4 first, ... at most every."""
    return min(every, first * 2 ** (failures - 1)) if every > first else every


def run_every(run: Callable[[], str], every: float | None, what: str, *,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
              echo: Callable[[str], None] = click.echo, max_runs: int | None = None) -> None:
    """Call ``run`` (it returns its progress line, echoed) once, or every ``every`` seconds until interrupted.

    ``sleep``, ``clock`` and ``max_runs`` (stop after that many attempts) are for tests.
    """
    def show(line: str) -> None:
        if line:
            echo(line)

    if every is None:
        show(run())
        return
    failures = attempts = 0
    while max_runs is None or attempts < max_runs:
        began = clock()
        attempts += 1
        try:
            show(run())
        except click.ClickException:
            raise  # the user's to fix (a bad option, an impossible window): retrying cannot help
        except Exception as exc:  # noqa: BLE001 - the loop outlives any failed run; the error is logged
            failures += 1
            delay = retry_delay(failures, every)
            # Touchline's own errors already say what to check; anything else gets its traceback once.
            log.error("%s failed (%d in a row): %s: %s; retrying in %.0f s", what, failures, type(exc).__name__,
                      exc, delay, exc_info=failures == 1 and not isinstance(exc, TouchlineError))
        else:
            if failures:
                log.warning("%s succeeded again after %d failed run(s)", what, failures)
            failures = 0
            delay = max(0.0, every - (clock() - began))
        if max_runs is not None and attempts >= max_runs:
            return
        sleep(delay)  # the schedule's period or the backoff, not synchronization
