"""Contact pressure: may this profile be contacted on this channel now, and if not, why and until when.

A pure function of the profile's stitched touches (all its devices and
identifiers, as the journey state holds them) and the contact policy
(streams/optimization/policy.py), evaluated at ``now_ms``:

1. consent: the latest consent event (by event time) with
   ``consent.marketing = false`` suppresses every marketing channel
   (``consent_withdrawn``) until a later one says true;
2. unsubscribes: an unsubscribe suppresses its channel
   (``unsubscribed:<channel>``), or every channel when it came through no
   contact channel, until a later resubscribe on that channel;
3. caps: a channel with ``count >= max`` contacts in a window is suppressed
   (``cap:<channel>:<window>:<max>``; ``cap:all:...`` for the overall caps)
   until enough of them age out: with the 5-per-7-days cap the 5th email is
   allowed, and after it the 6th is suppressed until 7 days after the oldest.
   A member of real-time segments gets, per channel, the caps of the first of
   its segments that the policy's ``[segments.<name>]`` overrides (file order);
4. quiet hours (only if asked: the decision topic leaves them out, they
   depend on the clock, not on touches): ``quiet_hours`` until they end.

A contact counts while ``now - window < t``, so at ``t + window`` exactly it
no longer does. ``next_allowed_at`` is the earliest time every cap blocking
now is released and quiet hours are over (None for consent and unsubscribe:
no time lifts those, and for a cap of 0).

Touch extras used (streams/journeys/context.py ``touch_extra``): ``c``
consent.marketing, ``u`` properties.channel, ``r`` properties.direction.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time as clock_time, timedelta
from zoneinfo import ZoneInfo

from streams.optimization.policy import CHANNELS, Cap, ContactPolicy
from streams.sessions.touches import Touch

ALLOWED = "within_caps"
NO_CONTACTS = "no_contacts_on_record"
CONSENT_WITHDRAWN = "consent_withdrawn"
QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    counts: dict[str, int] = field(default_factory=dict)  # window -> this channel's contacts; all:<window> -> all
    next_allowed_at: int | None = None  # ms since the epoch

    @property
    def kind(self) -> str:
        """The metric's ``decision`` label: allow, suppress_cap, suppress_unsubscribed, ..."""
        if self.allowed:
            return "allow"
        return {"cap": "suppress_cap", "unsubscribed": "suppress_unsubscribed", CONSENT_WITHDRAWN: "suppress_consent",
                QUIET_HOURS: "suppress_quiet_hours"}.get(self.reason.split(":", 1)[0], "suppress_other")


def contact_decisions(touches: Iterable[Touch], extras: Mapping[str, dict], now_ms: int, policy: ContactPolicy,
                      *, quiet_hours: bool = True, segments: frozenset[str] | set[str] = frozenset(),
                      ) -> dict[str, Decision]:
    """One decision per contact channel (policy.CHANNELS order); ``extras``: event id -> touch extra.

    ``segments``: the profile's real-time segments; the policy's ``[segments.<name>]`` caps apply to them.
    """
    types = policy.event_types
    relevant = sorted({t.event_id: t for t in touches if t.event_type in types}.values(),
                      key=lambda t: (t.t, t.event_id))
    matchers = policy.contact_matchers
    sent: dict[str, list[int]] = {name: [] for name in CHANNELS}
    sent_any: list[int] = []
    for touch in relevant:
        matching = matchers.get(touch.event_type)
        if not matching:
            continue
        direction = (extras.get(touch.event_id) or {}).get("r", "")
        counted = False
        for name, touch_channels, directions in matching:
            if touch.channel in touch_channels and (directions is None or direction in directions):
                sent[name].append(touch.t)
                counted = True
        if counted:
            sent_any.append(touch.t)
    unsubscribed, withdrawn = _subscriptions(relevant, extras, policy)
    windows = policy.windows(segments)
    overall = policy.overall_caps(segments)
    overall_counts = {f"all:{cap.window}": _in_window(sent_any, cap, now_ms) for cap in overall}
    quiet = policy.quiet_hours if quiet_hours else None
    decisions = {}
    for name in CHANNELS:
        counts = {cap.window: _in_window(sent[name], cap, now_ms) for cap in windows} | overall_counts
        if withdrawn and policy.channel(name).marketing:
            decisions[name] = Decision(False, CONSENT_WITHDRAWN, counts)
            continue
        if name in unsubscribed:
            decisions[name] = Decision(False, f"unsubscribed:{name}", counts)
            continue
        blocks = [(_release(sent[name], cap, now_ms), f"cap:{name}:{cap.window}:{cap.max}")
                  for cap in policy.caps_for(name, segments)]
        blocks += [(_release(sent_any, cap, now_ms), f"cap:all:{cap.window}:{cap.max}") for cap in overall]
        blocks = [b for b in blocks if b[0] != 0]
        if any(release is None for release, _ in blocks):  # a cap of 0: the channel is off
            decisions[name] = Decision(False, next(r for t, r in blocks if t is None), counts)
            continue
        until = max(blocks, default=None)
        in_quiet = quiet is not None and name in quiet.channels
        if until is not None:
            end = _quiet_end(max(until[0], now_ms), quiet) if in_quiet else None
            decisions[name] = Decision(False, until[1], counts, end or until[0])
            continue
        end = _quiet_end(now_ms, quiet) if in_quiet else None
        decisions[name] = Decision(True, ALLOWED, counts) if end is None else Decision(False, QUIET_HOURS, counts, end)
    return decisions


