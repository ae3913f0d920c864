"""The ingest decision, as a pure function: raw bytes in, an enriched record or a dead letter out.

The Faust stage (streams/stages/ingest.py), the benchmarks and the tests all
call ``ingest_one``; it never raises for any input, so a worker cannot be
crashed by a producer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.exceptions import DecodeError
from schemas.models import TouchpointEvent, blank_identifiers
from schemas.reasons import RejectReason
from schemas.validation import describe_validation_error, reject_reason_for
from schemas.wire import AvroDecoder
from streams.pii import normalize_email, normalize_phone, sha256_hex

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes | None]]

# Identifiers an enriched touchpoint can carry (raw email/phone are hashed into two of them).
IDENTIFIERS = ("anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id")


@dataclass(frozen=True)
class Source:
    """Where a message came from (carried into enriched records and dead letters)."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None = None
    key: bytes | None = None
    headers: Headers | None = None


@dataclass(frozen=True)
class IngestRules:
    max_payload_bytes: int = 1_000_000
    max_event_age: timedelta = timedelta(days=90)
    max_future_skew: timedelta = timedelta(days=1)
    phone_default_country_code: str = "1"


@dataclass(frozen=True)
class Accepted:
    record: dict[str, Any]  # an EnrichedTouchpoint, Avro-ready
    blank_identifiers: tuple[str, ...] = ()  # identifier fields sent as "" (or blanks), taken as missing


@dataclass(frozen=True)
class Rejected:
    record: dict[str, Any]  # a RejectedEvent, Avro-ready

    @property
    def reason(self) -> str:
        return self.record["reason"]


class _Reject(Exception):
    def __init__(self, reason: RejectReason, detail: str, field: str | None = None, event_id: str | None = None):
        super().__init__(detail)
        self.reason, self.detail, self.field, self.event_id = reason, detail, field, event_id


def ingest_one(
    payload: bytes | None,
    source: Source,
    decoder: AvroDecoder,
    rules: IngestRules,
    now: datetime,
    stage: str = "ingest",
) -> Accepted | Rejected:
    """Decode, validate, hash PII and enrich one message; any failure becomes a dead letter."""
    blank: list[str] = []
    try:
        return Accepted(_enrich(payload, source, decoder, rules, now, blank), tuple(blank))
    except _Reject as bad:
        return Rejected(dead_letter(payload, source, bad.reason, bad.detail, now, stage, bad.field, bad.event_id))
    except Exception as exc:  # a bug of ours must not stop the partition: dead-letter it
        log.exception("internal error on %s[%d]@%d", source.topic, source.partition, source.offset)
        return Rejected(
            dead_letter(payload, source, RejectReason.internal_error, f"{type(exc).__name__}: {exc}", now, stage)
        )


def _enrich(payload: bytes | None, source: Source, decoder: AvroDecoder, rules: IngestRules, now: datetime,
            blank: list[str]) -> dict:
    """The enriched record; ``blank`` gets the identifier fields that were empty strings (taken as missing)."""
    if not payload:
        raise _Reject(RejectReason.empty_payload, "message value is empty: send one Avro-encoded touchpoint")
    if len(payload) > rules.max_payload_bytes:
        raise _Reject(
            RejectReason.oversized_payload,
            f"message is {len(payload)} bytes, the limit is {rules.max_payload_bytes} "
            "(TOUCHLINE_MAX_PAYLOAD_BYTES): split items or drop bulky properties",
        )
    try:
        record, writer = decoder.decode(payload)
    except DecodeError as exc:
        raise _Reject(exc.reason, exc.detail) from None
    event_id = record.get("event_id") if isinstance(record.get("event_id"), str) else None
    blank.extend(blank_identifiers(record))  # the model takes them as missing
    try:
        event = TouchpointEvent.model_validate(record)
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        reason = reject_reason_for(exc)
        if reason == RejectReason.missing_identifier and blank:
            message += f" ({', '.join(blank)} sent empty: an empty identifier counts as none)"
        raise _Reject(reason, message, field, event_id) from None
    _check_event_time(event, rules, now)
    enriched = event.to_avro()
    _hash_pii(enriched, rules)
    if not any(enriched.get(name) for name in IDENTIFIERS):
        raise _Reject(
            RejectReason.missing_identifier,
            "no usable identifier: the only one was a raw phone that is not a phone number "
            "(E.164 needs 7-15 digits); send a valid phone or another identifier",
            "phone", event.event_id,
        )
    enriched.update(
        profile_id=None,  # set by the identity stage
        identity_key=None,
        source_topic=source.topic,
        source_partition=source.partition,
        source_offset=source.offset,
        ingested_at=now,
        writer_schema=writer,
    )
    return enriched


def _check_event_time(event: TouchpointEvent, rules: IngestRules, now: datetime) -> None:
    if event.event_time > now + rules.max_future_skew:
        raise _Reject(
            RejectReason.event_time_out_of_range,
            f"event_time {event.event_time.isoformat()} is more than {rules.max_future_skew} ahead of now "
            f"({now.isoformat()}): send UTC epoch milliseconds (TOUCHLINE_MAX_FUTURE_SKEW_S)",
            "event_time", event.event_id,
        )
    if event.event_time < now - rules.max_event_age:
        raise _Reject(
            RejectReason.event_time_out_of_range,
            f"event_time {event.event_time.isoformat()} is older than {rules.max_event_age.days} days "
            "(TOUCHLINE_MAX_EVENT_AGE_DAYS): backfill through the batch path",
            "event_time", event.event_id,
        )


def _hash_pii(record: dict[str, Any], rules: IngestRules) -> None:
    """Replace raw email/phone by their hashes; the raw keys leave the record here."""
    email = record.pop("email", None)
    phone = record.pop("phone", None)
    if email and not record.get("email_sha256"):
        record["email_sha256"] = sha256_hex(normalize_email(email))
    if phone and not record.get("phone_sha256"):
        normalized = normalize_phone(phone, rules.phone_default_country_code)
        if normalized:
            record["phone_sha256"] = sha256_hex(normalized)


def dead_letter(
    payload: bytes | None,
    source: Source,
    reason: RejectReason | str,
    detail: str,
    now: datetime,
    stage: str,
    field: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A RejectedEvent record: the reason plus everything needed to find and replay the original."""
    return {
        "reason": str(reason),
        "detail": detail[:4000],
        "field": field,
        "event_id": event_id[:256] if event_id else None,
        "stage": stage,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "source_timestamp": source.timestamp,
        "source_key": source.key,
        "headers": [{"key": k, "value": v} for k, v in (source.headers or [])],
        "payload": payload or b"",
        "rejected_at": now,
    }
