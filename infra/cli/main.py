"""`touchline`: run, watch and feed the pipeline. Every subcommand explains itself with --help."""

from __future__ import annotations

import logging
import os
import sys

import click

from infra.cli import attribution, config_cmd, dev, identity, kpi, ops, optimize, pipeline, report, traffic
from infra.cli.context import LazySettings
from infra.exceptions import TouchlineError


class _Group(click.Group):
    """Turns Touchline's own errors into one clear line and exit code 2 (no traceback)."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except TouchlineError as exc:
            click.echo(f"touchline: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--log-level", default=lambda: os.environ.get("TOUCHLINE_LOG_LEVEL", "WARNING"),
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              show_default="WARNING or $TOUCHLINE_LOG_LEVEL", help="Log verbosity (stderr).")
@click.pass_context
def cli(ctx: click.Context, log_level: str) -> None:
    """Touchline: omnichannel touchpoints from Kafka, through Faust stages, into ClickHouse.

    Settings come from TOUCHLINE_* environment variables (`touchline config`
    lists them). Without TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS and
    TOUCHLINE_CLICKHOUSE_URL the local dev stack (`touchline dev up`) is used.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = LazySettings()


for _module in (attribution, config_cmd, dev, identity, kpi, ops, optimize, pipeline, report, traffic):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="touchline")


if __name__ == "__main__":
    main()
