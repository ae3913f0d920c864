"""The identity stage's two agents share one table: a state must not be seen before the messages it implies leave.

The events agent writes an identifier's state at once and sends the batch's
protocol messages at the batch's end. If the commands agent reads that state
in between and acts on it (a relabel sends the new label to every peer the state
knows), its messages reach a peer before the link that creates the peer's
state: the label finds no state and is dropped, and the peer never learns the
smaller label (the restart test lost a merge this way: a device stayed in its own
profile). Run in-process against the stage's real batch handlers, with a
producer that holds the events batch at its first send, as a busy client would.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import orjson

from schemas.rows import RowEncoder
from streams import envelopes
from streams.identity.protocol import handle
from streams.partitioning import partition_of
from streams.stages import identity
from tests.streams.pipeline_checks import anchored_records
from tests.streams.stages.stage_harness import Event, Message, Producer, Stream, agent_body, stage_pipeline

USER, DEVICE, ANON = "user_id:u-1", "device_id:dev-1", "anonymous_id:a-1"  # ANON < DEVICE < USER
def _event_with(identifiers: dict[str, str]) -> dict:
    record = dict(anchored_records(20, seed=3, end=datetime(2026, 11, 20, tzinfo=timezone.utc))[0])
    for kind in ("user_id", "loyalty_id", "email_sha256", "phone_sha256", "device_id", "anonymous_id"):
        record[kind] = None
    record.update(identifiers, profile_id=None, identity_key=None, source_topic="touchpoints.raw", source_partition=0,
                  source_offset=0, ingested_at=record["event_time"], writer_schema="touchpoint.v2")
    return record


def test_a_state_is_not_acted_on_by_the_other_agent_before_its_messages_are_sent(tmp_path) -> None:  # noqa: ANN001
    pipeline = stage_pipeline(tmp_path, identity)
    names, partitions = pipeline.names, pipeline.settings.input_partitions
    producer = Producer(hold_topic=pipeline.tables["identity"].changelog_topic.get_topic_name())
    pipeline.app.producer = producer

    user_partition = partition_of(USER.encode(), partitions)
    record = _event_with({"user_id": USER.split(":", 1)[1], "device_id": DEVICE.split(":", 1)[1]})
    event = Event(Message(names.valid, user_partition, 0, USER.encode(),
                            RowEncoder("enriched_touchpoint").encode(record)))
    label = {"op": "label", "to": USER, "label": ANON}  # the user's component has a smaller label
    command = Event(Message(names.identity_commands, user_partition, 0, USER.encode(), orjson.dumps(label)))

    async def run() -> None:
        # The event's batch stitches user + device, then waits in its first send (the changelog flush)...
        events = asyncio.ensure_future(agent_body(pipeline, "identity-events")(Stream(names.valid, [event])))
        await producer.paused.wait()
        # ...while the commands agent gets its turn: it relabels the user.
        commands = asyncio.ensure_future(agent_body(pipeline, "identity-commands")(Stream(names.identity_commands, [command])))
        for _ in range(50):
            await asyncio.sleep(0)
        producer.resume.set()
        await asyncio.gather(events, commands)

    asyncio.run(run())

    # The device's partition of identity.commands, in the order it was produced: what its owner reads.
    to_device = []
    for topic, _partition, _key, value in producer.sent:
        if topic != names.identity_commands:
            continue
        for _k, entry in envelopes.entries(None, value):
            msg = orjson.loads(entry)
            if msg["to"] == DEVICE:
                to_device.append(msg)
    assert [m["op"] for m in to_device if m["op"] == "link"], to_device
    state = None
    for position, msg in enumerate(to_device):
        state, _ = handle(state, msg, pipeline.policy, ("c", position))
    assert state is not None and state["lb"] == ANON, json.dumps(to_device)
