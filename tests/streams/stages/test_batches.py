"""Committable only once handled (streams/stages/batches.py): Faust's final ack of an unhandled message is refused.

faust's take buffer acks every message of a batch when the agent body ends, handled or not, and its
stream loop acks messages it skips at a stop or a rebalance; either would commit events no stage
handled. Faust's own message type and ack path; the consumer is a recorder of the final acks that
would make offsets committable (the rule under test is the ack decision, not Kafka).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import faust.streams
import pytest
from faust.types.tuples import ConsumerMessage

from streams.stages.batches import EXIT_BATCH_FAILED, GUARDED_TOPICS, handled

TOPIC = "test-batches.raw"


@dataclass
class _Event:  # the one attribute of faust's Event that handled() reads
    message: ConsumerMessage


class _FinalAcks:
    """Records the messages whose final ack reached the consumer (what Faust then commits)."""

    def __init__(self) -> None:
        self.offsets: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        self.offsets.append(message.offset)
        return True


@pytest.fixture
def guarded() -> Iterator[None]:
    GUARDED_TOPICS.add(TOPIC)  # what each_batch does for the topics its stream reads
    yield
    GUARDED_TOPICS.discard(TOPIC)


def _batch(n: int, topic: str = TOPIC) -> list[_Event]:
    events = []
    for offset in range(n):
        message = ConsumerMessage(topic, 0, offset, 0.0, 0, None, None, b"v", None)
        message.incref()  # what the conductor does when it hands the message to the stream
        events.append(_Event(message))
    return events


def _faust_acks(events: list[_Event], consumer: _FinalAcks) -> None:
    for event in events:  # the take buffer's ack after the batch (or the stream loop's, for a skip)
        event.message.ack(consumer)


def test_a_handled_batch_is_committable(guarded) -> None:  # noqa: ANN001
    events, consumer = _batch(3), _FinalAcks()
    asyncio.run(handled(events, lambda batch: asyncio.sleep(0)))
    _faust_acks(events, consumer)
    assert consumer.offsets == [0, 1, 2]


def test_an_interrupted_batch_is_not(guarded) -> None:  # noqa: ANN001
    events, consumer = _batch(3), _FinalAcks()

    async def stopped_halfway(batch: list) -> None:
        raise asyncio.CancelledError  # the worker stops and cancels the agent mid-batch

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(handled(events, stopped_halfway))
    _faust_acks(events, consumer)
    assert consumer.offsets == []
    assert not any(e.message.acked for e in events)


def test_a_message_faust_skipped_is_not_committable(guarded) -> None:  # noqa: ANN001
    events, consumer = _batch(2), _FinalAcks()
    _faust_acks(events, consumer)  # skipped at a stop or a rebalance: acked, never handled
    assert consumer.offsets == []


def test_topics_no_stage_reads_through_each_batch_keep_faust_acks() -> None:
    events, consumer = _batch(2, topic="test-batches.other"), _FinalAcks()
    _faust_acks(events, consumer)
    assert consumer.offsets == [0, 1]


def test_streams_use_the_loop_whose_skips_go_through_the_guard() -> None:
    assert faust.streams._CStreamIterator is None  # the Cython loop acks skipped messages inline


def test_a_failed_batch_ends_the_process_uncommitted() -> None:
    code = ("import asyncio; from tests.streams.stages.test_batches import _batch; "
            "from streams.stages.batches import handled\n"
            "async def broken(batch): raise ValueError('a bug')\n"
            "asyncio.run(handled(_batch(2), broken)); print('not reached')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_BATCH_FAILED, done.stderr
    assert "not reached" not in done.stdout
    assert "exiting without committing it" in done.stderr and "ValueError: a bug" in done.stderr
