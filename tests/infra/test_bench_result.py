"""The benchmarks' last line, `result: k=v ...`: one token per value, so a script can split and compare runs."""

from __future__ import annotations

import math

from infra.bench import BenchReport, Leg, result_line


def test_floats_keep_three_decimals_below_100_and_none_from_100_on() -> None:
    assert result_line({"ratio": 0.87654, "p50_ms": 42.0, "neg": -3.14159}) == \
        "result: ratio=0.877 p50_ms=42.000 neg=-3.142"
    assert result_line({"eps": 12345.6, "edge": 100.0, "big": 1e7}) == "result: eps=12346 edge=100 big=10000000"


def test_ints_print_as_ints_without_thousands_separators() -> None:
    assert result_line({"events": 1_000_000, "workers": 2, "zero": 0}) == "result: events=1000000 workers=2 zero=0"


def test_nan_prints_as_nan() -> None:
    assert result_line({"ratio": math.nan, "p99_ms": float("nan")}) == "result: ratio=nan p99_ms=nan"


def test_strings_as_is_with_spaces_as_underscores() -> None:
    assert result_line({"worst_kpi": "top_paths", "leg": "kpi daily rollup"}) == \
        "result: worst_kpi=top_paths leg=kpi_daily_rollup"


def test_keys_in_the_given_order() -> None:
    assert result_line({"b": 1, "a": 2.5}) == "result: b=1 a=2.500"


def test_the_bench_report_ends_with_its_result_line() -> None:
    baseline = Leg("baseline", events=8000, seconds=1.0, total_events=10_000, total_seconds=2.0,
                   latency_ms=[10.0] * 100)
    pipeline = Leg("pipeline", events=4000, seconds=1.0, total_events=10_000, total_seconds=4.0, startup_seconds=1.5,
                   latency_ms=[], drained_seconds=5.0, journey_latency_ms=[250.0])
    report = BenchReport(events=10_000, workers=2, baseline=baseline, pipeline=pipeline, live_rate=500.0)
    assert report.render().splitlines()[-1] == report.result_line() == (
        "result: ratio_total=0.500 ratio_steady=0.500 ratio_drained=0.400 drained_eps=2000 steady_eps=4000 "
        "total_eps=2500 baseline_eps=5000 startup_s=1.500 p50_ms=nan p99_ms=nan baseline_p99_ms=10.000 "
        "p99_sessions_ms=nan p99_journeys_ms=250 session_rows=0 journey_rows=1 live_rate=500 events=10000 "
        "workers=2")
