"""Identifiers as identity stitching sees them: ``"<kind>:<value>"`` strings.

Qualifying the value with its kind keeps a cookie "42" and a loyalty card
"42" apart, and makes one string the Kafka key, the table key and the
ClickHouse key of an identifier. Raw emails/phones never get here: ingest
has already replaced them by their SHA-256 (streams/pii.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

# Highest priority first. Priority picks an event's anchor (the identifier it
# is processed under) and a profile's canonical identifier: person-level ids
# (a login, a card, an address) describe a person better than a device does.
KINDS = ("user_id", "loyalty_id", "email_sha256", "phone_sha256", "device_id", "anonymous_id")
PERSON_KINDS = frozenset(KINDS[:4])  # belong to one person; devices and cookies can be shared
RANK = {kind: rank for rank, kind in enumerate(KINDS)}


def qualify(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def kind_of(identifier: str) -> str:
    return identifier.split(":", 1)[0]


def value_of(identifier: str) -> str:
    return identifier.split(":", 1)[1]


def is_person_level(identifier: str) -> bool:
    return kind_of(identifier) in PERSON_KINDS


def priority_key(identifier: str) -> tuple[int, str]:
    return RANK[kind_of(identifier)], identifier


def identifiers_of(record: Mapping[str, Any]) -> list[str]:
    """The qualified identifiers an enriched record carries, highest priority first."""
    return [qualify(kind, str(record[kind])) for kind in KINDS if record.get(kind)]


def profile_id_for(canonical: str) -> str:
    """A profile's id, from its canonical identifier: stable, opaque, no PII."""
    return "p-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def erased_identifier(identifier: str) -> str:
    """How an erased identifier is named in the erasure trail: a hash, never the value."""
    return "erased:" + hashlib.sha256(identifier.encode("utf-8")).hexdigest()


def parse_identifier(text: str, phone_country_code: str = "1") -> str:
    """A qualified identifier from what an operator types: ``kind:value``; ``email:``/``phone:`` take raw values."""
    from streams.pii import normalize_email, normalize_phone, sha256_hex

    kind, sep, value = text.strip().partition(":")
    if not sep or not value:
        raise ValueError(f"{text!r}: write kind:value with kind one of {', '.join(KINDS)}, email or phone")
    if kind == "email":
        return qualify("email_sha256", sha256_hex(normalize_email(value)))
    if kind == "phone":
        phone = normalize_phone(value, phone_country_code)
        if phone is None:
            raise ValueError(f"{text!r}: not a phone number (E.164 needs 7-15 digits)")
        return qualify("phone_sha256", sha256_hex(phone))
    if kind not in RANK:
        raise ValueError(f"{text!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}, email or phone")
    return qualify(kind, value)
