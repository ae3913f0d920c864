"""`touchline status` and `touchline dlq show|replay`: what on-call runs (docs/runbook.md)."""

from __future__ import annotations

import json

import click

from infra.cli.context import pass_settings
from infra.ops.when import Duration, When, iso
from schemas.reasons import RejectReason

REASONS = click.Choice([r.value for r in RejectReason])
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


@click.command()
@FORMAT
@click.option("--max-lag", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Unhealthy when a partition of the worker or sink group lags more than this many messages.")
@click.option("--min-members", type=click.IntRange(min=0), default=1, show_default=True,
              help="Unhealthy when the worker or the sink group has fewer live members.")
@click.option("--window", "window_s", type=Duration(), default="1h", show_default=True,
              help="Dead letters are counted in this recent window and in total.")
@pass_settings
@click.pass_context
def status(ctx: click.Context, lazy, fmt: str, max_lag: int, min_members: int, window_s: int) -> None:  # noqa: ANN001
    """One screen for on-call: consumer lag and live members of the worker and sink groups,
    dead letters by reason and stage, and the last flush into each ClickHouse table.

    \b
    Exit code: 0 healthy; 1 unhealthy (no live member in a group, lag above
    --max-lag, a topic or table missing); 2 bad settings; 3 Kafka or ClickHouse
    unreachable or without an address (what the other one said is still printed,
    with the setting to check).
    """
    from infra.ops.status import collect, render_table

    report = collect(lazy.get(), max_lag=max_lag, min_members=min_members, window_s=window_s)
    click.echo(report.to_json() if fmt == "json" else render_table(report))
    ctx.exit(report.exit_code)


@click.group()
def dlq() -> None:
    """Dead letters: list them (ClickHouse rejects table) and replay them (Kafka rejects topic)."""


@dlq.command()
@click.option("--reason", type=REASONS, default=None, help="Only this reject reason.")
@click.option("--stage", default=None, help="Only this stage (ingest, identity, sessions, journeys, sink).")
@click.option("--since", type=When(), default=None, help="Rejected at or after: 30m, 1h, 2d or ISO-8601 (UTC).")
@click.option("--until", type=When(), default=None, help="Rejected before this (same forms).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="Newest N shown.")
@FORMAT
@pass_settings
def show(lazy, reason, stage, since, until, limit: int, fmt: str) -> None:  # noqa: ANN001
    """List dead letters, newest first: reason, detail, source position, time and a safe preview
    of the original bytes (printable characters only, e-mails and phone-like digits masked)."""
    from infra.cli.traffic import render
    from infra.ops.preview import hex_head, preview
    from infra.ops.store import DlqFilter, Store
    from sinks.clickhouse import connect

    settings = lazy.get()
    client = connect(settings)
    try:
        total, rows = Store(client, settings.clickhouse_database, settings.clickhouse_timeout_s).dead_letters(
            DlqFilter(reason, stage, since, until), limit)
    finally:
        client.close()
    if fmt == "json":
        click.echo(json.dumps({"matching": total, "shown": len(rows), "dead_letters": [{
            "rejected_at": iso(r.rejected_at), "reason": r.reason, "stage": r.stage, "field": r.field,
            "event_id": r.event_id, "detail": r.detail, "source_topic": r.source_topic,
            "source_partition": r.source_partition, "source_offset": r.source_offset,
            "payload_bytes": r.payload_bytes, "payload_hex": hex_head(r.head), "payload_preview": preview(r.head),
            "replay_of": r.replay_of,
        } for r in rows]}, indent=2))
        return
    click.echo(f"{total} dead letter(s) match; the newest {len(rows)} shown")
    if rows:
        click.echo(render(
            ["rejected_at", "reason", "stage", "source", "field", "bytes", "preview", "detail"],
            [(iso(r.rejected_at), r.reason, r.stage, f"{r.source_topic}[{r.source_partition}]@{r.source_offset}",
              r.field, r.payload_bytes, preview(r.head, 32), _cut(r.detail, 80)) for r in rows]))


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


@dlq.command()
@click.option("--reason", type=REASONS, required=True, help="Replay the dead letters with this reason.")
@click.option("--since", type=When(), default=None, help="Rejected at or after: 30m, 1h, 2d or ISO-8601 (UTC).")
@click.option("--until", type=When(), default=None, help="Rejected before this (same forms).")
@click.option("--dry-run", is_flag=True, help="Read and count, send nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most this many events.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Give up reading after this many seconds (the counts say how far it got).")
@FORMAT
@pass_settings
@click.pass_context
def replay(ctx: click.Context, lazy, reason, since, until, dry_run: bool, limit, timeout_s: float,  # noqa: ANN001
           fmt: str) -> None:
    """Send dead-lettered raw events back to the raw topic, once their cause is fixed.

    Reads the rejects topic up to the end offsets seen at start (never what
    arrives meanwhile), keeps the ingest dead letters with --reason (and the
    time window), and produces each original value, key and headers to the raw
    topic with the header touchline-replay-of: <topic>/<partition>/<offset>.
    Each original is sent once per run. Exit code 1 if the read stopped early
    (timeout) or a send failed.
    """
    from infra.ops.replay import ReplaySelection
    from infra.ops.replay import replay as run
    from infra.progress import Progress

    progress = Progress("replay: dead letters read", interval=2.0)

    def on_progress(report, total: int, force: bool = False) -> None:  # noqa: ANN001
        progress.total = total or None
        progress.update(report.scanned, f"matched {report.matched}, sent {report.sent}", force=force)

    report = run(lazy.get(), ReplaySelection(reason, None, since, until, limit), dry_run=dry_run,
                 timeout_s=timeout_s, on_progress=on_progress)
    on_progress(report, sum(end - start for start, end in report.ranges.values()), force=True)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        verb = "would replay" if dry_run else "replayed"
        click.echo(f"scanned {report.scanned} dead letter(s) in {report.rejects_topic}, matched {report.matched} "
                   f"(reason {reason}), {verb} {report.replayed} to {report.raw_topic} in {report.seconds:.1f}s")
        click.echo(f"  duplicates of an original already sent: {report.duplicates}; from later stages (not "
                   f"replayable): {report.not_from_raw}; undecodable: {report.undecodable}; failed: {report.failed}")
        if dry_run:
            click.echo("  dry run: nothing was sent")
    if report.stopped_by == "limit":
        click.echo(f"touchline: stopped at --limit {limit}: later dead letters were not read", err=True)
    elif report.stopped_by == "timeout":
        click.echo(f"touchline: incomplete: --timeout {timeout_s:g}s passed before the end offsets captured at "
                   "start were read; run again with a larger --timeout or a narrower --since/--until "
                   "(an original sent now would be sent again)", err=True)
    for error in report.first_errors:
        click.echo(f"touchline: {error}", err=True)
    ctx.exit(1 if report.stopped_by == "timeout" or report.failed else 0)


COMMANDS = [status, dlq]
