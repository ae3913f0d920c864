"""The model registry the CLI will use: names, parameters, errors."""

from __future__ import annotations

import pytest

from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import DAY_MS
from streams.attribution.registry import MODELS, attribute
from tests.streams.attribution.helpers import lost, path

PATHS = [path("A B C", 90), path("B C", 30), lost("A")]


def test_every_model_is_registered_with_its_defaults() -> None:
    assert list(MODELS) == ["first_touch", "last_touch", "last_non_direct", "linear", "position_based",
                            "time_decay", "markov", "shapley"]
    assert MODELS["position_based"].params == {"weights": (0.4, 0.2, 0.4)}
    assert MODELS["time_decay"].params == {"half_life_ms": 7 * DAY_MS}
    for name, model in MODELS.items():
        credits = attribute(PATHS, name)
        assert credits.total_conversions == pytest.approx(2, abs=1e-9), name
        assert credits.total_value == pytest.approx(120, abs=1e-9), name
        assert model.summary


def test_parameters_reach_the_model() -> None:
    # A B C with weights 0.6 / 0 / 0.4: A 0.6, C 0.4; B C: 0.6 : 0.4 -> B 0.6, C 0.4. A 0.6, B 0.6, C 0.8.
    credits = attribute(PATHS, "position_based", weights=(0.6, 0.0, 0.4))
    assert credits.conversions == pytest.approx({"A": 0.6, "B": 0.6, "C": 0.8})


def test_unknown_models_parameters_and_keys_are_refused_with_the_choices() -> None:
    with pytest.raises(AttributionError, match="use one of first_touch, last_touch"):
        attribute(PATHS, "data_driven")
    with pytest.raises(AttributionError, match="half_life_ms=604800000"):
        attribute(PATHS, "time_decay", half_life_days=7)
    with pytest.raises(AttributionError, match="its parameters: none"):
        attribute(PATHS, "linear", weights=(1, 0, 0))
    with pytest.raises(AttributionError, match="channel, campaign"):
        attribute(PATHS, "linear", by="device")
