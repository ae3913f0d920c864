"""Turn a pydantic ValidationError into ONE message a producer can act on.

    try:
        TouchpointEvent.from_avro(record)
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        # ("items[0].unit_price", "items[0].unit_price: Decimal input should have no more than
        #   2 decimal places; money has 2 decimal places: round it before sending (got 1.005)")

Raw email/phone values are never echoed into messages (dead-letter details
are read by people and land in ClickHouse).
"""

from __future__ import annotations

from pydantic import ValidationError

from schemas.reasons import RejectReason

_REDACTED_FIELDS = frozenset({"email", "phone"})
_MAX_ECHO = 80

# Per field: how to fix a value that does not match the field's pattern.
_FIELD_HINTS = {
    "event_type": "use snake_case such as page_view: a lowercase letter, then lowercase letters, digits or _ "
                  "(at most 64)",
    "currency": "use an ISO 4217 code in capitals, such as EUR",
    "email_sha256": "send the SHA-256 hex digest: 64 lowercase hex characters",
    "phone_sha256": "send the SHA-256 hex digest: 64 lowercase hex characters",
    "locale": "use a BCP 47 language tag such as de-DE",
    "email": "send one address such as name@example.com",
    "reason": "use a reason code from schemas/reasons.py",
}
# Per pydantic error type: what to do.
_TYPE_HINTS = {
    "missing": "this field is required",
    "extra_forbidden": "not a field of this schema: remove it or check the spelling",
    "decimal_max_places": "money has 2 decimal places: round it before sending",
    "decimal_max_digits": "money is decimal(18,2): at most 16 digits before the point",
    "timezone_aware": "send a timezone-aware datetime (UTC) or epoch milliseconds",
    "string_too_short": "send null instead of an empty value",
}


def field_path(loc: tuple[int | str, ...]) -> str | None:
    """``("items", 0, "unit_price")`` -> ``"items[0].unit_price"``; None for the record itself."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or None


def describe_validation_error(exc: ValidationError) -> tuple[str | None, str]:
    """(dotted field path or None, one message naming that path, what is wrong and what to do)."""
    errors = exc.errors(include_url=False)
    if not errors:
        return None, str(exc)
    error = errors[0]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    what = error["msg"].removeprefix("Value error, ")
    bad_key = bool(loc) and loc[-1] == "[key]"
    if bad_key:  # a map key itself is wrong: name the map, quote the key
        what, loc = f"key {loc[-2]!r}: {what}", loc[:-2]
    path = field_path(loc) or ctx.get("field")
    leaf = next((p for p in reversed(loc) if isinstance(p, str)), path)
    hint = None if bad_key else _TYPE_HINTS.get(error["type"]) or (
        _FIELD_HINTS.get(leaf or "") if error["type"] == "string_pattern_mismatch" else None
    )
    if hint and hint not in what:
        what = f"{what}; {hint}"
    if loc and error["type"] != "missing" and leaf not in _REDACTED_FIELDS:
        shown = repr(error.get("input"))
        what += f" (got {shown if len(shown) <= _MAX_ECHO else shown[:_MAX_ECHO] + '...'})"
    message = f"{path}: {what}" if path else what
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return path, message


def reject_reason_for(exc: ValidationError) -> RejectReason:
    """missing_identifier when the record has no identifier at all, else validation_error."""
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "missing_identifier":
        return RejectReason.missing_identifier
    return RejectReason.validation_error
