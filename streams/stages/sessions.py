"""Sessions stage: enriched touchpoints -> sessions, in event time, per partition.

``touchpoints.enriched`` carries the identity stage's batch envelopes
(streams/envelopes.py) whose entries are keyed by session key, one envelope per
partition, so one key's touches and its state live on one partition. One agent
reads enriched and ``sessions.ticks`` (the leader's timer writes a tick to
every partition every TOUCHLINE_SESSION_TICK_S); both only touch keys of the
partition the message came from. The decisions are streams/sessions/state.py;
this module keeps, per partition:

- the newest event time seen (persisted in the table under ``~wm:<p>``), whose
  value minus the allowed lateness is the watermark;
- an in-memory due index (key -> when its earliest open session closes),
  rebuilt from the table after every rebalance, to close other keys' sessions
  when the watermark passes them;
- per key, only its open chains of touches: finished ones move to cold values
  per day (``~cold:<day>:<key>``, same partition), so a touch costs the same
  with 10 or 1,000 touches of history (streams/sessions/state.py).

A tick on a partition without events for TOUCHLINE_SESSION_IDLE_CLOSE_S moves
its newest time to the wall clock, so the last sessions of the night close.
Rows go to the ``sessions`` topic for the sink: ``session.v1`` records as compact rows
(schemas/rows.py), in one envelope per partition and batch (streams/envelopes.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from infra import metrics
from schemas.rows import RowDecoder, RowEncoder, utc_now_millis
from streams import envelopes
from streams.envelopes import Packer
from streams.partitioning import partition_of
from streams.sessions.policy import session_policy_from_settings
from streams.sessions.record import session_record
from streams.sessions.state import Emits, add_touch, advance
from streams.sessions.touches import session_key, touch_of
from streams.stages.due_index import DueIndex
from streams.stages.durable_table import DurableTable, set_current_event
from streams.stages.batches import each_batch
from streams.stages.output import Output

log = logging.getLogger(__name__)

NEVER = -(2**62)


@dataclass
class PartitionClock(DueIndex):
    """One partition's event-time progress and due index (the index is memory only)."""

    newest: int = NEVER
    last_event_wall: float = field(default_factory=time.monotonic)


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app, settings, names = pipeline.app, pipeline.settings, pipeline.names
    policy = session_policy_from_settings(settings)
    idle_close_s = settings.session_idle_close_s
    decoder = RowDecoder("enriched_touchpoint", max_payload_bytes=settings.max_payload_bytes * 2)  # rows or Avro
    session_encoder = RowEncoder("session")  # to the sink only: compact rows (schemas/rows.py)
    partitions = settings.input_partitions  # of the sessions topic
    output = Output(app)
    table = app.Table(
        f"{settings.app_id}-sessions",
        default=None,
        partitions=settings.input_partitions,
        help="Session state per session key (streams/sessions/state.py), plus ~wm:<p> watermarks.",
    )
    pipeline.tables["sessions"] = table
    states = DurableTable(table, output)
    clocks: dict[int, PartitionClock] = {}
    pipeline.scrape_hooks.append(lambda: metrics.set_open_sessions({p: len(c.due_of) for p, c in clocks.items()}))
    topics = app.topic(names.enriched, names.session_ticks, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")

    @app.on_partitions_revoked.connect
    async def forget_clocks(sender, revoked, **kwargs) -> None:  # noqa: ANN001, ARG001
        # Partitions may move: rebuild from the table (the recovered truth) on next use.
        clocks.clear()

    def clock_for(partition: int) -> PartitionClock:
        if not clocks:
            _rebuild(table, clocks)
        return clocks.setdefault(partition, PartitionClock())

    def emit(fx: Emits, now: datetime, out: Packer) -> None:
        for row in fx.rows:  # sent with the batch's envelopes, before its states (sessionize_batch)
            key = row.session_key.encode()
            out.add(partition_of(key, partitions), key, session_encoder.encode(session_record(row, now)))

    async def save(key: str, state: dict, fx: Emits, partition: int, clock: PartitionClock) -> None:
        state["pt"], state["d"] = partition, fx.due  # for the due index rebuild
        if fx.dirty:
            states.put_later(key, state, partition)  # one changelog record per key and batch
        clock.schedule(key, fx.due)

    async def close_due(clock: PartitionClock, partition: int, source: tuple[str, int], now: datetime,
                        out: Packer) -> None:
        watermark = clock.newest - policy.allowed_lateness_ms
        for key in clock.pop_due(watermark):
            state = states.get(key)
            if state is None:
                continue
            state, fx = advance(state, watermark, policy, source, cold=states.on_partition(partition))
            emit(fx, now, out)
            await save(key, state, fx, partition, clock)

    async def on_touch(message, value: bytes, position: int, clock: PartitionClock,  # noqa: ANN001
                       now: datetime, out: Packer) -> None:
        record, _ = decoder.decode(value)
        key, identity_key = session_key(record)
        touch = touch_of(record)
        clock.newest = max(clock.newest, touch.t)
        clock.last_event_wall = time.monotonic()
        source = ("e", position)  # the entry's place on the partition: the replay check (streams/envelopes.py)
        state, fx = add_touch(states.get(key), key, identity_key, touch,
                              clock.newest - policy.allowed_lateness_ms, policy, source,
                              cold=states.on_partition(message.partition))
        emit(fx, now, out)
        await save(key, state, fx, message.partition, clock)
        await close_due(clock, message.partition, source, now, out)

    async def on_tick(message, clock: PartitionClock, now: datetime, out: Packer) -> None:  # noqa: ANN001
        if time.monotonic() - clock.last_event_wall >= idle_close_s:
            clock.newest = max(clock.newest, int(now.timestamp() * 1000))
        mark = f"~wm:{message.partition}"
        if (states.get(mark) or {}).get("n") != clock.newest:
            states.put_later(mark, {"n": clock.newest}, message.partition)
        await close_due(clock, message.partition, ("k", message.offset), now, out)

    async def failed(message, exc: Exception, now: datetime, entry=None) -> None:  # noqa: ANN001
        log.exception("sessions stage failed on %s[%d]@%d", message.topic, message.partition, message.offset,
                      exc_info=exc)
        await output.dead_letter(names.rejects, message, f"sessions stage: {type(exc).__name__}: {exc}",
                                 "sessions", now, entry)

    async def sessionize_batch(events) -> None:  # noqa: ANN001 - a batch of faust events
        now = utc_now_millis()  # emitted_at as Avro would keep it
        out = Packer()  # the batch's session rows, one envelope per partition of the sessions topic
        for event in events:
            set_current_event(event)
            message = event.message
            clock = clock_for(message.partition)
            if clock.newest == NEVER:
                clock.newest = (states.get(f"~wm:{message.partition}") or {}).get("n", NEVER)
            if message.topic == names.session_ticks:
                try:
                    await on_tick(message, clock, now, out)
                except Exception as exc:  # a bug of ours must not stop the partition: dead-letter it
                    await failed(message, exc, now)
                continue
            try:
                entries = envelopes.entries(message.key, message.value)  # the identity stage sends envelopes
            except envelopes.EnvelopeError as exc:
                await failed(message, exc, now)
                continue
            for index, entry in enumerate(entries):
                try:
                    await on_touch(message, entry[1], envelopes.position(message.offset, index), clock, now, out)
                except Exception as exc:  # a bug of ours must not stop the partition: dead-letter it
                    await failed(message, exc, now, entry)
        await output.send_packed(names.sessions, out)
        await states.flush()  # after the batch's rows: a state in the changelog means its rows were sent

    @app.agent(topics, concurrency=1, name=f"{settings.app_id}.sessions")
    async def sessionize(stream):  # noqa: ANN001
        await each_batch(stream, sessionize_batch)

    @app.timer(settings.session_tick_s, on_leader=True, name=f"{settings.app_id}.session-ticks")
    async def tick() -> None:
        value = json.dumps({"wall": int(time.time() * 1000)}).encode()
        for partition in range(settings.input_partitions):
            await output.send(names.session_ticks, b"tick", value, partition=partition)


def _rebuild(table, clocks: dict[int, PartitionClock]) -> None:  # noqa: ANN001
    """The due index of every partition in the local table (after a start or a rebalance)."""
    for key, state in table.items():
        if key.startswith("~") or not isinstance(state, dict) or state.get("d") is None:
            continue
        clocks.setdefault(state["pt"], PartitionClock()).schedule(key, state["d"])
