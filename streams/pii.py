"""PII at ingest: raw emails and phone numbers become SHA-256 hashes, raw values are dropped.

The hash is of the normalized value, so the same address typed differently
by two channels links the same person, and matches what channel backends
that hash before sending compute (docs/producers.md gives the rules).
"""

from __future__ import annotations

import hashlib
import re

_NON_DIGITS = re.compile(r"[^0-9]")


def normalize_email(raw: str) -> str:
    """Trim and lowercase (the whole address: providers treat local parts case-insensitively)."""
    return raw.strip().lower()


def normalize_phone(raw: str, default_country_code: str) -> str | None:
    """E.164 (+<country><number>, digits only), or None if it cannot be a phone number.

    A number without '+' or '00' prefix is national: the default country code
    is prepended and one trunk '0' is dropped (0171 234 -> +49171234).
    """
    text = raw.strip()
    if text.startswith("+"):
        digits = _NON_DIGITS.sub("", text)
    elif text.startswith("00"):
        digits = _NON_DIGITS.sub("", text)[2:]
    else:
        national = _NON_DIGITS.sub("", text)
        if national.startswith("0"):
            national = national[1:]
        digits = default_country_code + national if national else ""
    # E.164 allows at most 15 digits; fewer than 7 is no reachable number.
    if not 7 <= len(digits) <= 15:
        return None
    return "+" + digits


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
