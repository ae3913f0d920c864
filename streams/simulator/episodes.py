"""Episodes: one contact or visit on one channel, written as touchpoint records.

Outbound (the brand acts): email, sms, push, display, video, retail_media.
Inbound (the person acts): paid/organic search, social, affiliate, direct,
app, store, call center, event. Each returns a ``Touch`` (the channel that
may cause a conversion, with a weight: 1 for a click or visit, less for an
open or an impression) or None when the person did not engage.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.simulator.events import Emitter
from streams.simulator.ids import HOUR, MINUTE, SECOND, hex_id, pick
from streams.simulator.population import Device
from streams.simulator.world import CALL_TOPICS, EXPO_NAMES, PLACEMENTS_BY_CHANNEL, SHOP, STORES, Placement

_CLICK_RATE = {"display": 0.05, "video": 0.02, "retail_media": 0.04}
# How much a touch counts towards converting, relative to a click or a visit (ground truth).
OPEN_WEIGHT = 0.3  # an email opened, not clicked
IMPRESSION_WEIGHT = 0.1  # an ad seen, not clicked (view-through)


@dataclass(slots=True)
class Touch:
    channel: str
    weight: float
    end: int  # time of the episode's last event
    device: Device | None = None  # the web/app device of the visit, if any
    placement: Placement | None = None


def pick_device(em: Emitter, touches: int) -> Device | None:
    """Web device for a visit: mostly the phone early in a journey, more often the laptop later."""
    web = em.p.web_devices
    if len(web) <= 1:
        return web[0] if web else None
    phone, laptop = 3.0 / (1 + 0.3 * touches), 1 + 0.2 * touches
    weights = [phone if d.kind == "phone" else laptop if d.kind == "laptop" else 0.7 for d in web]
    r = em.rng.random() * sum(weights)
    for device, weight in zip(web, weights):
        r -= weight
        if r < 0:
            return device
    return web[-1]


def session(em: Emitter, ms: int, device: Device, placement: Placement | None = None) -> int:
    """Web pages after a landing on ``device``; identity and consent events happen here."""
    rng, p = em.rng, em.p
    dt = device.device_type
    if not device.consented:  # first visit on this device (or cookie): the consent banner
        device.consented = True
        em.emit(ms + 2 * SECOND, "consent_change", "web", dt, {**em.web_ids(device), "consent": em.consent()})
    ms = em.pages(ms, "web", dt, em.web_ids(device), 2 + int(rng.expovariate(0.4)))  # ~4 pages a visit
    if p.user_id and not device.logged_in and rng.random() < 0.2:
        device.logged_in = True
        ms += 20 * SECOND
        em.emit(ms, "login", "web", dt, {**em.web_ids(device), "page_url": f"{SHOP}/account"})
    elif p.user_id is None and rng.random() < 0.03:
        p.user_id, device.logged_in = p.pending_user_id, True
        ms += 40 * SECOND
        ids = {**em.web_ids(device), **(em.email_ids() if p.email else {})}
        em.emit(ms, "signup", "web", dt, {**ids, "consent": em.consent()})
    if p.email and not p.email_optin and rng.random() < 0.03:
        p.email_optin = True
        p.set_brand_rate("email", 2 / 7 / 86_400_000)
        ms += 15 * SECOND
        em.emit(ms, "subscription", "web", dt, {**em.web_ids(device), **em.email_ids(), "consent": em.consent(),
                                                 "properties": {"list": "newsletter"}})
    if placement is not None and placement.offer_id and rng.random() < 0.6:
        ms += 10 * SECOND
        em.emit(ms, "offer_view", "web", dt, {**em.web_ids(device), **em.utm(placement)})
    if rng.random() < 0.15:
        ms += 30 * SECOND
        items, _ = em.basket()
        em.emit(ms, "add_to_cart", "web", dt, {**em.web_ids(device), "items": items[:1], "currency": p.currency})
    if rng.random() < 0.03:
        ms += MINUTE
        em.emit(ms, "chat_message", "live_chat", dt, {**em.web_ids(device), "properties": {"topic": "sizing"}})
    return ms


def _land(em: Emitter, ms: int, event_type: str, channel: str, device: Device, placement: Placement | None,
          extra: dict | None = None) -> Touch:
    # Cookies cleared: same device, new anonymous id, logged out. Not on a shared family device: one
    # person's reset would have to change the other's cookie too, and each person is simulated alone.
    if em.rng.random() < 0.015 and not device.shared:
        device.anonymous_id = hex_id(em.rng, "anon-")
        device.logged_in = device.consented = False
    fields = {**em.web_ids(device), **em.utm(placement), **em.cost(placement, "click"), **(extra or {})}
    fields["page_url"] = placement.landing_url if placement is not None else f"{SHOP}/"
    if placement is not None:
        fields["creative_id"] = pick(em.rng, placement.creatives)
    em.emit(ms, event_type, channel, device.device_type, fields, role="touch")
    return Touch(channel, 1.0, session(em, ms, device, placement), device, placement)


def _placement(em: Emitter, channel: str) -> Placement:
    return pick(em.rng, PLACEMENTS_BY_CHANNEL[channel])


# -- outbound ---------------------------------------------------------------------------------------
def email(em: Emitter, ms: int, touches: int) -> Touch | None:
    rng, pl = em.rng, _placement(em, "email")
    msg = {**em.email_ids(), **em.utm(pl), "creative_id": pick(rng, pl.creatives)}
    em.emit(ms, "email_send", "email", "unknown", msg, delay_ms=SECOND + int(rng.random() * 4 * SECOND))
    if rng.random() >= 0.35:
        return None
    device = pick_device(em, touches)
    ms += MINUTE + int(rng.expovariate(1 / (3 * HOUR)))
    dt = device.device_type if device else "unknown"
    if device is None or rng.random() >= 0.3:
        em.emit(ms, "email_open", "email", dt, msg, role="touch")
        return Touch("email", OPEN_WEIGHT, ms, None, pl)
    em.emit(ms, "email_open", "email", dt, msg)
    return _land(em, ms + 5 * SECOND + int(rng.random() * MINUTE), "email_click", "email", device, pl,
                 em.email_ids())


def sms(em: Emitter, ms: int, touches: int) -> Touch | None:
    rng, pl = em.rng, _placement(em, "sms")
    em.emit(ms, "sms_send", "sms", "unknown", {**em.phone_ids(), **em.utm(pl), "creative_id": pl.creatives[0]},
            delay_ms=SECOND + int(rng.random() * 3 * SECOND))
    phone = em.p.device("phone")
    if phone is None or rng.random() >= 0.12:
        return None
    return _land(em, ms + MINUTE + int(rng.expovariate(1 / (20 * MINUTE))), "sms_click", "sms", phone, pl,
                 em.phone_ids())


def push(em: Emitter, ms: int, touches: int) -> Touch | None:
    rng, pl = em.rng, _placement(em, "push")
    phone = em.p.device("phone")
    msg = {**em.app_ids(phone), **em.utm(pl), "creative_id": pick(rng, pl.creatives)}
    em.emit(ms, "push_send", "push", "mobile", msg, delay_ms=SECOND)
    if rng.random() >= 0.25:
        return None
    ms += MINUTE + int(rng.expovariate(1 / (30 * MINUTE)))
    delay = em.app_delay()
    em.emit(ms, "push_open", "push", "mobile", msg, delay, role="touch")
    end = em.pages(ms, "app", "mobile", em.app_ids(phone), 2 + int(rng.expovariate(0.4)), True, delay)
    return Touch("push", 1.0, end, phone, pl)


def ad(em: Emitter, ms: int, touches: int, channel: str) -> Touch | None:
    rng, pl = em.rng, _placement(em, channel)
    device = pick_device(em, touches)
    if device is None:
        return None
    fields = {**em.web_ids(device), **em.utm(pl), **em.cost(pl, "impression"), "creative_id": pick(rng, pl.creatives)}
    em.emit(ms, "ad_impression", channel, device.device_type, fields, role="touch")
    if rng.random() >= _CLICK_RATE[channel]:
        return Touch(channel, IMPRESSION_WEIGHT, ms, None, pl)
    return _land(em, ms + 3 * SECOND + int(rng.random() * 20 * SECOND), "ad_click", channel, device, pl)


# -- inbound ------------------------------------------------------------------------------------------
def search(em: Emitter, ms: int, touches: int, paid: bool) -> Touch | None:
    device = pick_device(em, touches)
    if device is None:
        return None
    if paid:
        return _land(em, ms, "search_click", "paid_search", device, _placement(em, "paid_search"))
    engine = "google" if em.rng.random() < 0.85 else "bing"
    return _land(em, ms, "search_click", "organic_search", device, None, {"source": engine, "medium": "organic"})


def social(em: Emitter, ms: int, touches: int) -> Touch | None:
    device = pick_device(em, touches)
    return _land(em, ms, "social_click", "social", device, _placement(em, "social")) if device else None


def affiliate(em: Emitter, ms: int, touches: int) -> Touch | None:
    device = pick_device(em, touches)
    return _land(em, ms, "ad_click", "affiliate", device, _placement(em, "affiliate")) if device else None


def direct(em: Emitter, ms: int, touches: int) -> Touch | None:
    device = pick_device(em, touches)
    return _land(em, ms, "page_view", "direct", device, None) if device else None


def app(em: Emitter, ms: int, touches: int) -> Touch | None:
    phone = em.p.device("phone")
    delay = em.app_delay()
    em.emit(ms, "app_open", "app", "mobile", em.app_ids(phone), delay, role="touch")
    end = em.pages(ms, "app", "mobile", em.app_ids(phone), 2 + int(em.rng.expovariate(0.35)), True, delay)
    return Touch("app", 1.0, end, phone)


def store_ids(em: Emitter) -> dict:
    """What the POS captures: the loyalty card, sometimes a raw email/phone for the e-receipt."""
    rng, p = em.rng, em.p
    ids: dict = {}
    if p.loyalty_id:
        ids["loyalty_id"] = p.loyalty_id
    if p.email and (not ids or rng.random() < em.raw_share):
        ids["email"] = em.raw_email()
    elif p.phone and rng.random() < em.raw_share / 2:
        ids["phone"] = em.raw_phone()
    return ids


def store(em: Emitter, ms: int, touches: int) -> Touch | None:
    fields = {**store_ids(em), "store_id": STORES[em.p.index % len(STORES)]}
    em.emit(ms, "store_visit", "store", "pos_terminal", fields, em.offline_delay(), role="touch")
    if em.kiosks is not None:
        em.kiosks.visit(em, ms, fields["store_id"])
    return Touch("store", 1.0, ms)


def call(em: Emitter, ms: int, touches: int) -> Touch | None:
    rng, p = em.rng, em.p
    ids = {"phone": em.raw_phone()} if rng.random() < em.raw_share * 1.5 else em.phone_ids()
    if p.loyalty_id and rng.random() < 0.4:
        ids["loyalty_id"] = p.loyalty_id
    em.emit(ms, "call", "call_center", "unknown", {**ids, "properties": {"topic": pick(rng, CALL_TOPICS)}},
            em.offline_delay(), role="touch")
    return Touch("call_center", 1.0, ms + 3 * MINUTE)


def expo(em: Emitter, ms: int, touches: int) -> Touch | None:
    rng, pl = em.rng, _placement(em, "event")
    ids = {"email": em.raw_email()} if rng.random() < 0.7 else em.email_ids()
    em.emit(ms, "offer_view", "event", "kiosk", {**ids, **em.utm(pl), "properties": {"event": pick(rng, EXPO_NAMES)}},
            em.offline_delay(), role="touch")
    return Touch("event", 1.0, ms)
