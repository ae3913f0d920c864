"""Batches whose events are acked only once handled: how every agent consumes, so at-least-once holds.

faust's ``take_events`` acks the whole batch when its generator is closed,
also when the agent body was interrupted halfway: the worker stops (SIGTERM,
scale-in) and cancels its agents, or the body raises. Faust then commits the
acked offsets, and the events of the batch that were never handled are lost.
The rebalance fault test (tests/faults/test_rebalance.py) lost 189 and 211 of
6,000 events this way when one of two workers was stopped under load.

So each batch's messages get one extra reference (``Message.incref``) while
it is handled, released only when the whole batch is done. An interrupted or
failed batch keeps it: the take buffer's ack cannot bring the count to zero,
the offsets are never committed, and the partition's next owner re-reads the
batch (the stages are idempotent under replay). A failed batch (a bug, or a
record the broker refused for good) ends the process at once, as a kill -9
would: a graceful stop would wait for the held batch forever, and nothing after
it may be committed. Workers run under a supervisor that restarts them
(systemd, Kubernetes, compose ``restart:``); the restart re-reads the batch.

An interrupted batch is not finished during the shutdown: the worker is
tearing down (tables, producer) around it, and half a batch replayed is safe
where a batch finished against stopped parts is not.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

import faust

log = logging.getLogger(__name__)

# Up to this many events per agent step, waiting at most this long for them:
# bounded memory, and at most 50 ms added to an event's latency.
BATCH_EVENTS = 500
BATCH_WITHIN_S = 0.05

EXIT_BATCH_FAILED = 70  # EX_SOFTWARE: an internal error; the supervisor restarts the worker

BatchHandler = Callable[[Sequence[faust.EventT]], Awaitable[None]]


async def each_batch(stream: faust.StreamT, handle: BatchHandler) -> None:
    """The agent body: ``handle`` every batch the stream yields; ack a batch only once it is handled."""
    async for events in stream.take_events(BATCH_EVENTS, within=BATCH_WITHIN_S):
        await handled(events, handle)


async def handled(events: Sequence[faust.EventT], handle: BatchHandler) -> None:
    for event in events:
        event.message.incref()  # held: the take buffer's ack cannot release them before we do
    try:
        await handle(events)
    except asyncio.CancelledError:
        raise  # the worker is stopping: the batch stays held, uncommitted, and is re-read by the next owner
    except Exception:
        first = events[0].message if events else None
        log.critical("a batch of %d events from %s failed: exiting without committing it (a restart re-reads it)",
                     len(events), f"{first.topic}[{first.partition}]@{first.offset}" if first else "?",
                     exc_info=True)
        logging.shutdown()  # flush the log handlers: os._exit skips them
        os._exit(EXIT_BATCH_FAILED)
    for event in events:
        event.message.decref()  # handled: the take buffer's ack may now commit them
