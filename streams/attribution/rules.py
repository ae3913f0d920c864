"""Rules-based models: each converting path's credit split among its touches by a fixed rule.

All take the paths (already cut to the lookback) and ``by`` ("channel" or
"campaign"); a converting path without touches is unattributed (see
``credits``). Touch ``i`` of a path of ``n`` touches gets:

- first touch: all of it if ``i`` is the first;
- last touch: all of it if ``i`` is the last;
- last non-direct: all of it if ``i`` is the last touch that is not direct; the last touch when all are direct;
- linear: 1/n;
- position-based: ``first`` to the first, ``last`` to the last, ``middle`` split evenly among the others
  (n >= 3); n = 2: first and last in the ratio first : last (40/40 -> 50/50); n = 1: all;
- time-decay: in proportion to 2^(-(end - t_i) / half_life), ``end`` the conversion time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from streams.attribution.credits import Credits, split_paths
from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import DAY_MS, By, Path

DEFAULT_POSITION_WEIGHTS = (0.4, 0.2, 0.4)  # first, middle, last: the "U-shaped" model
DEFAULT_HALF_LIFE_MS = 7 * DAY_MS  # Adobe Customer Journey Analytics' default


def _one_hot(n: int, index: int) -> list[float]:
    shares = [0.0] * n
    shares[index] = 1.0
    return shares


def first_touch(paths: Iterable[Path], by: By = "channel") -> Credits:
    return split_paths(paths, by, lambda p: _one_hot(len(p.touches), 0))


def last_touch(paths: Iterable[Path], by: By = "channel") -> Credits:
    return split_paths(paths, by, lambda p: _one_hot(len(p.touches), -1))


def _last_non_direct(path: Path) -> list[float]:
    touches = path.touches
    index = next((i for i in range(len(touches) - 1, -1, -1) if not touches[i].direct), len(touches) - 1)
    return _one_hot(len(touches), index)


def last_non_direct(paths: Iterable[Path], by: By = "channel") -> Credits:
    return split_paths(paths, by, _last_non_direct)


def linear(paths: Iterable[Path], by: By = "channel") -> Credits:
    return split_paths(paths, by, lambda p: [1.0] * len(p.touches))


def position_shares(n: int, weights: Sequence[float] = DEFAULT_POSITION_WEIGHTS) -> list[float]:
    """Shares of the touches of an n-touch path (they sum to 1)."""
    first, middle, last = weights
    if n == 1:
        return [1.0]
    if n == 2:  # no middle: its share goes to the ends in their own ratio
        return [first / (first + last), last / (first + last)]
    return [first] + [middle / (n - 2)] * (n - 2) + [last]


def check_position_weights(weights: Sequence[float]) -> tuple[float, float, float]:
    if len(weights) != 3:
        raise AttributionError(f"position weights are (first, middle, last), got {tuple(weights)}")
    first, middle, last = (float(w) for w in weights)
    if min(first, middle, last) < 0 or not math.isclose(first + middle + last, 1.0, abs_tol=1e-9):
        raise AttributionError(f"position weights must be >= 0 and sum to 1, got {tuple(weights)} "
                               f"(e.g. 0.4, 0.2, 0.4)")
    if first + last == 0:
        raise AttributionError("position weights give nothing to the first and last touches: a path of one or "
                               "two touches would get no credit; use linear instead")
    return first, middle, last


def position_based(paths: Iterable[Path], by: By = "channel",
                   weights: Sequence[float] = DEFAULT_POSITION_WEIGHTS) -> Credits:
    w = check_position_weights(weights)
    return split_paths(paths, by, lambda p: position_shares(len(p.touches), w))


def decay_weights(path: Path, half_life_ms: float) -> list[float]:
    """2^(-(end - t) / half_life) per touch, scaled by 2^((end - newest) / half_life) so the newest weighs 1.

    The scale cancels when the weights are normalized, and keeps them from all
    underflowing to 0 when the half-life is short next to the path's age.
    """
    newest = path.touches[-1].t
    return [2.0 ** (-(newest - touch.t) / half_life_ms) for touch in path.touches]


def time_decay(paths: Iterable[Path], by: By = "channel", half_life_ms: float = DEFAULT_HALF_LIFE_MS) -> Credits:
    if not half_life_ms > 0 or not math.isfinite(half_life_ms):
        raise AttributionError(f"the time-decay half-life must be a positive number of ms, not {half_life_ms}")
    return split_paths(paths, by, lambda p: decay_weights(p, half_life_ms))
