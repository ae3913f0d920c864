"""KPI errors: each says what was wrong and what is allowed."""

from __future__ import annotations

from infra.exceptions import TouchlineError


class KpiError(TouchlineError):
    """An unknown KPI, a bad or missing parameter: nothing was queried."""
