"""Next-best-channel: on which contact channel is this profile most likely to engage now, and may we use it.

A pure function of the profile's stitched touches, the contact policy
(``[next_channel]``, streams/optimization/policy.py) and the profile's contact
decisions now (streams/optimization/decisions.py ``profile_decisions``):

1. **Contacts** per channel are what contact pressure counts (the channel's
   ``contact_events`` on its ``touch_channels``: email_send, sms_send,
   push_send, outbound calls; ad impressions only if the policy lists them).
2. **Engagements** are the channel's ``engagement_events`` on its touch
   channels (default email_open and email_click, sms_click, push_open,
   ad_click and social_click for retargeting; a click is the visit it brings).
   Each engagement goes to the latest contact of its channel at or before it
   (event time), if less than ``engaged_within`` (3d) older; a contact with at
   least one is **engaged** (so an open and a click of one email are one).
3. **Evidence** over the contacts younger than ``window`` (30d;
   ``now - window < t``): ``engaged`` contacts, and ``contacts`` = the engaged
   ones plus those not engaged whose ``engaged_within`` is over
   (``t + engaged_within <= now``). A contact too recent to judge that has no
   engagement yet is ``pending``, counted neither way (else every send would
   look like a failure until opened).
4. **Probability**: the mean of the Beta posterior,
   ``(prior_alpha + engaged) / (prior_alpha + prior_beta + contacts)``. The
   prior, Beta(1, 3) by default, is worth 4 contacts with 1 engagement
   (0.25): a channel never tried on this person starts there, a channel tried
   often is judged on its own record.
5. **Exclusions**: a channel the contact decisions suppress now (a cap,
   unsubscribe, consent, quiet hours) is excluded with the decision's reason;
   a channel without contact events or without engagement events can never
   be measured (``not_measured``: call_center by default, and retargeting
   unless the policy counts ad impressions as contacts).

The ranking: allowed channels by probability (highest first), then more
evidence (contacts), then the policy's channel order; the excluded ones after,
in channel order. The next best channel is the first allowed one, or none.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.optimization.decisions import profile_decisions
from streams.optimization.policy import CHANNELS, ContactPolicy
from streams.optimization.pressure import Decision
from streams.sessions.touches import Touch

NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class ChannelOutlook:
    channel: str
    probability: float | None  # posterior mean; None when the channel cannot be measured
    engaged: int  # contacts in the window with an engagement
    contacts: int  # contacts in the window that count (engaged, or too old to be engaged any more)
    pending: int  # recent contacts without an engagement yet: not counted
    excluded: str | None  # why it may not be recommended now; None when it may


def _evidence(contacts: list[tuple[int, str]], engagements: list[int], now_ms: int,
              policy: ContactPolicy) -> tuple[int, int, int]:
    """(engaged, contacts, pending) of one channel; ``contacts`` in (t, event id) order."""
    settings = policy.next_channel
    times = [t for t, _ in contacts]
    engaged: set[int] = set()
    for at in engagements:
        i = bisect_right(times, at) - 1  # the latest contact at or before the engagement
        if i >= 0 and at - times[i] < settings.engaged_within_ms:
            engaged.add(i)
    start = now_ms - settings.window_ms
    n_engaged = counted = pending = 0
    for i, t in enumerate(times):
        if t <= start:
            continue
        if i in engaged:
            n_engaged += 1
            counted += 1
        elif t + settings.engaged_within_ms <= now_ms:
            counted += 1
        else:
            pending += 1
    return n_engaged, counted, pending


def channel_outlook(touches: Iterable[Touch], extras: Mapping[str, dict], now_ms: int, policy: ContactPolicy,
                    decisions: Mapping[str, Decision]) -> list[ChannelOutlook]:
    """Every contact channel, ranked (see the module docstring); ``decisions``: the profile's, now."""
    settings = policy.next_channel
    matchers = policy.contact_matchers
    engagement_of = {event_type: name for name in CHANNELS
                     for event_type in settings.engagement_events.get(name, ())}
    contacts: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in CHANNELS}
    engagements: dict[str, dict[str, int]] = {name: {} for name in CHANNELS}
    for touch in touches:
        for name, touch_channels, directions in matchers.get(touch.event_type, ()):
            direction = (extras.get(touch.event_id) or {}).get("r", "")
            if touch.channel in touch_channels and (directions is None or direction in directions):
                contacts[name][touch.event_id] = (touch.t, touch.event_id)
        name = engagement_of.get(touch.event_type)
        if name is not None and touch.channel in policy.channel(name).touch_channels:
            engagements[name][touch.event_id] = touch.t
    prior_a, prior_b = settings.prior_alpha, settings.prior_beta
    out = []
    for name in CHANNELS:
        decision = decisions[name]
        measured = bool(policy.channel(name).contact_events) and bool(settings.engagement_events.get(name))
        if not measured:
            out.append(ChannelOutlook(name, None, 0, 0, 0, decision.reason if not decision.allowed else NOT_MEASURED))
            continue
        engaged, counted, pending = _evidence(sorted(contacts[name].values()), sorted(engagements[name].values()),
                                              now_ms, policy)
        probability = (prior_a + engaged) / (prior_a + prior_b + counted)
        out.append(ChannelOutlook(name, probability, engaged, counted, pending,
                                  None if decision.allowed else decision.reason))
    order = {name: i for i, name in enumerate(CHANNELS)}
    allowed = sorted((o for o in out if o.excluded is None),
                     key=lambda o: (-o.probability, -o.contacts, order[o.channel]))
    return allowed + [o for o in out if o.excluded is not None]


