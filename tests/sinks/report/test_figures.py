"""Each figure on hand-built rows: well-formed SVG, the marks the data calls for, titles and labels, determinism."""

from __future__ import annotations

import re

import pytest

from sinks.report import figures
from sinks.report.data import Credit
from sinks.report.svg import label
from tests.sinks.report.samples import CHANNELS, HOSTILE, MODELS, sample
from tests.sinks.report.svgparse import SVG, bars, ids, parse_svg, points, texts

DATA = sample()


def test_attribution_draws_one_bar_per_model_and_channel_in_model_order() -> None:
    svg = figures.attribution(DATA.attribution.rows)
    root = parse_svg(svg)
    assert len(bars(root, "attribution")) == len(MODELS) * len(CHANNELS)
    for m in range(len(MODELS)):
        assert len(bars(root, "attribution", f"m{m}-")) == len(CHANNELS)
    words = texts(root)
    assert "Attribution credit by channel, per model" in words
    assert {"credited conversions", "channel"} <= set(words)
    assert [w for w in words if w in MODELS] == list(MODELS)  # the legend, in the registry's order


def test_attribution_orders_models_like_the_registry_and_unknown_ones_last() -> None:
    rows = [Credit(m, "web", 1.0) for m in ("shapley", "zeta", "first_touch", "markov", "alpha")]
    models, channels, _ = figures.pivot_credits(rows)
    assert models == ["first_touch", "markov", "shapley", "alpha", "zeta"]
    assert channels == ["web"]


def test_funnel_has_a_bar_per_step() -> None:
    root = parse_svg(figures.funnel(DATA.funnel.rows))
    assert len(bars(root, "funnel")) == 4
    assert "1. visited" in texts(root) and "Conversion funnel" in texts(root)


def test_touches_histogram_orders_buckets_numerically_with_10_plus_last() -> None:
    rows = tuple(reversed(DATA.touches_to_convert.rows))
    root = parse_svg(figures.touches_to_convert(rows))
    assert len(bars(root, "touches")) == 10
    ticks = [t for t in texts(root) if re.fullmatch(r"\d+\+?", t) and t in {r.touches for r in rows}]
    assert ticks[:10] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10+"]
    assert "86.0% of buyers needed 2 or more touches" in texts(root)


def test_top_paths_has_a_bar_per_path_and_shows_dollars_literally() -> None:
    root = parse_svg(figures.top_paths(DATA.top_paths.rows))
    assert len(bars(root, "paths")) == 3
    assert "search > web > email > web > $promo$ > store" in texts(root)  # not read as math


def test_top_paths_draws_at_most_the_top_ones() -> None:
    many = DATA.top_paths.rows[:1] * (figures.TOP_PATHS_SHOWN + 5)
    assert len(bars(parse_svg(figures.top_paths(many)), "paths")) == figures.TOP_PATHS_SHOWN


def test_cross_device_line_has_a_point_per_day() -> None:
    root = parse_svg(figures.cross_device_share(DATA.cross_device.rows))
    assert points(root, "crossdevice", "share") == 7
    assert "Cross-device conversion share over time" in texts(root)


def test_contact_frequency_has_a_bar_per_band() -> None:
    root = parse_svg(figures.contact_frequency(DATA.contact_frequency.rows))
    assert len(bars(root, "frequency")) == 4
    assert "unsubscribe rate" in texts(root)


def test_channels_has_two_bar_series_one_bar_per_channel() -> None:
    root = parse_svg(figures.channels(DATA.channels.rows))
    assert len(bars(root, "channels", "conversion-rate")) == 3
    assert len(bars(root, "channels", "revenue")) == 3


def test_experiment_has_a_point_with_error_bars_and_two_p_best_bars_per_variant() -> None:
    exp = DATA.experiments.rows[1]
    root = parse_svg(figures.experiment(exp, 1))
    assert points(root, "experiment-1", "conversion-rate") == 3
    assert len(bars(root, "experiment-1", "p-best-conversion")) == 3
    assert len(bars(root, "experiment-1", "p-best-revenue")) == 3
    assert {"Conversion rate", "Probability best", "probability of being best"} <= set(texts(root))


@pytest.mark.parametrize("name", ["attribution", "funnel", "touches", "paths", "crossdevice", "frequency",
                                  "channels", "experiment"])
def test_every_figure_is_self_contained_labelled_and_deterministic(name: str) -> None:
    draw = {
        "attribution": lambda: figures.attribution(DATA.attribution.rows),
        "funnel": lambda: figures.funnel(DATA.funnel.rows),
        "touches": lambda: figures.touches_to_convert(DATA.touches_to_convert.rows),
        "paths": lambda: figures.top_paths(DATA.top_paths.rows),
        "crossdevice": lambda: figures.cross_device_share(DATA.cross_device.rows),
        "frequency": lambda: figures.contact_frequency(DATA.contact_frequency.rows),
        "channels": lambda: figures.channels(DATA.channels.rows),
        "experiment": lambda: figures.experiment(DATA.experiments.rows[0], 0),
    }[name]
    svg = draw()
    assert svg == draw()
    root = parse_svg(svg)
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find(f"{SVG}metadata") is None
    assert not svg.startswith("<?xml")
    prefix = "experiment-0" if name == "experiment" else name
    assert ids(root, "") == ids(root, f"{prefix}-")  # every id carries the figure's name
    references = re.findall(r'(?:href="|url\()#([^")]+)', svg)
    assert references and set(references) <= set(ids(root, ""))
    assert not re.search(r'(?:src|href)="(?!#)', svg)  # nothing outside the figure
    assert len([t for t in texts(root) if t.strip()]) >= 4  # title, axis labels, ticks


def test_hostile_text_stays_text_in_the_svg() -> None:
    svg = figures.attribution(DATA.attribution.rows)
    assert "<script" not in svg
    assert any(t.startswith("<script>alert(1)") for t in texts(parse_svg(svg)))


def test_label_escapes_dollars_truncates_and_replaces_control_characters() -> None:
    assert label("a$b$c") == r"a\$b\$c"
    assert label("x" * 60, 10) == "x" * 9 + "\u2026"
    assert label("a\x00b\nc") == "a\ufffdb\ufffdc"
    assert label(HOSTILE) == HOSTILE  # matplotlib's XML writer escapes it
