"""Batches that finish once started: how every agent consumes, so at-least-once holds at a stop.

faust's ``take_events`` acks the whole batch when its generator is closed,
also when the agent body was interrupted halfway: the worker stops (SIGTERM,
scale-in) and cancels its agents, or the body raises. Faust then commits the
acked offsets, and the events of the batch that were never handled are lost.
The rebalance fault test (tests/faults/test_rebalance.py) lost 189 of 6,000
events this way when one of two workers was stopped under load.

So here a batch, once taken, runs to its end in its own task:

- a cancellation of the agent waits for the batch (bounded: at most
  ``BATCH_EVENTS`` events), then goes on;
- the batch's messages are held (one extra reference each) until it has
  finished; if it fails, they stay held -- never acked, never committed --
  and the worker is stopped, so a restart re-reads them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import faust

log = logging.getLogger(__name__)

# Up to this many events per agent step, waiting at most this long for them:
# bounded memory, and at most 50 ms added to an event's latency.
BATCH_EVENTS = 500
BATCH_WITHIN_S = 0.05

BatchHandler = Callable[[Sequence[faust.EventT]], Awaitable[None]]


async def each_batch(app: faust.App, stream: faust.StreamT, handle: BatchHandler) -> None:
    """The agent body: ``handle`` every batch the stream yields, each to its end."""
    async for events in stream.take_events(BATCH_EVENTS, within=BATCH_WITHIN_S):
        await finish(app, events, handle)


async def finish(app: faust.App, events: Sequence[faust.EventT], handle: BatchHandler) -> None:
    for event in events:
        event.message.incref()  # held: the take buffer's ack cannot release them before we do
    task = asyncio.ensure_future(handle(events))
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = cancelled or not task.done()  # the agent is being stopped: finish the batch first
        except Exception:  # noqa: BLE001 - the task's own failure: handled below
            break
    if task.cancelled() or task.exception() is not None:
        error = task.exception() if not task.cancelled() else asyncio.CancelledError("batch cancelled")
        first = events[0].message if events else None
        log.error("a batch of %d events from %s failed; stopping the worker without committing it: %r",
                  len(events), f"{first.topic}[{first.partition}]@{first.offset}" if first else "?", error)
        await app.crash(error)  # the held messages are never acked: the next owner re-reads them
        raise error
    for event in events:
        event.message.decref()  # handled: the take buffer's ack may now commit them
    if cancelled:
        raise asyncio.CancelledError()
