"""Markov removal effect on hand-made paths: transition probabilities and removal effects worked out by hand."""

from __future__ import annotations

import pytest

from streams.attribution.markov import CONVERSION, NULL, START, Chain, markov
from tests.streams.attribution.helpers import lost, path

# Two conversions (100 + 50 = 150) and two paths that did not convert.
PATHS = [path("A B", 100), lost("A C"), path("C B", 50), lost("B")]


def test_transition_probabilities_count_converting_and_non_converting_paths() -> None:
    # Walks: start A B conv | start A C null | start C B conv | start B null.
    # start -> A twice, C once, B once (of 4); A -> B once, C once (of 2);
    # B -> conv twice, null once (of 3); C -> null once, B once (of 2).
    assert Chain(PATHS, "channel").probabilities() == {
        START: {"A": 1 / 2, "C": 1 / 4, "B": 1 / 4},
        "A": {"B": 1 / 2, "C": 1 / 2},
        "B": {CONVERSION: 2 / 3, NULL: 1 / 3},
        "C": {NULL: 1 / 2, "B": 1 / 2},
    }


def test_removal_effects_and_credits() -> None:
    # P(conversion) from each state: x_B = 2/3; x_C = 1/2 x_B = 1/3; x_A = 1/2 x_B + 1/2 x_C = 1/3 + 1/6 = 1/2.
    # P = 1/2 x_A + 1/4 x_C + 1/4 x_B = 1/4 + 1/12 + 1/6 = 1/2.
    # Without A (x_A = 0): P = 1/4 * 1/3 + 1/4 * 2/3 = 1/4         -> RE_A = 1 - (1/4) / (1/2) = 1/2.
    # Without B (x_B = 0, so x_C = x_A = 0): P = 0                   -> RE_B = 1.
    # Without C (x_C = 0, x_A = 1/2 * 2/3 = 1/3): P = 1/6 + 1/6 = 1/3 -> RE_C = 1 - (1/3) / (1/2) = 1/3.
    # Sum of removal effects 1/2 + 1 + 1/3 = 11/6; 2 conversions, value 150:
    # A = 2 * (1/2) / (11/6) = 6/11, B = 2 * 1 / (11/6) = 12/11, C = 2 * (1/3) / (11/6) = 4/11 (sum 22/11 = 2);
    # values 150 * 3/11 = 450/11, 150 * 6/11 = 900/11, 150 * 2/11 = 300/11.
    chain = Chain(PATHS, "channel")
    assert chain.conversion_probability() == pytest.approx(1 / 2)
    assert chain.conversion_probability("A") == pytest.approx(1 / 4)
    assert chain.conversion_probability("B") == pytest.approx(0, abs=1e-15)
    assert chain.conversion_probability("C") == pytest.approx(1 / 3)
    probability, effects = chain.removal_effects()
    assert probability == pytest.approx(1 / 2)
    assert effects == pytest.approx({"A": 1 / 2, "B": 1, "C": 1 / 3})
    credits = markov(PATHS)
    assert credits.conversions == pytest.approx({"A": 6 / 11, "B": 12 / 11, "C": 4 / 11})
    assert credits.value == pytest.approx({"A": 450 / 11, "B": 900 / 11, "C": 300 / 11})
    assert credits.total_conversions == pytest.approx(2, abs=1e-12)
    assert credits.diagnostics["removal_effects"] == pytest.approx({"A": 1 / 2, "B": 1, "C": 1 / 3})


def test_a_channel_that_never_converts_gets_credit_only_if_it_leads_to_conversions() -> None:
    # D A null | A conv | E null. start -> D, A, E: 1/3 each; D -> A 1; A -> conv 1/2, null 1/2; E -> null 1.
    # P = 1/3 * 1/2 (via D, A) + 1/3 * 1/2 (via A) + 1/3 * 0 (via E) = 1/3.
    # Without D: P = 1/6 -> RE_D = 1/2. Without A: P = 0 -> RE_A = 1. Without E: P = 1/3 -> RE_E = 0.
    # One conversion (value 9) split 1/2 : 1 : 0 -> D 1/3 (3), A 2/3 (6), E nothing although it was there.
    credits = markov([lost("D A"), path("A", 9), lost("E")])
    assert credits.conversions == pytest.approx({"D": 1 / 3, "A": 2 / 3})
    assert credits.value == pytest.approx({"D": 3, "A": 6})


def test_repeats_are_self_loops_that_change_nothing() -> None:
    # A A B converts like A B: the loop at A is left with probability 1 eventually, so every absorption is the same.
    collapsed = markov([path("A B", 10), lost("A"), path("B", 4)])
    repeated = markov([path("A A B", 10), lost("A A A"), path("B B", 4)])
    assert repeated.conversions == pytest.approx(collapsed.conversions)
    assert repeated.value == pytest.approx(collapsed.value)


def test_no_conversions_gives_no_credit() -> None:
    credits = markov([lost("A B"), lost("C")])
    assert credits.conversions == {} and credits.value == {}
    assert credits.diagnostics["conversion_probability"] == 0.0
