"""Errors of live optimization (contact policy, decisions, segment definitions)."""

from __future__ import annotations

from infra.exceptions import ConfigError


class PolicyError(ConfigError):
    """The contact policy file cannot be used; the message names the file, the field and the problem."""


class SegmentsError(ConfigError):
    """The segment definitions cannot be used; the message names the file, the segment, the field and the problem."""


class BudgetError(ConfigError):
    """The budget recommendation cannot be computed as asked; the message names the setting or option and the fix."""
