"""The brand's fixed world: campaigns and their placements, offers, experiments, products, stores, pages.

Static on purpose (independent of the seed), so configs and tests can name
campaign and experiment ids. Two campaigns run CONFLICTING discounts on
different channels (cmp-spring-sale: 20% by email, 50% by SMS;
cmp-loyalty-weekend: 15% by email, 25% by SMS and push).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
import random

SHOP = "https://shop.example.com"


@dataclass(frozen=True, slots=True)
class Placement:
    """One campaign on one channel: what its touches carry."""

    campaign_id: str
    channel: str
    source: str
    medium: str
    creatives: tuple[str, ...]
    offer_id: str | None = None
    discount: float | None = None
    cost: tuple[int, int] | None = None  # cost_micros range per paid touch (impression or click)
    cost_on: str = "click"  # "click" (CPC) or "impression" (CPM/CPV)

    @property
    def landing_url(self) -> str:
        return f"{SHOP}/?utm_source={self.source}&utm_medium={self.medium}&utm_campaign={self.campaign_id}"


def _p(campaign: str, channel: str, source: str, medium: str, n_creatives: int = 2, offer: str | None = None,
       discount: float | None = None, cost: tuple[int, int] | None = None, cost_on: str = "click") -> Placement:
    creatives = tuple(f"{campaign.removeprefix('cmp-')}-{channel}-{i}" for i in range(1, n_creatives + 1))
    return Placement(campaign, channel, source, medium, creatives, offer, discount, cost, cost_on)


PLACEMENTS: tuple[Placement, ...] = (
    _p("cmp-spring-sale", "email", "newsletter", "email", 3, "off-spring-20", 20.0),
    _p("cmp-spring-sale", "sms", "sms", "sms", 1, "off-spring-50", 50.0),
    _p("cmp-spring-sale", "display", "dv360", "cpm", 2, "off-spring-20", 20.0, (1_500, 6_000), "impression"),
    _p("cmp-welcome", "email", "welcome_flow", "email", 2, "off-welcome-10", 10.0),
    _p("cmp-weekly-news", "email", "newsletter", "email", 4),
    _p("cmp-loyalty-weekend", "email", "crm", "email", 1, "off-loyal-15", 15.0),
    _p("cmp-loyalty-weekend", "sms", "crm", "sms", 1, "off-loyal-25", 25.0),
    _p("cmp-loyalty-weekend", "push", "app", "push", 1, "off-loyal-25", 25.0),
    _p("cmp-app-flash", "push", "app", "push", 2, "off-flash-30", 30.0),
    _p("cmp-brand-search", "paid_search", "google", "cpc", 3, cost=(150_000, 900_000)),
    _p("cmp-brand-search", "paid_search", "bing", "cpc", 2, cost=(100_000, 600_000)),
    _p("cmp-generic-search", "paid_search", "google", "cpc", 4, cost=(400_000, 2_500_000)),
    _p("cmp-retargeting", "display", "criteo", "cpm", 3, "off-comeback-15", 15.0, (1_000, 8_000), "impression"),
    _p("cmp-summer-video", "video", "youtube", "cpv", 2, cost=(10_000, 30_000), cost_on="impression"),
    _p("cmp-retail-media", "retail_media", "retailer_network", "cpm", 2, cost=(3_000, 10_000), cost_on="impression"),
    _p("cmp-social-prospecting", "social", "facebook", "paid_social", 3, cost=(300_000, 1_200_000)),
    _p("cmp-social-prospecting", "social", "instagram", "paid_social", 3, cost=(300_000, 1_500_000)),
    _p("cmp-influencer", "social", "tiktok", "social", 2),
    _p("cmp-affiliate-cashback", "affiliate", "cashback_partner", "affiliate", 2, "off-cashback-5", 5.0,
       (50_000, 150_000)),
    _p("cmp-tradeshow", "event", "expo", "offline", 1, "off-expo-10", 10.0),
)

PLACEMENTS_BY_CHANNEL: dict[str, tuple[Placement, ...]] = {}
for _pl in PLACEMENTS:
    PLACEMENTS_BY_CHANNEL[_pl.channel] = PLACEMENTS_BY_CHANNEL.get(_pl.channel, ()) + (_pl,)
CAMPAIGN_IDS: tuple[str, ...] = tuple(dict.fromkeys(p.campaign_id for p in PLACEMENTS))


def conflicting_campaigns() -> dict[str, dict[str, float]]:
    """campaign id -> {channel: discount} for campaigns offering different discounts on different channels."""
    out: dict[str, dict[str, float]] = {}
    for cid in CAMPAIGN_IDS:
        discounts = {p.channel: p.discount for p in PLACEMENTS if p.campaign_id == cid and p.discount is not None}
        if len(set(discounts.values())) > 1:
            out[cid] = discounts
    return out


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    variants: tuple[str, ...]
    lifts: tuple[float, ...]  # true conversion lift of each variant (ground truth)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("exp-checkout-flow", ("control", "one-page"), (1.0, 1.25)),
    Experiment("exp-hero-banner", ("control", "video", "carousel"), (1.0, 1.1, 0.9)),
)


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    category: str
    price: Decimal
    url: str


def _products() -> tuple[Product, ...]:
    rng = random.Random("touchline-products")
    categories = ("shoes", "apparel", "accessories", "home", "beauty", "electronics")
    out = []
    for i in range(48):
        category = categories[i % len(categories)]
        price = Decimal(rng.randrange(499, 24_999)).scaleb(-2)
        out.append(Product(f"SKU-{category[:3].upper()}-{i:04d}", category, price, f"{SHOP}/p/{i:04d}"))
    return tuple(out)


PRODUCTS = _products()
STORES = tuple(f"store-{city}" for city in ("berlin-01", "berlin-02", "munich-01", "paris-01", "lyon-01",
                                             "london-01", "nyc-01", "chicago-01"))
PAGES = tuple(f"{SHOP}/{path}" for path in ("", "c/new", "c/sale", "c/shoes", "c/apparel", "c/home", "search",
                                             "account", "help/shipping", "stores")) + tuple(p.url for p in PRODUCTS)
APP_PAGES = tuple(url.replace(f"{SHOP}/", "shopapp://") for url in PAGES)
CART_URL, CHECKOUT_URL, THANKS_URL = f"{SHOP}/cart", f"{SHOP}/checkout", f"{SHOP}/checkout/thanks"
CALL_TOPICS = ("order_status", "returns", "product_question", "complaint", "loyalty_points")
EXPO_NAMES = ("home-and-living-expo", "fashion-week-popup", "tech-fair")
