"""Experiment statistics (sinks/kpi/experiments.py), against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from sinks.kpi.experiments import (
    COLUMNS, DRAWS, Z95, VariantInput, analyse, mean_and_se, normal_interval, p_best_beta, p_best_normal, wilson,
)


def test_wilson_interval_of_10_in_100() -> None:
    # p = 0.1, n = 100, z = 1.959964, z^2 = 3.841459
    # denominator = 1 + z^2/n = 1.0384146
    # centre = (p + z^2/(2n)) / denominator = (0.1 + 0.0192073) / 1.0384146 = 0.1147974
    # half = z * sqrt(p(1-p)/n + z^2/(4n^2)) / denominator
    #      = 1.959964 * sqrt(0.0009 + 0.0000960365) / 1.0384146 = 1.959964 * 0.0315600 / 1.0384146 = 0.0595683
    # -> (0.0552291, 0.1743657), the textbook Wilson interval for 10/100
    low, high = wilson(10, 100)
    assert low == pytest.approx(0.0552291, abs=1e-6)
    assert high == pytest.approx(0.1743657, abs=1e-6)


def test_wilson_interval_at_the_edges() -> None:
    # 0 of 10: centre = (0 + z^2/20) / (1 + z^2/10) = 0.1920729 / 1.3841459 = 0.1387664, half the same:
    # low 0, high = 2 * 0.1387664 = 0.2775328
    assert wilson(0, 10) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.2775328, abs=1e-6))
    # 10 of 10 mirrors it.
    assert wilson(10, 10) == (pytest.approx(1 - 0.2775328, abs=1e-6), pytest.approx(1.0))
    assert wilson(0, 0) is None


def test_revenue_per_profile_interval_from_sum_and_sum_of_squares() -> None:
    # Per-profile revenue 0, 0, 10, 30: sum 40, sum of squares 100 + 900 = 1000, n = 4.
    # mean = 10; sample variance = (1000 - 4 * 10^2) / 3 = 200; se = sqrt(200 / 4) = 7.0710678
    # 95%: 10 -+ 1.959964 * 7.0710678 = 10 -+ 13.8590382 -> (-3.8590382, 23.8590382)
    mean, se = mean_and_se(40, 1000, 4)
    assert mean == 10 and se == pytest.approx(math.sqrt(50))
    low, high = normal_interval(mean, se)
    assert (low, high) == (pytest.approx(-3.8590382, abs=1e-6), pytest.approx(23.8590382, abs=1e-6))
    assert mean_and_se(7, 49, 1) == (7, 0.0)  # one profile: no spread to measure
    assert mean_and_se(0, 0, 0) is None


def test_probability_best_on_conversion_matches_the_beta_integral() -> None:
    # A: 1 converter of 2 -> Beta(2, 2), density 6x(1-x); B: 0 of 1 -> Beta(1, 2), P(p_B > x) = (1-x)^2.
    # P(B best) = integral_0^1 6x(1-x) (1-x)^2 dx = 6 * B(2, 4) = 6 * (1! 3! / 5!) = 6 * 6/120 = 0.3
    # -> P(A best) = 0.7. 100,000 draws: standard error sqrt(0.21 / 1e5) = 0.0014; allow 0.005.
    p_a, p_b = p_best_beta([(1, 2), (0, 1)])
    assert p_a == pytest.approx(0.7, abs=0.005)
    assert p_b == pytest.approx(0.3, abs=0.005)
    assert p_a + p_b == pytest.approx(1.0)


def test_probability_best_is_reproducible_and_splits_ties() -> None:
    assert p_best_beta([(3, 10), (4, 10), (5, 10)]) == p_best_beta([(3, 10), (4, 10), (5, 10)])
    # Equal and certain (se 0): every draw is a three-way tie, shared evenly.
    assert p_best_normal([(5.0, 0.0)] * 3) == [pytest.approx(1 / 3)] * 3


def test_probability_best_on_revenue_matches_the_normal_cdf() -> None:
    # A ~ N(10, 1), B ~ N(12, 1): B - A ~ N(2, 2), P(B > A) = Phi(2 / sqrt 2) = Phi(1.4142136) = 0.9213504
    p_a, p_b = p_best_normal([(10.0, 1.0), (12.0, 1.0)])
    assert p_b == pytest.approx(0.9213504, abs=0.005)
    assert p_a == pytest.approx(1 - 0.9213504, abs=0.005)


def test_analyse_puts_it_together() -> None:
    # control: 10 of 100 convert, revenue 400 (sum of squares 40,000): mean 4, sample variance
    # (40000 - 100 * 16) / 99 = 38400 / 99 = 387.878788, se = sqrt(3.87878788) = 1.9694638,
    # 95%: 4 -+ 3.8600780 -> (0.1399220, 7.8600780).
    # treatment: 20 of 100, revenue 900 (sum of squares 90,000): mean 9, variance (90000 - 8100) / 99 = 827.272727,
    # se = 2.8762349, 95%: 9 -+ 5.6373168 -> (3.3626832, 14.6373168).
    # P(treatment best on conversion): Beta(21, 81) vs Beta(11, 91): means 0.2059 vs 0.1078, sds 0.0398 and
    # 0.0306, difference about N(0.0980, 0.0502) -> Phi(1.952) = 0.975. On revenue: the difference is
    # N(5, sqrt(1.9694638^2 + 2.8762349^2) = 3.4859023) -> Phi(1.4343) = 0.9243.
    control, treatment = analyse([VariantInput("control", 100, 10, 400.0, 40_000.0),
                                  VariantInput("treatment", 100, 20, 900.0, 90_000.0)])
    assert control.conversion_rate == 0.1 and treatment.conversion_rate == 0.2
    assert (control.cr_low, control.cr_high) == wilson(10, 100)
    assert control.revenue_per_profile == 4.0
    assert (control.rpp_low, control.rpp_high) == (pytest.approx(0.1399220, abs=1e-6), pytest.approx(7.8600780, abs=1e-6))
    assert (treatment.rpp_low, treatment.rpp_high) == (pytest.approx(3.3626832, abs=1e-6),
                                                      pytest.approx(14.6373168, abs=1e-6))
    assert treatment.p_best_conversion == pytest.approx(0.975, abs=0.01)
    assert treatment.p_best_revenue == pytest.approx(0.9243, abs=0.005)
    assert control.p_best_conversion + treatment.p_best_conversion == pytest.approx(1.0)


def test_a_variant_without_profiles_has_no_rates() -> None:
    (empty, live) = analyse([VariantInput("empty", 0, 0, 0.0, 0.0), VariantInput("live", 5, 1, 10.0, 100.0)])
    assert empty.conversion_rate is None and empty.p_best_conversion is None
    assert live.p_best_conversion == 1.0 and live.p_best_revenue == 1.0


def test_report_columns_are_the_documented_ones() -> None:
    assert COLUMNS == ["variant", "profiles", "converters", "conversion_rate", "cr_low", "cr_high",
                       "revenue_per_profile", "rpp_low", "rpp_high", "p_best_conversion", "p_best_revenue"]
    assert DRAWS == 100_000 and Z95 == pytest.approx(1.959964, abs=1e-6)
