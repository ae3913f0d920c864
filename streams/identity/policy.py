"""Stitching rules: per-kind limits, the junk blocklist, the shared-identifier threshold and caps.

Defaults follow what the known tools do (Segment Unify: 1 user id, a few of
each other kind, a 1,000-identifier cap; PostHog: no merge of two identified
persons; Adobe CJA: shared devices stop linking); docs/design/identity.md
explains each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from infra.exceptions import ConfigError
from streams.identity.identifiers import KINDS, kind_of, qualify, value_of
from streams.pii import normalize_email, normalize_phone, sha256_hex

DEFAULT_LIMITS = {
    "user_id": 1,
    "loyalty_id": 1,
    "email_sha256": 3,
    "phone_sha256": 3,
    "device_id": 100,
    "anonymous_id": 500,
}

# Values that producers send when they have no value. Compared case-insensitively.
JUNK_VALUES = frozenset({
    "", "null", "none", "nil", "undefined", "unknown", "n/a", "na", "-", "0", "anonymous", "guest",
    "test", "default", "false", "true", "nan", "[object object]", "00000000-0000-0000-0000-000000000000",
})
JUNK_EMAILS = ("test@test.com", "test@example.com", "noreply@example.com", "no-reply@example.com",
               "example@example.com", "email@example.com", "a@a.com", "null@null.com")
JUNK_PHONES = ("+10000000000", "+11111111111", "+15555555555", "+1234567890", "+12345678900")
_ONE_REPEATED_CHAR = re.compile(r"^(.)\1{4,}$")  # "0000000", "xxxxxx", "-----" (5+: "11" may be real)


@dataclass(frozen=True)
class IdentityPolicy:
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # An identifier seen with more than this many distinct person-level identifiers
    # (a store kiosk, a test address) is shared: it links nothing, ever.
    shared_after: int = 10
    max_identifiers_per_profile: int = 1000
    # Bounds one identifier's state: edges past this are not stored (it is shared long before).
    max_edges_per_identifier: int = 1000
    # Bounds one owner's state (a connected set of identifiers, several profiles).
    max_component_members: int = 5000
    extra_blocklist: frozenset[str] = frozenset()  # qualified identifiers

    def __post_init__(self) -> None:
        unknown = set(self.limits) - set(KINDS)
        if unknown:
            raise ValueError(f"identity limits: unknown identifier kinds {sorted(unknown)}; use {list(KINDS)}")
        bad = {k: v for k, v in self.limits.items() if v < 1}
        if bad:
            raise ValueError(f"identity limits must be >= 1, got {bad}")

    def limit(self, kind: str) -> int:
        return self.limits.get(kind, DEFAULT_LIMITS[kind])

    def is_junk(self, identifier: str) -> bool:
        return self.junk_reason(identifier) is not None

    def junk_reason(self, identifier: str) -> str | None:
        """Why ``identifier`` is ignored as junk (it links nothing and makes no profile), or None if it is not."""
        if identifier in self.extra_blocklist:
            return "it is on TOUCHLINE_IDENTITY_BLOCKLIST"
        if identifier in _JUNK_HASHES:
            return "it is the hash of a well-known test address or number (streams/identity/policy.py)"
        value = value_of(identifier).strip().lower()
        if value in JUNK_VALUES:
            return (f"{value!r} is what producers send when they have no value (the junk list in "
                    "streams/identity/policy.py)")
        if _ONE_REPEATED_CHAR.match(value):
            return "it is one character repeated, a placeholder, not an id"
        return None

    def usable(self, identifiers: Iterable[str]) -> list[str]:
        return [i for i in identifiers if not self.is_junk(i)]


def blocklist_entries(entries: Iterable[str], phone_country_code: str = "1") -> frozenset[str]:
    """Qualified identifiers from settings entries ``kind:value``; ``email:``/``phone:`` take raw values."""
    out = set()
    for entry in entries:
        kind, sep, value = entry.partition(":")
        if not sep:
            raise ValueError(f"identity blocklist entry {entry!r}: write kind:value, e.g. email:test@corp.com")
        if kind == "email":
            out.add(qualify("email_sha256", sha256_hex(normalize_email(value))))
        elif kind == "phone":
            phone = normalize_phone(value, phone_country_code)
            if phone is None:
                raise ValueError(f"identity blocklist entry {entry!r}: not a phone number")
            out.add(qualify("phone_sha256", sha256_hex(phone)))
        elif kind in KINDS:
            out.add(qualify(kind, value))
        else:
            raise ValueError(f"identity blocklist entry {entry!r}: kind must be one of {list(KINDS)}, email, phone")
    return frozenset(out)


_JUNK_HASHES = frozenset(
    [qualify("email_sha256", sha256_hex(normalize_email(e))) for e in JUNK_EMAILS]
    + [qualify("phone_sha256", sha256_hex(p)) for p in JUNK_PHONES]
)


def kinds_count(identifiers: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for identifier in identifiers:
        kind = kind_of(identifier)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def policy_from_settings(settings) -> IdentityPolicy:  # noqa: ANN001 - infra.settings.Settings
    try:
        return IdentityPolicy(
            limits={**DEFAULT_LIMITS, **settings.identity_limits},
            shared_after=settings.identity_shared_after,
            max_identifiers_per_profile=settings.identity_max_identifiers,
            extra_blocklist=blocklist_entries(settings.identity_blocklist, settings.phone_default_country_code),
        )
    except ValueError as exc:
        raise ConfigError(f"TOUCHLINE_IDENTITY_*: {exc}") from None
