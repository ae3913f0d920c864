"""People, their devices and identifiers, drawn from a per-person random stream.

A person owns 1-4 "devices": a phone (mobile web cookie, plus an app install
id if the app is installed), a laptop (desktop cookie), a tablet (cookie) and
a store relationship (a loyalty card, seen at the POS). Cookies may be reset,
giving the same device a new anonymous id. A few households share one laptop
or tablet between two people (``join_family``). Email and phone are fictitious
(example.* domains, 555 numbers) but hashed exactly as ingest hashes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from streams.pii import normalize_email, sha256_hex
from streams.simulator.ids import Weighted, hex_id, pick
from streams.simulator.world import EXPERIMENTS

LOCALES = (("en-US", "USD", 0.3), ("de-DE", "EUR", 0.25), ("fr-FR", "EUR", 0.15), ("en-GB", "GBP", 0.15),
           ("es-ES", "EUR", 0.08), ("nl-NL", "EUR", 0.07))
_DEVICE_COUNTS = Weighted({1: 0.34, 2: 0.34, 3: 0.22, 4: 0.10})
_LOCALES = Weighted({(locale, currency): weight for locale, currency, weight in LOCALES})
_KINDS = ("phone", "laptop", "tablet", "store")
_KIND_WEIGHTS = (0.9, 0.75, 0.35, 0.4)
_DEVICE_TYPE = {"phone": "mobile", "laptop": "desktop", "tablet": "tablet", "store": "pos_terminal"}
_FIRST = ("ana", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "kim", "lea")
_LAST = ("schmidt", "martin", "smith", "garcia", "mueller", "dubois", "jones", "rossi", "novak", "berg")
_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(slots=True)
class Device:
    kind: str  # phone | laptop | tablet | store
    device_type: str
    anonymous_id: str | None  # current web cookie (None for the store card)
    device_id: str | None = None  # app install id (phones with the app)
    logged_in: bool = False  # web session carries user_id once the person logged in here
    consented: bool = False  # the consent banner was answered on the current cookie
    shared: bool = False  # a family device: two people use this cookie (never reset: see join_family)


@dataclass(slots=True)
class Person:
    index: int
    person_id: str
    rng: random.Random
    devices: list[Device]
    locale: str
    currency: str
    user_id: str | None  # known login id (None until a signup if unregistered)
    pending_user_id: str  # the id a signup would create
    email: str | None
    email_sha256: str | None
    phone: str | None  # E.164
    phone_sha256: str | None
    loyalty_id: str | None
    email_optin: bool
    sms_optin: bool
    push_optin: bool
    propensity: float  # 0 = never buys
    gap_ms: float  # mean time between self-initiated episodes
    brand_rates: dict[str, float]  # outbound contacts per ms, by channel (change with set_brand_rate)
    fatigue_limit: int  # email+SMS contacts in 7 days before the person may unsubscribe
    variants: tuple[tuple[str, str, float], ...]  # (experiment id, variant id, true lift)
    web_devices: tuple[Device, ...] = field(init=False)  # devices with a browser cookie
    variant_lift: float = field(init=False)  # product of the true lifts of the person's variants
    brand: Weighted = field(init=False)  # which outbound channel contacts next

    def __post_init__(self) -> None:
        self.web_devices = tuple(d for d in self.devices if d.anonymous_id is not None)
        self.brand = Weighted(self.brand_rates)
        self.variant_lift = 1.0
        for _, _, lift in self.variants:
            self.variant_lift *= lift

    def set_brand_rate(self, channel: str, per_ms: float) -> None:
        self.brand_rates[channel] = per_ms
        self.brand = Weighted(self.brand_rates)

    def device(self, kind: str) -> Device | None:
        for d in self.devices:
            if d.kind == kind:
                return d
        return None

    def experiments(self) -> list[dict[str, str]]:
        return [{"experiment_id": e, "variant_id": v} for e, v, _ in self.variants]


def make_person(index: int, rng: random.Random, tag: str, *, never_buyer_share: float, mean_gap_ms: float) -> Person:
    n = _DEVICE_COUNTS.pick(rng)
    kinds = _pick_kinds(rng, n)
    devices = []
    for kind in kinds:
        cookie = None if kind == "store" else hex_id(rng, "anon-")
        device = Device(kind, _DEVICE_TYPE[kind], cookie)
        if kind == "phone" and rng.random() < 0.45:
            device.device_id = hex_id(rng, "dev-")
        devices.append(device)
    has_app = any(d.device_id for d in devices)
    registered = has_app or rng.random() < 0.55
    has_email = registered or rng.random() < 0.6
    locale, currency = _LOCALES.pick(rng)
    email = phone = None
    if has_email:
        email = f"{pick(rng, _FIRST)}.{pick(rng, _LAST)}.{index}@{pick(rng, _DOMAINS)}"
    if rng.random() < 0.6:
        phone = f"+1{200 + index % 800}555{index // 800 % 10_000:04d}"
    email_optin = has_email and rng.random() < 0.6
    sms_optin = phone is not None and rng.random() < 0.4
    push_optin = has_app and rng.random() < 0.6
    day = 86_400_000.0
    brand_rates = {
        "email": pick(rng, (1, 2, 3, 5, 7, 10)) / 7 / day if email_optin else 0.0,
        "sms": pick(rng, (0.5, 1, 2, 4)) / 7 / day if sms_optin else 0.0,
        "push": pick(rng, (1, 2, 4)) / 7 / day if push_optin else 0.0,
        "display": pick(rng, (0, 2, 5, 10)) / 7 / day if len(devices) > ("store" in kinds) else 0.0,
        "video": 0.5 / 7 / day if "laptop" in kinds or "tablet" in kinds else 0.0,
        "retail_media": 0.4 / 7 / day if "phone" in kinds or "laptop" in kinds else 0.0,
    }
    propensity = 0.0 if rng.random() < never_buyer_share else min(3.0, rng.lognormvariate(0.0, 0.5))
    engagement = 0.8 if n >= 2 else 1.3  # multi-device people come back more often
    return Person(
        index=index,
        person_id=f"person-{tag}-{index:07d}",
        rng=rng,
        devices=devices,
        locale=locale,
        currency=currency,
        user_id=f"user-{tag}-{index}" if registered else None,
        pending_user_id=f"user-{tag}-{index}",
        email=email,
        email_sha256=sha256_hex(normalize_email(email)) if email else None,
        phone=phone,
        phone_sha256=sha256_hex(phone) if phone else None,
        loyalty_id=f"LOY-{tag}-{index:08d}" if "store" in kinds else None,
        email_optin=email_optin,
        sms_optin=sms_optin,
        push_optin=push_optin,
        propensity=propensity,
        gap_ms=mean_gap_ms * engagement * rng.lognormvariate(0.0, 0.35),
        brand_rates=brand_rates,
        fatigue_limit=pick(rng, (3, 4, 5, 6, 8, 12, 50)),
        variants=tuple((e.experiment_id, *_variant(rng, e)) for e in EXPERIMENTS),
    )


def join_family(person: Person, kind: str, cookie: str) -> None:
    """Make ``person`` one of the two people of a household sharing their ``kind`` device (cookie ``cookie``).

    The person's own device of that kind becomes the shared one (or is added). Family members are
    registered (user_id and email): see shared.family_login for why.
    """
    device = person.device(kind)
    if device is None:
        device = Device(kind, _DEVICE_TYPE[kind], cookie)
        person.devices.append(device)
        person.devices.sort(key=lambda d: _KINDS.index(d.kind))
    device.anonymous_id, device.shared = cookie, True
    person.web_devices = tuple(d for d in person.devices if d.anonymous_id is not None)
    if person.email is None:  # picked from the index, not the random stream: the person's draws stay as they were
        i = person.index
        person.email = f"{_FIRST[i % len(_FIRST)]}.{_LAST[i // 12 % len(_LAST)]}.{i}@{_DOMAINS[i % len(_DOMAINS)]}"
        person.email_sha256 = sha256_hex(normalize_email(person.email))
    person.user_id = person.pending_user_id


def _pick_kinds(rng: random.Random, n: int) -> list[str]:
    """n distinct device kinds, each draw weighted by _KIND_WEIGHTS among the kinds left."""
    weights = list(_KIND_WEIGHTS)
    for _ in range(n):
        r = rng.random() * sum(weights)
        chosen = max(i for i, w in enumerate(weights) if w)  # float-rounding fallback
        for i, weight in enumerate(weights):
            if weight and r < weight:
                chosen = i
                break
            r -= weight
        weights[chosen] = 0.0  # drawn: not again
    return [kind for kind, weight in zip(_KINDS, weights) if weight == 0.0]


def _variant(rng: random.Random, experiment) -> tuple[str, float]:  # noqa: ANN001
    i = int(rng.random() * len(experiment.variants))
    return experiment.variants[i], experiment.lifts[i]
