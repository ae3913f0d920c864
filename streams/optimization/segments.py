"""Real-time segments: which of the defined segments a profile belongs to now (docs/optimization.md).

Two pure steps, both event-time based (the same touches in any order, the
same answer):

    features = profile_features(touches, extras, now_ms)   # streams/optimization/features.py
    memberships(features, definitions)                      # -> {"vip", "omnichannel"}

The definitions are streams/optimization/segment_definitions.py (the file
format). The journey stage calls ``profile_segments`` on a profile's state
whenever its touches change and emits what changed
(streams/optimization/segment_changes.py); the contact policy's
``[segments.<name>]`` caps apply to the members (streams/optimization/pressure.py).
"""

from __future__ import annotations

from streams.optimization.features import ProfileFeatures, profile_features, state_touches
from streams.optimization.policy import ContactPolicy
from streams.optimization.segment_definitions import Age, Condition, Count, SegmentDefinitions

__all__ = ["holds", "memberships", "profile_features", "profile_segments"]


def memberships(features: ProfileFeatures, definitions: SegmentDefinitions) -> set[str]:
    """The names of the segments whose conditions ``features`` meet; none for a profile without touches.

    Without touches (a profile whose identifiers all merged into another) a profile is nobody: it leaves
    every segment, even one that only asks for a status such as ``subscribed``.
    """
    if not features.on_record:
        return set()
    return {name for name, segment in definitions.segments.items()
            if (not segment.all or all(holds(c, features) for c in segment.all))
            and (not segment.any or any(holds(c, features) for c in segment.any))}


def holds(condition: Condition, f: ProfileFeatures) -> bool:
    """Whether one condition holds for the features (the rules: segment_definitions.py's docstring)."""
    key = condition.key
    value = getattr(condition, key)
    if key == "all":
        return all(holds(c, f) for c in value)
    if key == "any":
        return any(holds(c, f) for c in value)
    if isinstance(value, Age):
        return _age(value, getattr(f, key), f.now)
    if isinstance(value, Count):
        n = f.touches_within(value.window_ms) if key == "touches" else f.orders_within(value.window_ms)
        return _between(n, value.min, value.max)
    if key == "revenue":
        return _between(f.revenue_within(value.window_ms), value.min_cents, value.max_cents)
    if key == "stage":
        return f.stage in value
    if key == "subscription":
        return all(not f.subscription[channel].isdisjoint(statuses) for channel, statuses in value.items())
    # channels, device_types
    used = f.used_within(f.channels if key == "channels" else f.device_types, value.window_ms)
    if value.any_of and used.isdisjoint(value.any_of):
        return False
    return value.min_distinct is None or len(used) >= value.min_distinct


def _age(age: Age, at: int | None, now: int) -> bool:
    """It happened (``at``), less than ``within`` ago and at least ``older_than`` ago (as windows count)."""
    if at is None:
        return False
    if age.within_ms is not None and not now - age.within_ms < at:
        return False
    return age.older_ms is None or now - age.older_ms >= at


def _between(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def profile_segments(state: dict | None, now_ms: int, definitions: SegmentDefinitions,
                     policy: ContactPolicy) -> frozenset[str]:
    """The segments of a journey state's profile at ``now_ms`` (None or no touches: features of nobody)."""
    if not definitions.segments:
        return frozenset()
    touches, extras = state_touches(state)
    return frozenset(memberships(profile_features(touches, extras, now_ms, policy), definitions))
