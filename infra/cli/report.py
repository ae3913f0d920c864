"""`touchline report`: the KPIs, attribution and experiments as one self-contained HTML page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from infra.cli.context import pass_settings
from infra.ops.when import When, iso

DEFAULT_DAYS = 30


def report_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end): by default the 30 days up to now (the attribution job's default window too)."""
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise click.BadParameter(f"--from ({iso(start)}) must be before --to ({iso(end)})", param_hint="--from")
    return start, end


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="The HTML file to write (its folder is created).")
@click.option("--from", "start", type=When(), default=None,
              help="Events at or after: 30d (ago) or ISO-8601 UTC. [default: 30 days before --to]")
@click.option("--to", "end", type=When(), default=None, help="Events before this. [default: now]")
@click.option("--experiment", "experiments", multiple=True, metavar="ID",
              help="Report this experiment (repeatable). [default: every experiment seen in the range]")
@pass_settings
def report(lazy, out: Path, start: datetime | None, end: datetime | None,  # noqa: ANN001
           experiments: tuple[str, ...]) -> None:
    """Write one HTML page with the analyst figures: attribution by model, funnel, touches to convert,
    top paths, cross-device share, contact frequency vs unsubscribes, experiments.

    Self-contained (inline SVG and CSS, no script, nothing fetched): open it
    offline or mail it. Each figure names its query and has its numbers in a
    table below it. Attribution shows the latest `touchline attribution run`.
    Prints the path written.
    """
    from sinks.clickhouse import connect
    from sinks.report import write_report

    settings = lazy.get()
    start, end = report_window(start, end)
    data = write_report(connect(settings), settings.clickhouse_database, out, start, end, list(experiments) or None)
    for problem in data.problems():
        click.echo(f"touchline: warning: report section {problem}", err=True)
    click.echo(str(out))


COMMANDS = [report]
