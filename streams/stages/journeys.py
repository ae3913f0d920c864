"""Journey stage: ``journeys.inputs`` (keyed by profile) -> journey rows, segment changes, contact decisions,
offer conflicts.

The identity stage sends each touch to its identifier's profile of the moment
and a move when an identifier changes profile (streams/journeys/routing.py);
this stage keeps each profile's touches in slots per identifier, passes moved
slots on, and recomputes the profile's journeys (streams/journeys/state.py), its
real-time segments and its contact decisions, emitting those that changed
(streams/optimization/segment_changes.py, decisions.py), and its offer
conflicts, emitting each new one once (streams/optimization/offer_alerts.py).

``journeys.inputs`` carries batch envelopes (streams/envelopes.py): the identity
stage's touches and moves, this stage's own moves, one record per partition and
batch; segment ticks are single records. Journey rows go to the sink as compact
rows (schemas/rows.py) in envelopes too; decisions, segment changes and offer
alerts, which channel backends read, stay single Avro records.

Per batch of messages, the order of writes is what makes replays safe:
messages to other profiles, journey rows, segment changes, contact decisions and offer alerts are produced
and *delivered* first, the profile states after. A worker killed in between leaves the old
state, and the replay recomputes the same messages and rows (same versions;
receivers and ClickHouse collapse them). A state written means its outputs are
in Kafka, so a replay that finds nothing to change loses nothing. The replay
reads the same messages in batches of other bounds (after a restart: the whole
backlog since), so a profile's rows are settled at the end of every message it
changed, not of the batch: every row a lost batch delivered is recomputed and
enters the registry of emitted versions, which later deletes or replaces it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from infra import metrics
from schemas.rows import RowEncoder, utc_now_millis
from schemas.wire import AvroEncoder
from streams import envelopes
from streams.envelopes import Packer
from streams.journeys import messages
from streams.journeys.record import journey_record
from streams.journeys.state import apply, new_state, settle
from streams.optimization import offer_alerts, segment_changes
from streams.optimization.decisions import changed_records, touch_of_message
from streams.partitioning import partition_of
from streams.sessions.policy import session_policy_from_settings
from streams.stages.durable_table import DurableTable, set_current_event
from streams.stages.batches import each_batch
from streams.stages.output import Output
from streams.stages.segment_ticks import SegmentTicks

log = logging.getLogger(__name__)



def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app, settings, names = pipeline.app, pipeline.settings, pipeline.names
    policy = session_policy_from_settings(settings)
    journey_encoder = RowEncoder("journey")  # to the sink only: compact rows (schemas/rows.py)
    decision_encoder = AvroEncoder("contact_decision")
    segment_encoder = AvroEncoder("segment_membership")
    offer_encoder = AvroEncoder("offer_conflict")
    output = Output(app)
    table = app.Table(
        f"{settings.app_id}-journeys",
        default=None,
        partitions=settings.input_partitions,
        help="Journey state per profile: touches per identifier, tombstones, emitted versions "
             "(streams/journeys/state.py).",
    )
    pipeline.tables["journeys"] = table
    states = DurableTable(table, output)
    partitions = settings.input_partitions  # of journeys.inputs, as of the table
    inputs = app.topic(names.journey_inputs, key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw")
    ticks = SegmentTicks(app, table, settings, output, names.journey_inputs)  # time-only segment changes

    async def assemble_batch(events) -> None:  # noqa: ANN001 - a batch of faust events
        now = utc_now_millis()  # emitted_at as Avro would keep it
        touched: dict[str, list] = {}  # profile -> [state, partition, event, changed]
        sends: list[tuple[str, dict]] = []
        ticked: dict[int, object] = {}  # partition -> its segment tick's event
        deliveries: list[asyncio.Future] = []
        journey_rows = Packer()  # one envelope per partition of the journeys topic (the sink's input)
        contact_policy = pipeline.contact_policy.current()
        definitions = pipeline.segment_definitions.current()

        async def evaluate(profile: str, entry: list, touches_changed: bool, newest: str | None,
                           timed: bool, newest_at: int | None = None) -> None:
            """The profile's rows, segment changes, decisions and offer alerts as of now, to be delivered
            before the state that remembers them is written."""
            rows = settle(entry[0], policy, contact_policy.suppression_event_types)
            entry[3] = entry[3] or bool(rows)
            key = profile.encode()
            for row in rows:
                journey_rows.add(partition_of(key, partitions), key, journey_encoder.encode(journey_record(row, now)))
            # Segment memberships and contact decisions that changed with the touches (docs/optimization.md),
            # delivered with the rows: the state that remembers them is written only after. Decisions apply
            # the caps of the segments the profile is in now.
            members, changes = frozenset(), []
            if touches_changed or timed:
                members, changes = segment_changes.changed_records(entry[0], now, newest, definitions,
                                                                   contact_policy)
                entry[3] = entry[3] or bool(changes)
                for record in changes:
                    deliveries.append(await output.send(names.segments, key, segment_encoder.encode(record)))
                    metrics.SEGMENT_CHANGES.labels(segment=record["segment"], change=record["change"]).inc()
                ticks.schedule(entry[1], profile, entry[0])
            # A time-only segment change may change the caps in force: decide again then too.
            redecide = touches_changed or bool(changes)
            decisions = changed_records(entry[0], now, newest, contact_policy, members) if redecide else []
            entry[3] = entry[3] or bool(decisions)
            for record, decision in decisions:
                deliveries.append(await output.send(names.contact_decisions, key, decision_encoder.encode(record)))
                metrics.SUPPRESSION_DECISIONS.labels(channel=record["channel"], decision=decision.kind).inc()
            if decisions and newest_at is not None:
                metrics.decision_delay(time.time() - newest_at / 1000)
            # New offer conflicts (docs/optimization.md), likewise delivered before the state that remembers them.
            alerts = offer_alerts.changed_records(entry[0], now, contact_policy) if touches_changed else []
            entry[3] = entry[3] or bool(alerts)
            for record in alerts:
                deliveries.append(await output.send(names.offer_alerts, key, offer_encoder.encode(record)))
                metrics.OFFER_CONFLICTS.inc()

        for event in events:
            set_current_event(event)
            message = event.message
            try:
                entries = envelopes.entries(message.key, message.value)  # the identity stage sends envelopes
            except envelopes.EnvelopeError as exc:
                await output.dead_letter(names.rejects, message, f"journey stage: {exc}", "journeys", now)
                continue
            changed_here: dict[str, tuple] = {}  # profile -> (newest touch's event id, its event time), by this message
            for key, value in entries:
                try:
                    profile = (key or b"").decode()
                    if not profile:
                        raise ValueError("journey message without a profile id key")
                    msg = messages.decode(value)
                    if msg["op"] == messages.TICK:
                        ticked[message.partition] = event
                        continue
                    entry = touched.get(profile)
                    if entry is None:
                        entry = touched[profile] = [states.get(profile) or new_state(profile), message.partition,
                                                    event, False]
                    out, changed = apply(entry[0], msg)
                except Exception as exc:  # foreign or broken input must not stop the partition
                    log.exception("journey stage failed on %s[%d]@%d", message.topic, message.partition,
                                  message.offset)
                    await output.dead_letter(names.rejects, message,
                                             f"journey stage: {type(exc).__name__}: {exc}", "journeys", now,
                                             (key, value))
                    continue
                entry[2], entry[3] = event, entry[3] or changed
                if changed:
                    changed_here[profile] = touch_of_message(msg) or changed_here.get(profile, (None, None))
                sends.extend(out)
            # Settled at every message's end, not only at the batch's: a batch that delivered its rows and
            # died before writing its states is read again after the restart in a batch of other bounds
            # (the backlog since), but the same messages in the same order. Settling after each message
            # recomputes every row the lost batch emitted, so the registry of emitted versions knows it
            # and a later change deletes or replaces it; settled at a longer batch's end only, a journey
            # that came and went within it kept its row (a stale journey in the kill -9 restart test).
            for profile, (newest, newest_at) in changed_here.items():
                await evaluate(profile, touched[profile], True, newest, False, newest_at)
        for partition, event in ticked.items():  # profiles due for a segment re-evaluation by time alone
            set_current_event(event)
            for profile in ticks.due(partition, int(now.timestamp() * 1000)):
                entry = touched.get(profile)
                if entry is None:
                    state = states.get(profile)
                    if state is None:
                        continue  # gone (erased) since it was scheduled
                    entry = touched[profile] = [state, partition, event, False]
                await evaluate(profile, entry, False, None, True)
        moves = Packer()  # slots moved to other profiles: one envelope per partition (streams/envelopes.py)
        for target, msg in sends:
            key = target.encode()
            moves.add(partition_of(key, partitions), key, messages.encode(msg))
        deliveries.extend(await output.send_packed(names.journey_inputs, moves))
        deliveries.extend(await output.send_packed(names.journeys, journey_rows))
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:  # the states stay unwritten and the batch uncommitted: it is re-read
            raise failed
        for profile, (state, partition, event, changed) in touched.items():
            if changed:
                set_current_event(event)
                await states.put(profile, state, partition)

    @app.agent(inputs, concurrency=1, name=f"{settings.app_id}.journeys")
    async def assemble(stream):  # noqa: ANN001
        await each_batch(stream, assemble_batch)
