"""`touchline optimize budget`: budget shares per channel and campaign by Thompson sampling (docs/optimization.md)."""

from __future__ import annotations

import click

from infra.cli.context import pass_settings
from infra.cli.schedule import run_every
from infra.cli.traffic import render
from infra.ops.when import Duration, iso

_COLUMNS = ["arm", "share", "p_best", "mean", "low", "high", "touches", "conversions", "revenue", "cost", "paid"]


def _names(text: str | None, option: str) -> tuple[str, ...] | None:
    """A comma-separated list; ``all`` (or unset for campaigns) = every arm with touches in the window."""
    if text is None or text.strip().lower() == "all":
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise click.BadParameter(f"{text!r}: name arms separated by commas, or all", param_hint=option)
    return names


def table(run) -> tuple[list[str], list[tuple]]:  # noqa: ANN001 - sinks.budget_job.BudgetRun
    """One row per compared arm, the highest share first (cost in currency units)."""
    rows = [(r.arm, round(r.share, 4), round(r.p_best, 4), f"{r.mean:.4g}", f"{r.low:.4g}", f"{r.high:.4g}",
             r.evidence.touches, round(r.evidence.conversions, 2), round(r.evidence.revenue, 2),
             None if r.evidence.cost_micros is None else round(r.evidence.cost_micros / 1e6, 2),
             r.evidence.paid_touches) for r in run.allocation.recommendations]
    return _COLUMNS, sorted(rows, key=lambda row: (-row[1], row[0]))


@click.group()
def optimize() -> None:
    """Live optimization jobs (docs/optimization.md)."""


@optimize.command("budget")
@click.option("--every", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Seconds between runs; a failed run (ClickHouse or Kafka down) is logged and retried with "
                   "backoff, the loop goes on until interrupted.")
@click.option("--once", is_flag=True, help="One run, then exit (errors exit 2).")
@click.option("--by", type=click.Choice(["channel", "campaign", "both"]), default="both", show_default=True,
              help="Arms: channels, campaigns, or one run of each.")
@click.option("--window", type=Duration(), default="7d", show_default=True,
              help="Evidence: touches and conversions of this long before the run (1h .. 90d).")
@click.option("--channels", default=None, metavar="LIST|all",
              help="Channels to compare, comma-separated. [default: the channels that spend budget: "
                   "email, sms, push, display, video, retail_media, paid_search, social, affiliate]")
@click.option("--campaigns", default=None, metavar="LIST|all",
              help="Campaigns to compare. [default: all with touches in the window]")
@click.option("--objective", type=click.Choice(["conversions", "revenue"]), default="conversions",
              show_default=True, help="What an arm earns: credited conversions, or credited revenue.")
@click.option("--per", "basis", type=click.Choice(["touch", "cost"]), default="touch", show_default=True,
              help="Per touch, or per currency unit spent (then only arms with cost events are compared).")
@click.option("--explore", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Share of the budget spread evenly over the arms: each keeps at least explore / arms.")
@click.option("--draws", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True,
              help="Posterior draws per run.")
@click.option("--prior-conversions", type=click.FloatRange(0, 1000, min_open=True), default=1.0,
              show_default=True, help="Weight of the prior (centred on the pooled rate), in conversions.")
@click.option("--dry-run", is_flag=True, help="Compute and print; publish nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="How --once prints the shares.")
@pass_settings
def budget(lazy, every: float, once: bool, by: str, window: int, channels: str | None,  # noqa: ANN001
           campaigns: str | None, objective: str, basis: str, explore: float, draws: int,
           prior_conversions: float, dry_run: bool, fmt: str) -> None:
    """Recommend budget shares per channel and campaign, publish them to recommendations.budget.

    Each run reads the evidence window from ClickHouse (sessions, journeys,
    touchpoints with cost), credits conversions linearly over each journey's
    sessions, runs Thompson sampling and publishes one record per arm; the
    sink writes them to budget_recommendations (budget_recommendations_latest:
    the run in force). Runs every minute until interrupted; --once for one.
    """
    from sinks.budget_job import BudgetOptions, run_budget
    from streams.optimization.arms import BUDGET_CHANNELS
    from sinks.clickhouse import connect
    from streams.optimization.bandit import BanditSettings
    from streams.optimization.exceptions import BudgetError
    from streams.sessions.policy import session_policy_from_settings

    try:  # every option is checked before the first run: a scheduled loop never fails on one
        options = BudgetOptions(
            kinds=("channel", "campaign") if by == "both" else (by,), window_ms=window * 1000,
            channels=BUDGET_CHANNELS if channels is None else _names(channels, "--channels"),
            campaigns=_names(campaigns, "--campaigns"),
            bandit=BanditSettings(draws=draws, explore=explore, prior_conversions=prior_conversions,
                                  objective=objective, basis=basis))
    except BudgetError as exc:
        raise click.UsageError(str(exc)) from None

    def one_run() -> str:
        settings = lazy.get()
        runs = run_budget(connect(settings), settings, session_policy_from_settings(settings), options,
                          publish_records=not dry_run)
        lines = []
        for run in runs:
            if run.allocation is None:
                lines.append(f"{run.kind}: nothing to compare in the window (no touches of the arms asked for)")
                continue
            if once:
                click.echo(render(*table(run), fmt))
            top = ", ".join(f"{r.arm} {r.share:.2f}" for r in sorted(run.allocation.recommendations,
                                                                     key=lambda r: -r.share)[:4])
            lines.append(f"{run.kind} run {run.run_id} at {iso(run.run_at)}: {len(run.records)} arms "
                         f"({top}); evidence {iso(run.window_start)} .. {iso(run.window_end)}, "
                         f"{run.evidence.conversions} conversions"
                         + (" (dry run: not published)" if dry_run else ""))
        if once and fmt != "table":  # stdout stays machine-readable
            click.echo("\n".join(lines), err=True)
            return ""
        return "\n".join(lines)

    run_every(one_run, None if once else every, "budget run")


COMMANDS = [optimize]
