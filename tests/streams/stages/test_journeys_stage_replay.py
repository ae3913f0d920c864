"""A journey batch that delivered its rows and died before writing its states, replayed in a longer batch.

After kill -9 the restarted worker reads the uncommitted messages again, in
batches of other bounds (the whole backlog at once). The lost batch's rows are
in Kafka; the replay must end with ClickHouse (rows FINAL by version) showing
what the state shows, here: a journey that left with its identifier is deleted.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from schemas.rows import RowDecoder
from streams import envelopes
from streams.journeys import messages
from streams.journeys.context import touch_extra
from streams.journeys.routing import touch_message
from streams.partitioning import partition_of
from streams.sessions.touches import session_key, touch_of
from streams.stages import journeys
from tests.streams.pipeline_checks import anchored_records
from tests.streams.stages.stage_harness import Event, Message, Producer, Stream, agent_body, stage_pipeline

PROFILE, OTHER = "p-first", "p-second"


def _touches() -> tuple[str, list[bytes]]:
    """An identifier's touches as the identity stage sends them to PROFILE (change version 0)."""
    records = anchored_records(200, seed=7, end=datetime(2026, 11, 20, tzinfo=timezone.utc))
    anchor = next(r["identity_key"] for r in records if r["identity_key"])
    values = []
    for record in (r for r in records if r["identity_key"] == anchor):
        record = {**record, "profile_id": PROFILE}
        (_, msg), _ = touch_message({"cv": 0}, anchor, PROFILE, touch_of(record), session_key(record)[0],
                                    touch_extra(record))
        values.append(messages.encode(msg))
    return anchor, values


def _run(tmp_path, batch: list[bytes]) -> list[dict]:  # noqa: ANN001
    """One batch of journeys.inputs records (offsets from 0) on a fresh worker; the journey rows it sent."""
    pipeline = stage_pipeline(tmp_path, journeys)
    producer = Producer()
    pipeline.app.producer = producer
    topic, partitions = pipeline.names.journey_inputs, pipeline.settings.input_partitions
    partition = partition_of(PROFILE.encode(), partitions)
    events = [Event(Message(topic, partition, offset, None, value)) for offset, value in enumerate(batch)]
    asyncio.run(agent_body(pipeline, "journeys")(Stream(topic, events)))
    decoder = RowDecoder("journey")
    return [decoder.decode(entry)[0] for sent_topic, _p, key, value in producer.sent
            if sent_topic == pipeline.names.journeys for _k, entry in envelopes.entries(key, value)]


def test_a_replayed_batch_of_other_bounds_deletes_the_rows_the_lost_batch_sent(tmp_path) -> None:  # noqa: ANN001
    anchor, touches = _touches()
    assert len(touches) > 1
    touched = envelopes.encode([(PROFILE.encode(), value) for value in touches])  # one identity batch
    move = envelopes.encode([(PROFILE.encode(), messages.encode({"op": "m", "ik": anchor, "v": 1, "to": OTHER}))])

    # The first worker: its batch is the touches alone; rows delivered, then killed before the state write.
    lost = _run(tmp_path / "first", [touched])
    assert any(row["profile_id"] == PROFILE and not row["is_deleted"] for row in lost)
    # The restarted worker (no state for the profile) reads the touches again and the move after them.
    replay = _run(tmp_path / "second", [touched, move])

    final: dict[str, dict] = {}  # journeys FINAL: the highest version of each journey id
    for row in lost + replay:
        if row["journey_id"] not in final or row["version"] >= final[row["journey_id"]]["version"]:
            final[row["journey_id"]] = row
    live = [row["journey_id"] for row in final.values() if row["profile_id"] == PROFILE and not row["is_deleted"]]
    assert live == [], f"journeys of {PROFILE} still shown after its identifier moved to {OTHER}: {live}"
