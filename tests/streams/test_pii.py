"""PII normalization: what is hashed is the normalized value."""

from __future__ import annotations

import hashlib

import pytest

from streams.pii import normalize_email, normalize_phone, sha256_hex


def test_email_is_trimmed_and_lowercased() -> None:
    assert normalize_email("  Jane.Doe@Example.COM \n") == "jane.doe@example.com"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+49 171 234-5678", "1", "+491712345678"),
        ("0049 171 2345678", "1", "+491712345678"),
        ("0171 2345678", "49", "+491712345678"),
        ("(415) 555-0100", "1", "+14155550100"),
        ("12", "1", None),
        ("+1234567890123456", "1", None),
        ("call me", "1", None),
    ],
)
def test_phone_becomes_e164(raw: str, country: str, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


def test_hash_is_sha256_hex_of_utf8() -> None:
    assert sha256_hex("jane.doe@example.com") == hashlib.sha256(b"jane.doe@example.com").hexdigest()
    assert len(sha256_hex("x")) == 64
