"""Reject reason codes: the machine-readable ``reason`` of every dead letter.

Codes are stable (dashboards and replay tooling filter on them): add new
ones, never rename. Each member's ``meaning`` is the one-line explanation.

``unknown_schema`` once covered every writer schema the pipeline could not
find. Since 2026-12 three causes have their own code (``unknown_fingerprint``,
``no_registry_configured``, ``unknown_registry_id``); ``unknown_schema`` keeps
the rest. ``matching`` gives the codes a filter on an old code should cover, so
`touchline dlq show|replay --reason unknown_schema` still finds all of them
(docs/producers.md).
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    meaning: str

    def __new__(cls, value: str, meaning: str) -> "RejectReason":
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    empty_payload = "empty_payload", "the message value is empty or null"
    oversized_payload = "oversized_payload", "the message value is larger than the configured byte limit"
    bad_magic_byte = "bad_magic_byte", "the value starts with neither Avro single-object (C3 01) nor registry (00) framing"
    unknown_schema = "unknown_schema", ("the writer schema is known but cannot be read as this topic's schema "
                                        "(another record, not resolvable, references, not Avro)")
    unknown_fingerprint = "unknown_fingerprint", "the single-object header names a fingerprint not in the schema catalog"
    no_registry_configured = "no_registry_configured", ("the value uses Schema Registry framing but no registry is "
                                                        "configured (TOUCHLINE_SCHEMA_REGISTRY_URL)")
    unknown_registry_id = "unknown_registry_id", "the schema registry has no schema with the id the value names"
    schema_registry_unavailable = "schema_registry_unavailable", "the schema registry could not be reached (retriable)"
    avro_decode_error = "avro_decode_error", "the Avro body is truncated, garbage or holds out-of-range values"
    trailing_bytes = "trailing_bytes", "bytes remain after one complete Avro record"
    validation_error = "validation_error", "a field has the wrong type or breaks a constraint"
    missing_identifier = "missing_identifier", "the event carries no identifier at all"
    event_time_out_of_range = "event_time_out_of_range", "event_time is too far in the past or the future"
    internal_error = "internal_error", "a bug or unexpected failure in the pipeline itself"


# The codes split out of an older one: a filter on the old code covers them (dead letters of both eras).
SPLIT_FROM = {
    RejectReason.unknown_schema: (RejectReason.unknown_fingerprint, RejectReason.no_registry_configured,
                                  RejectReason.unknown_registry_id),
}


def matching(reason: str) -> tuple[str, ...]:
    """The reason codes a filter on ``reason`` selects: itself, plus the codes split out of it."""
    split = SPLIT_FROM.get(RejectReason(reason), ()) if reason in RejectReason.__members__ else ()
    return (reason, *(r.value for r in split))
