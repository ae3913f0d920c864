"""The behaviour model: one person's life as a time-ordered stream of touchpoints.

Two clocks race: the brand's contacts (email, SMS, push, ads; a Poisson
process per channel) and the person's own visits (search, social, direct,
app, store, calls). Episodes never overlap, so records come out in event-time
order. After each inbound touch the person converts with probability

    base_conversion * propensity * channel lift * campaign lift * variant lifts * touch weight

(x FIRST_TOUCH on the first touch of a journey: most buyers need several touches).
A conversion happens online (often after switching from the phone to the
laptop), in the app, in a store, as buy-online-pick-up-in-store or on a
marketplace; it ends the journey, and some people start another one. Too
many email/SMS contacts in a week make people unsubscribe; some people lapse.
Identity hazards come on top (shared.py, junk.py): family members sign in on
their shared device first, store visits may include a kiosk lookup, and a
small share of events carry a junk identifier.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from streams.simulator import episodes as ep
from streams.simulator.config import SimulationConfig
from streams.simulator.events import Emitter
from streams.simulator.ids import DAY, HOUR, MINUTE, SECOND, Weighted
from streams.simulator.junk import JunkInjector
from streams.simulator.population import Person
from streams.simulator.shared import KioskUse, family_login, kiosks_in
from streams.simulator.truth import Journey
from streams.simulator.world import SHOP, STORES

# One episode: its journey and its (event ms, record, role) items, in time order.
Batch = tuple[Journey, list[tuple[int, dict, "str | None"]]]
_WEEK = 7 * DAY
FIRST_TOUCH = 0.6  # about 1 buyer in 10 converts on the first touch (the domain figure is 14%)
_OUTBOUND = {
    "email": ep.email, "sms": ep.sms, "push": ep.push,
    "display": lambda em, t, n: ep.ad(em, t, n, "display"), "video": lambda em, t, n: ep.ad(em, t, n, "video"),
    "retail_media": lambda em, t, n: ep.ad(em, t, n, "retail_media"),
}
_INBOUND = {
    "paid_search": lambda em, t, n: ep.search(em, t, n, True),
    "organic_search": lambda em, t, n: ep.search(em, t, n, False),
    "social": ep.social, "affiliate": ep.affiliate, "direct": ep.direct, "app": ep.app, "store": ep.store,
    "call_center": ep.call, "event": ep.expo,
}


def _inbound_menu(p: Person) -> Weighted:
    web = bool(p.web_devices)
    return Weighted({
        "paid_search": 1.4 * web, "organic_search": 1.4 * web, "social": 1.0 * web, "affiliate": 0.35 * web,
        "direct": 1.0 * web, "app": 1.6 * any(d.device_id for d in p.devices), "store": 0.7 * bool(p.loyalty_id),
        "call_center": 0.12 * bool(p.phone), "event": 0.03 * bool(p.email),
    })


def _extras(p: Person, config: SimulationConfig, tag: str) -> tuple[KioskUse | None, JunkInjector | None]:
    """Kiosk lookups and junk identifiers, from a random stream of their own: the person's draws stay unchanged."""
    kiosks = kiosks_in(STORES[p.index % len(STORES)], tag, config.kiosks) if p.loyalty_id else ()
    use_kiosks = bool(kiosks) and config.kiosk_use > 0
    if not use_kiosks and config.junk_share <= 0:
        return None, None
    rng = random.Random(f"extras-{config.seed}-{p.index}")
    return (KioskUse(rng, kiosks, config.kiosk_use) if use_kiosks else None,
            JunkInjector(rng, config.junk_share) if config.junk_share > 0 else None)


def person_events(p: Person, config: SimulationConfig, tag: str, start_ms: int, end_ms: int) -> Iterator[Batch]:
    rng = p.rng
    kiosks, junk = _extras(p, config, tag)
    em = Emitter(p, tag, config.raw_pii_share, kiosks)
    squeeze = config.time_compression
    inbound = _inbound_menu(p)
    neutral = p.variant_lift * config.base_conversion * p.propensity  # conversion chance of a neutral touch
    lifts = config.conversion_lift
    number = 1
    journey = Journey(f"{p.person_id}-j{number}")
    touches, last = 0, start_ms
    contacts: list[int] = []  # times of this week's email/SMS contacts (a deque would cost 600 B a person)
    t_self, t_brand = start_ms, start_ms + _next_brand(p, squeeze)
    family = next((d for d in p.web_devices if d.shared), None)
    if family is not None:  # signs in there first; these events ride in the first episode's batch
        family_login(em, start_ms, family)
        last = start_ms + SECOND
    while True:
        if t_self <= t_brand:
            t = max(t_self, last + MINUTE)
            if t >= end_ms:
                return
            t = int(t)  # whole milliseconds (Avro timestamp-millis)
            touch = _INBOUND[inbound.pick(rng)](em, t, touches)
            t_self = None
        else:
            t = max(t_brand, last + MINUTE)
            if t >= end_ms:
                return
            t = int(t)
            touch = _outbound(em, t, touches, p.brand.pick(rng), contacts, p) if p.brand.total else None
            t_brand = None
        if touch is not None:
            touches += 1
            chance = neutral * lifts.get(touch.channel, 1.0) * touch.weight * (FIRST_TOUCH if touches == 1 else 1.0)
            if touch.placement is not None:
                chance *= config.campaign_lift.get(touch.placement.campaign_id, 1.0)
            if rng.random() < chance:
                _convert(em, journey, touch, rng)
            elif rng.random() < 0.02 * touch.weight:
                t_self = float("inf")  # lapsed: no more visits of their own
        batch = em.out
        if batch:
            em.out = []
            if junk is not None:
                junk.inject(batch)
            if batch[-1][0] >= end_ms:  # the span ends inside this episode
                kept = [item for item in batch if item[0] < end_ms]
                if kept:
                    yield journey, kept
                return
            yield journey, batch
            last = max(t, batch[-1][0])
        else:
            last = t
        if journey.conversion_channel is not None:
            if rng.random() >= config.repeat_purchase:
                return
            number += 1
            journey, touches = Journey(f"{p.person_id}-j{number}"), 0
            t_self = last + 3 * _gap(p, squeeze, rng)
        if t_self is None:
            t_self = last + _gap(p, squeeze, rng)
        if t_brand is None:
            t_brand = last + _next_brand(p, squeeze)


