"""Errors of live optimization (contact policy, decisions)."""

from __future__ import annotations

from infra.exceptions import ConfigError


class PolicyError(ConfigError):
    """The contact policy file cannot be used; the message names the file, the field and the problem."""
