"""Pydantic models of the Avro contract; each mirrors the LATEST version of its .avsc.

Field names, order, nullability and defaults match the schema exactly
(tests/schemas/test_models_match_avsc.py fails on any drift). Limits live in
``schemas.fields``. ``to_avro()`` gives the dict fastavro writes;
``from_avro(record)`` validates a decoded record.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from schemas.fields import (
    MAX_EXPERIMENTS, MAX_ITEMS, MAX_PROPERTIES, Currency, Email, EventType, Id, Locale, Micros, Money, Offset,
    Partition, Percent, Phone, PropertyKey, PropertyValue, Quantity, ReasonCode, Sha256Hex, Url, UtcMillis,
)
from schemas.validation import describe_validation_error, reject_reason_for

__all__ = [
    "AvroModel", "BudgetRecommendation", "Channel", "Consent", "ContactDecision", "DeviceType", "EnrichedTouchpoint", "ExperimentAssignment", "Header",
    "IdentityChange", "IdentityChangeKind",
    "LineItem", "OfferConflict", "RejectedEvent", "SegmentMembership", "Session", "TouchpointEvent", "describe_validation_error",
    "blank_identifiers", "reject_reason_for",
]

IDENTIFIERS = ("anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id", "email", "phone")


def blank_identifiers(record: dict[str, Any]) -> list[str]:
    """The identifier fields of ``record`` that hold an empty or whitespace-only string.

    Many SDKs send ``""`` for a cookie they do not have: such a value means "no identifier", exactly as
    null does (the event is kept on its other identifiers), never an identifier that links everyone.
    """
    return [name for name in IDENTIFIERS if isinstance(value := record.get(name), str) and not value.strip()]


class Channel(StrEnum):
    web = "web"
    app = "app"
    email = "email"
    sms = "sms"
    push = "push"
    social = "social"
    paid_search = "paid_search"
    organic_search = "organic_search"
    display = "display"
    video = "video"
    affiliate = "affiliate"
    live_chat = "live_chat"
    call_center = "call_center"
    store = "store"
    marketplace = "marketplace"
    event = "event"
    direct = "direct"
    other = "other"
    retail_media = "retail_media"  # touchpoint.v2


class DeviceType(StrEnum):
    desktop = "desktop"
    mobile = "mobile"
    tablet = "tablet"
    tv = "tv"
    kiosk = "kiosk"
    pos_terminal = "pos_terminal"
    unknown = "unknown"


class AvroModel(BaseModel):
    """Frozen, closed (unknown fields are errors), convertible to and from fastavro dicts."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    avro_schema: ClassVar[str | None] = None  # catalog name of the top-level schema, if any

    def to_avro(self) -> dict[str, Any]:
        """The record as fastavro writes it (Decimal, aware datetime, str enums, nested dicts)."""
        return self.model_dump()

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        """Validate a decoded record; raises pydantic.ValidationError (see describe_validation_error)."""
        return cls.model_validate(record)


class ExperimentAssignment(AvroModel):
    experiment_id: Id
    variant_id: Id


class LineItem(AvroModel):
    sku: Id
    quantity: Quantity
    unit_price: Money
    category: Id | None = None


class Consent(AvroModel):
    marketing: bool | None = None
    analytics: bool | None = None
    personalization: bool | None = None


