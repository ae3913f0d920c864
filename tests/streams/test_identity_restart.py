"""State survives kill -9: the restarted worker recovers its tables and ends at the batch references.

One worker on the on-disk table store (rocksdb://, the production setting)
stitches the first part of a simulation; it is killed with SIGKILL while
events and protocol messages are in flight, the rest of the simulation is
produced, and a new worker process on the same data directory takes over.
The profiles, sessions and journeys in ClickHouse must equal the references
computed from the stored touchpoints, exactly as if nothing had happened
(the killed worker had open sessions, open journeys and half-built profiles).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import (
    wait_until_converged, wait_until_journeys_match, wait_until_sessions_match, wait_until_stored,
)

pytestmark = pytest.mark.integration

EVENTS = 6_000
FIRST_PART = 4_000


def _produce(settings, messages) -> None:  # noqa: ANN001
    with TouchpointProducer(settings) as producer:
        for message in messages:
            producer.send_raw(message.payload, message.key)


def test_kill_9_mid_stream_then_restart_ends_at_the_reference(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory(table_store="rocksdb://", session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)  # every session can close by the idle ticks
    config = SimulationConfig(seed=41, events=EVENTS, malformed_share=0.0, start=end - timedelta(days=30), end=end)
    messages = list(simulate(config, AvroEncoder("touchpoint").encode))
    assert not any(m.malformed for m in messages)
    _produce(settings, messages[:FIRST_PART])

    first = worker_factory(settings, "worker")

    def stored() -> int:
        assert first.running, f"worker exited:\n{first.log_tail()}"
        return client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]

    wait_for(lambda: stored() >= FIRST_PART // 4, timeout=180, what="a quarter of the first part stored")
    first.kill()  # SIGKILL: no flush, no commit, no leave-group
    stores = list((settings.data_dir / "worker" / settings.app_id).rglob("*.db"))
    assert stores, "the worker kept no on-disk table store (TOUCHLINE_TABLE_STORE=rocksdb://)"

    _produce(settings, messages[FIRST_PART:])
    second = worker_factory(settings, "worker")
    wait_until_stored(client, db, len(messages), [second])
    wait_until_converged(client, settings, [second])
    wait_until_sessions_match(client, settings, [second])
    assert len(wait_until_journeys_match(client, settings, [second])) > 100
