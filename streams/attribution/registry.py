"""Every model by name, with its parameters and their defaults (for ``touchline attribution --model``).

``attribute(paths, "time_decay", lookback_ms=7 * DAY_MS, half_life_ms=DAY_MS)``
cuts the paths to the lookback and runs the model; unknown models or
parameters fail with the list of what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.attribution.credits import Credits
from streams.attribution.exceptions import AttributionError
from streams.attribution.markov import markov
from streams.attribution.paths import BY_KEYS, DEFAULT_LOOKBACK_MS, By, Path, windowed
from streams.attribution.rules import (DEFAULT_HALF_LIFE_MS, DEFAULT_POSITION_WEIGHTS, first_touch, last_non_direct,
                                       last_touch, linear, position_based, time_decay)
from streams.attribution.shapley import shapley


@dataclass(frozen=True)
class Model:
    name: str
    function: Callable[..., Credits]  # (paths, by, **params) -> Credits
    summary: str
    params: Mapping[str, Any] = field(default_factory=dict)  # name -> default

    def __call__(self, paths: Iterable[Path], by: By = "channel", **params: Any) -> Credits:
        unknown = set(params) - set(self.params)
        if unknown:
            allowed = ", ".join(f"{k}={v!r}" for k, v in self.params.items()) or "none"
            raise AttributionError(f"model {self.name!r} has no parameter {', '.join(sorted(unknown))} "
                                   f"(its parameters: {allowed})")
        return self.function(paths, by, **{**self.params, **params})


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("first_touch", first_touch, "all credit to the first touch"),
    Model("last_touch", last_touch, "all credit to the last touch"),
    Model("last_non_direct", last_non_direct, "all credit to the last touch that is not direct (else the last)"),
    Model("linear", linear, "equal credit to every touch"),
    Model("position_based", position_based, "first / middle / last shares (U-shaped)",
          {"weights": DEFAULT_POSITION_WEIGHTS}),
    Model("time_decay", time_decay, "credit halves every half-life before the conversion",
          {"half_life_ms": DEFAULT_HALF_LIFE_MS}),
    Model("markov", markov, "first-order Markov chain removal effect (uses non-converting paths)"),
    Model("shapley", shapley, "Shapley value of the coalition game v(S) = conversions of paths inside S"),
)}


def attribute(paths: Iterable[Path], model: str, by: By = "channel", lookback_ms: int = DEFAULT_LOOKBACK_MS,
              **params: Any) -> Credits:
    """Run ``model`` over ``paths`` cut to ``lookback_ms`` before each path's end."""
    if model not in MODELS:
        raise AttributionError(f"no attribution model {model!r}: use one of {', '.join(MODELS)}")
    if by not in BY_KEYS:
        raise AttributionError(f"cannot key credits by {by!r}: use one of {', '.join(BY_KEYS)}")
    return MODELS[model](windowed(paths, lookback_ms), by, **params)
