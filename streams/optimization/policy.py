"""The contact policy: how often each channel may contact a person, and what suppresses it (docs/optimization.md).

A TOML file (``TOUCHLINE_CONTACT_POLICY_FILE``; unset = the defaults below),
validated here. Everything a file leaves out keeps its default, channel by
channel: a file with only ``[channels.sms] caps = [...]`` still caps email at
5 per 7 days. ``infra/contact-policy.example.toml`` is an annotated example.

- ``[channels.<name>]`` for email, sms, push, retargeting, call_center:
  ``caps`` (a list of ``{window = "7d", max = 5}``), ``contact_events`` (the
  event types that count as one outbound contact on this channel, a plain
  name or ``{event_type = "call", directions = ["outbound", ""]}`` to match the
  touch's ``properties.direction``, "" meaning absent), ``touch_channels``
  (the touchpoint channels that belong to it) and ``marketing`` (a consent
  withdrawal suppresses it);
- ``[overall] caps``: contacts on all channels together;
- ``[quiet_hours]``: ``start`` and ``end`` local hours (``start > end``
  spans midnight), an IANA ``timezone`` (default UTC) and the ``channels``
  they hold for (default all);
- ``[suppression]``: the event types that unsubscribe, change consent or
  subscribe again;
- ``[segments.<name>]``: cap overrides for the members of a real-time segment
  (streams/optimization/segments.py): ``channels.<channel>`` replaces that
  channel's caps, ``overall`` the overall caps. A person in several overriding
  segments gets, per channel (and for ``overall``), the override of the first
  of them in the file's order (``caps_for``, ``overall_caps``);
- ``[offers]``: offer consistency (streams/optimization/offers.py): ``window``
  (two different offers of one campaign shown less than this apart
  conflict), ``valid_for`` (how long a shown offer stays valid: the best
  offer) and ``show_events`` (the event types that show an offer; empty =
  every touch carrying an offer_id);
- ``[next_channel]``: next-best-channel (streams/optimization/next_channel.py):
  ``window`` (contacts counted), ``engaged_within`` (an engagement counts for
  the latest contact of its channel this recent), the Beta prior
  ``prior_alpha``/``prior_beta`` and ``engagement_events`` per channel.

Windows are ``<n>m``, ``<n>h``, ``<n>d`` or ``<n>w`` up to 90 days, the
longest the journey state keeps touches (``TOUCHLINE_MAX_EVENT_AGE_DAYS``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.models import Channel
from streams.optimization.exceptions import PolicyError
from streams.optimization.toml_file import parse_model, read_text

CHANNELS = ("email", "sms", "push", "retargeting", "call_center")
ChannelName = Literal["email", "sms", "push", "retargeting", "call_center"]
SETTING = "TOUCHLINE_CONTACT_POLICY_FILE"

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
MAX_WINDOW_MS = 90 * _UNIT_MS["d"]
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOUCH_CHANNELS = frozenset(c.value for c in Channel)
# A segment's name, here and in the segment definitions (streams/optimization/segment_definitions.py).
SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# The defaults: the example (at most 5 emails and 2 SMS per 7 days), nothing else capped.
DEFAULT_CHANNELS: dict[str, dict[str, Any]] = {
    "email": {"caps": [{"window": "7d", "max": 5}], "contact_events": ["email_send"], "touch_channels": ["email"]},
    "sms": {"caps": [{"window": "7d", "max": 2}], "contact_events": ["sms_send"], "touch_channels": ["sms"]},
    "push": {"caps": [], "contact_events": ["push_send"], "touch_channels": ["push"]},
    # Ad impressions are contacts only if a policy says so (retargeting frequency is the ad server's job first).
    "retargeting": {"caps": [], "contact_events": [], "touch_channels": ["social", "display"]},
    # Calls not marked inbound: the simulator's and most call-center feeds carry no direction at all.
    "call_center": {"caps": [], "contact_events": [{"event_type": "call", "directions": ["outbound", ""]}],
                    "touch_channels": ["call_center"]},
}


def duration_ms(label: str) -> int:
    """``"24h"`` -> 86,400,000; ValueError for anything else."""
    match = _DURATION.match(label)
    if not match:
        raise ValueError(f"{label!r} is not a duration: a number and m, h, d or w, e.g. 24h or 7d")
    return int(match[1]) * _UNIT_MS[match[2]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cap(_Model):
    window: str = Field(description="How far back contacts count: 30m, 24h, 7d, 2w (at most 90 days).")
    max: int = Field(ge=0, le=100_000, description="Contacts allowed within the window; one more is suppressed.")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if duration_ms(value) > MAX_WINDOW_MS:
            raise ValueError(f"{value!r} is longer than 90 days, the longest the stream keeps a profile's touches")
        return value

    @cached_property
    def window_ms(self) -> int:
        return duration_ms(self.window)


class ContactRule(_Model):
    event_type: str
    # Match the touch's properties.direction (lower case; "" = no direction); None = any.
    directions: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        return {"event_type": value} if isinstance(value, str) else value

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if not _EVENT_TYPE.match(value):
            raise ValueError(f"{value!r} is not an event type (snake_case, as producers send it)")
        return value

    @field_validator("directions")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.lower() for v in value]  # touch extras keep them in lower case


class ChannelPolicy(_Model):
    caps: list[Cap] = []
    contact_events: list[ContactRule] = []
    touch_channels: list[str] = []
    marketing: bool = True  # a consent withdrawal (consent.marketing = false) suppresses it

    @field_validator("touch_channels")
    @classmethod
    def _touch_channels(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - _TOUCH_CHANNELS)
        if unknown:
            raise ValueError(f"unknown touchpoint channel(s) {unknown}: use {sorted(_TOUCH_CHANNELS)}")
        return value


class Channels(_Model):
    email: ChannelPolicy
    sms: ChannelPolicy
    push: ChannelPolicy
    retargeting: ChannelPolicy
    call_center: ChannelPolicy

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged = dict(value)  # names that are no channel stay, for extra="forbid" to name them
        for name in CHANNELS:
            given = value.get(name, {})
            merged[name] = {**DEFAULT_CHANNELS[name], **given} if isinstance(given, dict) else given
        return merged

    @model_validator(mode="after")
    def _disjoint_touch_channels(self) -> Channels:
        owner: dict[str, str] = {}
        for name in CHANNELS:
            for touch_channel in getattr(self, name).touch_channels:
                if touch_channel in owner:
                    raise ValueError(f"touchpoint channel {touch_channel!r} is in both {owner[touch_channel]}"
                                     f".touch_channels and {name}.touch_channels")
                owner[touch_channel] = name
        return self


class Overall(_Model):
    caps: list[Cap] = []


class QuietHours(_Model):
    start: int = Field(ge=0, le=23, description="Local hour quiet hours begin (inclusive).")
    end: int = Field(ge=0, le=23, description="Local hour they end (exclusive); below start = the next day.")
    timezone: str = "UTC"
    channels: list[ChannelName] = list(CHANNELS)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: quiet hours would be empty (or the whole day); "
                             "remove [quiet_hours] to have none")
        return self


class Suppression(_Model):
    # Suppresses the channel the touch belongs to (its properties.channel, else its channel), or every
    # channel when that is no contact channel (a preference centre on the web).
    unsubscribe_events: list[str] = ["unsubscribe"]
    # consent.marketing = false suppresses every marketing channel; a later true lifts that (not unsubscribes).
    consent_events: list[str] = ["consent_change"]
    # Lifts an unsubscribe of the channel the touch belongs to (never all channels at once).
    resubscribe_events: list[str] = ["subscription"]

    @field_validator("unsubscribe_events", "consent_events", "resubscribe_events")
    @classmethod
    def _event_types(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _EVENT_TYPE.match(v)]
        if bad:
            raise ValueError(f"{bad} are not event types (snake_case, as producers send them)")
        return value


class SegmentOverride(_Model):
    """Caps for the members of one segment: replace a channel's caps (``channels``) or the overall ones."""

    channels: dict[ChannelName, list[Cap]] = {}
    overall: list[Cap] | None = None


