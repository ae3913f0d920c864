"""A journey row as the Avro ``journey`` record the stage produces and the sink stores."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from streams.journeys.state import JourneyRow


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def journey_record(row: JourneyRow, emitted_at: datetime) -> dict[str, Any]:
    """The Avro dict; a deletion keeps the key fields and the start (its ClickHouse partition), zeroes the rest."""
    base = {"journey_id": row.journey_id, "profile_id": row.profile_id, "version": row.version,
            "is_deleted": row.deleted, "start_time": _time(row.start), "emitted_at": emitted_at}
    j = row.journey
    if j is None:
        return {**base, "end_time": _time(row.start), "converted": False, "touches": 0, "sessions": 0,
                "channel_path": [], "devices": 0, "device_types": [], "cross_device": False, "first_event_id": "",
                "first_channel": "", "last_event_id": "", "last_channel": "", "value": Decimal("0.00")}
    first, last, goal = j.first, j.last, j.goal
    return {**base, "end_time": _time(j.end), "converted": j.converted, "touches": len(j.touches),
            "sessions": j.sessions, "channel_path": list(j.channel_path), "devices": len(j.devices),
            "device_types": list(j.device_types), "cross_device": len(j.devices) >= 2,
            "first_event_id": first.event_id, "first_channel": first.channel, "first_campaign_id": first.campaign_id,
            "first_source": first.source, "first_medium": first.medium, "last_event_id": last.event_id,
            "last_channel": last.channel, "last_campaign_id": last.campaign_id,
            "conversion_event_id": goal.event_id if goal else None,
            "conversion_type": goal.event_type if goal else None,
            "conversion_channel": goal.channel if goal else None,
            "time_to_convert_ms": j.time_to_convert_ms, "value": Decimal(j.value_cents).scaleb(-2)}
