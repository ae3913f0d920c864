"""Cold session days on the real broker and engine: late touches thaw them, a restart recovers them.

The sessions stage keeps only a key's open chains in its value and moves finished
ones to cold values per day (streams/sessions/state.py). A touch later than the
10-minute lateness that lands in a cold day thaws the key (its cold values are
deleted, with a tombstone in the changelog, and the finished chains written
again). Between the phases the worker stops and its local store is removed: the
next worker rebuilds every value, cold ones included, from the changelog alone.
Sessions FINAL must equal the batch reference.
"""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import wait_until_sessions_match, wait_until_stored

pytestmark = pytest.mark.integration

EVENTS = 2_000


def _produce(settings, messages) -> None:  # noqa: ANN001
    with TouchpointProducer(settings) as producer:
        for message in messages:
            producer.send_raw(message.payload, message.key)


def _remove_local_stores(settings) -> None:  # noqa: ANN001
    stores = list((settings.data_dir / "worker" / settings.app_id).rglob("*.db"))
    assert stores, "the worker kept no on-disk table store (TOUCHLINE_TABLE_STORE=rocksdb://)"
    for store in stores:  # the next worker recovers every value from the changelog
        shutil.rmtree(store) if store.is_dir() else store.unlink()


def test_late_touches_thaw_cold_days_and_a_store_rebuilt_from_the_changelog_agrees(
        settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory(table_store="rocksdb://", session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(days=1)
    config = SimulationConfig(seed=44, events=EVENTS, malformed_share=0.0, start=end - timedelta(days=14), end=end)
    messages = list(simulate(config, AvroEncoder("touchpoint").encode))
    rng = random.Random(9)
    late = {i for i in range(len(messages)) if rng.random() < 0.1}
    order = sorted(range(len(messages)),
                   key=lambda i: messages[i].record["event_time"] + timedelta(hours=2 if i in late else 0))
    half = len(order) // 2

    first = worker_factory(settings, "worker")
    _produce(settings, [messages[i] for i in order[:half]])
    wait_until_stored(client, db, half, [first])
    sessions = wait_until_sessions_match(client, settings, [first])
    assert first.stop() == 0
    _remove_local_stores(settings)

    _produce(settings, [messages[i] for i in order[half:]])
    second = worker_factory(settings, "worker")
    wait_until_stored(client, db, len(messages), [second])
    assert wait_until_sessions_match(client, settings, [second]) > sessions > 100

    # The late touches did reach cold days: sessions were rewritten (versions above 1) after they closed.
    rewritten = client.query(f"SELECT count() FROM {db}.sessions FINAL WHERE version > 1").result_rows[0][0]
    assert rewritten > 0


def test_a_cold_day_a_late_touch_emptied_stays_gone_after_a_rebuild_from_the_changelog(
        settings_factory, worker_factory) -> None:  # noqa: ANN001
    # Two visits of one browser either side of midnight, 40 minutes apart: two chains, two cold days. A touch
    # between them, late, joins them into one chain that starts the day before: the second day's cold value
    # is deleted and not written again; only its tombstone keeps it from coming back out of the changelog.
    settings = settings_factory(table_store="rocksdb://", session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    cookie = f"cookie-{uuid.uuid4().hex[:8]}"

    def send(*minutes: int) -> None:
        with TouchpointProducer(settings) as producer:
            for minute in minutes:
                producer.send({"event_id": str(uuid.uuid4()), "event_time": midnight + timedelta(minutes=minute),
                               "channel": "web", "event_type": "page_view", "device_type": "desktop",
                               "anonymous_id": cookie})

    def sessions() -> list[tuple]:
        return client.query(f"SELECT touches FROM {db}.sessions FINAL WHERE session_key = %(k)s ORDER BY start_time",
                            parameters={"k": f"anonymous_id:{cookie}"}).result_rows

    send(-10, -5, 30, 35)  # 23:50, 23:55 | 00:30, 00:35
    worker = worker_factory(settings, "worker")
    wait_for(lambda: sessions() == [(2,), (2,)], timeout=120, what="the two visits closed by the idle ticks")
    send(10)  # 00:10, two days late: one chain from 23:50, the 00:30 day emptied
    wait_for(lambda: sessions() == [(5,)], timeout=120, what="the visits joined by the late touch")
    assert worker.stop() == 0
    _remove_local_stores(settings)

    # A new visit that day (05:00) is frozen into the 00:30 day's cold value: had that value come back from the
    # changelog, its two touches would join the new ones there, and the next thaw would count them twice.
    send(300, 305)
    worker = worker_factory(settings, "worker")
    wait_for(lambda: sessions() == [(5,), (2,)], timeout=120, what="the 05:00 visit closed")
    send(20)  # thaws the key again
    wait_for(lambda: sessions() == [(6,), (2,)], timeout=120,
             what=lambda: f"sessions of 6 and 2 touches (a cold day back from the changelog counts twice): "
                          f"{sessions()}")
    wait_until_sessions_match(client, settings, [worker])
