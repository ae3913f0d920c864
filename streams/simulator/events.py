"""Record builders for one person: plain dicts in the touchpoint.v2 shape.

``Emitter`` appends ``(event_ms, record, role)`` to ``out`` in time order;
role is None, "touch" (an inbound touch that may cause a conversion) or
"conversion" (the purchase that ends a journey). Unset optional fields are
left out (list/record fields such as items or consent must be absent, not None).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from streams.simulator.ids import HOUR, MINUTE, SECOND
from streams.simulator.population import Device, Person
from streams.simulator.shared import KioskUse
from streams.simulator.world import APP_PAGES, CART_URL, CHECKOUT_URL, PAGES, PRODUCTS, THANKS_URL, Placement

_CENT = Decimal("0.01")
_UTC = timezone.utc
_fromtimestamp = datetime.fromtimestamp
_HUNDRED = Decimal(100)


class Emitter:
    __slots__ = ("p", "rng", "out", "orders", "tag", "raw_share", "kiosks")

    def __init__(self, person: Person, tag: str, raw_share: float, kiosks: KioskUse | None = None):
        self.p = person
        self.kiosks = kiosks  # store visits may include a kiosk lookup
        self.raw_share = raw_share
        self.rng = person.rng
        self.out: list[tuple[int, dict, str | None]] = []
        self.orders = 0
        self.tag = tag

    def emit(self, ms: int, event_type: str, channel: str, device_type: str, fields: dict,
             delay_ms: int | None = None, role: str | None = None) -> dict:
        rng = self.rng
        if delay_ms is None:
            delay_ms = 15 + int(rng.random() * 1_500)
        bits = rng.getrandbits(128)  # uuid4(rng), inlined: this is the hot path
        h = "%032x" % bits
        record = {"event_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits >> 62 & 3]}{h[17:20]}-{h[20:]}",
                  "event_type": event_type, "channel": channel, "device_type": device_type,
                  "event_time": _fromtimestamp(ms / 1000, _UTC),
                  "sent_time": _fromtimestamp((ms + delay_ms) / 1000, _UTC), "locale": self.p.locale}
        record.update(fields)
        self.out.append((ms, record, role))
        return record

    # -- identifiers -----------------------------------------------------------------
    def web_ids(self, device: Device) -> dict:
        if device.logged_in and self.p.user_id:
            return {"anonymous_id": device.anonymous_id, "user_id": self.p.user_id}
        return {"anonymous_id": device.anonymous_id}

    def app_ids(self, device: Device) -> dict:
        return {"device_id": device.device_id, "user_id": self.p.user_id}

    def email_ids(self) -> dict:
        return {"email_sha256": self.p.email_sha256}

    def phone_ids(self) -> dict:
        return {"phone_sha256": self.p.phone_sha256}

    def raw_email(self) -> str:
        """The address as a clerk or a form might capture it: case and spaces vary, the hash must not."""
        email = self.p.email
        return self.rng.choice((email, email.upper(), f"  {email.title()} ", email.capitalize()))

    def raw_phone(self) -> str:
        d = self.p.phone[2:]  # +1 then 10 digits
        return self.rng.choice((f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}", f"001 {d[:3]} {d[3:6]} {d[6:]}",
                                f"+1-{d[:3]}-{d[3:6]}-{d[6:]}", self.p.phone))

    @staticmethod
    def utm(placement: Placement | None) -> dict:
        if placement is None:
            return {}
        fields = {"campaign_id": placement.campaign_id, "source": placement.source, "medium": placement.medium}
        if placement.offer_id:
            fields["offer_id"] = placement.offer_id
            fields["discount_percent"] = placement.discount
        return fields

    def cost(self, placement: Placement | None, on: str) -> dict:
        if placement is None or placement.cost is None or placement.cost_on != on:
            return {}
        low, high = placement.cost
        return {"cost_micros": low + int(self.rng.random() * (high - low)), "currency": self.p.currency}

    def consent(self) -> dict:
        p = self.p
        return {"marketing": p.email_optin or p.sms_optin, "analytics": p.index % 5 != 0,
                "personalization": None if p.index % 7 == 0 else p.index % 3 != 0}  # None: not asked

    # -- browsing ----------------------------------------------------------------------
    def pages(self, ms: int, channel: str, device_type: str, ids: dict, n: int, app: bool = False,
              delay_ms: int | None = None) -> int:
        """``n`` page (or app screen) views after ``ms``; returns the time of the last.

        Half of all events are page views: each is a copy of one per-visit template (no emit() call).
        """
        rng, out = self.rng, self.out
        random, getrandbits = rng.random, rng.getrandbits
        pages = APP_PAGES if app else PAGES
        template = {"event_type": "page_view", "channel": channel, "device_type": device_type,
                    "locale": self.p.locale, **ids}
        for i in range(n):
            ms += 8 * SECOND + int(random() * 100_000)
            bits = getrandbits(128)
            h = "%032x" % bits
            record = template.copy()
            record["event_id"] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits >> 62 & 3]}{h[17:20]}-{h[20:]}"
            record["event_time"] = _fromtimestamp(ms / 1000, _UTC)
            record["sent_time"] = _fromtimestamp(
                (ms + (15 + int(random() * 1_500) if delay_ms is None else delay_ms)) / 1000, _UTC)
            record["page_url"] = pages[int(random() * len(pages))]
            if i == 0:  # experiment exposure is logged once per visit
                record["experiments"] = self.p.experiments()
            out.append((ms, record, None))
        return ms

    # -- commerce ----------------------------------------------------------------------
    def basket(self) -> tuple[list[dict], Decimal]:
        rng = self.rng
        items, total = [], Decimal(0)
        for product in rng.sample(PRODUCTS, 1 + int(rng.random() ** 2 * 4)):
            quantity = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            items.append({"sku": product.sku, "quantity": quantity, "unit_price": product.price,
                          "category": product.category})
            total += product.price * quantity
        return items, total

    def order(self, ms: int, channel: str, device_type: str, ids: dict, placement: Placement | None,
              extra: dict | None = None, delay_ms: int | None = None, cart: bool = True) -> tuple[int, dict]:
        """[add_to_cart, checkout,] purchase; returns (time of the purchase, the purchase record)."""
        rng, p = self.rng, self.p
        items, total = self.basket()
        discount = placement.discount if placement is not None and placement.discount else None
        revenue = total if discount is None else total * (_HUNDRED - Decimal(str(discount))) / _HUNDRED
        self.orders += 1
        order_id = f"ord-{self.tag}-{p.index}-{self.orders}"
        money = {"currency": p.currency, "items": items}  # each record gets its own copy of the lines below
        offer = self.utm(placement) if placement is not None and placement.offer_id else {}
        if cart:
            ms += 20 * SECOND + int(rng.expovariate(1 / 60_000))
            self.emit(ms, "add_to_cart", channel, device_type,
                      {**ids, "page_url": CART_URL, "experiments": p.experiments(), **money,
                       "items": [dict(line) for line in items]}, delay_ms)
            ms += 30 * SECOND + int(rng.expovariate(1 / 90_000))
            self.emit(ms, "checkout", channel, device_type,
                      {**ids, "page_url": CHECKOUT_URL, "order_id": order_id, "experiments": p.experiments(),
                       **money, "items": [dict(line) for line in items]}, delay_ms)
            ms += 20 * SECOND + int(rng.expovariate(1 / 30_000))
        fields = {**ids, **offer, "order_id": order_id, "revenue": revenue.quantize(_CENT, ROUND_HALF_UP),
                  **money, **(extra or {})}
        if channel in ("web", "app"):
            fields["page_url"] = THANKS_URL
            fields["experiments"] = p.experiments()
        return ms, self.emit(ms, "purchase", channel, device_type, fields, delay_ms, role="conversion")

    def app_delay(self) -> int | None:
        """One app session in five is used offline: the SDK sends it all when back online, up to hours later."""
        if self.rng.random() >= 0.2:
            return None
        return MINUTE + int(self.rng.expovariate(1 / (90 * MINUTE)))

    def offline_delay(self) -> int:
        """POS and call-center systems upload in batches: minutes to hours late."""
        return MINUTE + int(self.rng.expovariate(1 / (40 * MINUTE)) if self.rng.random() < 0.8 else
                            self.rng.uniform(HOUR, 8 * HOUR))