def _window_label(value: str) -> str:
    if duration_ms(value) > MAX_WINDOW_MS:
        raise ValueError(f"{value!r} is longer than 90 days, the longest the stream keeps a profile's touches")
    return value


def _event_type_list(value: list[str]) -> list[str]:
    bad = [v for v in value if not _EVENT_TYPE.match(v)]
    if bad:
        raise ValueError(f"{bad} are not event types (snake_case, as producers send them)")
    return value


class Offers(_Model):
    """Offer consistency (streams/optimization/offers.py): when offers conflict, which one is valid."""

    # Two different offers of one campaign shown less than this apart conflict (as a cap window counts).
    window: str = "7d"
    # A shown offer is valid while younger than this: the best offer is the highest discount among them.
    valid_for: str = "7d"
    # Event types whose touches show an offer; empty: every touch that carries an offer_id.
    show_events: list[str] = []

    @field_validator("window", "valid_for")
    @classmethod
    def _window(cls, value: str) -> str:
        return _window_label(value)

    @field_validator("show_events")
    @classmethod
    def _event_types(cls, value: list[str]) -> list[str]:
        return _event_type_list(value)

    @cached_property
    def window_ms(self) -> int:
        return duration_ms(self.window)

    @cached_property
    def valid_for_ms(self) -> int:
        return duration_ms(self.valid_for)

    @cached_property
    def show_types(self) -> frozenset[str] | None:
        return frozenset(self.show_events) if self.show_events else None


