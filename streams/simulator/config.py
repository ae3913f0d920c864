"""What a simulation run looks like: one frozen pydantic model, every knob with its default.

Same config (seed included) -> identical events, malformed payloads and
ground truth. ``start``/``end`` bound the simulated event time: the default
is the 30 days ending now; ``SimulationConfig.live()`` puts the span just
after now, so a producer that waits for each event's time streams in real time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Channels a person can be reached on; keys of ``conversion_lift`` must be among them.
TOUCH_CHANNELS = (
    "email", "sms", "push", "display", "video", "retail_media", "paid_search", "organic_search", "social",
    "affiliate", "direct", "app", "store", "call_center", "event", "live_chat",
)

MALFORMED_KINDS = (
    "random_bytes", "empty", "oversized", "json_text", "bad_magic_byte", "unknown_schema", "truncated",
    "header_bit_flip", "garbage_body", "trailing_bytes", "missing_identifiers", "future_event_time",
    "negative_revenue", "bad_currency", "bad_event_type",
)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _default_weights() -> dict[str, float]:
    # Oversized payloads are > 1 MB each: rarer, so a long run does not allocate gigabytes.
    return {kind: (0.25 if kind == "oversized" else 1.0) for kind in MALFORMED_KINDS}


class SimulationConfig(BaseModel):
    """One simulation run. ``people`` unset: 1000, or sized to reach ``events`` when that is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    people: int | None = Field(None, ge=1, le=50_000_000)
    events: int | None = Field(None, ge=1, description="Stop after this many messages, malformed included.")
    start: datetime | None = Field(None, description="First possible event time; default end - 30 days.")
    end: datetime = Field(default_factory=_now, description="Events after this are not produced (journeys clip).")

    malformed_share: float = Field(0.01, ge=0, le=1)
    malformed_weights: dict[str, float] = Field(default_factory=_default_weights)
    oversized_bytes: int = Field(1_100_000, ge=1, description="Size of oversized payloads (the ingest limit is 1 MB).")

    # True causal effect of one touch on the chance to convert next, per channel (1.0 = neutral).
    conversion_lift: dict[str, float] = Field(default_factory=lambda: {"email": 2.0, "paid_search": 1.6})
    # Extra factor per campaign id (on top of its channel's lift); see world.CAMPAIGNS for the ids.
    campaign_lift: dict[str, float] = Field(default_factory=lambda: {"cmp-spring-sale": 1.3})
    base_conversion: float = Field(0.09, gt=0, le=1, description="Hazard of converting after one neutral touch.")
    never_buyer_share: float = Field(0.3, ge=0, le=1)
    repeat_purchase: float = Field(0.3, ge=0, le=1, description="Chance to start another journey after buying.")
    mean_gap_hours: float = Field(52.0, gt=0, description="Mean time between two episodes of a person.")
    time_compression: float = Field(1.0, ge=1, description="Divide gaps between sessions (live demos).")
    raw_pii_share: float = Field(0.2, ge=0, le=1, description="Store/call/event captures sending raw email/phone.")

    # Identity-stitching hazards (see streams/simulator/shared.py and junk.py); 0 turns each one off.
    family_share: float = Field(0.03, ge=0, le=1, description="People in two-person households sharing a "
                                "laptop or tablet (pairs of consecutive person indexes).")
    kiosks: int = Field(5, ge=0, le=1000, description="Store kiosks that many people use with their loyalty card.")
    kiosk_use: float = Field(0.25, ge=0, le=1, description="Chance a store visit includes a kiosk lookup.")
    junk_share: float = Field(0.01, ge=0, le=1, description="Events carrying a junk identifier value as well "
                              "(\"null\", \"undefined\", test@test.com, ...).")

    # One process per core: shard i of n simulates the people with index % n == i (n shards together =
    # the unsharded population, person for person) and stops at its share of ``events``.
    shard: int = Field(0, ge=0)
    shards: int = Field(1, ge=1, le=1024)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"start {self.start.isoformat()} must be before end {self.end.isoformat()}")
        unknown = set(self.conversion_lift) - set(TOUCH_CHANNELS)
        if unknown:
            raise ValueError(f"conversion_lift: unknown channels {sorted(unknown)}; use some of {TOUCH_CHANNELS}")
        bad_kinds = set(self.malformed_weights) - set(MALFORMED_KINDS)
        if bad_kinds:
            raise ValueError(f"malformed_weights: unknown kinds {sorted(bad_kinds)}; use some of {MALFORMED_KINDS}")
        if any(w < 0 for w in self.malformed_weights.values()) or (
            self.malformed_share > 0 and not any(self.malformed_weights.values())
        ):
            raise ValueError("malformed_weights: weights must be >= 0 and at least one > 0")
        if any(v <= 0 for v in (*self.conversion_lift.values(), *self.campaign_lift.values())):
            raise ValueError("lifts must be > 0")
        if self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} out of range: shards are 0..{self.shards - 1}")
        return self

    @property
    def span_start(self) -> datetime:
        return self.start if self.start is not None else self.end - timedelta(days=30)

    @property
    def shard_events(self) -> int | None:
        """This shard's message cap: its share of ``events``."""
        if self.events is None:
            return None
        return self.events // self.shards + (1 if self.shard < self.events % self.shards else 0)

    def lift(self, channel: str) -> float:
        return self.conversion_lift.get(channel, 1.0)

    @classmethod
    def live(cls, duration: timedelta = timedelta(hours=1), lead: timedelta = timedelta(0), **overrides) -> Self:
        """Event times in [now + lead, now + lead + duration], gaps compressed so journeys fit in.

        The producer should wait until each event's time before sending it.
        """
        start = _now() + lead
        overrides.setdefault("time_compression", max(1.0, timedelta(days=30) / duration))
        return cls(start=start, end=start + duration, **overrides)
