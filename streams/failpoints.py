"""Failpoints: named places where a fault test makes a worker die as ``kill -9`` would, at an exact moment.

A kill from outside lands wherever the worker happens to be; a crash between
two particular writes (say, between delivering an erasure's messages and
deleting its state) is then a matter of luck, and the test proving that the
order of those writes is safe would pass by chance. A failpoint named in
``TOUCHLINE_FAILPOINTS`` makes the worker first flush what it already handed to
the producer (the worst case: everything before this point reached Kafka),
then exit at once: no commit, no changelog write after it, no goodbye to the
group. The idea is FoundationDB's and TiKV's (fail-rs); unset, a failpoint
costs one set lookup.

One failpoint hangs instead of killing: ``recovery.changelog_request_hangs``
makes the worker's first table recovery wait forever for the changelogs'
high watermarks, as a broker that stops answering during a rebalance would;
Faust then gives up on its recovery loop after ``broker_request_timeout``
(streams/recovery_watchdog.py says what follows). Another stalls:
``commit.offsets_never_commit`` makes the worker process and ack events but
never find an offset to commit (a stalled commit, for the alarm's test).
"""

from __future__ import annotations

import asyncio
import logging
import os

import faust

from infra.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)

# name -> where it is
RECOVERY_HANGS = "recovery.changelog_request_hangs"
COMMIT_STALLS = "commit.offsets_never_commit"
KNOWN = {
    "identity.erasure.outputs_delivered": "identity stage: an erasure's messages are in Kafka, its state "
                                          "deletion is not yet written",
    RECOVERY_HANGS: "table recovery: the first request for the changelogs' high watermarks never answers",
    COMMIT_STALLS: "consumer: events are processed and acked, but no offset is ever committed",
}
EXIT_CODE = 137  # what a shell reports for SIGKILL


def check(settings: Settings) -> None:
    unknown = sorted(set(settings.failpoints) - set(KNOWN))
    if unknown:
        raise ValueError(f"{ENV_PREFIX}FAILPOINTS names unknown failpoints {unknown}; known: {sorted(KNOWN)}")


async def reach(app: faust.App, settings: Settings, name: str) -> None:
    """Die here if ``name`` is armed; otherwise nothing."""
    if name not in settings.failpoints:
        return
    log.critical("failpoint %s reached (%s): flushing the producer, then exiting with %d as if killed",
                 name, KNOWN[name], EXIT_CODE)
    await app.producer.flush()
    logging.shutdown()
    os._exit(EXIT_CODE)


def arm(app: faust.App, settings: Settings) -> None:
    """Install the failpoints that are hooks rather than places in our code (only when named)."""
    if COMMIT_STALLS in settings.failpoints:
        log.critical("failpoint %s armed (%s)", COMMIT_STALLS, KNOWN[COMMIT_STALLS])
        app.consumer._filter_committable_offsets = lambda tps: {}  # the instance's: nothing is ever committable
    if RECOVERY_HANGS not in settings.failpoints:
        return
    recovery = app.tables.recovery
    build_highwaters = recovery._build_highwaters
    hung = False

    async def first_request_hangs(*args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Faust's signature
        nonlocal hung
        if not hung:
            hung = True
            log.critical("failpoint %s reached (%s): waiting forever", RECOVERY_HANGS, KNOWN[RECOVERY_HANGS])
            await asyncio.Event().wait()  # cancelled when Faust gives up on the request
        await build_highwaters(*args, **kwargs)

    recovery._build_highwaters = first_request_hangs  # the instance's, read by Recovery._restart_recovery
