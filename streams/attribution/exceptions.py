"""Errors of the attribution models."""

from __future__ import annotations

from infra.exceptions import TouchlineError


class AttributionError(TouchlineError, ValueError):
    """A model was asked something it cannot answer; the message says what to change."""

