"""`touchline dev up|down|status` and `touchline store`: the local Kafka broker and ClickHouse store."""

from __future__ import annotations

import click

from infra.cli.context import pass_settings


@click.group()
def dev() -> None:
    """The local dev stack: a real Kafka broker (KRaft, from Maven Central) and `touchline store`.

    State lives under TOUCHLINE_DATA_DIR/dev; settings left unset point here.
    """


@dev.command()
@click.option("--kafka-port", type=int, default=None, help="Broker port (default: a free one).")
@click.option("--store-port", type=int, default=None, help="Store HTTP port (default: a free one).")
@pass_settings
def up(lazy, kafka_port: int | None, store_port: int | None) -> None:  # noqa: ANN001
    """Start the broker and the store (fetching the Kafka jars once), create topics, apply DDL."""
    from infra.devstack import DevStack

    stack = DevStack(lazy.get())
    status = stack.up(kafka_port=kafka_port, store_port=store_port, log=lambda m: click.echo(m, err=True))
    click.echo(status.render())


@dev.command()
@pass_settings
def down(lazy) -> None:  # noqa: ANN001
    """Stop the local broker and store (data is kept; `rm -r TOUCHLINE_DATA_DIR/dev` wipes it)."""
    from infra.devstack import DevStack

    DevStack(lazy.get()).down(log=lambda m: click.echo(m, err=True))


@dev.command()
@pass_settings
def status(lazy) -> None:  # noqa: ANN001
    """Show whether the local broker and store run, and their addresses."""
    from infra.devstack import DevStack

    click.echo(DevStack(lazy.get()).status().render())


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="chDB data directory (default: TOUCHLINE_DATA_DIR/dev/store).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8123, show_default=True)
@pass_settings
def store(lazy, data_dir: str | None, host: str, port: int) -> None:  # noqa: ANN001
    """Run the embedded ClickHouse (chDB) behind a ClickHouse HTTP endpoint, in the foreground.

    One process owns a chDB data directory; workers, the CLI and analysts'
    tools (clickhouse-connect, curl, any ClickHouse HTTP client) go through it.
    """
    from pathlib import Path

    from infra.store.__main__ import serve

    directory = Path(data_dir) if data_dir else lazy.get().dev_dir / "store"
    serve(directory, host=host, port=port)


COMMANDS = [dev, store]
