"""One pure function per figure: rows -> an inline SVG string (matplotlib, no I/O).

Marks carry ids the tests (and anyone scripting the page) can find, after
the figure-name prefix ``svg.to_svg`` adds: ``<figure>-bar-<series>-<i>``
for a bar, ``<figure>-series-<name>`` for a line or point series (its
points are the ``<use>`` markers inside). Rates are drawn in percent.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.ticker import PercentFormatter, StrMethodFormatter

from sinks.report.data import (
    ChannelRow, Credit, DayShare, Experiment, FrequencyBand, FunnelStep, PathRow, TouchBucket,
)
from sinks.report.svg import PALETTE, figure, label, to_svg

# The attribution registry's order (docs/attribution.md): simple rules first, data-driven last.
MODEL_ORDER = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay",
               "markov", "shapley")
TOP_PATHS_SHOWN = 20  # top_paths.sql returns 20


def _num(value: float | None) -> float:
    return 0.0 if value is None else float(value)


def _pct(value: float | None) -> float:
    return 0.0 if value is None else 100.0 * float(value)


def _tag(bars, series: str) -> None:  # noqa: ANN001 - a BarContainer
    for i, bar in enumerate(bars.patches):
        bar.set_gid(f"bar-{series}-{i}")


def _percent_axis(axis) -> None:  # noqa: ANN001
    axis.set_major_formatter(PercentFormatter(100, decimals=None))


def _rate_ticks(ax) -> None:  # noqa: ANN001 - headroom above 100% holds bar labels, ticks stop at 100%
    ax.set_ylim(bottom=0)
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= 100])


def _thousands(axis) -> None:  # noqa: ANN001
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def model_order(models: set[str]) -> list[str]:
    known = [m for m in MODEL_ORDER if m in models]
    return known + sorted(models - set(known))


def pivot_credits(rows: Sequence[Credit]) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """(models, channels by total credit descending, (model, channel) -> conversions)."""
    values = {(r.model, r.channel): r.conversions for r in rows}
    models = model_order({r.model for r in rows})
    totals: dict[str, float] = {}
    for r in rows:
        totals[r.channel] = totals.get(r.channel, 0.0) + r.conversions
    channels = sorted(totals, key=lambda c: (-totals[c], c))
    return models, channels, values


def attribution(rows: Sequence[Credit]) -> str:
    """Grouped bars: per channel, one bar per model (credited conversions)."""
    models, channels, values = pivot_credits(rows)
    width = min(14.0, max(7.0, 0.12 * len(channels) * len(models) + 2.5))
    with figure(width, 4.6) as (fig, ax):
        step = 0.84 / max(1, len(models))
        for m, model in enumerate(models):
            x = [c + (m - (len(models) - 1) / 2) * step for c in range(len(channels))]
            bars = ax.bar(x, [values.get((model, c), 0.0) for c in channels], width=step,
                          color=PALETTE[m % len(PALETTE)], label=label(model), linewidth=0)
            _tag(bars, f"m{m}")
        ax.set_xticks(range(len(channels)), [label(c, 24) for c in channels], rotation=40, ha="right")
        ax.set_ylabel("credited conversions")
        ax.set_xlabel("channel")
        ax.set_title("Attribution credit by channel, per model")
        ax.grid(axis="x", visible=False)
        ax.legend(ncols=min(4, len(models)), loc="upper right", fontsize=8)
        return to_svg(fig, "attribution", "Attribution credit by channel, per model (grouped bars)")


def funnel(rows: Sequence[FunnelStep]) -> str:
    """Horizontal bars, first step on top: profiles reaching each step, with the share of step one."""
    with figure(8.0, max(2.2, 0.9 + 0.45 * len(rows))) as (fig, ax):
        y = list(range(len(rows)))
        bars = ax.barh(y, [r.profiles for r in rows], color=PALETTE[0], height=0.6)
        _tag(bars, "profiles")
        ax.set_yticks(y, [label(f"{r.step}. {r.name}", 32) for r in rows])
        ax.invert_yaxis()
        texts = [f" {r.profiles:,} ({_pct(r.share_of_first):.1f}%)" for r in rows]
        ax.bar_label(bars, labels=texts, fontsize=8)
        ax.margins(x=0.22)
        _thousands(ax.xaxis)
        ax.set_xlabel("profiles")
        ax.set_ylabel("funnel step")
        ax.set_title("Conversion funnel")
        ax.grid(axis="y", visible=False)
        return to_svg(fig, "funnel", "Conversion funnel (horizontal bars, profiles per step)")


def bucket_order(touches: str) -> tuple[int, str]:
    digits = "".join(ch for ch in touches if ch.isdigit())
    return (int(digits) if digits else 10**9, touches)


def touches_to_convert(rows: Sequence[TouchBucket]) -> str:
    """Histogram: buyers by the number of touches before their purchase ('1' .. '10+')."""
    rows = sorted(rows, key=lambda r: bucket_order(r.touches))
    with figure(8.0, 3.6) as (fig, ax):
        bars = ax.bar([label(r.touches, 8) for r in rows], [r.buyers for r in rows], color=PALETTE[0], width=0.8)
        _tag(bars, "buyers")
        ax.bar_label(bars, labels=[f"{_pct(r.share):.1f}%" for r in rows], fontsize=8)
        ax.margins(y=0.15)
        ax.set_xlabel("touches before the purchase")
        ax.set_ylabel("buyers")
        ax.set_title("Touches to convert")
        ax.grid(axis="x", visible=False)
        two_plus = next((r.share_2_or_more for r in rows if r.share_2_or_more is not None), None)
        if two_plus is not None:
            ax.text(0.99, 0.95, f"{_pct(two_plus):.1f}% of buyers needed 2 or more touches",
                    transform=ax.transAxes, ha="right", va="top", fontsize=9)
        return to_svg(fig, "touches", "Touches to convert (histogram of buyers)")


def top_paths(rows: Sequence[PathRow]) -> str:
    """Horizontal bars: conversions of the most frequent journey paths, their conversion rate at the bar's end."""
    rows = list(rows[:TOP_PATHS_SHOWN])
    with figure(9.0, max(2.4, 1.0 + 0.38 * len(rows))) as (fig, ax):
        y = list(range(len(rows)))
        bars = ax.barh(y, [r.conversions for r in rows], color=PALETTE[2], height=0.6)
        _tag(bars, "conversions")
        ax.set_yticks(y, [label(r.path, 56) for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[f" {r.conversions:,} of {r.journeys:,} ({_pct(r.conversion_rate):.1f}%)"
                                   for r in rows], fontsize=8)
        ax.margins(x=0.25)
        ax.set_xlabel("conversions")
        ax.set_ylabel("path")
        ax.set_title("Top journey paths")
        ax.grid(axis="y", visible=False)
        return to_svg(fig, "paths", "Top journey paths (horizontal bars, conversions per path)")


def cross_device_share(rows: Sequence[DayShare]) -> str:
    """Line: per day, the share of conversions whose journey spanned more than one device."""
    rows = sorted(rows, key=lambda r: r.day)
    with figure(8.0, 3.4) as (fig, ax):
        ax.plot([r.day for r in rows], [_pct(r.share) for r in rows], marker="o", markersize=4,
                color=PALETTE[3], gid="series-share")
        ax.set_ylim(0, 100)
        _percent_axis(ax.yaxis)
        locator = AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(DateFormatter("%b %d"))
        ax.set_xlabel("day of conversion (UTC)")
        ax.set_ylabel("share of conversions")
        ax.set_title("Cross-device conversion share over time")
        return to_svg(fig, "crossdevice", "Cross-device conversion share per day (line)")


def contact_frequency(rows: Sequence[FrequencyBand]) -> str:
    """Bars: unsubscribe rate per contact-frequency band (contacts per profile and week), in the query's order."""
    with figure(8.0, 3.6) as (fig, ax):
        bars = ax.bar([label(r.frequency_band, 16) for r in rows], [_pct(r.unsubscribe_rate) for r in rows],
                      color=PALETTE[3], width=0.7)
        _tag(bars, "unsubscribe-rate")
        ax.bar_label(bars, labels=[f"{_pct(r.unsubscribe_rate):.2f}%\n{r.profile_weeks:,} pw" for r in rows],
                     fontsize=8)
        ax.margins(y=0.25)
        _rate_ticks(ax)
        _percent_axis(ax.yaxis)
        ax.set_xlabel("contacts per profile and week (band)")
        ax.set_ylabel("unsubscribe rate")
        ax.set_title("Contact frequency vs unsubscribe rate")
        ax.grid(axis="x", visible=False)
        return to_svg(fig, "frequency", "Unsubscribe rate by contact frequency band (bars)")


def channels(rows: Sequence[ChannelRow]) -> str:
    """Two bar panels by channel: conversion rate, and revenue."""
    names = [label(r.channel, 24) for r in rows]
    with figure(min(14.0, max(8.0, 0.5 * len(rows) + 3)), 3.8, ncols=2) as (fig, (left, right)):
        bars = left.bar(names, [_pct(r.conversion_rate) for r in rows], color=PALETTE[0])
        _tag(bars, "conversion-rate")
        _rate_ticks(left)
        _percent_axis(left.yaxis)
        left.set_ylabel("conversion rate (converters / profiles)")
        left.set_title("Conversion rate by channel")
        bars = right.bar(names, [_num(r.revenue) for r in rows], color=PALETTE[2])
        _tag(bars, "revenue")
        _thousands(right.yaxis)
        right.set_ylabel("revenue")
        right.set_title("Revenue by channel")
        for ax in (left, right):
            ax.set_xlabel("channel")
            ax.tick_params(axis="x", labelrotation=40)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
            ax.grid(axis="x", visible=False)
        return to_svg(fig, "channels", "Conversion rate and revenue by channel (bars)")


def experiment(exp: Experiment, index: int) -> str:
    """Left: conversion rate per variant with its confidence interval; right: probability each variant is best."""
    variants = exp.variants
    names = [label(v.variant, 20) for v in variants]
    x = list(range(len(variants)))
    with figure(9.0, 3.4, ncols=2) as (fig, (left, right)):
        rates = [_pct(v.conversion_rate) for v in variants]
        low = [max(0.0, r - _pct(v.cr_low)) if v.cr_low is not None else 0.0 for r, v in zip(rates, variants)]
        high = [max(0.0, _pct(v.cr_high) - r) if v.cr_high is not None else 0.0 for r, v in zip(rates, variants)]
        container = left.errorbar(x, rates, yerr=[low, high], fmt="o", color=PALETTE[0], capsize=4, markersize=6)
        container.lines[0].set_gid("series-conversion-rate")
        left.set_xticks(x, names)
        left.set_xlim(-0.6, len(variants) - 0.4)
        _percent_axis(left.yaxis)
        left.set_xlabel("variant")
        left.set_ylabel("conversion rate (CI)")
        left.set_title("Conversion rate")
        step = 0.38
        for s, (series, values, color) in enumerate((
                ("p-best-conversion", [_pct(v.p_best_conversion) for v in variants], PALETTE[0]),
                ("p-best-revenue", [_pct(v.p_best_revenue) for v in variants], PALETTE[1]))):
            bars = right.bar([i + (s - 0.5) * step for i in x], values, width=step, color=color,
                             label="by conversion" if s == 0 else "by revenue per profile")
            _tag(bars, series)
        right.set_xticks(x, names)
        right.set_ylim(0, 100)
        _percent_axis(right.yaxis)
        right.set_xlabel("variant")
        right.set_ylabel("probability of being best")
        right.set_title("Probability best")
        right.legend(fontsize=8, loc="upper right")
        right.grid(axis="x", visible=False)
        fig.suptitle(f"Experiment {label(exp.experiment_id, 40)}", fontweight="bold")
        return to_svg(fig, f"experiment-{index}", f"Experiment {exp.experiment_id}: variants (points, bars)")
