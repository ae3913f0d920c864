"""Hand-built rows for the KPI tests: touchpoints, journeys, identity changes and segment changes with defaults.

``KpiRows`` buffers rows and ``flush()`` inserts each table's rows in one
batch through the real client, so a test says only what matters for its
numbers. Times are UTC strings (``"2026-03-02 10:00"``) or datetimes.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from clickhouse_connect.driver.client import Client

from infra.settings import Settings
from sinks.clickhouse import connect
from sinks.migrate import migrate

SENT = "touchline.touchpoints.enriched"


def at(value: str | datetime) -> datetime:
    """A UTC datetime from ``"YYYY-MM-DD HH:MM[:SS[.fff]]"`` (or a datetime, made aware)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


class KpiRows:
    """Rows for one test database; ``touch``/``journey``/``assign`` buffer, ``flush`` inserts."""

    def __init__(self, client: Client, database: str):
        self.client, self.database = client, database
        self._ids = itertools.count(1)
        self.pending: dict[str, list[dict]] = {"touchpoints": [], "journeys": [], "identity_changes": [],
                                               "segment_memberships": []}

    def touch(self, event_type: str = "page_view", at_: str | datetime = "2026-03-02 10:00", *,
              profile: str | None = "ann", identity_key: str | None = None, channel: str = "web",
              device_type: str = "desktop", campaign: str | None = None, revenue: str | None = None,
              event_id: str | None = None, device_id: str | None = None, anonymous_id: str | None = None,
              experiments: dict[str, str] | None = None, properties: dict[str, str] | None = None) -> dict:
        """A touchpoint of person ``profile`` (profile id ``p-<profile>``, identity key ``user_id:<profile>``)."""
        row = {
            "event_id": event_id or f"e{next(self._ids):04d}", "event_type": event_type, "channel": channel,
            "device_type": device_type, "event_time": at(at_),
            "profile_id": f"p-{profile}" if profile else None,
            "identity_key": identity_key or (f"user_id:{profile}" if profile else None),
            "user_id": profile, "device_id": device_id, "anonymous_id": anonymous_id, "campaign_id": campaign,
            "revenue": Decimal(revenue) if revenue is not None else None,
            "currency": "EUR" if revenue is not None else None,
            "experiments": experiments or {}, "properties": properties or {},
            "source_topic": SENT, "source_partition": 0, "source_offset": next(self._ids),
            "ingested_at": at(at_), "writer_schema": "enriched_touchpoint.v2",
        }
        self.pending["touchpoints"].append(row)
        return row

    def journey(self, profile: str, start: str | datetime, end: str | datetime, *, converted: bool = True,
                conversion_type: str | None = "purchase", value: str = "0", channel_path: tuple[str, ...] = ("web",),
                cross_device: bool = False, conversion_event_id: str | None = None, journey_id: str | None = None,
                version: int = 1, is_deleted: bool = False, last_campaign_id: str | None = None) -> dict:
        """A journey row of person ``profile``; ``time_to_convert_ms`` is end - start when converted."""
        start_t, end_t = at(start), at(end)
        row = {
            "journey_id": journey_id or f"j{next(self._ids):04d}", "profile_id": f"p-{profile}",
            "version": version, "is_deleted": int(is_deleted), "start_time": start_t, "end_time": end_t,
            "converted": int(converted), "touches": 1, "sessions": 1, "channel_path": list(channel_path),
            "devices": 2 if cross_device else 1, "device_types": ["desktop"], "cross_device": int(cross_device),
            "first_event_id": "first", "first_channel": channel_path[0], "last_event_id": "last",
            "last_channel": channel_path[-1], "last_campaign_id": last_campaign_id,
            "conversion_event_id": conversion_event_id if converted else None,
            "conversion_type": conversion_type if converted else None,
            "conversion_channel": channel_path[-1] if converted else None,
            "time_to_convert_ms": int((end_t - start_t).total_seconds() * 1000) if converted else None,
            "value": Decimal(value), "emitted_at": end_t,
        }
        self.pending["journeys"].append(row)
        return row

    def assign(self, identifier: str, profile: str, version: int = 2) -> None:
        """identifier now belongs to person ``profile`` (an identity 'assigned' change, as the stream writes it)."""
        self.pending["identity_changes"].append({
            "kind": "assigned", "identifier": identifier, "profile_id": f"p-{profile}", "version": version,
            "changed_at": at("2026-03-01 00:00"),
        })

    def segment(self, profile: str, segment: str, version: int = 1, change: str = "entered",
                at_: str | datetime = "2026-03-06 00:00") -> dict:
        """Person ``profile`` entered (or left) ``segment`` (a segment_membership change, as the stream writes it)."""
        row = {"profile_id": f"p-{profile}", "segment": segment, "version": version, "change": change,
               "evaluated_at": at(at_), "caused_by_event_id": None, "definitions_version": "test"}
        self.pending["segment_memberships"].append(row)
        return row

    def flush(self, rows: dict[str, list[dict]] | None = None) -> None:
        """Insert the pending rows (or ``rows``), one batch per table."""
        batches = self.pending if rows is None else rows
        for table, items in batches.items():
            if items:
                columns = list(items[0])
                self.client.insert(f"{self.database}.{table}", [[r[c] for c in columns] for r in items],
                                   column_names=columns)
        if rows is None:
            self.pending = {table: [] for table in self.pending}


@pytest.fixture
def kpi_settings(clickhouse_url: str) -> Settings:
    """Settings for the session's ClickHouse endpoint with a database of this test's own.

    Like ``settings_factory`` without Kafka: the KPI tests need only the engine.
    """
    return Settings(clickhouse_url=clickhouse_url, clickhouse_database=f"t_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def kpi_rows(kpi_settings: Settings) -> Iterator[KpiRows]:
    """A migrated database of this test's own and a row factory for it."""
    settings = kpi_settings
    client = connect(settings)
    migrate(client, settings.clickhouse_database)
    yield KpiRows(client, settings.clickhouse_database)
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.close()
