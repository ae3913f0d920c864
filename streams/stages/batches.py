"""Batches whose messages become committable only once a stage has handled them: at-least-once.

Faust commits a message's offset once the message is acked, and it acks
messages no stage handled:

- ``take_events`` acks the whole batch when its generator is closed, also
  when the agent body was interrupted halfway: the worker stops (SIGTERM,
  scale-in) and cancels its agents, or the body raises. The rebalance fault
  test (tests/faults/test_rebalance.py) lost 189 and 211 of 6,000 events this
  way when one of two workers was stopped under load.
- The stream loop acks, unhandled, a message it took from its queue at the
  moment flow control was suspended (a stop, a rebalance), or one of an
  older consumer generation ("skipped"). At a stop the worker then commits
  it: the same test lost 2 of 6,000 this way, after the first fix.

So Faust's final ack of a message from a topic an agent reads with
``each_batch`` counts only once ``handled`` has marked the message handled
(``ConsumerMessage.on_final_ack`` is wrapped below, and streams use Faust's
pure-Python loop, whose skip path goes through it). An unhandled message's
offset stays uncommitted, and the partition's next owner, or this worker
after the rebalance's seek to the committed offsets, reads it again (the
stages are idempotent under replay). A failed batch (a bug, or a record the
broker refused for good) ends the process at once, as a kill -9 would:
nothing after it may be committed. Workers run under a supervisor that
restarts them (systemd, Kubernetes, compose ``restart:``); the restart
re-reads the batch.

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
import faust.streams
from faust.types.tuples import ConsumerMessage

log = logging.getLogger(__name__)

# Up to this many events per agent step, waiting at most this long for them:
# bounded memory, and at most 50 ms added to an event's latency.
BATCH_EVENTS = 500
BATCH_WITHIN_S = 0.05

EXIT_BATCH_FAILED = 70  # EX_SOFTWARE: an internal error; the supervisor restarts the worker

BatchHandler = Callable[[Sequence[faust.EventT]], Awaitable[None]]

HANDLED = "touchline_handled"  # set on a ConsumerMessage once a stage has handled it
GUARDED_TOPICS: set[str] = set()  # the topics read through each_batch: only handled messages commit
_faust_on_final_ack = ConsumerMessage.on_final_ack


def _on_final_ack_if_handled(message: ConsumerMessage, consumer: faust.types.ConsumerT) -> bool:
    if message.topic in GUARDED_TOPICS and not getattr(message, HANDLED, False):
        return False  # acked by Faust, handled by no stage: the offset stays uncommitted, to be read again
    return _faust_on_final_ack(message, consumer)


ConsumerMessage.on_final_ack = _on_final_ack_if_handled
# Faust's Cython stream loop inlines the ack of skipped messages, past on_final_ack; its pure-Python
# loop calls Message.ack. The Python loop costs about 3% of the identity stage's rate, within run-to-run
# spread (docs/benchmarks.md, 'Faust's stream loop').
faust.streams._CStreamIterator = None


async def each_batch(stream: faust.StreamT, handle: BatchHandler) -> None:
    """The agent body: ``handle`` every batch the stream yields; a message commits only once handled."""
    topics = tuple(getattr(stream.channel, "topics", ()))
    if not topics:
        raise RuntimeError(f"each_batch needs a stream over Kafka topics, got {stream.channel!r}")
    GUARDED_TOPICS.update(topics)
    async for events in stream.take_events(BATCH_EVENTS, within=BATCH_WITHIN_S):
        await handled(events, handle)


async def handled(events: Sequence[faust.EventT], handle: BatchHandler) -> None:
    try:
        await handle(events)
    except asyncio.CancelledError:
        raise  # the worker is stopping: the batch stays unhandled, uncommitted, re-read by the next owner
    except Exception:
        first = events[0].message if events else None
        log.critical("a batch of %d events from %s failed: exiting without committing it (a restart re-reads it)",
                     len(events), f"{first.topic}[{first.partition}]@{first.offset}" if first else "?",
                     exc_info=True)
        logging.shutdown()  # flush the log handlers: os._exit skips them
        os._exit(EXIT_BATCH_FAILED)
    for event in events:
        setattr(event.message, HANDLED, True)  # the take buffer's ack, right after, may now commit them
