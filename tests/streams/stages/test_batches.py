"""Batch holding (streams/stages/batches.py): a batch's messages are released only once the whole batch is handled.

faust's take buffer acks every message of a batch when the agent body ends, handled or not; the held
reference is what keeps an interrupted batch from being acked (and committed). Faust's own Message type,
no broker: the rule under test is the reference count, not Kafka.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass

import pytest
from faust.types.tuples import Message

from streams.stages.batches import EXIT_BATCH_FAILED, handled


@dataclass
class _Event:  # the one attribute of faust's Event that handled() reads
    message: Message


def _batch(n: int) -> list[_Event]:
    events = []
    for offset in range(n):
        message = Message("raw", 0, offset, 0.0, 0, None, None, b"v", None)
        message.incref()  # what the stream does when it takes the message in
        events.append(_Event(message))
    return events


def test_a_handled_batch_is_released_to_the_take_buffers_ack() -> None:
    events = _batch(3)
    asyncio.run(handled(events, lambda batch: asyncio.sleep(0)))
    assert [e.message.refcount for e in events] == [1, 1, 1]  # the take buffer's ack brings them to 0


def test_an_interrupted_batch_stays_held_so_its_ack_cannot_commit_it() -> None:
    events = _batch(3)

    async def stopped_halfway(batch: list) -> None:
        raise asyncio.CancelledError  # the worker stops and cancels the agent mid-batch

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(handled(events, stopped_halfway))
    for event in events:  # the take buffer's ack after the interruption
        event.message.ack(consumer=None)
    assert [(e.message.refcount, e.message.acked) for e in events] == [(1, False)] * 3


def test_a_failed_batch_ends_the_process_uncommitted() -> None:
    code = ("import asyncio; from tests.streams.stages.test_batches import _batch; "
            "from streams.stages.batches import handled\n"
            "async def broken(batch): raise ValueError('a bug')\n"
            "asyncio.run(handled(_batch(2), broken)); print('not reached')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_BATCH_FAILED, done.stderr
    assert "not reached" not in done.stdout
    assert "exiting without committing it" in done.stderr and "ValueError: a bug" in done.stderr
