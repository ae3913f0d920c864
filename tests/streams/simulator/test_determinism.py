"""Same seed and config: identical messages and truth; another seed: other events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schemas.wire import AvroEncoder
from streams.simulator import GroundTruth, SimulationConfig, simulate
from tests.streams.simulator.fixtures import END, run


def _messages(config: SimulationConfig) -> list[tuple]:
    return [(m.key, m.record, m.payload, m.malformed_kind, m.expected_reason)
            for m in simulate(config, AvroEncoder("touchpoint").encode)]


def test_same_seed_same_messages_and_truth() -> None:
    config = SimulationConfig(seed=3, events=4_000, malformed_share=0.03, end=END)
    first, second = run(config), run(config)
    assert [(m.key, m.record, m.payload, m.malformed_kind) for m in first.messages] == \
           [(m.key, m.record, m.payload, m.malformed_kind) for m in second.messages]
    assert first.truth.persons == second.truth.persons
    assert first.truth.summary == second.truth.summary


def test_other_seed_other_events() -> None:
    a = _messages(SimulationConfig(seed=1, events=500, end=END))
    b = _messages(SimulationConfig(seed=2, events=500, end=END))
    assert {m[1]["event_id"] for m in a if m[1]} .isdisjoint({m[1]["event_id"] for m in b if m[1]})


def test_events_cap_counts_malformed_and_truth_holds_exactly_what_was_sent() -> None:
    truth = GroundTruth()
    config = SimulationConfig(seed=9, events=3_000, malformed_share=0.02, end=END)
    messages = list(simulate(config, AvroEncoder("touchpoint").encode, truth))
    assert len(messages) == 3_000
    sent = {m.record["event_id"] for m in messages if not m.malformed}
    in_truth = [e for _, journey in truth.journeys() for e in journey["event_ids"]]
    assert len(in_truth) == len(set(in_truth)) and set(in_truth) == sent
    assert truth.summary["messages"] == 3_000
    assert truth.summary["malformed"] == sum(m.malformed for m in messages)


def test_live_mode_puts_events_just_after_now() -> None:
    config = SimulationConfig.live(timedelta(minutes=20), people=40, seed=4, malformed_share=0)
    now = datetime.now(timezone.utc)
    records = [m.record for m in simulate(config, AvroEncoder("touchpoint").encode)]
    assert len(records) > 200  # compressed gaps: journeys happen within the 20 minutes
    assert all(now - timedelta(seconds=5) <= r["event_time"] < config.end for r in records)
    assert config.end - config.span_start == timedelta(minutes=20)


def test_same_output_in_another_process_with_another_hash_seed() -> None:
    """Nothing depends on hash() or set order: a fresh interpreter produces the same bytes."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib; from datetime import datetime, timezone; from schemas.wire import AvroEncoder; "
        "from streams.simulator import SimulationConfig, simulate; h = hashlib.sha256(); "
        "[h.update((m.key or b'') + m.payload) for m in simulate(SimulationConfig(seed=8, events=1500, "
        "end=datetime(2026, 5, 1, tzinfo=timezone.utc)), AvroEncoder().encode)]; print(h.hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_shards_together_are_the_whole_population() -> None:
    whole = run(SimulationConfig(seed=6, people=120, malformed_share=0, end=END))
    parts = [run(SimulationConfig(seed=6, people=120, malformed_share=0, end=END, shard=i, shards=3))
             for i in range(3)]
    assert sorted(r["event_id"] for p in parts for r in p.records) == sorted(r["event_id"] for r in whole.records)
    merged = {pid: person for p in parts for pid, person in p.truth.persons.items()}
    assert merged == whole.truth.persons
    capped = [SimulationConfig(seed=6, events=1000, end=END, shard=i, shards=3).shard_events for i in range(3)]
    assert capped == [334, 333, 333]
