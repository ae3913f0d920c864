"""Budget shares by Thompson sampling: per arm, the chance it is the best, plus an exploration floor.

Model, per arm a (evidence from ``streams.optimization.outcomes``):

- theta_a, the chance that one touch converts, has the posterior
  Beta(alpha0 + C_a, beta0 + T_a - C_a) for C_a credited conversions in T_a
  touches. The prior is centred on the pooled rate of the compared arms,
  p = (sum C + 1) / (sum T + 2), and weighs ``prior_conversions`` (k)
  conversions: alpha0 = k, beta0 = k (1 - p) / p. So an arm with no
  evidence looks like the average arm, not like a coin (a uniform Beta(1, 1)
  would give a new arm a 50% conversion rate and most of the budget), and a
  few conversions of its own outweigh the prior.
- The **objective** is theta_a times a known factor f_a:

  | objective \\ basis | touch | cost |
  | --- | --- | --- |
  | conversions | 1 | T_a / cost_a |
  | revenue | v_a | v_a T_a / cost_a |

  v_a = (R_a + k v) / (C_a + k), the arm's credited revenue per conversion
  shrunk towards the pooled v = sum R / sum C by the same k; cost_a in
  currency units (cost_micros / 1e6). Per cost, conversions per touch times
  touches per currency unit is conversions per currency unit. The value's
  own uncertainty is not sampled (revenue is skewed; a point estimate with
  shrinkage is the documented simplification).

**Thompson sampling, probability matching**: ``draws`` joint draws of every
arm's objective; p_best_a is the share of draws in which arm a is the
highest (ties split evenly). The budget share is

    share_a = explore / K + (1 - explore) p_best_a

for K compared arms: ``explore`` of the budget is spread evenly, so every
arm keeps at least explore / K (the floor) and keeps producing evidence,
and the shares sum to 1 whatever K is. The mean of the objective is exact,
f_a alpha / (alpha + beta); its 95% interval is the 2.5% and 97.5% quantiles
of the draws. Arms are ordered by name and draws come from
``numpy.random.default_rng(seed)``: the same evidence and seed give the same
answer.

Per cost, only arms with a cost in the window are compared (``comparable``):
conversions per currency unit of an arm nobody paid for is infinite, and a
per-touch figure is a different unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from streams.optimization.exceptions import BudgetError
from streams.optimization.outcomes import ArmEvidence

OBJECTIVES = ("conversions", "revenue")
BASES = ("touch", "cost")
DRAWS = 10_000
EXPLORE = 0.1
PRIOR_CONVERSIONS = 1.0
# draws x arms float64 samples are held at once: 20M is 160 MB.
MAX_SAMPLES = 20_000_000
_SLACK = 1e-9  # credited conversions are float sums of 1/n shares


@dataclass(frozen=True)
class BanditSettings:
    draws: int = DRAWS
    explore: float = EXPLORE
    prior_conversions: float = PRIOR_CONVERSIONS
    objective: str = "conversions"
    basis: str = "touch"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise BudgetError(f"objective {self.objective!r}: use one of {', '.join(OBJECTIVES)} (--objective)")
        if self.basis not in BASES:
            raise BudgetError(f"basis {self.basis!r}: use one of {', '.join(BASES)} (--per)")
        if not 100 <= self.draws <= 1_000_000:
            raise BudgetError(f"draws must be between 100 and 1,000,000, not {self.draws} (--draws)")
        if not 0 <= self.explore < 1:
            raise BudgetError(f"explore must be >= 0 and < 1 (a share of the budget), not {self.explore} (--explore)")
        if not 0 < self.prior_conversions <= 1000:
            raise BudgetError(f"prior_conversions must be > 0 and <= 1000, not {self.prior_conversions} "
                              "(--prior-conversions)")


@dataclass(frozen=True)
class Prior:
    alpha: float
    beta: float
    rate: float  # the pooled conversion rate per touch it is centred on
    value_per_conversion: float  # pooled credited revenue per conversion


@dataclass(frozen=True)
class Recommendation:
    arm: str
    share: float
    p_best: float
    mean: float  # of the objective: per touch, or per currency unit
    low: float  # 95% interval
    high: float
    alpha: float  # posterior of the conversion rate per touch
    beta: float
    evidence: ArmEvidence


@dataclass(frozen=True)
class Allocation:
    recommendations: list[Recommendation]  # by arm name
    prior: Prior
    floor: float  # explore / arms: the least share an arm gets
    settings: BanditSettings
    seed: int

    def share(self, arm: str) -> float:
        return next(r.share for r in self.recommendations if r.arm == arm)


def comparable(arms: Iterable[ArmEvidence], basis: str) -> tuple[list[ArmEvidence], list[ArmEvidence]]:
    """(compared, left out): per touch every arm; per cost the arms with a cost > 0 in the window."""
    arms = list(arms)
    if basis == "touch":
        return arms, []
    if basis == "cost":
        return [a for a in arms if a.cost_micros], [a for a in arms if not a.cost_micros]
    raise BudgetError(f"basis {basis!r}: use one of {', '.join(BASES)} (--per)")


def share_best(samples: np.ndarray) -> np.ndarray:
    """samples: draws x arms; the share of draws in which each arm is the highest (ties split evenly)."""
    best = samples == samples.max(axis=1, keepdims=True)
    return (best / best.sum(axis=1, keepdims=True)).mean(axis=0)


def prior_of(arms: list[ArmEvidence], prior_conversions: float) -> Prior:
    conversions = sum(a.conversions for a in arms)
    touches = sum(a.touches for a in arms)
    rate = (conversions + 1) / (touches + 2)  # never 0 or 1: the prior stays a proper Beta
    value = sum(a.revenue for a in arms) / conversions if conversions > 0 else 0.0
    return Prior(prior_conversions, prior_conversions * (1 - rate) / rate, rate, value)


def _factor(arm: ArmEvidence, prior: Prior, settings: BanditSettings) -> float:
    factor = 1.0
    if settings.objective == "revenue":
        k = settings.prior_conversions
        factor = (arm.revenue + k * prior.value_per_conversion) / (arm.conversions + k)
    if settings.basis == "cost":
        factor *= arm.touches / (arm.cost_micros / 1e6)
    return factor


def recommend(arms: Iterable[ArmEvidence], settings: BanditSettings = BanditSettings(), seed: int = 0) -> Allocation:
    """Shares, chances to be best and posteriors of the given arms (compare only ``comparable`` ones)."""
    arms = sorted(arms, key=lambda a: a.arm)
    if not arms:
        raise BudgetError("no arms to compare: the window holds no touches of the arms asked for "
                          "(widen --window, or check --channels / --campaigns)")
    if len({a.arm for a in arms}) != len(arms):
        raise BudgetError(f"arms must be distinct, got {[a.arm for a in arms]}")
    for a in arms:
        if a.touches < 0 or a.conversions < 0 or a.conversions > a.touches + _SLACK:
            raise BudgetError(f"arm {a.arm!r}: {a.conversions} credited conversions in {a.touches} touches; "
                              "credited conversions must be between 0 and the touches")
        if settings.basis == "cost" and not a.cost_micros:
            raise BudgetError(f"arm {a.arm!r} has no cost in the window: per cost, compare only arms with a cost "
                              "(bandit.comparable), or compare per touch (--per touch)")
    if settings.draws * len(arms) > MAX_SAMPLES:
        raise BudgetError(f"{len(arms)} arms x {settings.draws} draws is more than {MAX_SAMPLES:,} samples: "
                          "lower --draws or name fewer arms (--channels / --campaigns)")
    prior = prior_of(arms, settings.prior_conversions)
    alpha = np.array([prior.alpha + a.conversions for a in arms])
    beta = np.array([prior.beta + max(a.touches - a.conversions, 0.0) for a in arms])
    factor = np.array([_factor(a, prior, settings) for a in arms])
    if not np.all(np.isfinite(factor)):
        raise BudgetError(f"the objective per {settings.basis} is not finite for "
                          f"{[a.arm for a, f in zip(arms, factor) if not np.isfinite(f)]}: credited revenue without "
                          "credited conversions, or a cost of 0")
    rng = np.random.default_rng(seed)
    samples = rng.beta(alpha, beta, size=(settings.draws, len(arms))) * factor
    p_best = share_best(samples)
    # Order statistics of the draws (no interpolation): low <= high holds exactly, also for degenerate posteriors.
    low, high = np.quantile(samples, [0.025, 0.975], axis=0, method="inverted_cdf")
    floor = settings.explore / len(arms)
    shares = floor + (1 - settings.explore) * p_best
    mean = factor * alpha / (alpha + beta)
    out = [Recommendation(a.arm, float(shares[i]), float(p_best[i]), float(mean[i]), float(low[i]), float(high[i]),
                          float(alpha[i]), float(beta[i]), a) for i, a in enumerate(arms)]
    return Allocation(out, prior, floor, settings, seed)
