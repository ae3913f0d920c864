"""Errors of the operational layer: settings, local stack, CLI."""

from __future__ import annotations


class TouchlineError(Exception):
    """Root of every error Touchline raises on purpose. Messages say what to do."""


class ConfigError(TouchlineError):
    """A setting is missing or wrong; the message names it."""


class StackError(TouchlineError):
    """The local dev stack (broker, store) could not be started or reached."""
