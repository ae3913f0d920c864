"""The budget bandit: shares sum to 1 above the floor, seeded draws, priors and objectives, monotone in evidence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.optimization.bandit import BanditSettings, comparable, prior_of, recommend
from streams.optimization.exceptions import BudgetError
from streams.optimization.outcomes import ArmEvidence


def arm(name: str, touches: int, conversions: float, revenue: float = 0.0, cost: int | None = None) -> ArmEvidence:
    return ArmEvidence(name, touches, conversions, revenue, cost, 1 if cost else 0)


@st.composite
def arms(draw, min_size: int = 1, max_size: int = 6) -> list[ArmEvidence]:  # noqa: ANN001
    n = draw(st.integers(min_size, max_size))
    out = []
    for i in range(n):
        touches = draw(st.integers(0, 5_000))
        conversions = draw(st.floats(0, touches, allow_nan=False)) if touches else 0.0
        order_value = draw(st.floats(0, 10_000, allow_nan=False))  # credited revenue comes with credited conversions
        out.append(arm(f"a{i}", touches, conversions, conversions * order_value, draw(st.integers(1, 10**10))))
    return out


@given(arms(), st.sampled_from(["conversions", "revenue"]), st.sampled_from(["touch", "cost"]),
       st.floats(0, 0.99), st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_shares_sum_to_one_and_respect_the_floor(evidence, objective, basis, explore, seed) -> None:  # noqa: ANN001
    allocation = recommend(evidence, BanditSettings(draws=500, explore=explore, objective=objective, basis=basis),
                           seed)
    shares = [r.share for r in allocation.recommendations]
    assert math.isclose(sum(shares), 1.0, abs_tol=1e-9)
    assert math.isclose(sum(r.p_best for r in allocation.recommendations), 1.0, abs_tol=1e-9)
    assert allocation.floor == pytest.approx(explore / len(evidence))
    assert all(s >= allocation.floor - 1e-12 for s in shares)
    assert all(0 <= r.low <= r.high for r in allocation.recommendations)


@given(arms(min_size=2), st.integers(0, 2**32))
@settings(max_examples=30, deadline=None)
def test_seeded_and_independent_of_input_order(evidence, seed) -> None:  # noqa: ANN001
    config = BanditSettings(draws=500)
    first = recommend(evidence, config, seed)
    assert recommend(evidence, config, seed) == first
    assert recommend(list(reversed(evidence)), config, seed) == first
    assert [r.arm for r in first.recommendations] == sorted(a.arm for a in evidence)


@given(st.integers(1, 5_000), st.data(), st.lists(st.tuples(st.integers(0, 5_000), st.floats(0, 1)), max_size=3),
       st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_more_conversions_on_equal_touches_never_a_smaller_share(touches, data, others, seed) -> None:  # noqa: ANN001
    """Exactly, P(best) is monotone: Beta(a0 + c, b0 + n - c) grows stochastically with c at fixed n, and
    P(A best) - P(B best) = E[F_B(x) G(x); x ~ A] - E[F_A(x) G(x); x ~ B] >= 0 when A dominates B (G: the
    others' max). Drawn, each share carries Monte Carlo error: allowed 5 standard errors of the difference.
    """
    low = data.draw(st.floats(0, touches - 1e-3), label="B's conversions")
    high = data.draw(st.floats(low + 1e-3, touches), label="A's conversions")
    evidence = [arm("A", touches, high), arm("B", touches, low)]
    evidence += [arm(f"o{i}", n, n * rate) for i, (n, rate) in enumerate(others)]
    draws = 20_000
    allocation = recommend(evidence, BanditSettings(draws=draws), seed)
    a = next(r for r in allocation.recommendations if r.arm == "A")
    b = next(r for r in allocation.recommendations if r.arm == "B")
    noise = 5 * math.sqrt((a.p_best + b.p_best) / draws) + 1e-12
    assert a.p_best >= b.p_best - noise
    assert a.share >= b.share - noise
    assert a.mean > b.mean  # the posterior mean is exact: strictly higher


def test_prior_is_the_pooled_rate_worth_one_conversion() -> None:
    evidence = [arm("a", 900, 9.0, 900.0), arm("b", 98, 0.0)]
    prior = prior_of(evidence, 1.0)
    assert prior.rate == pytest.approx(10 / 1000)
    assert (prior.alpha, prior.beta) == pytest.approx((1.0, 99.0))
    assert prior.value_per_conversion == pytest.approx(100.0)
    allocation = recommend(evidence, BanditSettings(), 1)
    a, b = allocation.recommendations
    assert (a.alpha, a.beta) == pytest.approx((10.0, 990.0))
    assert (b.alpha, b.beta) == pytest.approx((1.0, 197.0))
    assert a.mean == pytest.approx(10 / 1000)
    assert b.mean == pytest.approx(1 / 198)
    assert a.low < a.mean < a.high


def test_no_evidence_splits_evenly_and_a_clear_winner_takes_all_but_the_floor() -> None:
    even = recommend([arm(n, 0, 0.0) for n in "abcd"], BanditSettings(draws=100_000), 3)
    assert [r.share for r in even.recommendations] == pytest.approx([0.25] * 4, abs=0.01)
    clear = recommend([arm("good", 10_000, 500.0), arm("bad", 10_000, 100.0), arm("new", 0, 0.0)],
                      BanditSettings(explore=0.1), 3)
    assert clear.floor == pytest.approx(0.1 / 3)
    assert clear.share("bad") == pytest.approx(0.1 / 3)
    # The arm without touches has the prior Beta(1, (1 - p) / p), p = 601 / 20002 (pooled): beta0 = 32.3. It beats
    # good's 5% in about (1 - 0.05)^32.3 = 19% of the draws: an unknown arm is explored, not starved.
    new_best = next(r.p_best for r in clear.recommendations if r.arm == "new")
    assert new_best == pytest.approx((1 - 0.05) ** (19_401 / 601), abs=0.02)
    assert clear.share("good") == pytest.approx(0.1 / 3 + 0.9 * (1 - new_best), abs=1e-3)


def test_revenue_objective_prefers_the_bigger_orders_at_equal_rates() -> None:
    evidence = [arm("small", 10_000, 300.0, 300 * 20.0), arm("big", 10_000, 300.0, 300 * 80.0)]
    assert recommend(evidence, BanditSettings(), 5).share("small") == pytest.approx(0.5, abs=0.02)
    by_value = recommend(evidence, BanditSettings(objective="revenue", explore=0.0), 5)
    assert by_value.share("big") == pytest.approx(1.0, abs=1e-3)
    big = next(r for r in by_value.recommendations if r.arm == "big")
    # value per touch: rate (1 + 300) / (1 + 300 + (1 - p)/p + 9700) times (24000 + 50) / 301, p = pooled
    assert big.mean == pytest.approx(big.alpha / (big.alpha + big.beta) * (24_000 + 50.0) / 301)


def test_per_cost_compares_conversions_per_currency_unit_and_only_paid_arms() -> None:
    paid = [arm("cheap", 10_000, 200.0, cost=1_000_000_000), arm("dear", 10_000, 300.0, cost=3_000_000_000)]
    free = arm("email", 10_000, 900.0)
    compared, left_out = comparable([*paid, free], "cost")
    assert (compared, left_out) == (paid, [free])
    allocation = recommend(compared, BanditSettings(basis="cost", explore=0.0), 2)
    # per currency unit: cheap 200 / 1000 = 0.2, dear 300 / 3000 = 0.1
    assert allocation.share("cheap") == pytest.approx(1.0, abs=1e-3)
    cheap = next(r for r in allocation.recommendations if r.arm == "cheap")
    assert cheap.mean == pytest.approx(cheap.alpha / (cheap.alpha + cheap.beta) * 10_000 / 1000)
    with pytest.raises(BudgetError, match="'email' has no cost"):
        recommend([*paid, free], BanditSettings(basis="cost"))
    per_touch = recommend([*paid, free], BanditSettings(explore=0.0), 2)
    assert per_touch.share("email") == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"objective": "clicks"}, "--objective"), ({"basis": "impression"}, "--per"), ({"draws": 10}, "--draws"),
    ({"explore": 1.0}, "--explore"), ({"prior_conversions": 0}, "--prior-conversions"),
])
def test_settings_errors_name_the_option(kwargs, message) -> None:  # noqa: ANN001
    with pytest.raises(BudgetError, match=message):
        BanditSettings(**kwargs)


def test_evidence_errors() -> None:
    with pytest.raises(BudgetError, match="no arms"):
        recommend([])
    with pytest.raises(BudgetError, match="'x': 5.0 credited conversions in 4 touches"):
        recommend([arm("x", 4, 5.0)])
    with pytest.raises(BudgetError, match="distinct"):
        recommend([arm("x", 4, 1.0), arm("x", 4, 1.0)])
    with pytest.raises(BudgetError, match="--draws"):
        recommend([arm(f"a{i}", 1, 0.0) for i in range(300)], BanditSettings(draws=100_000))
