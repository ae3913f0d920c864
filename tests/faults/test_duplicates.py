"""Duplicates: every message produced twice (producer retries, replays), under a steady load.

The second copy of the simulation is produced in a different order while the
first is still arriving, so copies of one event meet the stages in every
state: before the first copy, right after it, long after its session closed.
Each event must be in ``touchpoints FINAL`` once; each malformed copy is its
own dead letter (its own source position); profiles, sessions and journeys
must equal the references, i.e. no duplicate touch was counted anywhere.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from infra.traffic import TrafficReport
from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import ensure_topics
from tests.faults.load import wait_until_accounted
from tests.streams.pipeline_checks import wait_until_converged, wait_until_journeys_match, wait_until_sessions_match

pytestmark = pytest.mark.integration

EVENTS = 3_000


def test_every_message_twice(settings_factory, worker_factory, record_figures) -> None:  # noqa: ANN001
    settings = settings_factory(session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)
    config = SimulationConfig(seed=91, events=EVENTS, malformed_share=0.01, start=end - timedelta(days=20), end=end)
    messages = list(simulate(config, AvroEncoder("touchpoint").encode))
    again = messages[:]
    random.Random(92).shuffle(again)
    # First copy in order; the second, shuffled, starts when the first is a third through.
    third = len(messages) // 3
    order = messages[:third] + [m for pair in zip(messages[third:], again) for m in pair] + again[len(messages) - third:]
    assert len(order) == 2 * len(messages)

    worker = worker_factory(settings, "worker")
    sent = TrafficReport()
    with TouchpointProducer(settings) as producer:
        for message in order:
            sent.send(producer, message)

    accounting = wait_until_accounted(client, settings, sent, [worker])
    assert accounting.in_clickhouse == len(set(sent.valid_event_ids)) == sent.valid // 2
    record_figures(accounting, note="every message produced twice; 'events in' counts both copies")
    wait_until_converged(client, settings, [worker])
    assert wait_until_sessions_match(client, settings, [worker]) > 300
    assert len(wait_until_journeys_match(client, settings, [worker])) > 100
