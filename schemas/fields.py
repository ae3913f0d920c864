"""Constrained field types shared by the models: one place for every limit.

Policies (docs/producers.md repeats them for channel backends):
- Money is ``Decimal`` with at most 18 digits and 2 decimal places, >= 0.
  More places are REJECTED, not rounded: silently changing an amount hides a
  producer bug. Values are quantized to exactly 2 places (``Decimal("0.2")``
  becomes ``Decimal("0.20")``), which is what an Avro decimal(18,2) reads back.
  Floats are accepted through their shortest repr (0.29 -> 0.29), so a float
  that is not what it looks like (0.1 + 0.2) is rejected for its 17 places.
- Timestamps are timezone-aware, converted to UTC and truncated to whole
  milliseconds (Avro timestamp-millis), so a model survives a round trip
  unchanged. An int is epoch milliseconds; a naive datetime is rejected.
- Ids are 1-256 characters without control characters (NUL, escape sequences,
  line breaks: they break logs, terminals and CSV exports and are never part of
  a real id); empty strings are rejected (send null instead), except in the
  identifier fields, where an empty or blank string counts as no identifier
  (``schemas.models.blank_identifiers``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

MAX_ID_CHARS = 256
MAX_ITEMS = 100
MAX_EXPERIMENTS = 50
MAX_PROPERTIES = 50
MAX_PROPERTY_KEY_CHARS = 128
MAX_PROPERTY_VALUE_CHARS = 2048
MAX_URL_CHARS = 2048
MAX_QUANTITY = 1_000_000

_CENT = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise ValueError(f"{value} epoch milliseconds is outside years 1-9999") from None
    return value


def _utc_millis(value: datetime) -> datetime:
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)  # cannot fail: decimal_places=2 and max_digits=18 were checked first


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_CHARS)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=64)]
ReasonCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
PropertyKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROPERTY_KEY_CHARS)]
PropertyValue = Annotated[str, StringConstraints(max_length=MAX_PROPERTY_VALUE_CHARS)]

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2), AfterValidator(_cents)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Micros = Annotated[int, Field(ge=0, le=2**63 - 1)]
Partition = Annotated[int, Field(ge=0, le=2**31 - 1)]
Offset = Annotated[int, Field(ge=0, le=2**63 - 1)]
UtcMillis = Annotated[AwareDatetime, BeforeValidator(_epoch_millis), AfterValidator(_utc_millis)]
