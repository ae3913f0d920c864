"""Fault tests: each records its figures; the run ends with them in one table (docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.load import Accounting

_FIGURES: list[tuple[str, Accounting, float | None, str]] = []
_SECONDS: dict[str, float] = {}  # per fault test: setup + call + teardown
BUDGET_S = 15 * 60  # issue 8: the fault tests together, in CI


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``record_figures(accounting, recovery_s, note)``: one row of the reliability table for this test."""

    def record(accounting: Accounting, recovery_s: float | None = None, note: str = "") -> None:
        _FIGURES.append((request.node.name, accounting, recovery_s, note))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A conftest hook: called for the tests of this directory only.
    _SECONDS[report.nodeid] = _SECONDS.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if _SECONDS:
        total = sum(_SECONDS.values())
        terminalreporter.write_line(f"fault tests: {len(_SECONDS)} in {total / 60:.1f} min together "
                                    f"(setup, call and teardown; budget {BUDGET_S // 60} min)"
                                    + ("" if total <= BUDGET_S else " - OVER BUDGET"))
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures (docs/reliability.md)")
    terminalreporter.write_line("| test | events in | in ClickHouse | in DLQ | lost | duplicated | redone rows "
                                "| recovery s | note |")
    terminalreporter.write_line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, a, recovery, note in _FIGURES:
        seconds = "" if recovery is None else f"{recovery:.1f}"
        terminalreporter.write_line(f"| {name} | {a.events_in:,} | {a.in_clickhouse:,} | {a.in_dlq:,} | {a.lost} "
                                    f"| {a.duplicated} | {a.redone_rows:,} | {seconds} | {note} |")
