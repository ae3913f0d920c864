"""The scheduled-job loop: fixed rate, failures logged and retried with backoff, never the end of the loop."""

from __future__ import annotations

import logging

import click
import pytest

from infra.cli.schedule import retry_delay, run_every
from infra.exceptions import ConfigError


class Clock:
    """A fake clock that sleep() advances: the loop's waits are observed, never slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_backoff_doubles_from_five_seconds_up_to_the_period() -> None:
    assert [retry_delay(n, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert [retry_delay(n, 3) for n in range(1, 3)] == [3, 3]  # a period shorter than the first retry


def test_failed_runs_are_logged_and_retried_and_the_loop_goes_on(caplog) -> None:  # noqa: ANN001
    clock, lines = Clock(), []
    outcomes = iter([ConfigError("cannot reach ClickHouse at http://x:8123 (TOUCHLINE_CLICKHOUSE_URL)"),
                     RuntimeError("query died"), "run 3", "run 4", OSError("broker gone"), "run 6"])

    def run() -> str:
        clock.now += 2.0  # each run takes 2 s
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with caplog.at_level(logging.WARNING, logger="infra.cli.schedule"):
        run_every(run, 60, "budget run", sleep=clock.sleep, clock=lambda: clock.now, echo=lines.append, max_runs=6)
    assert lines == ["run 3", "run 4", "run 6"]
    # backoff 5 then 10 after the two failures; fixed rate after a success (60 - 2); backoff restarts at 5.
    assert clock.sleeps == [5, 10, 58, 58, 5]
    messages = [r.getMessage() for r in caplog.records]
    assert "budget run failed (1 in a row): ConfigError: cannot reach ClickHouse" in messages[0]
    assert "retrying in 5 s" in messages[0]
    assert "budget run failed (2 in a row): RuntimeError: query died; retrying in 10 s" == messages[1]
    assert messages[2] == "budget run succeeded again after 2 failed run(s)"
    assert not caplog.records[0].exc_info  # Touchline's own errors say what to check: no traceback
    assert not caplog.records[1].exc_info  # a traceback only for the first failure in a row
    assert caplog.records[3].exc_info  # ... of another kind of error


def test_a_run_longer_than_the_period_is_followed_at_once() -> None:
    clock = Clock()

    def slow() -> str:
        clock.now += 90
        return "done"

    run_every(slow, 60, "slow run", sleep=clock.sleep, clock=lambda: clock.now, echo=lambda _: None, max_runs=3)
    assert clock.sleeps == [0, 0]


def test_a_single_run_propagates_its_error_and_a_usage_error_stops_the_loop() -> None:
    def broken() -> str:
        raise ConfigError("nope")

    with pytest.raises(ConfigError):
        run_every(broken, None, "once")

    def misused() -> str:
        raise click.UsageError("--window: too long")

    clock = Clock()
    with pytest.raises(click.UsageError):
        run_every(misused, 60, "budget run", sleep=clock.sleep, clock=lambda: clock.now, max_runs=5)
    assert clock.sleeps == []
