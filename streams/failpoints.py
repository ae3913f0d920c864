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
"""

from __future__ import annotations

import logging
import os

import faust

from infra.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)

# name -> where it is
KNOWN = {
    "identity.erasure.outputs_delivered": "identity stage: an erasure's messages are in Kafka, its state "
                                          "deletion is not yet written",
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
