"""`touchline attribution`: credit per channel or campaign under each model (docs/attribution.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

from infra.cli.context import pass_settings
from infra.cli.schedule import run_every
from infra.cli.traffic import render
from infra.ops.when import When, iso
from streams.attribution.registry import MODELS

_MODEL_NAMES = tuple(MODELS)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise click.BadParameter(f"--from ({iso(start)}) must be before --to ({iso(end)})", param_hint="--from")
    return start, end


def _params(half_life_days: float | None, position_weights: str | None) -> dict[str, dict]:
    params: dict[str, dict] = {}
    if half_life_days is not None:
        params["time_decay"] = {"half_life_ms": int(half_life_days * 86_400_000)}
    if position_weights is not None:
        try:
            weights = tuple(float(w) for w in position_weights.split(","))
        except ValueError:
            weights = ()
        if len(weights) != 3:
            raise click.BadParameter(f"{position_weights!r}: give first,middle,last shares, e.g. 0.4,0.2,0.4",
                                     param_hint="--position-weights")
        params["position_based"] = {"weights": weights}
    return params


def _options(function):  # noqa: ANN001, ANN202 - the window and model parameters every form takes
    for option in reversed((
        click.option("--from", "start", type=When(), default=None,
                     help="Conversions at or after: 30d (ago) or ISO-8601 UTC. [default: 30 days before --to]"),
        click.option("--to", "end", type=When(), default=None, help="Conversions before this. [default: now]"),
        click.option("--lookback-days", type=click.FloatRange(min=0, min_open=True, max=90), default=30,
                     show_default=True, help="Touches at most this long before the conversion earn credit."),
        click.option("--half-life-days", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="time_decay: credit halves every half-life. [default: 7]"),
        click.option("--position-weights", default=None, metavar="FIRST,MIDDLE,LAST",
                     help="position_based shares. [default: 0.4,0.2,0.4]"),
    )):
        function = option(function)
    return function


def _run(lazy, start, end, lookback_days, half_life_days, position_weights, models, save: bool):  # noqa: ANN001, ANN202
    from sinks.attribution_job import run_attribution
    from sinks.clickhouse import connect
    from streams.attribution.exceptions import AttributionError
    from streams.sessions.policy import session_policy_from_settings

    settings = lazy.get()
    start, end = _window(start, end)
    try:
        return run_attribution(connect(settings), settings.clickhouse_database,
                               session_policy_from_settings(settings), start, end, lookback_days, models,
                               _params(half_life_days, position_weights), save=save)
    except AttributionError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(invoke_without_command=True)
@click.option("--model", type=click.Choice(("all", *_MODEL_NAMES)), default="all", show_default=True)
@click.option("--by", type=click.Choice(["channel", "campaign"]), default="channel", show_default=True)
@_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def attribution(ctx: click.Context, model: str, by: str, start, end, lookback_days: float,  # noqa: ANN001
                half_life_days, position_weights, fmt: str) -> None:  # noqa: ANN001
    """Credit for the conversions in a window, per channel (or campaign), under one model or all.

    Computed now from the stored touchpoints (nothing is written; `touchline
    attribution run` writes a run to ClickHouse for the report and analysts).
    Journeys are rebuilt from each touch's current profile; a path has one
    touch per session (its landing), sends left out (docs/attribution.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    models = tuple(_MODEL_NAMES) if model == "all" else (model,)
    run = _run(ctx.obj, start, end, lookback_days, half_life_days,
               position_weights, models, save=False)
    click.echo(render(*credit_table(run, models, by), fmt))
    click.echo(f"{run.converted_paths} conversions ({run.conversions_value} revenue) in {run.paths} journeys "
               f"ending {iso(run.window_start)} .. {iso(run.window_end)}; {run.unattributed_conversions} "
               "without a touch in the lookback (unattributed)", err=True)


def credit_table(run, models: tuple[str, ...], by: str) -> tuple[list[str], list[tuple]]:  # noqa: ANN001
    """Rows of keys, a conversions column per model (one model: conversions, value, share)."""
    if len(models) == 1:
        credits = run.credits[(models[0], by)]
        total = credits.total_conversions or 1.0
        rows = sorted(((k, round(c, 4), round(credits.value[k], 2), round(c / total, 4))
                       for k, c in credits.conversions.items()), key=lambda r: (-r[1], r[0]))
        return [by, "conversions", "value", "share"], rows
    keys = sorted({k for m in models for k in run.credits[(m, by)].conversions})
    rows = [(k, *(round(run.credits[(m, by)].conversions.get(k, 0.0), 4) for m in models)) for k in keys]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [by, *models], rows


@attribution.command("run")
@_options
@click.option("--every", type=click.FloatRange(min=1), default=None,
              help="Run again every this many seconds, until interrupted, each run over the 30 days up to "
                   "then (--from/--to are not allowed with it); a failed run is logged and retried.")
@pass_settings
def run_command(lazy, start, end, lookback_days: float, half_life_days, position_weights,  # noqa: ANN001
                every: float | None) -> None:
    """Compute every model by channel and by campaign and write the run to ClickHouse.

    attribution_runs gets the run (window, paths, unattributed), attribution_credits
    its credits; attribution_latest shows the newest run. With --every it runs
    until interrupted, each run over the 30 days up to now.
    """
    if every is not None and (start is not None or end is not None):
        raise click.BadParameter("a scheduled run (--every) always covers the 30 days up to each run: "
                                 "leave out --from/--to", param_hint="--every")
    def once() -> str:
        run = _run(lazy, start, end, lookback_days, half_life_days, position_weights, _MODEL_NAMES, save=True)
        return (f"run {run.run_id}: {run.converted_paths} conversions in {run.paths} journeys ending "
                f"{iso(run.window_start)} .. {iso(run.window_end)}, {len(_MODEL_NAMES)} models, {run.seconds:.1f} s")

    run_every(once, every, "attribution run")  # a failed scheduled run is logged and retried (infra/cli/schedule.py)


COMMANDS = [attribution]
