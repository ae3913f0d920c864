"""A conversion path: the ordered touches of one journey inside the lookback window.

A path converts (its journey ended in a goal) or not (an open journey, still
useful to the Markov model), and carries the conversion's value. Touches are
what a model credits: each names its channel and campaign, and whether it was
a direct visit (no marketing source), which last non-direct skips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from streams.attribution.exceptions import AttributionError

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_LOOKBACK_MS = 30 * DAY_MS

# A credit key: the channel, or the campaign (touches without one share NO_CAMPAIGN).
By = Literal["channel", "campaign"]
BY_KEYS: tuple[str, ...] = ("channel", "campaign")
NO_CAMPAIGN = "(not set)"

# Source / medium values that mean "no marketing source" (Google Analytics writes (direct) / (none)).
DIRECT_SOURCES = frozenset({"(direct)", "direct"})
DIRECT_MEDIUMS = frozenset({"(none)", "none"})


def is_direct(channel: str, source: str | None = None, medium: str | None = None) -> bool:
    """A direct visit: the ``direct`` channel, or a source / medium that says so.

    A web touch without UTM fields is *not* direct here: touches carry no
    referrer, so it may be a page of a visit some other channel started.
    """
    return channel == "direct" or (source or "").lower() in DIRECT_SOURCES or (medium or "").lower() in DIRECT_MEDIUMS


@dataclass(frozen=True)
class PathTouch:
    t: int  # event time, ms since the epoch
    channel: str
    campaign_id: str | None = None
    direct: bool = False

    def key(self, by: By) -> str:
        if by == "channel":
            return self.channel
        if by == "campaign":
            return self.campaign_id or NO_CAMPAIGN
        raise AttributionError(f"cannot key credits by {by!r}: use one of {', '.join(BY_KEYS)}")


@dataclass(frozen=True)
class Path:
    """``touches`` in time order; ``end`` is the conversion time (default: the last touch).

    ``value`` is the conversion's revenue in currency units (Decimal; from
    cents: ``Decimal(cents) / 100``).

    A non-converting path has value 0; its ``end`` is the newest touch of the
    open journey, from which its lookback is measured.
    """

    touches: tuple[PathTouch, ...]
    converted: bool = False
    value: Decimal = Decimal(0)
    end: int | None = None

    def __post_init__(self) -> None:
        touches = tuple(self.touches)
        object.__setattr__(self, "touches", touches)
        if isinstance(self.value, float):  # Decimal(0.29) is 0.28999...: money never goes through a float
            raise AttributionError(f"a path's value is money: pass a Decimal, str or int, not the float {self.value}")
        object.__setattr__(self, "value", Decimal(self.value))
        if any(b.t < a.t for a, b in zip(touches, touches[1:])):
            raise AttributionError("a path's touches must be in time order")
        if self.end is None:
            if not touches:
                raise AttributionError("a path without touches needs its end (conversion) time")
            object.__setattr__(self, "end", touches[-1].t)
        elif touches and self.end < touches[-1].t:
            raise AttributionError(f"a path ends (at {self.end}) before its last touch (at {touches[-1].t})")
        if self.value < 0 or (self.value and not self.converted):
            raise AttributionError("a path's value must be >= 0, and 0 unless it converted")

    def keys(self, by: By) -> list[str]:
        return [touch.key(by) for touch in self.touches]


def within_lookback(path: Path, lookback_ms: int = DEFAULT_LOOKBACK_MS) -> Path:
    """The path without touches older than its end minus the lookback (a touch exactly at the edge stays)."""
    if lookback_ms <= 0:
        raise AttributionError(f"the lookback must be > 0 ms, not {lookback_ms}")
    first = path.end - lookback_ms
    if not path.touches or path.touches[0].t >= first:
        return path
    return replace(path, touches=tuple(t for t in path.touches if t.t >= first))


def windowed(paths: Iterable[Path], lookback_ms: int = DEFAULT_LOOKBACK_MS) -> list[Path]:
    return [within_lookback(p, lookback_ms) for p in paths]
