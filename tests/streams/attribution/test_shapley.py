"""Shapley value on a hand-made 3-channel game: every coalition and marginal contribution listed."""

from __future__ import annotations

import pytest

from streams.attribution.shapley import MAX_KEYS, shapley
from tests.streams.attribution.helpers import lost, path

# Converting paths (channel sets): {A} 30, {A,B} 60, {B,C} 90, {A,B,C} 120; total 4 conversions, value 300.
# The non-converting C is in no v(S).
PATHS = [path("A", 30), path("A B", 60), path("C B", 90), path("A C B A", 120), lost("C")]


def test_three_channel_shapley_by_hand() -> None:
    # v(S) = conversions (value) of converting paths whose channel set lies inside S:
    #   v({}) = 0 | v(A) = 1 (30) | v(B) = 0 | v(C) = 0
    #   v(AB) = 2 (30 + 60 = 90) | v(AC) = 1 (30) | v(BC) = 1 (90) | v(ABC) = 4 (300)
    # Weights |S|! (3 - |S| - 1)! / 3!: |S| = 0 -> 1/3, |S| = 1 -> 1/6, |S| = 2 -> 1/3.
    # A: S={}: 1 - 0 = 1 (1/3) | S=B: 2 - 0 = 2 (1/6) | S=C: 1 - 0 = 1 (1/6) | S=BC: 4 - 1 = 3 (1/3)
    #    = 1/3 + 2/6 + 1/6 + 3/3 = 11/6;   value: 30/3 + 90/6 + 30/6 + (300 - 90)/3 = 10 + 15 + 5 + 70 = 100
    # B: S={}: 0 | S=A: 2 - 1 = 1 (1/6) | S=C: 1 - 0 = 1 (1/6) | S=AC: 4 - 1 = 3 (1/3)
    #    = 0 + 1/6 + 1/6 + 1 = 4/3;        value: 0 + (90 - 30)/6 + 90/6 + (300 - 30)/3 = 10 + 15 + 90 = 115
    # C: S={}: 0 | S=A: 1 - 1 = 0 | S=B: 1 - 0 = 1 (1/6) | S=AB: 4 - 2 = 2 (1/3)
    #    = 0 + 0 + 1/6 + 2/3 = 5/6;        value: 0 + 0 + 90/6 + (300 - 90)/3 = 15 + 70 = 85
    # Sum 11/6 + 8/6 + 5/6 = 4 conversions; 100 + 115 + 85 = 300.
    credits = shapley(PATHS)
    assert credits.conversions == pytest.approx({"A": 11 / 6, "B": 4 / 3, "C": 5 / 6}, abs=1e-12)
    assert credits.value == pytest.approx({"A": 100, "B": 115, "C": 85}, abs=1e-9)
    # The same as splitting each path equally among its distinct channels (this game is a sum of unanimity games):
    # A = 1 + 1/2 + 1/3 = 11/6, B = 1/2 + 1/2 + 1/3 = 4/3, C = 1/2 + 1/3 = 5/6.


def test_more_keys_than_the_enumeration_bound_use_the_closed_form() -> None:
    channels = [f"ch{i}" for i in range(MAX_KEYS + 2)]  # 17, as many as the simulator's converting paths
    # Each single-channel path is its channel's own conversion; the two-channel path is split 1/2 + 1/2.
    paths = [path(c, 1) for c in channels] + [path(f"{channels[0]} {channels[1]}", 1)]
    credits = shapley(paths)
    expected = {c: 1.0 for c in channels} | {channels[0]: 1.5, channels[1]: 1.5}
    assert credits.conversions == pytest.approx(expected, abs=1e-12)
    assert sum(credits.conversions.values()) == pytest.approx(len(paths))
