"""Instants on the command line: ``30m``, ``1h``, ``2d`` (ago) or ISO-8601 (naive = UTC)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import click

_AGO = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``text`` as an aware UTC datetime; ValueError naming the accepted forms otherwise."""
    match = _AGO.match(text)
    if match:
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration ago (30m, 1h, 2d, 90s) nor an ISO-8601 time "
            "(2026-01-31T12:00:00Z; without an offset it is UTC)"
        ) from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class When(click.ParamType):
    """Click type for parse_when."""

    name = "WHEN"

    def convert(self, value, param, ctx) -> datetime:  # noqa: ANN001
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with milliseconds and Z (ClickHouse hands back naive UTC datetimes)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_duration(text: str) -> int:
    """``30m`` / ``1h`` / ``2d`` / ``90s`` in seconds."""
    match = _AGO.match(text)
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h, 2d or 90s")
    return int(timedelta(**{_UNITS[match[2]]: int(match[1])}).total_seconds())


class Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value, param, ctx) -> int:  # noqa: ANN001
        if isinstance(value, int):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