# Engagements per contact channel: the event types that mean a contact on that channel was engaged with
# (opened, clicked: the click is the visit it brings). Call-center calls have no engagement event: unmeasured.
DEFAULT_ENGAGEMENTS: dict[str, list[str]] = {
    "email": ["email_open", "email_click"], "sms": ["sms_click"], "push": ["push_open"],
    "retargeting": ["ad_click", "social_click"], "call_center": [],
}


class NextChannel(_Model):
    """Next-best-channel (streams/optimization/next_channel.py): engagement per channel, Beta posterior."""

    window: str = "30d"  # contacts younger than this count
    engaged_within: str = "3d"  # an engagement counts for its channel's latest contact if this recent
    # Beta(prior_alpha, prior_beta): a channel never tried is worth 1 engagement in 4 contacts (0.25).
    prior_alpha: float = Field(1.0, gt=0, le=1000)
    prior_beta: float = Field(3.0, gt=0, le=1000)
    engagement_events: dict[ChannelName, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ENGAGEMENTS))

    @field_validator("window", "engaged_within")
    @classmethod
    def _window(cls, value: str) -> str:
        return _window_label(value)

    @field_validator("engagement_events", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        return {**DEFAULT_ENGAGEMENTS, **value} if isinstance(value, dict) else value  # a file names what it changes

    @field_validator("engagement_events")
    @classmethod
    def _engagement_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for channel, events in value.items():
            bad = [v for v in events if not _EVENT_TYPE.match(v)]
            if bad:
                raise ValueError(f"{channel}: {bad} are not event types (snake_case, as producers send them)")
        return value

    @cached_property
    def window_ms(self) -> int:
        return duration_ms(self.window)

    @cached_property
    def engaged_within_ms(self) -> int:
        return duration_ms(self.engaged_within)


class ContactPolicy(_Model):
    channels: Channels = Field(default_factory=lambda: Channels.model_validate({}))
    overall: Overall = Overall()
    quiet_hours: QuietHours | None = None
    suppression: Suppression = Suppression()
    segments: dict[str, SegmentOverride] = {}
    offers: Offers = Offers()
    next_channel: NextChannel = NextChannel()

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, SegmentOverride]) -> dict[str, SegmentOverride]:
        bad = [name for name in value if not SEGMENT_NAME.match(name)]
        if bad:
            raise ValueError(f"segment names {bad} must be lower-case letters, digits, - and _")
        return value

    # Derived once per policy (cached on the frozen model): the stream asks for them per profile.
    @cached_property
    def version(self) -> str:
        """A hash of the effective policy: the same rules, the same version, whatever the file's layout."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]

    @cached_property
    def event_types(self) -> frozenset[str]:
        """Every event type the policy looks at (contacts, unsubscribes, consent, resubscribes)."""
        s = self.suppression
        return frozenset({*self.contact_matchers, *s.unsubscribe_events, *s.consent_events, *s.resubscribe_events})

    @cached_property
    def suppression_event_types(self) -> frozenset[str]:
        """Consent, unsubscribe and resubscribe events: the journey state keeps them past its trim (pins)."""
        s = self.suppression
        return frozenset({*s.unsubscribe_events, *s.consent_events, *s.resubscribe_events})

    @cached_property
    def contact_matchers(self) -> dict[str, list[tuple[str, frozenset[str], frozenset[str] | None]]]:
        """event type -> [(channel, its touch channels, directions or None)]: which contact a touch can be."""
        matchers: dict[str, list[tuple[str, frozenset[str], frozenset[str] | None]]] = {}
        for name in CHANNELS:
            channel = self.channel(name)
            for rule in channel.contact_events:
                directions = None if rule.directions is None else frozenset(rule.directions)
                matchers.setdefault(rule.event_type, []).append((name, frozenset(channel.touch_channels), directions))
        return matchers

    @cached_property
    def _by_touch_channel(self) -> dict[str, str]:
        return {tc: name for name in CHANNELS for tc in self.channel(name).touch_channels}

    def channel(self, name: str) -> ChannelPolicy:
        return getattr(self.channels, name)

    def channel_of(self, touch_channel: str) -> str | None:
        """The contact channel a touchpoint channel belongs to (social -> retargeting), or None."""
        if touch_channel in CHANNELS:
            return touch_channel
        return self._by_touch_channel.get(touch_channel)

    def caps_for(self, name: str, segments: frozenset[str] | set[str] = frozenset()) -> list[Cap]:
        """Channel ``name``'s caps for a member of ``segments``: the first overriding segment's, in file order.

        First in file order rather than the most permissive: caps with different windows (1 a day and 5 a
        week vs 8 a week) have no order, and the file's author states the priority by the order written.
        """
        if segments and self.segments:
            for segment, override in self.segments.items():
                if segment in segments and name in override.channels:
                    return override.channels[name]
        return self.channel(name).caps

    def overall_caps(self, segments: frozenset[str] | set[str] = frozenset()) -> list[Cap]:
        """The overall caps for a member of ``segments`` (the first overriding segment's, in file order)."""
        if segments and self.segments:
            for segment, override in self.segments.items():
                if segment in segments and override.overall is not None:
                    return override.overall
        return self.overall.caps

    def windows(self, segments: frozenset[str] | set[str] = frozenset()) -> list[Cap]:
        """Every window the caps in force use (one Cap per label, max unused), shortest first: what decisions count.

        The base caps' windows for everyone, plus those of the segment overrides applied to ``segments``.
        """
        labels = {cap.window: cap for name in CHANNELS for cap in self.channel(name).caps}
        labels.update((cap.window, cap) for cap in self.overall.caps)
        if segments and self.segments:
            labels.update((cap.window, cap) for name in CHANNELS for cap in self.caps_for(name, segments))
            labels.update((cap.window, cap) for cap in self.overall_caps(segments))
        return sorted(labels.values(), key=lambda cap: (cap.window_ms, cap.window))


DEFAULT_POLICY = ContactPolicy()


def parse_policy(text: str, origin: str = "<text>") -> ContactPolicy:
    """The policy in TOML ``text``; PolicyError naming ``origin``, the field and the problem."""
    return parse_model(text, origin, ContactPolicy, PolicyError, "contact policy", _problem)


def load_policy(path: Path) -> ContactPolicy:
    text = read_text(path, PolicyError, "contact policy",
                     f"set {SETTING} to an existing file, or unset it for the defaults")
    return parse_policy(text, str(path))


def _problem(error: dict) -> str:
    where = field_location(error["loc"]) or "(top level)"
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden" and len(error["loc"]) == 2 and error["loc"][0] == "channels":
        message = f"not a channel: use one of {', '.join(CHANNELS)}"
    elif kind == "extra_forbidden":
        message = "not a setting of the contact policy (misspelt? docs/optimization.md lists them)"
    elif kind == "literal_error":
        message = f"{error['input']!r} is not a channel: use one of {', '.join(CHANNELS)}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{where}: {message}"


def field_location(loc: Iterable[Any]) -> str:
    """A pydantic error location as a TOML path: ``channels.email.caps[0].window``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part).startswith("function-"):  # pydantic's union/validator branch names
            continue
        else:
            out += f".{part}" if out else str(part)
    return out
