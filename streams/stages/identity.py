"""Identity stage: stitch identifiers into profiles, partition by partition, through Kafka.

Two agents share one table, all co-partitioned by identifier:

- ``touchpoints.valid`` (batch envelopes from ingest, streams/envelopes.py, whose
  entries are keyed by each event's anchor identifier; single records too): each event
  is observed at its anchor (``protocol.observe``), stamped with the profile
  known now and forwarded to ``touchpoints.enriched``, and to the journey stage (``journeys.inputs``,
  keyed by that profile);
- ``identity.commands`` (keyed by the identifier they are for): protocol
  messages (``protocol.handle``), in envelopes from this stage, one by one from the CLI.

What a batch sends to ``touchpoints.enriched``, to commands and to ``journeys.inputs`` leaves at its end in one
envelope per partition (streams/envelopes.py); an erasure's messages leave at once.
The two agents' batches take turns (one lock): a batch writes its states into the table at once
but sends their messages only at its end, and the other agent must not act on a state before
those messages are handed to the producer. Otherwise its own messages overtake them: a relabel
reached a new peer before the link that creates the peer's state, was dropped there, and the
peer never joined its component (a merge lost in the kill -9 restart test).

Both only touch the state of the identifier the message is keyed by, which
lives in this worker's partition of the table; everything else is a message
to another identifier, routed by Kafka. Outcomes go to ``identity.changes``;
an identifier's profile change also moves its touches between profiles' journeys
(streams/journeys/routing.py).
The decisions are the pure functions of streams/identity; this module is plumbing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from infra import metrics
from schemas.rows import RowDecoder, RowEncoder
from schemas.wire import AvroEncoder
from streams import envelopes, failpoints
from streams.envelopes import Packer
from streams.identity.observe import observation_of
from streams.identity.protocol import OPS, Effects, handle, observe
from streams.journeys import messages as journey_messages
from streams.journeys.context import touch_extra
from streams.journeys.routing import drop_message, move_messages, touch_message
from streams.partitioning import partition_of
from streams.sessions.touches import session_key, touch_of
from streams.stages.durable_table import DurableTable, set_current_event
from streams.stages.batches import each_batch
from streams.stages.output import Output

log = logging.getLogger(__name__)



def encode_command(msg: dict) -> bytes:
    return orjson.dumps(msg, option=orjson.OPT_NON_STR_KEYS)  # int keys as strings, as the json module does


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app, settings, names, policy = pipeline.app, pipeline.settings, pipeline.names, pipeline.policy
    # Internal hops carry compact rows (schemas/rows.py); Avro entries of an older pipeline still read.
    decoder = RowDecoder("enriched_touchpoint", max_payload_bytes=settings.max_payload_bytes * 2)
    enriched_encoder = RowEncoder("enriched_touchpoint")
    change_encoder = AvroEncoder("identity_change")
    output = Output(app)
    table = app.Table(
        f"{settings.app_id}-identity",
        default=None,
        partitions=settings.input_partitions,
        # Keys are identifier strings, values the protocol's JSON-able state dicts: faust's
        # default JSON serializers fit both (DurableTable encodes with the table's own).
        help="Identity stitching state, one entry per identifier (streams/identity/protocol.py).",
    )
    pipeline.tables["identity"] = table
    # Co-partitioned: an identifier's valid events, its commands and its state all
    # live on partition murmur2(identifier) -- every producer of those topics keys
    # by the identifier (streams.kafka_config.KEYED_PARTITIONER for confluent-kafka).
    nodes = DurableTable(table, output)
    # One batch at a time across both agents: states and their messages become visible together
    # (see the module docstring); also keeps each batch's changelog flush to its own writes.
    batch_turn = asyncio.Lock()
    partitions = settings.input_partitions  # of enriched, identity.commands and journeys.inputs, as of the tables

    async def emit(fx: Effects, now: datetime, out: BatchOut | None = None) -> list[asyncio.Future]:
        """Protocol messages and identity changes, handed to the producer (the messages into ``out``'s
        envelopes if given); the delivery futures of what was sent."""
        deliveries = []
        for msg in fx.messages:
            key, value = msg["to"].encode(), encode_command(msg)
            if out is not None:
                out.commands.add(partition_of(key, partitions), key, value)
            else:
                deliveries.append(await output.send(names.identity_commands, key, value))
        for change in fx.changes:
            metrics.IDENTITY_CHANGES.labels(kind=change["kind"]).inc()
            record = {**change, "changed_at": now}
            deliveries.append(await output.send(names.identity_changes, change["identifier"].encode(),
                                                change_encoder.encode(record)))
        return deliveries

    async def send_to_journeys(sends: list[tuple[str, dict]], out: BatchOut | None = None) -> list[asyncio.Future]:
        # Touches and moves for the journey stage, keyed by profile (streams/journeys/routing.py).
        if out is not None:
            for profile, msg in sends:
                key = profile.encode()
                out.journeys.add(partition_of(key, partitions), key, journey_messages.encode(msg))
            return []
        return [await output.send(names.journey_inputs, profile.encode(), journey_messages.encode(msg))
                for profile, msg in sends]

    async def send_batch(out: BatchOut) -> None:
        """A batch's protocol messages and journey inputs: one envelope per topic and partition."""
        for topic, packer in ((names.enriched, out.enriched), (names.identity_commands, out.commands),
                              (names.journey_inputs, out.journeys)):
            await output.send_packed(topic, packer)

    async def reject(message, detail: str, now: datetime, entry=None) -> None:  # noqa: ANN001
        await output.dead_letter(names.rejects, message, detail, "identity", now, entry)

    async def store(key: str, partition: int, before, after, fx: Effects) -> None:  # noqa: ANN001
        if after is None:
            if before is not None:
                await nodes.delete(key, partition)
        elif fx.dirty:
            nodes.put_later(key, after, partition)  # the changelog at the batch's end: once per identifier

    async def stitch_event(message, value: bytes, position: int, now: datetime,  # noqa: ANN001
                           out: BatchOut) -> tuple[bytes, bytes]:
        """Observe one event at its anchor; its enriched record and that record's key (the session key)."""
        record, _ = decoder.decode(value)  # our own topic: written by ingest
        obs = observation_of(record, policy)
        journey_sends, enriched_key = [], None
        if obs is not None:
            before = nodes.get(obs.anchor)
            state, fx = observe(before, obs, policy, ("v", position))
            record["profile_id"], record["identity_key"] = fx.profile, obs.anchor
            enriched_key = session_key(record)[0]  # needs the identity key just set
            journey_sends, moved = move_messages(obs.anchor, state, fx.changes)
            touch, remembered = touch_message(state, obs.anchor, fx.profile, touch_of(record),
                                              enriched_key, touch_extra(record))
            journey_sends.append(touch)
            fx.dirty = fx.dirty or moved or remembered
            await store(obs.anchor, message.partition, before, state, fx)
            await emit(fx, now, out)
            await send_to_journeys(journey_sends, out)
        value = enriched_encoder.encode(record)
        if enriched_key is None:
            enriched_key = session_key(record)[0]
        return enriched_key.encode(), value

    async def stitch_event_batch(events) -> None:  # noqa: ANN001 - a batch of faust events
        async with batch_turn:
            await _stitch_event_batch(events)

    async def _stitch_event_batch(events) -> None:  # noqa: ANN001
        now = datetime.now(timezone.utc)
        out = BatchOut()
        for event in events:
            set_current_event(event)
            message = event.message
            try:
                entries = envelopes.entries(message.key, message.value)  # ingest sends batch envelopes
            except envelopes.EnvelopeError as exc:
                await reject(message, f"identity stage: {exc}", now)
                continue
            for index, entry in enumerate(entries):
                try:
                    # An entry's position orders it like an offset: the protocol's replay check.
                    key, value = await stitch_event(message, entry[1], envelopes.position(message.offset, index),
                                                    now, out)
                except Exception as exc:  # a bug of ours must not stop the partition: dead-letter it
                    log.exception("identity stage failed on %s[%d]@%d #%d", message.topic, message.partition,
                                  message.offset, index)
                    await reject(message, f"identity stage: {type(exc).__name__}: {exc}", now, entry)
                    continue
                # Keyed by session key: the sessions stage's partition that owns it.
                out.enriched.add(partition_of(key, partitions), key, value)
        await nodes.flush()
        await send_batch(out)

    @app.agent(pipeline.valid, concurrency=1, name=f"{settings.app_id}.identity-events")
    async def stitch_events(stream):  # noqa: ANN001
        await each_batch(stream, stitch_event_batch)

    async def stitch_command(message, entry: tuple[bytes | None, bytes], position: int, now: datetime,  # noqa: ANN001
                             out: BatchOut) -> None:
        msg = _command(entry[1])
        if msg is None or msg["to"] != (entry[0] or b"").decode("utf-8", "replace"):
            # Only the CLI and this stage write here; a foreign message is kept, not obeyed.
            await reject(message, "not an identity protocol message (JSON with op, and to = the message key)",
                         now, entry)
            return
        before = nodes.get(msg["to"])
        try:
            state, fx = handle(before, msg, policy, ("c", position))
        except Exception as exc:  # a malformed command must not stop the partition
            log.exception("identity command failed on %s[%d]@%d", message.topic, message.partition,
                          message.offset)
            await reject(message, f"identity command: {type(exc).__name__}: {exc}", now, entry)
            return
        if state is None:
            journey_sends = drop_message(msg["to"], before)
        else:
            journey_sends, moved = move_messages(msg["to"], state, fx.changes)
            fx.dirty = fx.dirty or moved
        if state is None and before is not None:
            # An erasure. Other commands write their state first: a replay finds it and re-sends
            # what may have been lost (protocol.reassert). A deleted state leaves nothing to replay
            # from, so the erasure's messages (unlinks, resets, the erased change, the journeys'
            # drop) must be in Kafka before the deletion is; a crash in between re-runs the erasure.
            # They are sent on their own, not in the batch's envelopes, to be awaited here.
            await asyncio.gather(*await emit(fx, now), *await send_to_journeys(journey_sends))
            await failpoints.reach(app, settings, "identity.erasure.outputs_delivered")
            await store(msg["to"], message.partition, before, state, fx)
            return
        await store(msg["to"], message.partition, before, state, fx)
        await emit(fx, now, out)
        await send_to_journeys(journey_sends, out)

    async def stitch_command_batch(events) -> None:  # noqa: ANN001 - a batch of faust events
        async with batch_turn:
            await _stitch_command_batch(events)

    async def _stitch_command_batch(events) -> None:  # noqa: ANN001
        now = datetime.now(timezone.utc)
        out = BatchOut()
        for event in events:
            set_current_event(event)
            message = event.message
            try:
                entries = envelopes.entries(message.key, message.value)  # this stage sends envelopes
            except envelopes.EnvelopeError as exc:
                await reject(message, f"identity command: {exc}", now)
                continue
            for index, entry in enumerate(entries):
                await stitch_command(message, entry, envelopes.position(message.offset, index), now, out)
        await nodes.flush()
        await send_batch(out)

    @app.agent(pipeline.identity_commands, concurrency=1, name=f"{settings.app_id}.identity-commands")
    async def stitch_commands(stream):  # noqa: ANN001
        await each_batch(stream, stitch_command_batch)


@dataclass
class BatchOut:
    """What one batch sends to the stages behind it, packed per partition (streams/envelopes.py)."""

    enriched: Packer = field(default_factory=Packer)
    commands: Packer = field(default_factory=Packer)
    journeys: Packer = field(default_factory=Packer)


def _command(value: bytes | None) -> dict | None:
    try:
        msg = orjson.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get("op") not in OPS or not isinstance(msg.get("to"), str):
        return None
    return msg
