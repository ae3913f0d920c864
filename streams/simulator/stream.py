"""Everyone's events merged into one stream in event-time order, with the truth kept as they go out.

People arrive at sorted uniform times over the span (generated one by one,
never all at once); a person enters the merge heap when the stream reaches
their arrival and leaves when their last event is out, so memory holds only
the people active at the current time, never events beyond each one's
current episode. Most people stay active until ``end`` (the brand keeps
writing to them): about 10 KB each, e.g. 1M events = 22k people = ~240 MB.
Each person draws from their own random stream, so stopping early or
sharding across processes never changes anyone's events.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator

from streams.simulator.config import SimulationConfig
from streams.simulator.ids import person_rng, run_tag, to_ms
from streams.simulator.journeys import person_events
from streams.simulator.junk import JUNK_ID_VALUES
from streams.simulator.linkage import person_identity
from streams.simulator.population import Person, join_family, make_person
from streams.simulator.shared import family_device, kiosk_ids
from streams.simulator.truth import Journey, TruthSink

DEFAULT_PEOPLE = 1000
_NEVER = 2**62  # a time after every event
_PILOT = 300


class _Active:
    """A person in the merge: their episode generator, the current episode and what was emitted so far."""

    __slots__ = ("person", "episodes", "journey", "batch", "pos", "journeys", "combos")

    def __init__(self, person: Person, episodes: Iterator, journey: Journey, batch: list):
        self.person, self.episodes, self.journey, self.batch, self.pos = person, episodes, journey, batch, 0
        self.journeys: list[Journey] = []
        self.combos: set[tuple] = set()  # distinct identifier combinations of the events sent (linkage.combo)


class _Ledger:
    """Run-wide identity truth: who used each shared identifier, which junk identifiers went out."""

    def __init__(self, kiosks: tuple[str, ...]):
        self.kiosks = frozenset(f"device_id:{kiosk}" for kiosk in kiosks)
        self.not_devices = frozenset(JUNK_ID_VALUES) | frozenset(kiosks)  # never a journey's device
        self.people: dict[str, set[str]] = {}
        self.junk: set[str] = set()

    def person_truth(self, active: _Active) -> dict:
        p = active.person
        family = {f"anonymous_id:{d.anonymous_id}" for d in p.devices if d.shared}
        identity = person_identity(active.combos, p.email_sha256, p.phone_sha256, self.kiosks | family)
        for identifier in identity.shared:
            self.people.setdefault(identifier, set()).add(p.person_id)
        self.junk.update(identity.junk)
        return {
            "person_id": p.person_id,
            "index": p.index,
            "device_kinds": [d.kind for d in p.devices],
            "identifiers": identity.identifiers,
            "variants": {experiment: variant for experiment, variant, _ in p.variants},
            "propensity": round(p.propensity, 4),
            "journeys": [j.to_json() for j in active.journeys],
            "linkable_groups": identity.linkable_groups,
            "shared_identifiers": identity.shared,
        }

    def write(self, truth: TruthSink) -> None:
        for identifier in sorted(self.people):
            truth.add_shared({"identifier": identifier, "kind": "kiosk" if identifier in self.kiosks else "family",
                              "people": sorted(self.people[identifier])})
        truth.add_junk({"identifiers": sorted(self.junk)})


def sorted_uniforms(rng: random.Random, n: int) -> Iterator[float]:
    """n sorted uniform(0, 1) draws, ascending, in O(1) memory (successive minima)."""
    low = 0.0
    for remaining in range(n, 0, -1):
        low += (1.0 - low) * (1.0 - rng.random() ** (1.0 / remaining))
        yield low


def people_count(config: SimulationConfig) -> int:
    """``people``, else 1000, else (``events`` set) enough people to produce that many events.

    Sized from a pilot of 300 people plus 15%: the run stops at ``events``, so its last hours (of a
    30-day span, about the last 10%) are cut off. Set ``people`` too for a run that covers the span.
    """
    if config.people is not None:
        return config.people
    if config.events is None:
        return DEFAULT_PEOPLE
    start, end = to_ms(config.span_start), to_ms(config.end)
    rng, tag, total = random.Random(f"pilot-{config.seed}"), run_tag(config.seed), 0
    for i in range(_PILOT):
        person = _person(config, tag, 10_000_000 + i, None)
        arrival = start + int(rng.random() * (end - start))
        total += sum(len(batch) for _, batch in person_events(person, config, tag, arrival, end))
    per_person = max(total / _PILOT, 0.5)
    valid = config.events * (1.0 - config.malformed_share)
    return max(1, math.ceil(valid / per_person * 1.15) + 20)


def _person(config: SimulationConfig, tag: str, index: int, people: int | None) -> Person:
    """Person ``index`` of a run of ``people`` (None: the sizing pilot, where nobody shares a device)."""
    person = make_person(index, person_rng(config.seed, index), tag, never_buyer_share=config.never_buyer_share,
                         mean_gap_ms=config.mean_gap_hours * 3_600_000)
    shared = family_device(config.seed, index, people, config.family_share)
    if shared is not None:
        join_family(person, shared.kind, shared.anonymous_id)
    return person


def stream_records(config: SimulationConfig, truth: TruthSink | None = None,
                   people: int | None = None) -> Iterator[dict]:
    """Valid touchpoint records of ``people`` people, in event-time order; people go to ``truth`` when done.

    Close the iterator (or exhaust it) to get the truth of people still active.
    """
    n = people_count(config) if people is None else people
    start, end = to_ms(config.span_start), to_ms(config.end)
    tag, shard, shards = run_tag(config.seed), config.shard, config.shards
    ledger = _Ledger(kiosk_ids(tag, config.kiosks))
    not_devices = ledger.not_devices
    arrivals = (start + int(u * (end - start)) for u in sorted_uniforms(random.Random(f"arrivals-{config.seed}"), n))
    heap: list[list] = []  # [next event ms, admission order, _Active]; order breaks ties
    index, arrival = 0, next(arrivals, _NEVER)
    push, replace = heapq.heappush, heapq.heapreplace
    try:
        while True:
            while arrival <= (heap[0][0] if heap else _NEVER - 1):  # people join when time reaches them
                if index % shards != shard:  # another process simulates this person
                    index, arrival = index + 1, next(arrivals, _NEVER)
                    continue
                person = _person(config, tag, index, n)
                episodes = person_events(person, config, tag, arrival, end)
                first = next(episodes, None)
                if first is not None:
                    push(heap, [first[1][0][0], index, _Active(person, episodes, *first)])
                index, arrival = index + 1, next(arrivals, _NEVER)
            if not heap:
                return
            entry = heap[0]
            active = entry[2]
            size = len(heap)
            # Everything of this episode strictly before the next other person (or arrival) goes out in a run.
            due = min(heap[1][0] if size > 1 else _NEVER, heap[2][0] if size > 2 else _NEVER, arrival)
            batch, pos, last = active.batch, active.pos, len(active.batch) - 1
            while pos < last and batch[pos + 1][0] < due:
                active.pos = pos + 1
                yield batch[pos][1]
                pos += 1
            record = batch[pos][1]
            if pos < last:
                active.pos = pos + 1
                entry[0] = batch[pos + 1][0]
                replace(heap, entry)
                yield record
                continue
            if truth is not None:
                _book(active, active.journey, batch, not_devices)
            following = next(active.episodes, None)
            if following is None:
                heapq.heappop(heap)
                if truth is not None:
                    truth.add_person(ledger.person_truth(active))
            else:
                active.journey, active.batch, active.pos = following[0], following[1], 0
                entry[0] = following[1][0][0]
                replace(heap, entry)
            yield record
    finally:
        if truth is not None:
            for _, _, active in sorted(heap, key=lambda e: e[1]):
                _book(active, active.journey, active.batch[: active.pos], not_devices)  # the part sent
                truth.add_person(ledger.person_truth(active))
            ledger.write(truth)


def _book(active: _Active, journey: Journey, items: list, not_devices: frozenset[str]) -> None:
    """Book emitted events into their journey and the person's identifier combos (one episode at a time: hot path)."""
    if not items:
        return
    if not active.journeys or active.journeys[-1] is not journey:
        active.journeys.append(journey)
        journey.first_ms = items[0][0]
    journey.last_ms = items[-1][0]
    combos, event_ids, devices = active.combos, journey.event_ids, journey.devices
    for _, record, role in items:
        event_ids.append(record["event_id"])
        get = record.get
        anonymous, device = get("anonymous_id"), get("device_id")
        # linkage.combo(record), inlined (a call per event costs 5% of the whole stream)
        combos.add((anonymous, device, get("user_id"), get("email_sha256"), get("phone_sha256"), get("loyalty_id"),
                    get("email"), get("phone")))
        if anonymous and anonymous not in not_devices:  # the cookie, else the app install
            devices.add(anonymous)
        elif device and device not in not_devices:
            devices.add(device)
        if role is None:
            if record["event_type"] == "unsubscribe":
                journey.unsubscribed.append(record["channel"])
        elif role == "touch":
            journey.touches.append(record["channel"])
        else:
            journey.converted = True
            journey.conversion_event_id = record["event_id"]
            journey.order_id = record["order_id"]
            journey.revenue = str(record["revenue"])
            journey.currency = record["currency"]
