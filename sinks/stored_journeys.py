"""Journeys rebuilt from the stored touchpoints, by the stream's own pure rule (the batch reference).

Batch jobs (attribution, the truth checks) need each journey's touches with
their times, which the journeys table does not keep (it keeps the channel
path). They re-run ``streams.journeys.reference`` over
``touchpoints_resolved``: each touchpoint under the profile its identifier
belongs to now, so merges that happened after a touch was stored count.

Memory stays bounded: profiles are read in hash buckets of at most
``BUCKET_ROWS`` touchpoints (all of a profile's touches land in one bucket).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

from clickhouse_connect.driver.client import Client

from streams.journeys.build import Journey
from streams.journeys.reference import reference_journeys
from streams.sessions.policy import SessionPolicy

# What sessions and journeys read of a touchpoint (streams.sessions.touches.touch_of / session_key).
JOURNEY_INPUT_COLUMNS = ("event_id", "event_type", "channel", "device_type", "event_time", "anonymous_id",
                         "device_id", "campaign_id", "source", "medium", "page_url", "revenue", "profile_id",
                         "identity_key")

BUCKET_ROWS = 200_000


def stored_journeys(client: Client, database: str, policy: SessionPolicy, start: datetime, end: datetime,
                    bucket_rows: int = BUCKET_ROWS) -> Iterator[Journey]:
    """Every journey of the touchpoints with event_time in [start, end), profile bucket by profile bucket."""
    window = {"start": start, "end": end}
    where = ("event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}"
             " AND current_profile_id IS NOT NULL")
    total = client.query(f"SELECT count() FROM {database}.touchpoints_resolved WHERE {where}",
                         parameters=window).result_rows[0][0]
    buckets = max(1, math.ceil(total / bucket_rows))
    columns = ", ".join(JOURNEY_INPUT_COLUMNS)
    for bucket in range(buckets):
        rows = client.query(
            f"SELECT {columns}, current_profile_id FROM {database}.touchpoints_resolved WHERE {where}"
            " AND cityHash64(current_profile_id) % {buckets:UInt32} = {bucket:UInt32}",
            parameters={**window, "buckets": buckets, "bucket": bucket}).result_rows
        records = [(dict(zip(JOURNEY_INPUT_COLUMNS, row)), row[-1]) for row in rows]
        yield from reference_journeys(records, policy).values()
