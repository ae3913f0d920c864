"""Experiment statistics from the ``experiment_variants`` KPI: intervals and the chance each variant is best.

Per variant (docs/analysts.md, "Experiments"):

- conversion rate = converters / profiles, with a 95% Wilson score interval;
- revenue per profile = revenue / profiles, with a 95% normal interval from the
  sample variance (revenue_sq - profiles * mean^2) / (profiles - 1);
- p_best_conversion: the share of ``DRAWS`` joint draws from the posteriors
  Beta(1 + converters, 1 + profiles - converters) (uniform prior) in which the
  variant has the highest rate;
- p_best_revenue: the same with normal posteriors N(mean, standard error^2)
  of revenue per profile (the normal approximation).

Draws come from ``numpy.random.default_rng(SEED)``, so a report is
reproducible; ties within a draw are split evenly. Pure functions, no I/O,
except ``experiment_report`` which runs the KPI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from statistics import NormalDist

import numpy as np
from clickhouse_connect.driver.client import Client

from streams.optimization.bandit import share_best  # P(best) is one rule: experiments and the budget bandit

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
DRAWS = 100_000
SEED = 20261123


@dataclass(frozen=True)
class VariantInput:
    """One row of the experiment_variants KPI."""

    variant_id: str
    profiles: int
    converters: int
    revenue: float
    revenue_sq: float


@dataclass(frozen=True)
class VariantResult:
    variant: str
    profiles: int
    converters: int
    conversion_rate: float | None
    cr_low: float | None
    cr_high: float | None
    revenue_per_profile: float | None
    rpp_low: float | None
    rpp_high: float | None
    p_best_conversion: float | None
    p_best_revenue: float | None


COLUMNS = [f.name for f in fields(VariantResult)]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of successes / n (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_and_se(total: float, total_sq: float, n: int) -> tuple[float, float] | None:
    """Mean and its standard error from a sum and a sum of squares over n values (None when n is 0).

    The sample variance (n - 1 in the denominator); one value has no spread to measure: se 0.
    """
    if n <= 0:
        return None
    mean = total / n
    if n == 1:
        return mean, 0.0
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))  # rounding can make a zero variance negative
    return mean, math.sqrt(variance / n)


def normal_interval(mean: float, se: float, z: float = Z95) -> tuple[float, float]:
    return mean - z * se, mean + z * se


def p_best_beta(conversions: Sequence[tuple[int, int]], draws: int = DRAWS, seed: int = SEED) -> list[float]:
    """P(variant has the highest rate) for (converters, profiles) per variant, Beta(1 + c, 1 + n - c) posteriors."""
    rng = np.random.default_rng(seed)
    alpha = np.array([1 + c for c, _ in conversions], dtype=float)
    beta = np.array([1 + n - c for c, n in conversions], dtype=float)
    return [float(x) for x in share_best(rng.beta(alpha, beta, size=(draws, len(conversions))))]


def p_best_normal(estimates: Sequence[tuple[float, float]], draws: int = DRAWS, seed: int = SEED) -> list[float]:
    """P(variant has the highest mean) for (mean, standard error) per variant, normal posteriors."""
    rng = np.random.default_rng(seed)
    means = np.array([m for m, _ in estimates], dtype=float)
    ses = np.array([s for _, s in estimates], dtype=float)
    return [float(x) for x in share_best(rng.normal(means, ses, size=(draws, len(estimates))))]


def analyse(variants: Sequence[VariantInput], draws: int = DRAWS, seed: int = SEED) -> list[VariantResult]:
    """Every variant's rates, intervals and chances to be best (variants without profiles get None)."""
    live = [v for v in variants if v.profiles > 0]
    p_conv = dict(zip((v.variant_id for v in live),
                      p_best_beta([(v.converters, v.profiles) for v in live], draws, seed) if live else []))
    estimates = {v.variant_id: mean_and_se(float(v.revenue), float(v.revenue_sq), v.profiles) for v in live}
    p_rev = dict(zip(estimates, p_best_normal(list(estimates.values()), draws, seed) if live else []))
    out = []
    for v in variants:
        if v.profiles <= 0:
            out.append(VariantResult(v.variant_id, 0, 0, None, None, None, None, None, None, None, None))
            continue
        low, high = wilson(v.converters, v.profiles)
        mean, se = estimates[v.variant_id]
        rpp_low, rpp_high = normal_interval(mean, se)
        out.append(VariantResult(v.variant_id, v.profiles, v.converters, v.converters / v.profiles, low, high,
                                 mean, rpp_low, rpp_high, p_conv[v.variant_id], p_rev[v.variant_id]))
    return out


def _rounded(result: VariantResult) -> tuple:
    """For display: rates and chances to 4 decimals, money to 2."""
    money = {"revenue_per_profile", "rpp_low", "rpp_high"}
    return tuple(value if not isinstance(value, float) else round(value, 2 if name in money else 4)
                 for name, value in zip(COLUMNS, astuple(result)))


def experiment_report(client: Client, database: str, experiment_id: str, start: datetime | date | None = None,
                      end: datetime | date | None = None) -> tuple[list[str], list[tuple]]:
    """Run experiment_variants for ``experiment_id`` and analyse it: (columns, rows), one row per variant.

    Columns: variant, profiles, converters, conversion_rate, cr_low, cr_high, revenue_per_profile,
    rpp_low, rpp_high, p_best_conversion, p_best_revenue. Rates and chances rounded to 4 decimals,
    money to 2. No exposure in the range: no rows.
    """
    from sinks import kpi

    columns, rows = kpi.run(client, "experiment_variants", database, start, end, experiment_id=experiment_id)
    variants = [VariantInput(r["variant_id"], int(r["profiles"]), int(r["converters"]), float(r["revenue"]),
                             float(r["revenue_sq"])) for r in (dict(zip(columns, row)) for row in rows)]
    return list(COLUMNS), [_rounded(r) for r in analyse(variants)]
