"""``simulate()``: the simulator's one entry point, valid and malformed messages in one stream.

    from schemas.wire import AvroEncoder
    from streams.simulator import SimulationConfig, TruthWriter, simulate

    with TruthWriter("truth.jsonl") as truth:
        for message in simulate(SimulationConfig(events=100_000), AvroEncoder().encode, truth):
            producer.produce(topic, key=message.key, value=message.payload)

Messages come in event-time order. A malformed message (share
``malformed_share``) is derived from the valid record just before it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

from streams.simulator.config import TOUCH_CHANNELS, SimulationConfig
from streams.simulator.episodes import IMPRESSION_WEIGHT, OPEN_WEIGHT
from streams.simulator.journeys import FIRST_TOUCH
from streams.keys import routing_key
from streams.simulator.malformed import Encode, MalformedFactory, SimulatedMessage
from streams.simulator.stream import people_count, stream_records
from streams.simulator.truth import TruthSink
from streams.simulator.world import EXPERIMENTS, PLACEMENTS, conflicting_campaigns


def simulate(config: SimulationConfig, encode: Encode, truth: TruthSink | None = None) -> Iterator[SimulatedMessage]:
    """Messages in event-time order, until ``config.events`` (malformed included; this shard's share when
    sharded) or until every journey ended at ``config.end``.

    Exhaust or ``close()`` the iterator (``contextlib.closing``): closing writes the people still active
    and the summary to ``truth``.
    """
    people = people_count(config)
    if truth is not None:
        truth.begin(truth_header(config, people))
    where = f"{config.seed}" if config.shards == 1 else f"{config.seed}/{config.shard}of{config.shards}"
    factory = MalformedFactory(encode, random.Random(f"malformed-{where}"), config.malformed_weights,
                               config.oversized_bytes)
    chooser = random.Random(f"malformed-slots-{where}")
    share, limit = config.malformed_share, config.shard_events
    records = stream_records(config, truth, people)
    counts: Counter[str] = Counter()
    sent = valid = 0
    last = None
    try:
        while limit is None or sent < limit:
            if last is not None and share > 0 and chooser.random() < share:
                message = factory.make(last)
                counts[message.malformed_kind] += 1
            else:
                last = next(records, None)  # pulled only when it will be sent: the truth holds sent events only
                if last is None:
                    break
                message = SimulatedMessage(routing_key(last), last, encode(last))
                valid += 1
            sent += 1
            yield message
    finally:
        records.close()  # people still active go to the truth with what they emitted
        if truth is not None:
            truth.finish({"messages": sent, "valid": valid, "malformed": sum(counts.values()),
                          "malformed_by_kind": dict(sorted(counts.items())), "people_planned": people})


def truth_header(config: SimulationConfig, people: int) -> dict:
    conflicts = conflicting_campaigns()
    return {
        "seed": config.seed,
        "start": config.span_start.isoformat(),
        "end": config.end.isoformat(),
        "people": people,
        "shard": config.shard,
        "shards": config.shards,
        "base_conversion": config.base_conversion,
        # chance after a touch = base * propensity * channel (x campaign) lift * variant lifts * weight,
        # x first_touch_factor on a journey's first touch
        "touch_weight": {"click_or_visit": 1.0, "email_open": OPEN_WEIGHT, "impression": IMPRESSION_WEIGHT},
        "first_touch_factor": FIRST_TOUCH,
        "channel_lift": {channel: config.lift(channel) for channel in TOUCH_CHANNELS},
        "campaign_lift": {
            f"{p.campaign_id}/{p.channel}": round(
                config.lift(p.channel) * config.campaign_lift.get(p.campaign_id, 1.0), 6)
            for p in PLACEMENTS
        },
        "conflicting_offers": conflicts,
        "experiments": {e.experiment_id: dict(zip(e.variants, e.lifts, strict=True)) for e in EXPERIMENTS},
    }
