"""Pairwise scoring of profiles against the simulator's truth: hand-built truths, hand-computed scores."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from streams.identity.scoring import FalseMerge, read_truth_people, read_truth_shared, score_profiles
from streams.simulator import SimulationConfig, TruthWriter, stream_records

# A: one group of 3 (3 pairs) and a lone device; B: one group of 2 (1 pair); C: a lone card. 7 identifiers,
# 4 linkable pairs.
A_WEB = ["anonymous_id:a1", "email_sha256:ea", "user_id:ua"]
B_WEB = ["anonymous_id:b1", "user_id:ub"]
PEOPLE = [
    {"person_id": "A", "linkable_groups": [A_WEB, ["device_id:da"]]},
    {"person_id": "B", "linkable_groups": [B_WEB]},
    {"person_id": "C", "linkable_groups": [["loyalty_id:lc"]]},
]


def _assign(*profiles: list[str]) -> dict[str, str]:
    return {identifier: f"P{n}" for n, members in enumerate(profiles, 1) for identifier in members}


def test_perfect_assignment() -> None:
    score = score_profiles(PEOPLE, _assign(A_WEB, ["device_id:da"], B_WEB, ["loyalty_id:lc"]))
    assert (score.precision, score.recall) == (1.0, 1.0)
    assert (score.predicted_pairs, score.true_predicted_pairs, score.linkable_pairs, score.linked_pairs) == (4, 4, 4, 4)
    assert (score.identifiers_scored, score.profiles, score.false_merges) == (7, 4, ())


def test_one_false_merge_of_two_people() -> None:
    score = score_profiles(PEOPLE, _assign(A_WEB + B_WEB, ["device_id:da"], ["loyalty_id:lc"]))
    # 5 identifiers in P1: 10 pairs, of which A's 3 and B's 1 are true.
    assert (score.predicted_pairs, score.true_predicted_pairs) == (10, 4)
    assert score.precision == 0.4 and score.recall == 1.0
    assert score.false_merges == (FalseMerge("P1", "anonymous_id:a1", "A", "anonymous_id:b1", "B"),)
    assert score.summary() == ("precision 0.4000 (4/10 pairs), recall 1.0000 (4/4 pairs), "
                               "7 identifiers in 3 profiles, 1 false-merge examples")


def test_a_split_group_loses_recall_not_precision() -> None:
    score = score_profiles(PEOPLE, _assign(A_WEB[:2], A_WEB[2:], ["device_id:da"], B_WEB, ["loyalty_id:lc"]))
    assert (score.predicted_pairs, score.true_predicted_pairs, score.linked_pairs) == (2, 2, 2)
    assert score.precision == 1.0 and score.recall == 0.5 and score.profiles == 5


def test_joining_two_groups_of_one_person_is_precise_but_not_linked() -> None:
    score = score_profiles(PEOPLE, _assign([*A_WEB, "device_id:da"], B_WEB, ["loyalty_id:lc"]))
    assert (score.predicted_pairs, score.true_predicted_pairs, score.linked_pairs) == (7, 7, 4)
    assert (score.precision, score.recall) == (1.0, 1.0)


def test_missing_identifiers_are_singletons() -> None:
    score = score_profiles(PEOPLE, {"anonymous_id:a1": "P1", "email_sha256:ea": "P1"})
    assert (score.predicted_pairs, score.true_predicted_pairs, score.linked_pairs) == (1, 1, 1)
    assert score.precision == 1.0 and score.recall == 0.25
    assert score.identifiers_scored == 7 and score.profiles == 6  # P1 and 5 unassigned identifiers


def test_identifiers_outside_the_universe_are_ignored() -> None:
    """Junk and shared identifiers are in no linkable group: assigning them changes nothing."""
    assignment = {"anonymous_id:a1": "P1", "anonymous_id:b1": "P1", "user_id:null": "P1",
                  "anonymous_id:family-laptop": "P1"}
    score = score_profiles(PEOPLE, assignment)
    assert (score.predicted_pairs, score.true_predicted_pairs, score.linked_pairs) == (1, 0, 0)
    assert (score.precision, score.recall) == (0.0, 0.0)


def test_no_pairs_scores_one_and_an_identifier_listed_twice_is_dropped() -> None:
    assert (score_profiles([], {}).precision, score_profiles([], {}).recall) == (1.0, 1.0)
    twice = [{"person_id": "A", "linkable_groups": [["user_id:x", "email_sha256:e"]]},
             {"person_id": "B", "linkable_groups": [["user_id:x"]]}]
    score = score_profiles(twice, {"user_id:x": "P", "email_sha256:e": "P"})
    assert (score.identifiers_scored, score.linkable_pairs, score.predicted_pairs) == (1, 0, 0)


def test_ten_thousand_people_score_fast() -> None:
    people = [{"person_id": f"p{i}", "linkable_groups": [
        [*(f"anonymous_id:a{i}-{j}" for j in range(4)), f"user_id:u{i}", f"email_sha256:e{i}"],
        [f"device_id:d{i}"], [f"loyalty_id:l{i}", f"phone_sha256:ph{i}"]]} for i in range(10_000)]
    one_profile_a_person = {x: f"prof-{p['person_id']}" for p in people for g in p["linkable_groups"] for x in g}
    started = time.process_time()
    score = score_profiles(people, one_profile_a_person)
    elapsed = time.process_time() - started
    assert (score.predicted_pairs, score.true_predicted_pairs) == (10_000 * 36, 10_000 * 36)  # 9 ids: 36 pairs
    assert (score.linkable_pairs, score.linked_pairs) == (10_000 * 16, 10_000 * 16)  # 15 + 0 + 1
    assert score.identifiers_scored == 90_000 and score.profiles == 10_000
    assert elapsed < 1.0, f"{elapsed:.2f} s CPU for 10,000 people"


def test_reads_a_simulated_truth_file(tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    config = SimulationConfig(seed=4, people=300, family_share=0.2, end=datetime(2026, 5, 1, tzinfo=timezone.utc))
    with TruthWriter(path) as truth:
        truth.begin({})
        for _ in stream_records(config, truth):
            pass
        truth.finish({})
    people, shared = read_truth_people(path), read_truth_shared(path)
    assert len(people) == 300 and all("type" not in p for p in people)
    assert {s["kind"] for s in shared} == {"family", "kiosk"}
    # The truth's own grouping is a perfect answer.
    perfect = {x: f"{p['person_id']}/{n}" for p in people for n, g in enumerate(p["linkable_groups"]) for x in g}
    score = score_profiles(people, perfect)
    assert (score.precision, score.recall) == (1.0, 1.0) and score.linkable_pairs > 300
