"""Journey measures computed from the events themselves (not from what the generator says it did)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from streams.simulator import routing_key

SESSION_GAP = timedelta(minutes=30)  # Snowplow/GA4/PostHog: 30 minutes of inactivity ends a session


def count_sessions(records: list[dict]) -> int:
    """Sessions per device (the routing key), 30 min inactivity; sends by the brand are not the person's."""
    times = defaultdict(list)
    for record in records:
        if not record["event_type"].endswith("_send"):
            times[routing_key(record)].append(record["event_time"])
    sessions = 0
    for series in times.values():
        series.sort()
        sessions += 1 + sum(1 for a, b in zip(series, series[1:]) if b - a > SESSION_GAP)
    return sessions


def journey_records(journey: dict, by_id: dict[str, dict]) -> list[dict]:
    return [by_id[event_id] for event_id in journey["event_ids"]]
