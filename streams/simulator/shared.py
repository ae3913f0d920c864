"""Identifiers several people use: family devices and store kiosks.

Sharding-safe by construction: whether people 2k and 2k+1 share a device,
which device it is and its cookie come from (seed, k) alone, and kiosk ids
from the seed alone. Each person's events are then the same whichever
process simulates them and whoever else is simulated; the truth lists these
identifiers as ``shared`` and keeps them out of everyone's linkable groups.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from streams.simulator.ids import SECOND, hex_id, pick, utc, uuid4
from streams.simulator.world import SHOP, STORES

if TYPE_CHECKING:  # events imports this module
    from streams.simulator.events import Emitter
    from streams.simulator.population import Device

KIOSK_ACTIONS = ("loyalty_points", "product_lookup", "stock_check")


@dataclass(frozen=True, slots=True)
class FamilyDevice:
    kind: str  # laptop | tablet
    anonymous_id: str


def _uniform(text: str) -> float:
    """A uniform [0, 1) draw from ``text`` (blake2b: ten times cheaper than seeding a Random per person)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest()) / 2**64


def family_device(seed: int, index: int, people: int | None, share: float) -> FamilyDevice | None:
    """The device person ``index`` shares with their partner (index ^ 1), or None.

    Households are pairs (2k, 2k+1), chosen with probability ``share``; a last person without a
    partner (odd population) lives alone. ``people`` None (the sizing pilot): nobody shares.
    """
    if share <= 0 or people is None or index ^ 1 >= people:
        return None
    pair = index // 2
    if _uniform(f"family-{seed}-{pair}") >= share:
        return None
    rng = random.Random(f"family-device-{seed}-{pair}")
    return FamilyDevice("laptop" if rng.random() < 0.6 else "tablet", hex_id(rng, "anon-"))


def family_login(em: Emitter, ms: int, device: Device) -> None:
    """A family member's first events: they sign in on the shared device before anything else happens there.

    Why: two people on one cookie can only be told apart by their user_ids. The account service records
    the sign-in server-side (user_id + email_sha256, no cookie, like a server-side "identify"), then the
    browser reports the login (shared cookie + user_id), and the device stays logged in. So each
    person's email is tied to their own user_id BEFORE any event puts that email on the shared cookie
    (an email click there), and a stitcher that allows at most one user_id per profile can keep the
    two people apart instead of merging the household.
    """
    p = em.p
    em.emit(ms, "identify", "web", "unknown", {"user_id": p.user_id, "email_sha256": p.email_sha256})
    device.logged_in = True
    em.emit(ms + SECOND, "login", "web", device.device_type, {**em.web_ids(device), "page_url": f"{SHOP}/account"})


@cache
def kiosk_ids(tag: str, count: int) -> tuple[str, ...]:
    """The run's kiosks; kiosk k stands in STORES[k % len(STORES)]."""
    return tuple(f"kiosk-{tag}-{k:02d}" for k in range(count))


@cache
def kiosks_in(store_id: str, tag: str, count: int) -> tuple[str, ...]:
    here = STORES.index(store_id)
    return tuple(kiosk for k, kiosk in enumerate(kiosk_ids(tag, count)) if k % len(STORES) == here)


class KioskUse:
    """One person's kiosk lookups during their store visits, drawn from their own extra random stream.

    A separate stream (not the person's) so that turning kiosks on or off leaves everything else the
    person does unchanged.
    """

    __slots__ = ("rng", "kiosks", "use")

    def __init__(self, rng: random.Random, kiosks: tuple[str, ...], use: float):
        self.rng, self.kiosks, self.use = rng, kiosks, use

    def visit(self, em: Emitter, ms: int, store_id: str) -> None:
        """Maybe a lookup on one of the store's kiosks, 5-15 s after ``ms`` (before any purchase at +20 s)."""
        rng, p = self.rng, em.p
        if not self.kiosks or rng.random() >= self.use:
            return
        ms += 5 * SECOND + int(rng.random() * 10 * SECOND)
        fields = {"device_id": pick(rng, self.kiosks), "store_id": store_id,
                  "properties": {"action": pick(rng, KIOSK_ACTIONS)}}
        if p.loyalty_id:
            fields["loyalty_id"] = p.loyalty_id
        if p.email and (not p.loyalty_id or rng.random() < 0.3):  # e-receipt sign-up at the kiosk
            fields["email_sha256"] = p.email_sha256
        if len(fields) == 3:
            return  # nobody to identify: a kiosk event carrying only the kiosk says nothing about a person
        record = {"event_id": uuid4(rng), "event_type": "kiosk_lookup", "channel": "store", "device_type": "kiosk",
                  "event_time": utc(ms), "sent_time": utc(ms + 200 + int(rng.random() * 2_000)), "locale": p.locale,
                  **fields}
        em.out.append((ms, record, None))