class _Touchpoint(AvroModel):
    """The fields a raw touchpoint and an enriched one share, in schema order."""

    event_id: Id
    event_type: EventType
    channel: Channel
    device_type: DeviceType = DeviceType.unknown
    event_time: UtcMillis
    sent_time: UtcMillis | None = None
    anonymous_id: Id | None = None
    device_id: Id | None = None
    user_id: Id | None = None
    email_sha256: Sha256Hex | None = None
    phone_sha256: Sha256Hex | None = None
    loyalty_id: Id | None = None
    campaign_id: Id | None = None
    source: Id | None = None
    medium: Id | None = None
    creative_id: Id | None = None
    page_url: Url | None = None
    store_id: Id | None = None
    offer_id: Id | None = None
    discount_percent: Percent | None = None
    experiments: list[ExperimentAssignment] = Field(default_factory=list, max_length=MAX_EXPERIMENTS)
    order_id: Id | None = None
    revenue: Money | None = None
    currency: Currency | None = None
    items: list[LineItem] = Field(default_factory=list, max_length=MAX_ITEMS)
    consent: Consent = Consent()
    properties: dict[PropertyKey, PropertyValue] = Field(default_factory=dict, max_length=MAX_PROPERTIES)
    locale: Locale | None = None
    cost_micros: Micros | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_identifiers_are_missing(cls, data: Any) -> Any:
        if isinstance(data, dict) and (blank := blank_identifiers(data)):
            data = {**data, **dict.fromkeys(blank)}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.currency is None and (self.revenue is not None or self.items or self.cost_micros is not None):
            raise PydanticCustomError(
                "currency_required",
                "currency is required when revenue, items or cost_micros is set: send an ISO 4217 code such as EUR",
                {"field": "currency"},
            )
        if len(self.experiments) > 1 and len({e.experiment_id for e in self.experiments}) < len(self.experiments):
            raise PydanticCustomError(
                "duplicate_experiment",
                "an experiment_id appears twice in experiments: send one assignment per experiment",
                {"field": "experiments"},
            )
        return self


class TouchpointEvent(_Touchpoint):
    """A raw touchpoint (touchpoint.v2, the producer contract)."""

    avro_schema: ClassVar[str | None] = "touchpoint"

    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not (self.anonymous_id or self.device_id or self.user_id or self.email_sha256 or self.phone_sha256
                or self.loyalty_id or self.email or self.phone):
            raise PydanticCustomError(
                "missing_identifier",
                "no identifier: set at least one of {fields}",
                {"fields": ", ".join(IDENTIFIERS)},
            )
        return self


class EnrichedTouchpoint(_Touchpoint):
    """A touchpoint after ingest (enriched_touchpoint.v2): raw PII hashed and dropped, provenance and identity added."""

    avro_schema: ClassVar[str | None] = "enriched_touchpoint"

    profile_id: Id | None = None
    identity_key: str | None = None
    source_topic: Id
    source_partition: Partition
    source_offset: Offset
    ingested_at: UtcMillis
    writer_schema: Id


class Header(AvroModel):
    key: str
    value: bytes | None = None


class RejectedEvent(AvroModel):
    """A dead letter (rejected_event.v1). Lenient on purpose: a dead letter must never be refused."""

    avro_schema: ClassVar[str | None] = "rejected_event"

    reason: ReasonCode
    detail: str
    field: str | None = None
    event_id: str | None = None
    stage: str
    source_topic: str
    source_partition: Partition
    source_offset: Offset
    source_timestamp: UtcMillis | None = None
    source_key: bytes | None = None
    headers: list[Header] = Field(default_factory=list)
    payload: bytes
    rejected_at: UtcMillis


class IdentityChangeKind(StrEnum):
    assigned = "assigned"
    shared = "shared"
    conflict = "conflict"
    erased = "erased"
    other = "other"


class IdentityChange(AvroModel):
    """One identity stitching outcome (identity_change.v1), see streams/identity/protocol.py."""

    avro_schema: ClassVar[str | None] = "identity_change"

    kind: IdentityChangeKind
    identifier: str
    profile_id: str | None = None
    previous_profile_id: str | None = None
    other_identifier: str | None = None
    other_profile_id: str | None = None
    reason: str | None = None
    event_id: str | None = None
    event_time: UtcMillis | None = None
    version: int
    changed_at: UtcMillis


class Session(AvroModel):
    """One session at a version, or a session id's deletion (session.v1), see streams/sessions/state.py."""

    avro_schema: ClassVar[str | None] = "session"

    session_id: str
    session_key: str
    identity_key: str
    version: int
    is_deleted: bool
    start_time: UtcMillis
    end_time: UtcMillis
    profile_id: str | None = None
    touches: int = Field(ge=0, le=2**31 - 1)
    conversions: int = Field(ge=0, le=2**31 - 1)
    revenue: Money
    channels: list[str]
    device_type: str
    landing_event_id: str
    landing_channel: str
    landing_campaign_id: str | None = None
    landing_source: str | None = None
    landing_medium: str | None = None
    landing_page_url: str | None = None
    last_event_id: str
    emitted_at: UtcMillis


