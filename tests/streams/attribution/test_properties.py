"""Properties over random path sets: credits add up, are never negative, go only to keys that are there."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.attribution.markov import Chain
from streams.attribution.paths import DAY_MS, Path, PathTouch, windowed
from streams.attribution.registry import MODELS, attribute
from streams.attribution.rules import linear, position_shares, time_decay
from streams.attribution.shapley import shapley

CHANNELS = ["search", "email", "display", "social", "direct"]
CAMPAIGNS = [None, "spring", "summer"]


@st.composite
def a_path(draw: st.DrawFn, same_time: bool = False) -> Path:
    n = draw(st.integers(0, 6))
    if same_time:
        times = [draw(st.integers(0, 60 * DAY_MS))] * n
    else:
        times = sorted(draw(st.lists(st.integers(0, 60 * DAY_MS), min_size=n, max_size=n)))
    touches = tuple(PathTouch(t, channel, draw(st.sampled_from(CAMPAIGNS)), channel == "direct")
                    for t, channel in zip(times, draw(st.lists(st.sampled_from(CHANNELS), min_size=n, max_size=n))))
    converted = draw(st.booleans())
    value = Decimal(draw(st.integers(0, 10_000_000))) / 100 if converted else Decimal(0)
    end = (times[-1] if times else 0) + draw(st.integers(0, 40 * DAY_MS))
    return Path(touches, converted, value, end)


path_sets = st.lists(a_path(), max_size=30)
lookbacks = st.sampled_from([DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 90 * DAY_MS])
bys = st.sampled_from(["channel", "campaign"])


@settings(max_examples=200, deadline=None)
@given(path_sets, lookbacks, bys)
def test_every_model_distributes_exactly_what_converted(paths: list[Path], lookback: int, by: str) -> None:
    inside = windowed(paths, lookback)
    converting = [p for p in inside if p.converted and p.touches]
    conversions, value = len(converting), float(sum((p.value for p in converting), Decimal(0)))
    lost = [p for p in inside if p.converted and not p.touches]
    present = {t.key(by) for p in inside for t in p.touches}
    present_converting = {t.key(by) for p in converting for t in p.touches}
    for name in MODELS:
        credits = attribute(paths, name, by=by, lookback_ms=lookback)
        assert math.isclose(credits.total_conversions, conversions, rel_tol=1e-9, abs_tol=1e-9), name
        assert math.isclose(credits.total_value, value, rel_tol=1e-9, abs_tol=1e-9), name
        assert credits.unattributed_conversions == len(lost)
        assert credits.unattributed_value == sum((p.value for p in lost), Decimal(0))
        assert all(c >= 0 for c in credits.conversions.values()), (name, credits.conversions)
        assert all(c >= 0 for c in credits.value.values()), (name, credits.value)
        # Rules and Shapley credit keys of converting paths; Markov any key on the way to a conversion.
        allowed = present if name == "markov" else present_converting
        assert set(credits.conversions) <= allowed and set(credits.value) <= allowed, name


@given(st.tuples(*[st.integers(0, 100)] * 3).filter(lambda w: w[0] + w[2] > 0), st.integers(3, 12))
def test_position_shares_for_one_two_and_more_touches(raw: tuple[int, int, int], n: int) -> None:
    first, middle, last = (w / sum(raw) for w in raw)
    assert position_shares(1, (first, middle, last)) == [1.0]
    assert position_shares(2, (first, middle, last)) == pytest.approx([first / (first + last), last / (first + last)])
    shares = position_shares(n, (first, middle, last))
    assert math.isclose(math.fsum(shares), 1.0) and shares[0] == first and shares[-1] == last
    assert shares[1:-1] == pytest.approx([middle / (n - 2)] * (n - 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(a_path(same_time=True), max_size=20), st.integers(1, 30 * DAY_MS), bys)
def test_time_decay_with_equal_times_is_linear(paths: list[Path], half_life: int, by: str) -> None:
    decayed, even = time_decay(paths, by, half_life_ms=half_life), linear(paths, by)
    assert decayed.conversions == pytest.approx(even.conversions, rel=1e-12, abs=1e-12)
    assert decayed.value == pytest.approx(even.value, rel=1e-12, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(path_sets, bys)
def test_shapley_of_this_game_splits_each_path_equally_among_its_distinct_keys(paths: list[Path], by: str) -> None:
    # Each converting path with key set T adds the unanimity game u_T (worth 1 for S >= T): Shapley gives 1/|T|
    # to each member of T. The exact enumeration must agree.
    expected_conv: dict[str, float] = defaultdict(float)
    expected_value: dict[str, float] = defaultdict(float)
    for p in paths:
        keys = set(p.keys(by))
        if p.converted and keys:
            for k in keys:
                expected_conv[k] += 1 / len(keys)
                expected_value[k] += float(p.value) / len(keys)
    credits = shapley(paths, by)
    assert credits.conversions == pytest.approx(dict(expected_conv), rel=1e-9, abs=1e-9)
    assert credits.value == pytest.approx(dict(expected_value), rel=1e-9, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(path_sets, bys)
def test_markov_removal_effects_from_one_inverse_equal_removing_each_key(paths: list[Path], by: str) -> None:
    chain = Chain(paths, by)
    probability, effects = chain.removal_effects()
    if not chain.keys:
        return
    assert probability == pytest.approx(chain.conversion_probability(), abs=1e-12)
    if probability > 0:
        by_removal = {k: 1 - chain.conversion_probability(k) / probability for k in chain.keys}
        assert effects == pytest.approx(by_removal, abs=1e-9)
