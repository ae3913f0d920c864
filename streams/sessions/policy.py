"""Sessionization rules: inactivity timeout (per channel), maximum length, lateness, goals.

Defaults are the web-analytics conventions (30 minutes of inactivity, as
Google Analytics and Snowplow use; a 24 h cap on one session) and the
issue's lateness bound (10 minutes). docs/design/sessions.md explains each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.exceptions import ConfigError
from schemas.models import Channel

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

DEFAULT_GOALS = frozenset({"purchase", "subscription"})


@dataclass(frozen=True)
class SessionPolicy:
    timeout_ms: int = 30 * MINUTE_MS
    # Channel -> inactivity timeout after a touch on that channel (a store visit or a
    # call has no page views to keep it alive, so a shorter or longer gap may fit).
    channel_timeout_ms: Mapping[str, int] = field(default_factory=dict)
    max_length_ms: int = DAY_MS
    allowed_lateness_ms: int = 10 * MINUTE_MS
    goals: frozenset[str] = DEFAULT_GOALS
    # Journeys: touches this far before a conversion belong to its journey.
    lookback_ms: int = 30 * DAY_MS
    # Bounds one session key's state: touches older than this (behind the newest) are
    # forgotten, and at most this many are kept.
    retention_ms: int = 90 * DAY_MS
    max_touches_per_key: int = 5_000

    def __post_init__(self) -> None:
        unknown = set(self.channel_timeout_ms) - {c.value for c in Channel}
        if unknown:
            raise ValueError(f"session timeouts for unknown channels {sorted(unknown)}; "
                             f"channels are {[c.value for c in Channel]}")
        if self.timeout_ms <= 0 or any(v <= 0 for v in self.channel_timeout_ms.values()):
            raise ValueError("session timeouts must be > 0")
        if self.max_length_ms < self.timeout_ms:
            raise ValueError("the maximum session length must be at least the inactivity timeout")
        if self.allowed_lateness_ms < 0:
            raise ValueError("allowed lateness must be >= 0")
        if not 0 < self.lookback_ms <= 90 * DAY_MS:
            raise ValueError("the journey lookback must be between 0 and 90 days")

    def timeout_after(self, channel: str) -> int:
        """The inactivity gap that ends a session after a touch on ``channel``."""
        return self.channel_timeout_ms.get(channel, self.timeout_ms)

    def is_goal(self, event_type: str) -> bool:
        return event_type in self.goals


def session_policy_from_settings(settings) -> SessionPolicy:  # noqa: ANN001 - infra.settings.Settings
    try:
        return SessionPolicy(
            timeout_ms=int(settings.session_timeout_s * 1000),
            channel_timeout_ms={k: int(v * 1000) for k, v in settings.session_channel_timeouts_s.items()},
            max_length_ms=int(settings.session_max_length_s * 1000),
            allowed_lateness_ms=int(settings.session_allowed_lateness_s * 1000),
            goals=frozenset(settings.session_goals),
            lookback_ms=int(settings.journey_lookback_days * DAY_MS),
            retention_ms=int(settings.max_event_age_days * DAY_MS),
        )
    except ValueError as exc:
        raise ConfigError(f"TOUCHLINE_SESSION_* / TOUCHLINE_JOURNEY_* settings: {exc}") from exc
