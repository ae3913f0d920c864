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

from bisect import bisect_right
from collections.abc import Iterator

from streams.optimization.features import STAGE_WINDOW_MS, ProfileFeatures, profile_features, state_features
from streams.optimization.policy import ContactPolicy
from streams.optimization.segment_definitions import Age, Condition, Count, SegmentDefinitions

__all__ = ["holds", "memberships", "next_change_at", "profile_features", "profile_segments"]


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


def next_change_at(features: ProfileFeatures, definitions: SegmentDefinitions) -> int | None:
    """The earliest time after ``features.now`` at which a membership may change with no new touch (None: never).

    Every condition that depends on time compares ``now`` with a touch time ``t`` of the profile against a
    duration ``d`` (a window, an age, the stage's 30 days): its truth can flip only at ``t + d``, when the
    touch leaves the window or the age is reached. So the earliest ``t + d`` after now over the (times,
    duration) pairs the definitions use bounds the next change: re-evaluating then, and again at the next
    bound, misses none (it may find nothing changed). The journey stage's segment ticks do that.
    """
    if not features.on_record:
        return None
    now, best = features.now, None
    for source, duration in _timed_sources(definitions):
        times = _times(source, features)
        first = bisect_right(times, now - duration)  # the oldest time still inside: it leaves next
        if first < len(times) and (best is None or times[first] + duration < best):
            best = times[first] + duration
    return best


_SOURCES: dict[str, tuple[tuple[str, int], ...]] = {}  # definitions version -> their (source, duration) pairs


def _timed_sources(definitions: SegmentDefinitions) -> tuple[tuple[str, int], ...]:
    """The distinct (feature times, duration) pairs of every condition, once per definitions (the stream asks
    for every changed profile)."""
    pairs = _SOURCES.get(definitions.version)
    if pairs is None:
        found: set[tuple[str, int]] = set()
        for segment in definitions.segments.values():
            for condition in (*(segment.all or ()), *(segment.any or ())):
                found |= set(_timed(condition))
        pairs = tuple(sorted(found))
        if len(_SOURCES) > 16:  # definitions reloaded over a worker's life: keep a few
            _SOURCES.clear()
        _SOURCES[definitions.version] = pairs
    return pairs


def _timed(condition: Condition) -> Iterator[tuple[str, int]]:
    """(feature times, duration) pairs whose ``t + duration`` may flip ``condition`` (see ``_times``)."""
    key = condition.key
    value = getattr(condition, key)
    if key in ("all", "any"):
        for inner in value:
            yield from _timed(inner)
    elif isinstance(value, Age):
        yield from ((key, d) for d in (value.within_ms, value.older_ms) if d is not None)
    elif key == "touches":
        yield "activity", value.window_ms
    elif key in ("orders", "revenue"):
        yield "purchases", value.window_ms
    elif key == "stage":
        yield "stage", STAGE_WINDOW_MS
    elif key in ("channels", "device_types") and value.window_ms is not None:
        yield key, value.window_ms


def _times(source: str, f: ProfileFeatures) -> tuple[int, ...]:
    """Ascending touch times of one source of ``_timed``."""
    if source in ("activity", "purchases"):
        return getattr(f, source)
    if source in ("channels", "device_types"):
        return tuple(sorted(getattr(f, source).values()))
    if source == "stage":  # recent = within the stage window: the cart, the last intent, purchase and activity
        return tuple(sorted(t for t in (f.open_cart, f.intent_at, f.last_purchase, f.last_touch) if t is not None))
    at = getattr(f, source)  # an age: first_touch, last_touch, last_purchase, open_cart
    return () if at is None else (at,)


def profile_segments(state: dict | None, now_ms: int, definitions: SegmentDefinitions,
                     policy: ContactPolicy) -> frozenset[str]:
    """The segments of a journey state's profile at ``now_ms`` (None or no touches: features of nobody)."""
    if not definitions.segments:
        return frozenset()
    return frozenset(memberships(state_features(state, now_ms, policy), definitions))