def next_best_channel(outlook: list[ChannelOutlook]) -> ChannelOutlook | None:
    """The recommended channel of a ranking: the first one not excluded."""
    return next((o for o in outlook if o.excluded is None), None)


def profile_outlook(state: dict | None, now_ms: int, policy: ContactPolicy,
                    segments: frozenset[str] | set[str] = frozenset()) -> list[ChannelOutlook]:
    """The ranking for a journey state (None: nobody on record) at ``now_ms``, quiet hours included.

    ``segments``: the profile's real-time segments now (their ``[segments.*]`` caps apply to the decisions).
    """
    decisions = profile_decisions(state, now_ms, policy, segments=segments)
    types = _evidence_types(policy)
    touches: list[Touch] = []
    extras: dict[str, dict] = {}
    for slot in (state or {}).get("s", {}).values():
        for x in slot.get("x", ()):
            if x[0][2] in types:  # most touches are page views: skip them cheaply
                touches.append(Touch(*x[0]))
                if len(x) > 2 and x[2]:
                    extras[x[0][1]] = x[2]
    return channel_outlook(touches, extras, now_ms, policy, decisions)


_TYPES: dict[str, frozenset[str]] = {}  # policy version -> event types that are evidence


def _evidence_types(policy: ContactPolicy) -> frozenset[str]:
    types = _TYPES.get(policy.version)
    if types is None:
        engagements = (t for events in policy.next_channel.engagement_events.values() for t in events)
        types = frozenset((*policy.contact_matchers, *engagements))
        if len(_TYPES) > 16:  # policies reloaded over a worker's life: keep a few
            _TYPES.clear()
        _TYPES[policy.version] = types
    return types


def outlook_answer(outlook: list[ChannelOutlook], policy: ContactPolicy) -> dict[str, Any]:
    """The JSON the profile context and ``GET .../next_best_channel/`` answer with."""
    best = next_best_channel(outlook)
    settings = policy.next_channel
    return {
        "channel": None if best is None else best.channel,
        "probability": None if best is None else round(best.probability, 6),
        "ranking": [{"channel": o.channel,
                     "probability": None if o.probability is None else round(o.probability, 6),
                     "engaged": o.engaged, "contacts": o.contacts, "pending": o.pending, "excluded": o.excluded}
                    for o in outlook],
        "prior": {"alpha": settings.prior_alpha, "beta": settings.prior_beta},
        "window": settings.window,
        "policy_version": policy.version,
    }
