"""Reject reason codes: the machine-readable ``reason`` of every dead letter.

Codes are stable (dashboards and replay tooling filter on them): add new
ones, never rename. Each member's ``meaning`` is the one-line explanation.
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
    unknown_schema = "unknown_schema", "the writer schema (fingerprint or registry id) is not known or not readable"
    schema_registry_unavailable = "schema_registry_unavailable", "the schema registry could not be reached (retriable)"
    avro_decode_error = "avro_decode_error", "the Avro body is truncated, garbage or holds out-of-range values"
    trailing_bytes = "trailing_bytes", "bytes remain after one complete Avro record"
    validation_error = "validation_error", "a field has the wrong type or breaks a constraint"
    missing_identifier = "missing_identifier", "the event carries no identifier at all"
    event_time_out_of_range = "event_time_out_of_range", "event_time is too far in the past or the future"
    internal_error = "internal_error", "a bug or unexpected failure in the pipeline itself"
