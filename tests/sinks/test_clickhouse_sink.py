"""ClickHouseSink on the real engine: one insert per table and flush, replays of it deduplicated."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

import pytest
from prometheus_client import REGISTRY

from sinks.clickhouse import ClickHouseSink, connect
from sinks.migrate import migrate
from sinks.rows import REJECT_COLUMNS

pytestmark = pytest.mark.integration


def _reject(partition: int, offset: int) -> tuple:
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    return ("validation_error", "bad", None, f"e-{partition}-{offset}", "ingest", "raw", partition, offset, at,
            None, [], b"x", at)


def _inserts(table: str) -> float:
    return REGISTRY.get_sample_value("touchline_clickhouse_insert_rows_count", {"table": table}) or 0.0


def test_one_insert_per_table_per_flush_and_a_replayed_flush_is_dropped(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    sink = ClickHouseSink(partial(connect, settings), f"{db}.rejects", REJECT_COLUMNS)
    before = _inserts("rejects")

    def buffer_three_partitions() -> None:
        for partition in (0, 3, 7):
            for offset in range(10, 15):
                sink.add("raw", partition, offset, _reject(partition, offset))

    buffer_three_partitions()
    assert sink.flush() == 15
    assert _inserts("rejects") == before + 1  # all three partitions' batches in one insert
    buffer_three_partitions()  # the same ranges again, as after a crash before the commit
    sink.flush()
    assert _inserts("rejects") == before + 2
    # Not FINAL: the engine dropped the second insert by its token, no merge needed.
    rows = client.query(f"SELECT source_partition, count() FROM {db}.rejects GROUP BY 1 ORDER BY 1").result_rows
    assert rows == [(0, 5), (3, 5), (7, 5)]
    sink.close()
    client.close()
