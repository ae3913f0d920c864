"""`touchline produce | simulate | demo | bench`: feed the pipeline and look at the result (`kpi`: infra/cli/kpi.py)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from infra.cli.context import pass_settings


@click.command()
@click.argument("source", type=click.File("r"), default="-")
@pass_settings
def produce(lazy, source) -> None:  # noqa: ANN001
    """Validate and send touchpoints, one JSON object per line, from SOURCE (default stdin).

    A line that is not JSON or not a valid touchpoint is reported (its number
    and the field) and nothing from it is sent; the other lines still go. At
    the end a summary; the exit code is 1 if any line was refused.
    Datetimes: ISO-8601 or epoch millis; money: strings.
    """
    from streams.produce import InvalidTouchpoint, TouchpointProducer

    sent, refused, first_refused = 0, 0, []  # line numbers of the first 20 refused (bounded)
    with TouchpointProducer(lazy.get()) as producer:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                producer.send(json.loads(line))
            except (json.JSONDecodeError, InvalidTouchpoint) as exc:
                refused += 1
                first_refused += [number][:20 - len(first_refused)]
                problem = f"not JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                click.echo(f"line {number}: {problem} (nothing sent from this line)", err=True)
                continue
            sent += 1
    click.echo(f"sent {sent} event(s) to {producer.topic}", err=True)
    if refused:
        shown = ", ".join(map(str, first_refused)) + (" ..." if refused > len(first_refused) else "")
        raise click.ClickException(f"{refused} line(s) refused (line {shown}): fix them and send those again")


@click.command()
@click.option("--events", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Messages to produce (malformed included).")
@click.option("--people", type=click.IntRange(min=1), default=None, help="Population size (default: sized to --events).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--days", type=click.FloatRange(min=0.01, max=89), default=30, show_default=True,
              help="Simulated span of event time, ending now.")
@click.option("--malformed-share", type=click.FloatRange(0, 1), default=0.01, show_default=True)
@click.option("--rate", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Messages per second (0 = as fast as possible).")
@click.option("--truth", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the ground truth (who is who, true journeys) to this JSONL file.")
@pass_settings
def simulate(lazy, events, people, seed, days, malformed_share, rate, truth) -> None:  # noqa: ANN001
    """Produce realistic omnichannel traffic (people, devices, journeys, purchases) to the raw topic."""
    from datetime import timedelta

    from infra.traffic import produce_simulation
    from streams.simulator import SimulationConfig, TruthWriter

    end = datetime.now(timezone.utc)
    config = SimulationConfig(seed=seed, people=people, events=events, start=end - timedelta(days=days), end=end,
                              malformed_share=malformed_share)
    writer = TruthWriter(truth) if truth else None
    try:
        report = produce_simulation(lazy.get(), config, writer, rate=rate or None, show_progress=True, keep_ids=False)
    finally:
        if writer:
            writer.close()
    click.echo(f"produced {report.messages} messages ({len(report.malformed)} malformed) "
               f"in {report.seconds:.1f}s" + (f"; truth in {truth}" if truth else ""), err=True)


def render(columns: list[str], rows: list[tuple], fmt: str = "table") -> str:
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, row)), default=str) for row in rows)
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command()
@click.option("--events", type=click.IntRange(min=100), default=20_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--timeout", type=float, default=300, show_default=True, help="Seconds to wait until queryable.")
@pass_settings
def demo(lazy, events: int, seed: int, timeout: float) -> None:  # noqa: ANN001
    """Start the local stack, run a worker, simulate traffic, wait until queryable, print KPIs."""
    from infra.demo import run_demo

    sys.exit(run_demo(lazy.get(), events=events, seed=seed, timeout=timeout))


@click.command()
@click.option("--events", type=click.IntRange(min=1000), default=100_000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 8), default=1, show_default=True)
@click.option("--sink-mode", type=click.Choice(["process", "thread", "split"]), default="process", show_default=True,
              help="process: each worker's sink child (the default layout); thread: the sink inside each worker; "
                   "split: each `worker --no-sink` beside its own `touchline sink`.")
@click.option("--live-rate", type=click.FloatRange(min=10), default=2000, show_default=True,
              help="Events/s of the paced phase that measures latency.")
@pass_settings
def bench(lazy, events: int, workers: int, sink_mode: str, live_rate: float) -> None:  # noqa: ANN001
    """Benchmark: raw confluent-kafka + fastavro + ClickHouse baseline vs the pipeline, same run.

    Prints ev/s for both, the ratio, and event->queryable latency p50/p99.
    Needs the local stack (`touchline dev up`) or configured Kafka/ClickHouse.
    """
    from infra.bench import run_bench

    click.echo(run_bench(lazy.get(), events=events, workers=workers, sink_mode=sink_mode, live_rate=live_rate).render())


COMMANDS = [produce, simulate, demo, bench]
