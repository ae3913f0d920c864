"""The Kafka message key of a touchpoint: its most device-specific identifier.

One device's events then share a key and keep their order on one partition
(sessions are per device). docs/producers.md states the rule for channel backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY_PRIORITY = ("anonymous_id", "device_id", "user_id", "loyalty_id", "email_sha256", "phone_sha256")


def routing_key(record: Mapping[str, Any]) -> bytes | None:
    """UTF-8 of the first identifier set in KEY_PRIORITY order, or None (no identifier: any partition)."""
    for name in KEY_PRIORITY:
        value = record.get(name)
        if value and not (isinstance(value, str) and not value.strip()):  # blank counts as none (schemas.models)
            return str(value).encode("utf-8")
    return None
