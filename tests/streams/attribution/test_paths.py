"""Paths: validation, what counts as direct, the lookback window and unattributed conversions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import DAY_MS, NO_CAMPAIGN, Path, PathTouch, is_direct, within_lookback
from streams.attribution.registry import attribute
from tests.streams.attribution.helpers import path


def test_direct_is_the_direct_channel_or_a_direct_source_or_medium() -> None:
    assert is_direct("direct")
    assert is_direct("web", "(direct)", "(none)") and is_direct("web", None, "none") and is_direct("app", "Direct")
    assert not is_direct("web") and not is_direct("email", "newsletter", "email")


def test_keys() -> None:
    touch = PathTouch(0, "email", None)
    assert touch.key("channel") == "email" and touch.key("campaign") == NO_CAMPAIGN
    with pytest.raises(AttributionError, match="channel, campaign"):
        touch.key("device")


def test_a_path_is_checked() -> None:
    with pytest.raises(AttributionError, match="time order"):
        Path((PathTouch(5, "a"), PathTouch(1, "b")), True)
    with pytest.raises(AttributionError, match="before its last touch"):
        Path((PathTouch(5, "a"),), True, end=4)
    with pytest.raises(AttributionError, match="value"):
        Path((PathTouch(5, "a"),), False, Decimal("1.00"))
    with pytest.raises(AttributionError, match="not the float"):
        Path((PathTouch(5, "a"),), True, 0.29)
    with pytest.raises(AttributionError, match="end"):
        Path((), True)
    assert Path((PathTouch(5, "a"),), True, 3).value == Decimal(3) and Path((PathTouch(5, "a"),)).end == 5


def test_the_lookback_drops_touches_older_than_the_conversion_minus_the_window() -> None:
    end = 40 * DAY_MS
    edge = end - 30 * DAY_MS
    p = path("old edge new", 5, at=[edge - 1, edge, end - 1], end=end)
    assert [t.channel for t in within_lookback(p).touches] == ["edge", "new"]  # exactly 30 days back stays
    assert [t.channel for t in within_lookback(p, DAY_MS).touches] == ["new"]
    with pytest.raises(AttributionError):
        within_lookback(p, 0)


def test_a_conversion_without_touches_in_the_window_is_unattributed() -> None:
    end = 20 * DAY_MS
    # Lookback 7 days. A 10 days back goes, B 3 days back stays: B gets the conversion (50).
    # The second path's only touch is 8 days back: it converted (20) but nothing can take the credit.
    paths = [path("A B", 50, at=[end - 10 * DAY_MS, end - 3 * DAY_MS], end=end),
             path("A", 20, at=[end - 8 * DAY_MS], end=end)]
    for model in ("linear", "markov", "shapley", "time_decay"):
        credits = attribute(paths, model, lookback_ms=7 * DAY_MS)
        assert credits.conversions == pytest.approx({"B": 1}) and credits.value == pytest.approx({"B": 50})
        assert credits.unattributed_conversions == 1 and credits.unattributed_value == Decimal(20)
    # With the default 30 days nothing is lost: A B split 1/2 each (25, 25), A alone 1 (20).
    credits = attribute(paths, "linear")
    assert credits.conversions == pytest.approx({"A": 1.5, "B": 0.5}) and credits.unattributed_conversions == 0
    assert credits.value == pytest.approx({"A": 45, "B": 25})
