"""What every subcommand receives: settings loaded on first use, so `--help` works with a bad environment."""

from __future__ import annotations

import click

from infra.settings import Settings, load_settings


class LazySettings:
    _settings: Settings | None = None

    def get(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_settings = click.make_pass_decorator(LazySettings)