def subscriptions(touches: Iterable[Touch], extras: Mapping[str, dict],
                  policy: ContactPolicy) -> tuple[frozenset[str], bool]:
    """(contact channels unsubscribed, marketing consent withdrawn) after the touches: rules 1 and 2 above.

    What contact_decisions applies, for others to reuse (real-time segments' subscription status).
    """
    types = policy.suppression_event_types
    ordered = sorted({t.event_id: t for t in touches if t.event_type in types}.values(),
                     key=lambda t: (t.t, t.event_id))
    unsubscribed, withdrawn = _subscriptions(ordered, extras, policy)
    return frozenset(unsubscribed), withdrawn


def _subscriptions(ordered: list[Touch], extras: Mapping[str, dict], policy: ContactPolicy) -> tuple[set[str], bool]:
    """Rules 1 and 2 over touches in event-time order."""
    rules = policy.suppression
    unsubscribes, consents, resubscribes = (frozenset(rules.unsubscribe_events), frozenset(rules.consent_events),
                                            frozenset(rules.resubscribe_events))
    unsubscribed: set[str] = set()
    withdrawn = False
    for touch in ordered:
        kind = touch.event_type
        if kind not in unsubscribes and kind not in resubscribes and kind not in consents:
            continue
        extra = extras.get(touch.event_id) or {}
        if kind in unsubscribes:
            target = _target(touch, extra, policy)
            unsubscribed |= set(CHANNELS) if target is None else {target}
        if kind in resubscribes:
            unsubscribed.discard(_target(touch, extra, policy))
        if kind in consents and isinstance(extra.get("c"), bool):
            withdrawn = not extra["c"]
    return unsubscribed, withdrawn


def _target(touch: Touch, extra: dict, policy: ContactPolicy) -> str | None:
    """The contact channel an (un)subscribe is about: its properties.channel, else its own channel."""
    hint = extra.get("u")
    return (policy.channel_of(hint) if isinstance(hint, str) else None) or policy.channel_of(touch.channel)


def _in_window(times: list[int], cap: Cap, now_ms: int) -> int:
    start = now_ms - cap.window_ms
    return len(times) - bisect_right(times, start)  # times are in event-time order


def _release(times: list[int], cap: Cap, now_ms: int) -> int | None:
    """When the cap stops blocking: 0 if it does not block now, None if never (a cap of 0)."""
    inside = times[bisect_right(times, now_ms - cap.window_ms):]  # times are in event-time order
    if len(inside) < cap.max:
        return 0
    if cap.max == 0:
        return None
    return inside[len(inside) - cap.max] + cap.window_ms  # then max - 1 remain


def in_quiet_hours(ms: int, quiet) -> bool:  # noqa: ANN001 - policy.QuietHours
    hour = datetime.fromtimestamp(ms / 1000, ZoneInfo(quiet.timezone)).hour
    if quiet.start < quiet.end:
        return quiet.start <= hour < quiet.end
    return hour >= quiet.start or hour < quiet.end


def _quiet_end(ms: int, quiet) -> int | None:  # noqa: ANN001 - policy.QuietHours
    """When the quiet hours holding at ``ms`` end (None if they do not hold)."""
    if quiet is None or not in_quiet_hours(ms, quiet):
        return None
    zone = ZoneInfo(quiet.timezone)
    local = datetime.fromtimestamp(ms / 1000, zone)
    day = local.date() if local.hour < quiet.end else local.date() + timedelta(days=1)
    return int(datetime.combine(day, clock_time(quiet.end), zone).timestamp() * 1000)
