"""`touchline config`: the effective settings, secrets masked."""

from __future__ import annotations

import click

from infra.cli.context import pass_settings
from infra.settings import ENV_PREFIX


@click.command()
@pass_settings
def config(lazy) -> None:  # noqa: ANN001
    """Print every setting with its environment variable and effective value (secrets masked)."""
    for name, value in lazy.get().masked().items():
        click.echo(f"{ENV_PREFIX}{name.upper():32} {value}")


COMMANDS = [config]
