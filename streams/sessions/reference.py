"""Batch reference: the sessions of a finished set of touchpoints, by the same pure rule as the stream."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from streams.sessions.policy import SessionPolicy
from streams.sessions.split import Session, sessionize
from streams.sessions.touches import Touch, session_key, touch_of


def sessions_of(records: Iterable[Mapping[str, Any]], policy: SessionPolicy) -> dict[str, Session]:
    """Session id -> session, for enriched touchpoint records (any order, duplicates allowed)."""
    by_key: dict[str, list[Touch]] = defaultdict(list)
    for record in records:
        key, _ = session_key(dict(record))
        by_key[key].append(touch_of(dict(record)))
    return {s.session_id: s for key, touches in by_key.items() for s in sessionize(key, touches, policy)}
