from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pytest

from streams.identity.policy import IdentityPolicy

_ids = count()


@pytest.fixture
def policy() -> IdentityPolicy:
    return IdentityPolicy()


@pytest.fixture
def event():
    """Factory: an enriched-like record carrying the given identifiers at minute ``minute``."""

    def make(minute: int, event_id: str | None = None, **identifiers: str) -> dict:
        return {
            "event_id": event_id or f"ev-{next(_ids):06d}",
            "event_time": datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() * 1000 + minute * 60_000,
            **identifiers,
        }

    return make
