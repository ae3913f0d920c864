"""Offer consistency: conflicting offers shown to one profile, and the offer every channel should show now.

Pure functions of a profile's stitched touches (all its devices and
identifiers, as the journey state holds them), their extras (``o`` offer id,
``d`` discount percent: streams/journeys/context.py ``touch_extra``) and the
contact policy's ``[offers]`` table (streams/optimization/policy.py ``Offers``).
Everything is ordered by (event time, event id): the same touches in any
arrival order give the same answer.

**A show** is a touch carrying an offer id (of the ``show_events`` types when
the policy lists any). Its **scope** is its campaign: offers of different
campaigns never conflict. A show without a campaign is scoped by its offer id
(the same offer sent with two discounts). Offer touches carry no product in
Touchline's contract (only cart and order lines have SKUs), so scopes are
campaigns, not products.

**Two offers differ** when their offer ids differ, or when both discounts are
known and differ (an offer sent once without its discount is no conflict).

**A conflict** is a show whose predecessor in its scope (the show just before
it, by event time then event id) has a different offer and is less than the
window older (``second.t - first.t < window``: at exactly the window apart
they do not conflict). It names both shows. So the offer flipping is the
event: 20% by email, then 50% by SMS is one conflict; the email's open and
click that follow (still 20%) add none after the 20% send, and another 50% SMS
after them is a second (the offer flipped back). Its id is a hash of the two
event ids, the same on every worker, for every profile the two touches may
later belong to, and in every replay.

A show that arrives late, between two shows already seen, changes the
answer: a click arriving before its send makes the click the second show
until the send arrives. The answer for the touches held is always the same;
the stream alerts each flip once however its witnesses shift
(streams/optimization/offer_alerts.py), and never withdraws an alert.

**The best offer** now is, among shows younger than ``valid_for``
(``now - valid_for < t``, a device clock ahead counts too), the highest
discount; a show without a discount ranks below every discount; ties go to
the latest shown (event time, then event id), what the person saw last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from streams.optimization.policy import Offers
from streams.sessions.touches import Touch


class OfferShow(NamedTuple):
    """One touch that showed an offer."""

    t: int  # event time, ms since the epoch
    event_id: str
    offer_id: str
    discount: float | None  # percent
    channel: str  # the touchpoint channel (email, sms, web, ...)
    campaign_id: str | None
    event_type: str

    @property
    def scope(self) -> str:
        """What the offer is for: its campaign, or the offer itself when no campaign is sent."""
        return self.campaign_id if self.campaign_id else f"offer:{self.offer_id}"


@dataclass(frozen=True)
class Conflict:
    conflict_id: str
    first: OfferShow  # the earlier show
    second: OfferShow  # the show that contradicts it

    @property
    def campaign_id(self) -> str | None:
        return self.second.campaign_id


def offer_shows(touches: Iterable[Touch], extras: Mapping[str, dict], policy: Offers) -> list[OfferShow]:
    """The touches that showed an offer, once each, in (event time, event id) order."""
    types = policy.show_types
    shows: dict[str, OfferShow] = {}
    for touch in touches:
        extra = extras.get(touch.event_id)
        if not extra or "o" not in extra or (types is not None and touch.event_type not in types):
            continue
        discount = extra.get("d")
        show = OfferShow(touch.t, touch.event_id, extra["o"], None if discount is None else float(discount),
                         touch.channel, touch.campaign_id, touch.event_type)
        held = shows.get(show.event_id)
        # One event id is one touch; should two copies ever differ, the smaller wins, whatever the order.
        if held is None or show < held:
            shows[show.event_id] = show
    return sorted(shows.values())


def differ(a: OfferShow, b: OfferShow) -> bool:
    if a.offer_id != b.offer_id:
        return True
    return a.discount is not None and b.discount is not None and a.discount != b.discount


def conflict_id(first: OfferShow, second: OfferShow) -> str:
    digest = hashlib.blake2b(f"{first.event_id}\x1f{second.event_id}".encode(), digest_size=10).hexdigest()
    return f"oc-{digest}"


def conflicts(touches: Iterable[Touch], extras: Mapping[str, dict], policy: Offers) -> list[Conflict]:
    """The conflicts among the touches, in the order of their second show (event time, event id)."""
    previous: dict[str, OfferShow] = {}
    out = []
    for show in offer_shows(touches, extras, policy):
        before = previous.get(show.scope)
        if before is not None and show.t - before.t < policy.window_ms and differ(before, show):
            out.append(Conflict(conflict_id(before, show), before, show))
        previous[show.scope] = show
    return out


def best_offer(touches: Iterable[Touch], extras: Mapping[str, dict], now_ms: int, policy: Offers,
               campaign_id: str | None = None) -> OfferShow | None:
    """The valid offer with the highest discount now (of ``campaign_id`` if given); None when none is valid."""
    horizon = now_ms - policy.valid_for_ms
    valid = [s for s in offer_shows(touches, extras, policy)
             if s.t > horizon and (campaign_id is None or s.campaign_id == campaign_id)]
    # discount first (none ranks lowest), then the latest shown; (t, event_id) is unique per show
    return max(valid, key=lambda s: (s.discount is not None, s.discount or 0.0, s.t, s.event_id), default=None)


def offer_view(show: OfferShow, policy: Offers, iso: Any) -> dict[str, Any]:  # noqa: ANN401 - iso: ms -> ISO text
    """A show as the profile context and HTTP answers present it."""
    return {"offer_id": show.offer_id, "discount_percent": show.discount, "campaign_id": show.campaign_id,
            "channel": show.channel, "shown": iso(show.t), "event_id": show.event_id,
            "valid_until": iso(show.t + policy.valid_for_ms)}
