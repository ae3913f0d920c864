"""Ground truth: survives the file, and every identifier points at the person who used it."""

from __future__ import annotations

from pathlib import Path

from schemas.wire import AvroEncoder
from streams.pii import normalize_email, normalize_phone, sha256_hex
from streams.simulator import GroundTruth, SimulationConfig, TruthWriter, simulate
from streams.simulator.truth import IDENTIFIER_KINDS
from tests.streams.simulator.fixtures import END, Run


def test_round_trip_through_the_file(population_run: Run, tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    population_run.truth.write_jsonl(path)
    again = GroundTruth.read(path)
    assert again.header == population_run.truth.header
    assert again.persons == population_run.truth.persons
    assert again.summary == population_run.truth.summary
    assert again.shared == population_run.truth.shared and again.junk == population_run.truth.junk
    assert again.person_of("loyalty_id", next(
        p["identifiers"]["loyalty_id"][0] for p in again.persons.values() if "loyalty_id" in p["identifiers"]
    )) is not None


def test_streaming_writer_equals_the_in_memory_truth(tmp_path: Path) -> None:
    config = SimulationConfig(seed=21, events=5_000, end=END)
    memory = GroundTruth()
    list(simulate(config, AvroEncoder("touchpoint").encode, memory))
    path = tmp_path / "truth.jsonl"
    with TruthWriter(path) as writer:
        list(simulate(config, AvroEncoder("touchpoint").encode, writer))
    streamed = GroundTruth.read(path)
    assert streamed.persons == memory.persons and streamed.summary == memory.summary
    assert streamed.shared == memory.shared and streamed.junk == memory.junk
    assert streamed.header == memory.header


def test_identifiers_map_to_the_person_whose_journey_holds_the_event(population_run: Run) -> None:
    truth = population_run.truth
    person_of_event = {e: pid for pid, j in truth.journeys() for e in j["event_ids"]}
    used: dict[tuple[str, str], str] = {}
    shared_users: dict[str, set[str]] = {}
    junk: set[str] = set()
    for record in population_run.records:
        owner = person_of_event[record["event_id"]]
        carried = [(kind, record[kind]) for kind in IDENTIFIER_KINDS if record.get(kind)]
        if record.get("email"):
            carried.append(("email_sha256", sha256_hex(normalize_email(record["email"]))))
        if record.get("phone"):
            carried.append(("phone_sha256", sha256_hex(normalize_phone(record["phone"], "1"))))
        assert carried
        for key in carried:
            qualified = f"{key[0]}:{key[1]}"
            if qualified in truth.junk:  # "null", test@test.com...: nobody's
                junk.add(qualified)
            elif qualified in truth.shared:  # a family device or a kiosk: listed with its people, not in theirs
                shared_users.setdefault(qualified, set()).add(owner)
            else:
                assert truth.person_of(*key) == owner, (key, owner)
                used[key] = owner
    listed = {(kind, value) for p in truth.persons.values() for kind, values in p["identifiers"].items()
              for value in values}
    assert listed == set(used)  # exactly the own identifiers the events carried, none shared by two people
    assert {i: set(s["people"]) for i, s in truth.shared.items()} == shared_users and shared_users
    assert set(truth.junk) == junk and junk
    assert sum(len(v) for p in truth.persons.values() for v in p["identifiers"].values()) == len(listed)


def test_header_carries_the_true_effects(population_run: Run) -> None:
    header = population_run.truth.header
    assert header["channel_lift"]["email"] == 2.0 and header["channel_lift"]["paid_search"] == 1.6
    assert header["campaign_lift"]["cmp-spring-sale/email"] == 2.0 * 1.3
    assert header["experiments"]["exp-checkout-flow"] == {"control": 1.0, "one-page": 1.25}
    assert header["conflicting_offers"]["cmp-spring-sale"] == {"email": 20.0, "sms": 50.0, "display": 20.0}
    journeys = [j for _, j in population_run.truth.journeys()]
    assert all(j["event_ids"] for j in journeys)
    for journey in journeys:
        if journey["converted"]:
            assert journey["conversion_event_id"] in journey["event_ids"]
            assert journey["revenue"] and journey["order_id"] and journey["conversion_channel"]