def _gap(p: Person, squeeze: float, rng) -> float:  # noqa: ANN001
    return rng.expovariate(1 / p.gap_ms) / squeeze


def _next_brand(p: Person, squeeze: float) -> float:
    rate = p.brand.total
    return p.rng.expovariate(rate) / squeeze if rate > 0 else float("inf")


def _outbound(em: Emitter, t: int, touches: int, channel: str, contacts: list[int], p: Person) -> ep.Touch | None:
    if channel in ("email", "sms"):
        contacts.append(t)
        if contacts[0] < t - _WEEK:
            contacts[:] = [c for c in contacts if c >= t - _WEEK]
        if len(contacts) > p.fatigue_limit and em.rng.random() < 0.2:
            _unsubscribe(em, t, channel)
            return None
    return _OUTBOUND[channel](em, t, touches)


def _unsubscribe(em: Emitter, t: int, channel: str) -> None:
    """One contact too many: the person opts out of the channel (and says so in their consent)."""
    p = em.p
    ids = em.email_ids() if channel == "email" else em.phone_ids()
    em.emit(t, f"{channel}_send", channel, "unknown", dict(ids), delay_ms=SECOND)
    t += 10 * MINUTE + int(em.rng.expovariate(1 / HOUR))
    em.emit(t, "unsubscribe", channel, "unknown", {**ids, "properties": {"reason": "too_many_messages"}})
    if channel == "email":
        p.email_optin = False
    else:
        p.sms_optin = False
    p.set_brand_rate(channel, 0.0)
    em.emit(t + SECOND, "consent_change", channel, "unknown", {**ids, "consent": em.consent()})


def _convert(em: Emitter, journey: Journey, touch: ep.Touch, rng) -> None:  # noqa: ANN001
    p = em.p
    ms = touch.end + 20 * SECOND
    journey.conversion_channel = touch.channel
    roll = rng.random()
    if p.loyalty_id and (touch.channel == "store" or roll < 0.15):
        if touch.channel != "store":
            ms += HOUR + int(rng.random() * 2 * DAY)
        fields = {**ep.store_ids(em), "store_id": STORES[p.index % len(STORES)]}
        journey.outlet = "store"
        em.order(ms, "store", "pos_terminal", fields, touch.placement, delay_ms=em.offline_delay(), cart=False)
        return
    if p.email and 0.15 <= roll < 0.2:
        journey.outlet = "marketplace"
        em.order(ms + HOUR, "marketplace", "unknown", em.email_ids(), touch.placement, cart=False)
        return
    device = touch.device
    if device is not None and device.device_id and touch.channel in ("app", "push"):
        journey.outlet = "app"
        em.order(ms, "app", "mobile", em.app_ids(device), touch.placement)
        return
    laptop = p.device("laptop")
    if device is None or (device.kind == "phone" and laptop is not None and rng.random() < 0.55):
        device = laptop or ep.pick_device(em, 99)  # later, on the big screen
        if device is None:
            return _no_outlet(journey)
        ms += HOUR + int(rng.random() * 20 * HOUR)
        em.emit(ms, "page_view", "direct", device.device_type, {**em.web_ids(device), "page_url": f"{SHOP}/cart"},
                role="touch")
    ids = {**em.web_ids(device), **(em.email_ids() if p.email else {})}
    if rng.random() < 0.12 and (p.loyalty_id or p.email):
        store_id = rng.choice(STORES)
        journey.outlet = "bopis"
        ms, order = em.order(ms, "web", device.device_type, ids, touch.placement,
                             {"store_id": store_id, "properties": {"fulfillment": "bopis"}})
        pickup = {**ep.store_ids(em), "store_id": store_id, "order_id": order["order_id"],
                  "properties": {"fulfillment": "bopis_pickup"}}
        em.emit(ms + 2 * HOUR + int(rng.random() * 2 * DAY), "store_visit", "store", "pos_terminal", pickup,
                em.offline_delay())
        return
    journey.outlet = "web"
    em.order(ms, "web", device.device_type, ids, touch.placement)


def _no_outlet(journey: Journey) -> None:
    journey.conversion_channel = journey.outlet = None
