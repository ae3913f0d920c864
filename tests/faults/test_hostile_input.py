"""Hostile input: 10,000 bad messages mixed into good traffic, 0 crashes, every one dead-lettered.

The bad messages (tests/faults/hostile.py) are the simulator's malformed kinds
plus decoder attacks: length bombs, 50,000-level JSON, Latin-1 inside Avro
strings, overwritten bodies, 64 kB binary keys. First in-process (the ingest
decision alone, plus hypothesis's arbitrary bytes), then through the real
broker with a worker: every bad message in ``rejects`` at its source position
with its reason and its original bytes, every good event stored exactly once
and stitched as the batch reference says, and the worker never restarted.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from infra.traffic import TrafficReport
from schemas.wire import AvroDecoder, AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.ingest import IngestRules, Rejected, Source, ingest_one
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import ensure_topics
from tests.faults.hostile import EXTRA_KINDS, HostileFactory, interleave
from tests.faults.load import wait_until_accounted
from tests.streams.pipeline_checks import wait_until_converged

HOSTILE = 10_000
GOOD = 3_000
NOW = datetime.now(timezone.utc)
SOURCE = Source("raw", 0, 0, NOW, None, [])


def _good(seed: int, events: int) -> list:
    end = NOW - timedelta(hours=1)
    config = SimulationConfig(seed=seed, events=events, malformed_share=0.0, start=end - timedelta(days=20), end=end)
    return list(simulate(config, AvroEncoder("touchpoint").encode))


def test_every_hostile_kind_is_rejected_in_process_with_its_reason() -> None:
    decoder, rules, encode = AvroDecoder("touchpoint"), IngestRules(), AvroEncoder("touchpoint").encode
    good = _good(seed=71, events=300)
    factory = HostileFactory(encode, seed=72)
    reasons: Counter[tuple[str, str]] = Counter()
    for message in interleave(good, 3_000, factory, random.Random(73)):
        outcome = ingest_one(message.payload, SOURCE, decoder, rules, NOW)
        if not message.malformed:
            continue
        assert isinstance(outcome, Rejected), f"{message.malformed_kind} was accepted: {message.payload[:80]!r}"
        reason = outcome.record["reason"]
        assert reason != "internal_error", f"{message.malformed_kind}: {outcome.record['detail']}"
        if message.expected_reason is not None:
            assert reason == message.expected_reason, f"{message.malformed_kind}: {outcome.record['detail']}"
        reasons[(message.malformed_kind, reason)] += 1
    assert {kind for kind, _ in reasons} >= set(EXTRA_KINDS), reasons


@hypothesis_settings(max_examples=2_000, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_crash_the_ingest_decision(payload: bytes) -> None:
    outcome = ingest_one(payload, SOURCE, AvroDecoder("touchpoint"), IngestRules(), NOW)
    assert isinstance(outcome, Rejected), payload
    assert outcome.record["reason"] != "internal_error", outcome.record["detail"]
    assert outcome.record["payload"] == payload


@pytest.mark.integration
def test_ten_thousand_hostile_messages_in_good_traffic(settings_factory, worker_factory, record_figures) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    good = _good(seed=74, events=GOOD)
    factory = HostileFactory(AvroEncoder("touchpoint").encode, seed=75)
    sent = TrafficReport()

    worker = worker_factory(settings, "worker")
    with TouchpointProducer(settings) as producer:
        for message in interleave(good, HOSTILE, factory, random.Random(76)):
            sent.send(producer, message)
    assert len(sent.malformed) == HOSTILE and sent.valid == GOOD

    accounting = wait_until_accounted(client, settings, sent, [worker], timeout=400)
    record_figures(accounting, note=f"{HOSTILE:,} hostile messages, {len(set(m.kind for m in sent.malformed))} kinds")

    # Reasons and original bytes, message by message.
    result = client.query(f"SELECT source_partition, source_offset, reason, detail, payload FROM {db}.rejects FINAL",
                          column_formats={"payload": "bytes"})
    by_position = {(r[0], r[1]): r for r in result.result_rows}
    for bad in sent.malformed:
        _, _, reason, detail, payload = by_position[(bad.partition, bad.offset)]
        assert bytes(payload) == bad.payload, f"{bad.kind}: original bytes not kept"
        assert detail and reason != "internal_error", f"{bad.kind}: {reason} {detail}"
        if bad.expected_reason is not None:
            assert reason == bad.expected_reason, f"{bad.kind}: {reason} ({detail})"
    # Good events unaffected: stitched exactly as the batch reference over them says.
    wait_until_converged(client, settings, [worker])
    assert worker.running and "Traceback" not in worker.log_path.read_text(errors="replace"), worker.log_tail()

