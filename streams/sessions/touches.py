"""What sessionization keeps of a touchpoint, and the session key it belongs to.

A session is one person's run of touches on one device, or on one channel
where there is no device (an email open, a store till, a call). The key is a
pure function of the touchpoint, so the streaming stage and the batch
reference group exactly alike, whatever identity learns later:

- a device: ``device_id:...``, else ``anonymous_id:...`` (an app install, a
  browser cookie);
- no device identifier, or a shared terminal (kiosk, POS): the event's
  identity key (its anchor identifier) and the channel,
  ``loyalty_id:L-1|store``;
- nothing at all (every identifier was junk): the event alone.

``identity_key`` of a session is the identifier whose current profile is the
session's profile (the device, or the anchor): ClickHouse resolves it through
identity_current, so a later merge reaches old sessions without rewriting them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

SHARED_TERMINALS = frozenset({"kiosk", "pos_terminal"})


class Touch(NamedTuple):
    """A touchpoint as sessions and journeys need it; JSON-able (state) and ordered by (time, id)."""

    t: int  # event time, ms since the epoch (UTC)
    event_id: str
    event_type: str
    channel: str
    device_type: str
    campaign_id: str | None
    source: str | None
    medium: str | None
    page_url: str | None
    revenue_cents: int | None
    profile_id: str | None
    device: str | None  # the device identifier, qualified, if any
    # The event's anonymous_id when it also carries a device_id: identity links the two on this event, so
    # they are one device (an app's install id beside the phone's device id). Journeys count devices by it.
    also_device: str | None = None


def _millis(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)  # aware datetime (fastavro's timestamp-millis)


def _cents(value: Any) -> int | None:
    if value is None:
        return None
    return int((Decimal(value) * 100).to_integral_value())


def device_of(record: dict) -> str | None:
    for kind in ("device_id", "anonymous_id"):
        if record.get(kind):
            return f"{kind}:{record[kind]}"
    return None


def touch_of(record: dict) -> Touch:
    """The touch of an enriched touchpoint record (as decoded from Avro)."""
    return Touch(
        t=_millis(record["event_time"]), event_id=record["event_id"], event_type=record["event_type"],
        channel=str(record["channel"]), device_type=str(record.get("device_type") or "unknown"),
        campaign_id=record.get("campaign_id"), source=record.get("source"), medium=record.get("medium"),
        page_url=record.get("page_url"), revenue_cents=_cents(record.get("revenue")),
        profile_id=record.get("profile_id"), device=device_of(record),
        also_device=f"anonymous_id:{record['anonymous_id']}" if record.get("device_id") and record.get("anonymous_id")
        else None,
    )


def session_key(record: dict) -> tuple[str, str]:
    """(session key, identity key) of an enriched touchpoint; see the module docstring."""
    device = device_of(record)
    if device is not None and str(record.get("device_type")) not in SHARED_TERMINALS:
        return device, device
    anchor = record.get("identity_key")
    if anchor:
        return f"{anchor}|{record['channel']}", anchor
    return f"event:{record['event_id']}", f"event:{record['event_id']}"


def identity_key_of(key: str) -> str:
    """The identity key inside a session key (the part before the channel)."""
    return key.rsplit("|", 1)[0] if "|" in key and not key.startswith("event:") else key