class Journey(AvroModel):
    """One journey at a version, or a journey id's deletion (journey.v1), see streams/journeys/state.py."""

    avro_schema: ClassVar[str | None] = "journey"

    journey_id: str
    profile_id: str
    version: int
    is_deleted: bool
    start_time: UtcMillis
    end_time: UtcMillis
    converted: bool
    touches: int = Field(ge=0, le=2**31 - 1)
    sessions: int = Field(ge=0, le=2**31 - 1)
    channel_path: list[str]
    devices: int = Field(ge=0, le=2**31 - 1)
    device_types: list[str]
    cross_device: bool
    first_event_id: str
    first_channel: str
    first_campaign_id: str | None = None
    first_source: str | None = None
    first_medium: str | None = None
    last_event_id: str
    last_channel: str
    last_campaign_id: str | None = None
    conversion_event_id: str | None = None
    conversion_type: str | None = None
    conversion_channel: str | None = None
    time_to_convert_ms: int | None = None
    value: Money
    emitted_at: UtcMillis


class ContactDecision(AvroModel):
    """May a profile be contacted on a channel (contact_decision.v1), see streams/optimization/decisions.py."""

    avro_schema: ClassVar[str | None] = "contact_decision"

    profile_id: str
    channel: str
    version: int
    allowed: bool
    reason: str
    counts: dict[str, Annotated[int, Field(ge=0, le=2**31 - 1)]]
    next_allowed_at: UtcMillis | None = None
    decided_at: UtcMillis
    caused_by_event_id: str | None = None
    policy_version: str


class OfferConflict(AvroModel):
    """Two different offers of one campaign shown to a profile within the window (offer_conflict.v1), see
    streams/optimization/offers.py and offer_alerts.py."""

    avro_schema: ClassVar[str | None] = "offer_conflict"

    conflict_id: str
    profile_id: str
    campaign_id: str | None = None
    first_offer_id: str
    first_discount_percent: Percent | None = None
    first_channel: str
    first_event_type: str
    first_shown_at: UtcMillis
    first_event_id: str
    second_offer_id: str
    second_discount_percent: Percent | None = None
    second_channel: str
    second_event_type: str
    second_shown_at: UtcMillis
    second_event_id: str
    window: str
    detected_at: UtcMillis
    policy_version: str


class SegmentMembership(AvroModel):
    """A profile entered or left a real-time segment (segment_membership.v1): streams/optimization/segment_changes.py."""

    avro_schema: ClassVar[str | None] = "segment_membership"

    profile_id: str
    segment: str
    version: int
    change: Annotated[str, StringConstraints(pattern=r"^(entered|left)$")]
    evaluated_at: UtcMillis
    caused_by_event_id: str | None = None
    definitions_version: str


class BudgetRecommendation(AvroModel):
    """One arm's budget share in a bandit run (budget_recommendation.v1), see sinks/budget_job.py."""

    avro_schema: ClassVar[str | None] = "budget_recommendation"

    run_id: str
    run_at: UtcMillis
    arm_kind: Annotated[str, StringConstraints(pattern=r"^(channel|campaign)$")]
    arm: str
    arms: Annotated[int, Field(ge=1, le=2**31 - 1)]
    share: Annotated[float, Field(ge=0, le=1)]
    p_best: Annotated[float, Field(ge=0, le=1)]
    objective: Annotated[str, StringConstraints(pattern=r"^(conversions|revenue)$")]
    basis: Annotated[str, StringConstraints(pattern=r"^(touch|cost)$")]
    mean: float
    low: float
    high: float
    touches: Annotated[int, Field(ge=0)]
    conversions: Annotated[float, Field(ge=0)]
    revenue: Annotated[float, Field(ge=0)]
    cost_micros: int | None = None
    paid_touches: Annotated[int, Field(ge=0)]
    alpha: float
    beta: float
    prior_alpha: float
    prior_beta: float
    floor: Annotated[float, Field(ge=0, le=1)]
    window_start: UtcMillis
    window_end: UtcMillis
    draws: Annotated[int, Field(ge=1, le=2**31 - 1)]
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
