"""Segment definitions: who is in which real-time segment (docs/optimization.md, "Real-time segments").

A TOML file (``TOUCHLINE_SEGMENTS_FILE``; unset = ``DEFAULT_TEXT`` below,
also shipped as ``infra/segments.example.toml``), validated here. Each
``[segments.<name>]`` (names as the contact policy's ``[segments.<name>]``)
has an optional ``description`` and its conditions: ``all = [...]`` (every one
holds) and/or ``any = [...]`` (at least one holds); with both, both must.
A condition is a table with exactly one key, a feature of
streams/optimization/features.py, or a nested ``all``/``any``:

- ages, ``{within = "7d"}`` (it happened, less than 7 days ago) and/or
  ``{older_than = "90d"}`` (it happened, at least 90 days ago); never true when
  it never happened: ``last_touch``, ``first_touch``, ``last_purchase``,
  ``open_cart`` (the open cart's last change);
- counts in a window, ``{window = "30d", min = 2, max = 5}`` (bounds
  inclusive, at least one): ``touches`` (activity), ``orders``;
- ``revenue = {window = "90d", min = "500.00", max = ...}``: purchase revenue
  in the window, inclusive bounds, at most 2 decimals;
- ``stage = ["cart", "considering"]``: the purchase-path stage is one of them;
- ``subscription = {email = "unsubscribed", sms = ["subscribed"]}``: per
  contact channel, its status is (one of) those: subscribed, unsubscribed,
  consent_withdrawn (every channel named must match);
- ``channels = {window = "90d", any_of = ["store"], min_distinct = 3}`` and
  ``device_types = {...}``: used (activity) in the window (default: anything
  on record); ``any_of``: at least one of these; ``min_distinct``: at least
  that many different ones; both given, both must hold.

Windows and ages are ``<n>m``, ``<n>h``, ``<n>d`` or ``<n>w`` up to 90 days,
the longest the journey state keeps a profile's touches. Segments are
evaluated in file order (their changes are emitted in that order).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.models import Channel, DeviceType
from streams.optimization.exceptions import SegmentsError
from streams.optimization.toml_file import parse_model, read_text
from streams.optimization.features import STAGES, STATUSES
from streams.optimization.policy import MAX_WINDOW_MS, SEGMENT_NAME, ChannelName, duration_ms, field_location

SETTING = "TOUCHLINE_SEGMENTS_FILE"
Stage = Literal["cart", "considering", "purchased", "browsing", "lapsed", "inactive"]
Status = Literal["subscribed", "unsubscribed", "consent_withdrawn"]
_DEVICE_TYPES = frozenset(d.value for d in DeviceType) - {"unknown"}
_CHANNELS = frozenset(c.value for c in Channel)
assert set(STAGES) == set(Stage.__args__) and set(STATUSES) == set(Status.__args__)  # one list of each


def _duration(value: str) -> str:
    if duration_ms(value) > MAX_WINDOW_MS:
        raise ValueError(f"{value!r} is longer than 90 days, the longest the stream keeps a profile's touches")
    return value


def _listed(value: Any) -> Any:
    """A single name where a list is expected: a list of one."""
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Age(_Model):
    within: str | None = Field(None, description="It happened less than this long ago.")
    older_than: str | None = Field(None, description="It happened at least this long ago.")

    @field_validator("within", "older_than")
    @classmethod
    def _durations(cls, value: str | None) -> str | None:
        return value if value is None else _duration(value)

    @model_validator(mode="after")
    def _bounds(self) -> Age:
        if self.within is None and self.older_than is None:
            raise ValueError("give within, older_than or both, e.g. {within = \"7d\"}")
        if self.within is not None and self.older_than is not None and self.within_ms <= self.older_ms:
            raise ValueError(f"within {self.within!r} must be longer than older_than {self.older_than!r}: "
                             "nothing could match")
        return self

    @cached_property
    def within_ms(self) -> int | None:
        return None if self.within is None else duration_ms(self.within)

    @cached_property
    def older_ms(self) -> int | None:
        return None if self.older_than is None else duration_ms(self.older_than)


class Count(_Model):
    window: str
    min: int | None = Field(None, ge=0, le=1_000_000)
    max: int | None = Field(None, ge=0, le=1_000_000)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _duration(value)

    @model_validator(mode="after")
    def _bounds(self) -> Count:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both (inclusive), e.g. {window = \"30d\", min = 2}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}: nothing could match")
        return self

    @cached_property
    def window_ms(self) -> int:
        return duration_ms(self.window)


class Money(_Model):
    window: str
    min: Decimal | None = Field(None, ge=0, description="Inclusive, in the currency of the revenue, 2 decimals.")
    max: Decimal | None = Field(None, ge=0)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _duration(value)

    @field_validator("min", "max", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        if value is None:
            return value
        try:
            amount = Decimal(str(value))  # a TOML float as written, not its binary approximation
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount (e.g. \"500\" or \"49.90\")") from None
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError(f"{value!r} has more than 2 decimals")
        return amount

    @model_validator(mode="after")
    def _bounds(self) -> Money:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both (inclusive), e.g. {window = \"90d\", min = \"500\"}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}: nothing could match")
        return self

    @cached_property
    def window_ms(self) -> int:
        return duration_ms(self.window)

    @cached_property
    def min_cents(self) -> int | None:
        return None if self.min is None else int(self.min * 100)

    @cached_property
    def max_cents(self) -> int | None:
        return None if self.max is None else int(self.max * 100)


class Usage(_Model):
    window: str | None = Field(None, description="Used within this long; unset: anything on record.")
    any_of: list[str] | None = None
    min_distinct: int | None = Field(None, ge=1, le=100)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        return value if value is None else _duration(value)

    @field_validator("any_of", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return _listed(value)

    @model_validator(mode="after")
    def _something(self) -> Usage:
        if not self.any_of and self.min_distinct is None:
            raise ValueError("give any_of (a non-empty list), min_distinct or both")
        return self

    @cached_property
    def window_ms(self) -> int | None:
        return None if self.window is None else duration_ms(self.window)


def _known(values: list[str] | None, known: frozenset[str], what: str) -> None:
    unknown = sorted(set(values or ()) - known)
    if unknown:
        raise ValueError(f"unknown {what} {unknown}: use {sorted(known)}")


class ChannelUsage(Usage):
    @model_validator(mode="after")
    def _channels(self) -> ChannelUsage:
        _known(self.any_of, _CHANNELS, "channel(s)")
        return self


class DeviceUsage(Usage):
    @model_validator(mode="after")
    def _device_types(self) -> DeviceUsage:
        _known(self.any_of, _DEVICE_TYPES, "device type(s)")
        return self


KEYS = ("all", "any", "first_touch", "last_touch", "last_purchase", "open_cart", "touches", "orders", "revenue",
        "stage", "subscription", "channels", "device_types")


class Condition(_Model):
    """Exactly one of the fields: a feature test, or a nested all/any."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    first_touch: Age | None = None
    last_touch: Age | None = None
    last_purchase: Age | None = None
    open_cart: Age | None = None
    touches: Count | None = None
    orders: Count | None = None
    revenue: Money | None = None
    stage: list[Stage] | None = None
    subscription: dict[ChannelName, list[Status]] | None = None
    channels: ChannelUsage | None = None
    device_types: DeviceUsage | None = None

    @field_validator("stage", mode="before")
    @classmethod
    def _stages(cls, value: Any) -> Any:
        return _listed(value)

    @field_validator("subscription", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        return {k: _listed(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [key for key in KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"a condition has exactly one of {', '.join(KEYS)}; got "
                             f"{', '.join(given) or 'none'} (put several in all = [...] or any = [...])")
        key = given[0]
        if key in ("all", "any", "stage", "subscription") and not getattr(self, key):
            raise ValueError(f"{key} is empty: it needs at least one entry")
        if key == "subscription" and any(not statuses for statuses in self.subscription.values()):
            raise ValueError("a subscription status list is empty")
        return self

    @cached_property
    def key(self) -> str:
        return next(key for key in KEYS if getattr(self, key) is not None)

    def durations_ms(self) -> set[int]:
        """Every window and age this condition uses (the times at which it can change without a touch)."""
        value = getattr(self, self.key)
        if self.key in ("all", "any"):
            return {d for c in value for d in c.durations_ms()}
        if isinstance(value, Age):
            return {d for d in (value.within_ms, value.older_ms) if d is not None}
        if isinstance(value, Count | Money | Usage):
            return set() if value.window_ms is None else {value.window_ms}
        return set()


class Segment(_Model):
    description: str = Field("", max_length=500)
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _conditions(self) -> Segment:
        if not self.all and not self.any:
            raise ValueError("no conditions: give all = [...] and/or any = [...] (each a non-empty list)")
        return self


class SegmentDefinitions(_Model):
    segments: dict[str, Segment] = {}

    @field_validator("segments")
    @classmethod
    def _names(cls, value: dict[str, Segment]) -> dict[str, Segment]:
        bad = [name for name in value if not SEGMENT_NAME.match(name)]
        if bad:
            raise ValueError(f"segment names {bad} must be lower-case letters, digits, - and _ (at most 64, "
                             "not starting with - or _)")
        return value

    @cached_property
    def version(self) -> str:
        """A hash of the effective definitions: the same rules, the same version, whatever the file's layout."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(self.segments)


DEFAULT_TEXT = """\
# Real-time segments (docs/optimization.md). Point TOUCHLINE_SEGMENTS_FILE at a copy to change them.

[segments.vip]
description = "Spent 500 or more in the last 90 days (purchase revenue, currencies not converted)"
all = [{ revenue = { window = "90d", min = "500" } }]

[segments.cart_abandoner]
description = "An open cart (added, not bought) changed in the last 30 days but not in the last hour"
all = [{ stage = "cart" }, { open_cart = { older_than = "1h" } }]

[segments.lapsed]
description = "A customer gone quiet: last purchase 60+ days ago and no activity for 30 days"
all = [{ last_purchase = { older_than = "60d" } }, { last_touch = { older_than = "30d" } }]

[segments.new]
description = "First activity on record in the last 30 days"
all = [{ first_touch = { within = "30d" } }]

[segments.omnichannel]
description = "Active on 3 or more channels in the last 90 days"
all = [{ channels = { window = "90d", min_distinct = 3 } }]

[segments.unsubscribed_email]
description = "May not be emailed marketing: unsubscribed from email, or marketing consent withdrawn"
all = [{ subscription = { email = ["unsubscribed", "consent_withdrawn"] } }]
"""


def parse_definitions(text: str, origin: str = "<text>") -> SegmentDefinitions:
    """The definitions in TOML ``text``; SegmentsError naming ``origin``, the segment, the field and the problem."""
    return parse_model(text, origin, SegmentDefinitions, SegmentsError, "segment definitions", _problem)


def load_definitions(path: Path) -> SegmentDefinitions:
    text = read_text(path, SegmentsError, "segment definitions",
                     f"set {SETTING} to an existing file, or unset it for the default segments")
    return parse_definitions(text, str(path))


def _problem(error: dict) -> str:
    loc = error["loc"]
    where = field_location(loc) or "(top level)"
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden" and loc[0] == "segments" and len(loc) == 3:
        message = "not a setting of a segment: use description, all, any"
    elif kind == "extra_forbidden" and loc[0] == "segments":
        message = f"not a condition or one of its settings (misspelt? conditions: {', '.join(KEYS)})"
    elif kind == "extra_forbidden":
        message = "not a setting of the segment definitions: put segments under [segments.<name>]"
    elif kind == "literal_error":
        message = f"{error['input']!r} is not one of {error['ctx']['expected']}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{where}: {message}"


DEFAULT_DEFINITIONS = parse_definitions(DEFAULT_TEXT, "(the defaults)")
