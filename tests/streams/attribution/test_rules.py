"""Rules-based models on hand-made path sets; every expected credit is worked out in the comments."""

from __future__ import annotations

import pytest

from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import DAY_MS
from streams.attribution.rules import (first_touch, last_non_direct, last_touch, linear, position_based,
                                       position_shares, time_decay)
from tests.streams.attribution.helpers import lost, path

# Three conversions worth 90 + 30 + 10 = 130, and a path that did not convert (rules ignore it).
PATHS = [path("A B C", 90), path("B C", 30), path("C", 10), lost("A B")]


def approx(expected: dict[str, float]) -> dict:
    return pytest.approx(expected, abs=1e-12)


def test_first_touch() -> None:
    # A B C -> A; B C -> B; C -> C: one conversion each, with its path's value.
    credits = first_touch(PATHS)
    assert credits.conversions == approx({"A": 1, "B": 1, "C": 1})
    assert credits.value == approx({"A": 90, "B": 30, "C": 10})
    assert credits.unattributed_conversions == 0


def test_last_touch() -> None:
    # Every path ends on C: C = 3 conversions, 90 + 30 + 10 = 130.
    credits = last_touch(PATHS)
    assert credits.conversions == approx({"C": 3})
    assert credits.value == approx({"C": 130})


def test_last_non_direct_skips_direct_touches_and_falls_back_to_direct() -> None:
    paths = [path("A direct", 20),  # last non-direct: A
             path("direct direct", 10),  # all direct: the last touch, direct
             path("B direct C direct", 40),  # C (the direct after it is skipped)
             path("direct B", 5)]  # B
    credits = last_non_direct(paths)
    assert credits.conversions == approx({"A": 1, "B": 1, "C": 1, "direct": 1})
    assert credits.value == approx({"A": 20, "B": 5, "C": 40, "direct": 10})
    # last touch, for contrast: direct ends three paths (20 + 10 + 40), B one.
    assert last_touch(paths).conversions == approx({"B": 1, "direct": 3})


def test_linear() -> None:
    # A B C: 1/3 each (value 90/3 = 30 each); B C: 1/2 each (30/2 = 15 each); C: all (10).
    # A = 1/3 = 0.3333 (30); B = 1/3 + 1/2 = 0.8333 (30 + 15 = 45); C = 1/3 + 1/2 + 1 = 1.8333 (30 + 15 + 10 = 55).
    credits = linear(PATHS)
    assert credits.conversions == approx({"A": 1 / 3, "B": 1 / 3 + 1 / 2, "C": 1 / 3 + 1 / 2 + 1})
    assert credits.value == approx({"A": 30, "B": 45, "C": 55})
    assert credits.total_conversions == pytest.approx(3, abs=1e-12)


def test_linear_by_campaign_keys_touches_without_one_as_not_set() -> None:
    # email/spring, display/spring, web (no campaign): 1/3 each -> spring 2/3 (value 60 * 2/3 = 40), (not set) 1/3 (20).
    credits = linear([path("email/spring display/spring web", 60)], by="campaign")
    assert credits.conversions == approx({"spring": 2 / 3, "(not set)": 1 / 3})
    assert credits.value == approx({"spring": 40, "(not set)": 20})


def test_position_based_40_20_40() -> None:
    # A B C D (100): A 0.4, B 0.2 / 2 = 0.1, C 0.1, D 0.4 (values 40, 10, 10, 40);
    # B C (30): two touches split first : last = 0.4 : 0.4, so 0.5 each (15, 15); C (10): 1 touch gets all (10).
    # A = 0.4 (40); B = 0.1 + 0.5 = 0.6 (10 + 15 = 25); C = 0.1 + 0.5 + 1 = 1.6 (10 + 15 + 10 = 35); D = 0.4 (40).
    credits = position_based([path("A B C D", 100), path("B C", 30), path("C", 10)])
    assert credits.conversions == approx({"A": 0.4, "B": 0.6, "C": 1.6, "D": 0.4})
    assert credits.value == approx({"A": 40, "B": 25, "C": 35, "D": 40})


def test_position_based_with_other_weights() -> None:
    # weights 0.5 / 0.3 / 0.2. A B C (100): A 0.5, B 0.3, C 0.2 (50, 30, 20);
    # B C (70): first : last = 0.5 : 0.2, so B 5/7 and C 2/7 (50, 20).
    # A = 0.5 (50); B = 0.3 + 5/7 (30 + 50 = 80); C = 0.2 + 2/7 (20 + 20 = 40).
    credits = position_based([path("A B C", 100), path("B C", 70)], weights=(0.5, 0.3, 0.2))
    assert credits.conversions == approx({"A": 0.5, "B": 0.3 + 5 / 7, "C": 0.2 + 2 / 7})
    assert credits.value == approx({"A": 50, "B": 80, "C": 40})


def test_position_shares_for_short_paths_and_bad_weights() -> None:
    assert position_shares(1) == [1.0]
    assert position_shares(2) == [0.5, 0.5]
    assert position_shares(2, (0.6, 0.2, 0.2)) == pytest.approx([0.75, 0.25])  # 0.6 / 0.8, 0.2 / 0.8
    assert position_shares(5) == pytest.approx([0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4])
    for bad in [(0.5, 0.5), (0.5, 0.5, 0.5), (-0.1, 0.6, 0.5), (0.0, 1.0, 0.0)]:
        with pytest.raises(AttributionError):
            position_based([path("A")], weights=bad)


def test_time_decay_halves_credit_every_half_life() -> None:
    end = 30 * DAY_MS
    # Half-life 7 days. A 14 days before the conversion: 2^-2 = 1/4; B 7 days before: 2^-1 = 1/2; C at it: 1.
    # Sum 7/4, so A 1/7, B 2/7, C 4/7 of the conversion (value 70: 10, 20, 40).
    first = path("A B C", 70, at=[end - 14 * DAY_MS, end - 7 * DAY_MS, end], end=end)
    # B and C both 7 days before the conversion: 1/2 each, whatever the gap to the conversion (value 30: 15, 15).
    second = path("B C", 30, at=[end - 7 * DAY_MS, end - 7 * DAY_MS], end=end)
    # A = 1/7 (10); B = 2/7 + 1/2 = 11/14 (20 + 15 = 35); C = 4/7 + 1/2 = 15/14 (40 + 15 = 55).
    credits = time_decay([first, second])
    assert credits.conversions == approx({"A": 1 / 7, "B": 11 / 14, "C": 15 / 14})
    assert credits.value == approx({"A": 10, "B": 35, "C": 55})


def test_time_decay_half_life_parameter_and_a_tiny_half_life() -> None:
    # Half-life 1 day, A a day before B: weights 1/2 and 1 -> A 1/3, B 2/3.
    two = path("A B", 3, at=[0, DAY_MS])
    assert time_decay([two], half_life_ms=DAY_MS).conversions == approx({"A": 1 / 3, "B": 2 / 3})
    # Half-life 1 ms over 30 days: 2^-(2.6e9) underflows to 0 for A; B (weight 1) takes it all, no division by 0.
    far = path("A B", 3, at=[0, 30 * DAY_MS])
    assert time_decay([far], half_life_ms=1).conversions == {"B": 1.0}
    with pytest.raises(AttributionError):
        time_decay([two], half_life_ms=0)
