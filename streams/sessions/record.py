"""A session row as the Avro ``session`` record the stage produces and the sink stores."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from streams.sessions.state import SessionRow



def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def session_record(row: SessionRow, emitted_at: datetime) -> dict[str, Any]:
    """The Avro dict; a deletion keeps the key fields and the start (its ClickHouse partition), zeroes the rest."""
    s = row.session
    base = {"session_id": row.session_id, "session_key": row.session_key, "identity_key": row.identity_key,
            "version": row.version, "is_deleted": row.deleted, "start_time": _time(row.start),
            "profile_id": row.profile_id, "emitted_at": emitted_at}
    if s is None:
        return {**base, "end_time": _time(row.start), "touches": 0, "conversions": 0, "revenue": Decimal("0.00"),
                "channels": [], "device_type": "", "landing_event_id": "", "landing_channel": "",
                "last_event_id": ""}
    landing = s.landing
    return {**base, "end_time": _time(s.end), "touches": s.touches, "conversions": s.conversions,
            "revenue": Decimal(s.revenue_cents).scaleb(-2), "channels": list(s.channels),
            "device_type": s.device_type, "landing_event_id": landing.event_id, "landing_channel": landing.channel,
            "landing_campaign_id": landing.campaign_id, "landing_source": landing.source,
            "landing_medium": landing.medium, "landing_page_url": landing.page_url,
            "last_event_id": s.last.event_id}
