"""Batch reference: the journeys of a finished set of touchpoints, by the same pure rule as the stream.

Each touchpoint belongs to the *current* profile of the identifier it was
stitched under (ClickHouse: touchpoints_resolved.current_profile_id); the
stream must end with exactly these journeys whatever the order, partitioning,
merges or worker count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from streams.journeys.build import Journey, JourneyTouch, journeys_of
from streams.sessions.policy import SessionPolicy
from streams.sessions.touches import session_key, touch_of


def journey_touch(record: Mapping[str, Any]) -> JourneyTouch:
    record = dict(record)
    return touch_of(record)._replace(profile_id=None), session_key(record)[0]


def reference_journeys(records: Iterable[tuple[Mapping[str, Any], str | None]],
                       policy: SessionPolicy) -> dict[str, Journey]:
    """Journey id -> journey, for (enriched touchpoint record, its current profile id) pairs."""
    by_profile: dict[str, list[JourneyTouch]] = defaultdict(list)
    for record, profile in records:
        if profile:
            by_profile[profile].append(journey_touch(record))
    return {j.journey_id: j for profile, touches in by_profile.items() for j in journeys_of(profile, touches, policy)}
