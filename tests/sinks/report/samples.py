"""Hand-built ReportData for the pure figure and page tests (no ClickHouse)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sinks.report.data import (
    AttributionWindow, ChannelRow, Credit, DayShare, Experiment, FrequencyBand, FunnelStep, PathRow, ReportData,
    Section, TouchBucket, Variant,
)

HOSTILE = "<script>alert(1)</script>"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 15, tzinfo=timezone.utc)
GENERATED = datetime(2026, 1, 15, 12, 30, tzinfo=timezone.utc)

MODELS = ("first_touch", "last_touch", "linear", "markov")
CHANNELS = ("email", "display", "web", HOSTILE)


def credits() -> tuple[Credit, ...]:
    return tuple(Credit(model, channel, float(1 + m + 2 * c))
                 for m, model in enumerate(MODELS) for c, channel in enumerate(CHANNELS))


def sample(hostile: str = HOSTILE) -> ReportData:
    return ReportData(
        database="touchline", start=START, end=END, generated_at=GENERATED,
        attribution=Section(credits()),
        attribution_window=AttributionWindow(START, END, GENERATED),
        funnel=Section((FunnelStep(1, "visited", 1000, 1.0), FunnelStep(2, "viewed product", 600, 0.6),
                        FunnelStep(3, "added to cart", 250, 0.25), FunnelStep(4, "purchased", 90, 0.09))),
        touches_to_convert=Section(tuple(
            TouchBucket(t, b, b / 100, 0.86) for t, b in
            (("1", 14), ("2", 20), ("3", 18), ("4", 12), ("5", 9), ("6", 7), ("7", 6), ("8", 5), ("9", 4),
             ("10+", 5)))),
        top_paths=Section((PathRow("display > web", 300, 45, 0.15, 4500.5),
                           PathRow(f"email > {hostile}", 120, 30, 0.25, 2999.99),
                           PathRow("search > web > email > web > $promo$ > store", 80, 8, 0.1, None))),
        cross_device=Section(tuple(DayShare(date(2026, 1, d), 20 + d, d, d / (20 + d)) for d in range(1, 8))),
        contact_frequency=Section((FrequencyBand("0-1", 500, 2, 0.004), FrequencyBand("2-3", 300, 3, 0.01),
                                   FrequencyBand("4-6", 100, 4, 0.04), FrequencyBand("7+", 20, 3, 0.15))),
        channels=Section((ChannelRow("email", 400, 40, 0.1, 45, 4000.0, 88.89),
                          ChannelRow(hostile, 10, 1, 0.1, 1, 5.0, 5.0),
                          ChannelRow("store", None, None, None, 12, 1200.0, 100.0))),
        experiments=Section((
            Experiment("checkout_button", (
                Variant("control", 500, 50, 0.1, 0.075, 0.13, 10.0, 7.5, 12.5, 0.2, 0.3),
                Variant("green", 510, 61, 0.1196, 0.093, 0.15, 11.0, 8.5, 13.8, 0.8, 0.7))),
            Experiment(hostile, (
                Variant("a", 100, 10, 0.1, 0.05, 0.17, 3.0, 1.0, 5.0, 0.3, 0.35),
                Variant(hostile, 100, 12, 0.12, 0.06, 0.2, 3.5, 1.2, 6.0, 0.4, 0.4),
                Variant("c", 100, 9, 0.09, 0.04, 0.16, None, None, None, 0.3, 0.25))),
            Experiment("empty_one", (), "no data in this time range"),
        )),
    )
