"""Avro records -> ClickHouse rows, column order matching sinks/migrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TOUCHPOINT_COLUMNS = (
    "event_id", "event_type", "channel", "device_type", "event_time", "sent_time", "profile_id", "identity_key",
    "anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id",
    "campaign_id", "source", "medium", "creative_id", "page_url", "store_id",
    "offer_id", "discount_percent", "experiments", "order_id", "revenue", "currency", "items",
    "consent_marketing", "consent_analytics", "consent_personalization", "properties",
    "locale", "cost_micros", "source_topic", "source_partition", "source_offset", "ingested_at",
    "writer_schema",
)

IDENTITY_CHANGE_COLUMNS = (
    "kind", "identifier", "profile_id", "previous_profile_id", "other_identifier", "other_profile_id", "reason",
    "event_id", "event_time", "version", "changed_at",
)

SESSION_COLUMNS = (
    "session_id", "session_key", "identity_key", "version", "is_deleted", "start_time", "end_time", "profile_id",
    "touches", "conversions", "revenue", "channels", "device_type", "landing_event_id", "landing_channel",
    "landing_campaign_id", "landing_source", "landing_medium", "landing_page_url", "last_event_id", "emitted_at",
)

JOURNEY_COLUMNS = (
    "journey_id", "profile_id", "version", "is_deleted", "start_time", "end_time", "converted", "touches", "sessions",
    "channel_path", "devices", "device_types", "cross_device", "first_event_id", "first_channel", "first_campaign_id",
    "first_source", "first_medium", "last_event_id", "last_channel", "last_campaign_id", "conversion_event_id",
    "conversion_type", "conversion_channel", "time_to_convert_ms", "value", "emitted_at",
)

CONTACT_DECISION_COLUMNS = (
    "profile_id", "channel", "version", "allowed", "reason", "counts", "next_allowed_at", "decided_at",
    "caused_by_event_id", "policy_version",
)

BUDGET_RECOMMENDATION_COLUMNS = (
    "run_id", "run_at", "arm_kind", "arm", "arms", "share", "p_best", "objective", "basis", "mean", "low", "high",
    "touches", "conversions", "revenue", "cost_micros", "paid_touches", "alpha", "beta", "prior_alpha", "prior_beta",
    "floor", "window_start", "window_end", "draws", "seed",
)

OFFER_CONFLICT_COLUMNS = (
    "conflict_id", "profile_id", "campaign_id", "first_offer_id", "first_discount_percent", "first_channel",
    "first_event_type", "first_shown_at", "first_event_id", "second_offer_id", "second_discount_percent",
    "second_channel", "second_event_type", "second_shown_at", "second_event_id", "window", "detected_at",
    "policy_version",
)

SEGMENT_MEMBERSHIP_COLUMNS = (
    "profile_id", "segment", "version", "change", "evaluated_at", "caused_by_event_id", "definitions_version",
)

REJECT_COLUMNS = (
    "reason", "detail", "field", "event_id", "stage", "source_topic", "source_partition",
    "source_offset", "source_timestamp", "source_key", "headers", "payload", "rejected_at",
)

# Columns copied as they are from the Avro record (same name, same value).
_TOUCHPOINT_PLAIN = TOUCHPOINT_COLUMNS[:22]
_TOUCHPOINT_TAIL = ("locale", "cost_micros", "source_topic", "source_partition", "source_offset",
                    "ingested_at", "writer_schema")


def touchpoint_row(record: dict[str, Any]) -> tuple:
    get = record.get
    consent = get("consent") or {}
    return (
        *map(get, _TOUCHPOINT_PLAIN),
        {e["experiment_id"]: e["variant_id"] for e in get("experiments") or ()},
        get("order_id"),
        get("revenue"),
        get("currency"),
        [(i["sku"], i["quantity"], i["unit_price"], i.get("category")) for i in get("items") or ()],
        consent.get("marketing"),
        consent.get("analytics"),
        consent.get("personalization"),
        get("properties") or {},
        *map(get, _TOUCHPOINT_TAIL),
    )


def reject_row(record: dict[str, Any]) -> tuple:
    get = record.get
    return (
        get("reason"), get("detail"), get("field"), get("event_id"), get("stage"),
        get("source_topic"), get("source_partition"), get("source_offset"), get("source_timestamp"),
        get("source_key"),
        [(h["key"], h.get("value")) for h in get("headers") or ()],
        get("payload") or b"",
        get("rejected_at"),
    )


def by_columns(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple]:
    """The row of a record whose Avro fields are named as the table's columns, in the columns' order."""
    def row(record: dict[str, Any]) -> tuple:
        return tuple(map(record.get, columns))  # a missing field is None; map, not a generator: half the time
    return row


identity_change_row = by_columns(IDENTITY_CHANGE_COLUMNS)
session_row = by_columns(SESSION_COLUMNS)
journey_row = by_columns(JOURNEY_COLUMNS)
contact_decision_row = by_columns(CONTACT_DECISION_COLUMNS)
budget_recommendation_row = by_columns(BUDGET_RECOMMENDATION_COLUMNS)
segment_membership_row = by_columns(SEGMENT_MEMBERSHIP_COLUMNS)
offer_conflict_row = by_columns(OFFER_CONFLICT_COLUMNS)
