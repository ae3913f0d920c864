"""What every model returns, and the bookkeeping of models that split each path among its touches.

A model distributes the conversions (1 per converting path) and their value
among channels or campaigns. A converting path left without touches by the
lookback cannot be credited to anything: it is counted as unattributed, so
credits plus unattributed always equal what converted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import By, Path

# Per touch of a path, its share of the path's conversion (non-negative; normalized by the caller).
Shares = Callable[[Path], Sequence[float]]


@dataclass(frozen=True)
class Credits:
    """Credit per key (channel or campaign) of the conversions and of their value (revenue)."""

    conversions: Mapping[str, float]
    value: Mapping[str, float]
    unattributed_conversions: int = 0
    unattributed_value: Decimal = Decimal(0)
    by: str = "channel"
    diagnostics: Mapping[str, object] = field(default_factory=dict)  # e.g. Markov removal effects

    @property
    def total_conversions(self) -> float:
        return math.fsum(self.conversions.values())

    @property
    def total_value(self) -> float:
        return math.fsum(self.value.values())


@dataclass(frozen=True)
class Outcome:
    """The converting paths a model may credit, and what it cannot (converted, but no touch in the window)."""

    attributable: list[Path]
    unattributed_conversions: int
    unattributed_value: Decimal

    @property
    def conversions(self) -> int:
        return len(self.attributable)

    @property
    def value(self) -> Decimal:
        return sum((p.value for p in self.attributable), Decimal(0))


def outcome(paths: Iterable[Path]) -> Outcome:
    attributable, lost, lost_value = [], 0, Decimal(0)
    for path in paths:
        if not path.converted:
            continue
        if path.touches:
            attributable.append(path)
        else:
            lost += 1
            lost_value += path.value
    return Outcome(attributable, lost, lost_value)


class Tally:
    """Sums credits exactly enough (math.fsum per key) that they add up to the totals within 1e-9."""

    def __init__(self) -> None:
        self._conversions: dict[str, list[float]] = defaultdict(list)
        self._value: dict[str, list[float]] = defaultdict(list)

    def add(self, key: str, conversions: float, value: float) -> None:
        self._conversions[key].append(conversions)
        self._value[key].append(value)

    def credits(self, done: Outcome, by: By, diagnostics: Mapping[str, object] | None = None) -> Credits:
        return Credits(
            conversions={k: math.fsum(v) for k, v in sorted(self._conversions.items())},
            value={k: math.fsum(v) for k, v in sorted(self._value.items())},
            unattributed_conversions=done.unattributed_conversions, unattributed_value=done.unattributed_value,
            by=by, diagnostics=dict(diagnostics or {}),
        )


def split_paths(paths: Iterable[Path], by: By, shares: Shares) -> Credits:
    """Give each converting path's conversion and value to its touches' keys, in the proportions ``shares`` says."""
    done = outcome(paths)
    tally = Tally()
    for path in done.attributable:
        weights = list(shares(path))
        if len(weights) != len(path.touches) or any(w < 0 or not math.isfinite(w) for w in weights):
            raise AttributionError(f"a model gave {weights} as touch shares of a {len(path.touches)}-touch path")
        total = math.fsum(weights)
        if total <= 0:
            raise AttributionError("a model gave a converting path no share at all")
        value = float(path.value)
        for key, weight in zip(path.keys(by), weights):
            if weight:
                tally.add(key, weight / total, value * weight / total)
    return tally.credits(done, by)
