"""`touchline kpi`: the KPI library (sinks/kpi/*.sql), experiment results and the rollup backfill."""

from __future__ import annotations

from datetime import date, datetime

import click

from infra.cli.context import pass_settings
from infra.cli.traffic import render

EXPERIMENT, LIST, BACKFILL = "experiment", "list", "rollup-backfill"
_DIMENSIONS = ("channel", "campaign", "device", "segment")  # sinks.kpi.DIMENSIONS (imported lazily)


class IsoTime(click.ParamType):
    """An ISO-8601 date or time; without an offset it is UTC."""

    name = "ISO"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        if isinstance(value, datetime | date):
            return value
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"expected an ISO-8601 date or time such as 2026-03-01, 2026-03-01T10:00:00Z or "
                      f"2026-03-01T12:00:00+02:00 (UTC without an offset), got {value!r}", param, ctx)


@click.command()
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--from", "start", type=IsoTime(), help="Start, inclusive (default 1970-01-01), UTC without an offset.")
@click.option("--to", "end", type=IsoTime(), help="End, exclusive (default now + 1 day).")
@click.option("--by", type=click.Choice(_DIMENSIONS), default=None,
              help="Dimension of the KPIs that have one (default channel); segment: the person's real-time "
                   "segments now, one row per segment.")
@click.option("--id", "experiment_id", metavar="EXPERIMENT", help="The experiment (kpi experiment, experiment_variants).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--list", "list_", is_flag=True, help="List the KPIs with their descriptions.")
@pass_settings
def kpi(lazy, name: str | None, start, end, by: str | None, experiment_id: str | None, fmt: str,  # noqa: ANN001
        list_: bool) -> None:
    """Run KPI NAME over [--from, --to), or `experiment --id EXP`, or `list`.

    \b
    touchline kpi list                                   every KPI, its description, whether --by applies
    touchline kpi conversion_rate --from 2026-03-01 --to 2026-04-01 --by campaign
    touchline kpi experiment --id exp-checkout-flow      variants: rates, 95% intervals, P(best)
    touchline kpi rollup-backfill [--from --to]          add stored touchpoints to the hourly rollups

    Definitions of every KPI and column: docs/analysts.md.
    """
    from sinks import kpi as kpis

    if list_ or name in (None, LIST):
        rows = [(n, "yes" if kpis.has_dimension(n) else "", kpis.describe(n)) for n in kpis.available()]
        rows += [(EXPERIMENT, "", "Each variant's conversion rate and revenue per profile with 95% intervals "
                                  "and the probability it is best (--id)"),
                 (BACKFILL, "", "Add the stored touchpoints of [--from, --to) to the hourly rollups (replay-safe)")]
        click.echo(render(["kpi", "--by", "description"], rows, fmt))
        return
    if name not in (*kpis.available(), EXPERIMENT, BACKFILL):
        raise click.BadParameter(f"no KPI named {name!r}; available: {', '.join(kpis.available())}, "
                                 f"{EXPERIMENT}, {BACKFILL} (`touchline kpi list` describes them)",
                                 param_hint="NAME")
    if by is not None and (name in (EXPERIMENT, BACKFILL) or not kpis.has_dimension(name)):
        with_by = [n for n in kpis.available() if kpis.has_dimension(n)]
        raise click.BadParameter(f"does not apply to {name}; KPIs with --by: {', '.join(with_by)}",
                                 param_hint="'--by'")
    takes_id = name == EXPERIMENT or (name in kpis.available() and "experiment_id" in kpis.parameters(name))
    if experiment_id is not None and not takes_id:
        raise click.BadParameter(f"applies to {EXPERIMENT} and experiment_variants, not to {name}",
                                 param_hint="'--id'")
    if takes_id and not experiment_id:
        raise click.UsageError(f"kpi {name} needs --id EXPERIMENT (an experiment id of touchpoints.experiments)")

    from sinks.clickhouse import connect

    settings = lazy.get()
    client, database = connect(settings), settings.clickhouse_database
    if name == BACKFILL:
        from sinks.kpi.rollups import backfill

        click.echo(f"rolled up {backfill(client, database, start, end)} stored touchpoint row(s) into "
                   f"{database}.kpi_hourly_state", err=True)
        return
    if name == EXPERIMENT:
        from sinks.kpi.experiments import experiment_report

        columns, rows = experiment_report(client, database, experiment_id, start, end)
        if not rows:
            click.echo(f"no profile exposed to experiment {experiment_id!r} in the range", err=True)
    else:
        columns, rows = kpis.run(client, name, database, start, end, by, experiment_id=experiment_id)
    click.echo(render(columns, rows, fmt))


COMMANDS = [kpi]
