"""Sample records, registries and hypothesis strategies shared by the schema tests (plain helpers, no fixtures)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from schemas.models import Channel, DeviceType
from schemas.registry import connect_registry

NOW = datetime(2026, 5, 17, 12, 30, 45, 123000, tzinfo=timezone.utc)


def page_view(**overrides: Any) -> dict[str, Any]:
    """A typical web event, as a producer would pass it to the model."""
    record: dict[str, Any] = dict(
        event_id=str(uuid.UUID(int=1)), event_type="page_view", channel="web", device_type="mobile",
        event_time=NOW, sent_time=NOW + timedelta(milliseconds=40), anonymous_id="c-8f3a2b", user_id="u-1234",
        campaign_id="spring-sale", source="google", medium="cpc",
        page_url="https://shop.example.com/p/123?utm_source=google",
        experiments=[{"experiment_id": "checkout-v2", "variant_id": "b"}],
        consent={"marketing": True, "analytics": True, "personalization": None},
        properties={"referrer": "https://google.com", "title": "Red shoes"}, locale="de-DE",
    )
    record.update(overrides)
    return record


def purchase(**overrides: Any) -> dict[str, Any]:
    record = page_view(
        event_type="purchase", order_id="o-1", revenue=Decimal("129.97"), currency="EUR",
        items=[{"sku": f"sku-{i}", "quantity": 1, "unit_price": Decimal("43.32"), "category": "shoes"}
               for i in range(3)],
    )
    record.update(overrides)
    return record


def mock_registry() -> Any:
    """confluent-kafka's in-memory registry; each call gets its own (the mock keeps state per client)."""
    return connect_registry(f"mock://touchline-{uuid.uuid4().hex[:8]}")


# --- hypothesis: valid touchpoints -------------------------------------------------------------

_text = st.text(max_size=40)
# Ids: any text but control characters (schemas.fields.Id rejects those).
_id = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)
# Identifiers: an empty or blank one means "missing" (schemas.models.blank_identifiers), so never generated.
_identifier = _id.filter(str.strip)
_utc_ms = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                       timezones=st.just(timezone.utc)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
_money = st.decimals(min_value=0, max_value=Decimal("9999999999999999.99"), places=2)
_line_item = st.fixed_dictionaries(
    {"sku": _id, "quantity": st.integers(1, 1_000_000), "unit_price": _money},
    optional={"category": st.none() | _id},
)
_experiments = st.lists(st.fixed_dictionaries({"experiment_id": _id, "variant_id": _id}), max_size=4,
                        unique_by=lambda e: e["experiment_id"])
_optional = {
    "device_type": st.sampled_from(list(DeviceType)),
    "sent_time": st.none() | _utc_ms,
    "device_id": st.none() | _identifier, "user_id": st.none() | _identifier,
    "loyalty_id": st.none() | _identifier,
    "email_sha256": st.none() | st.from_regex(r"\A[0-9a-f]{64}\Z"),
    "phone_sha256": st.none() | st.from_regex(r"\A[0-9a-f]{64}\Z"),
    "campaign_id": st.none() | _id, "source": st.none() | _id, "medium": st.none() | _id,
    "creative_id": st.none() | _id, "page_url": st.none() | _id, "store_id": st.none() | _id,
    "offer_id": st.none() | _id,
    "discount_percent": st.none() | st.floats(0, 100),
    "experiments": _experiments, "order_id": st.none() | _id, "revenue": st.none() | _money,
    "items": st.lists(_line_item, max_size=4),
    "consent": st.fixed_dictionaries({}, optional={k: st.none() | st.booleans()
                                                   for k in ("marketing", "analytics", "personalization")}),
    "properties": st.dictionaries(st.text(min_size=1, max_size=20), _text, max_size=4),
    "locale": st.none() | st.sampled_from(["de-DE", "en", "pt-BR", "zh-Hant-TW"]),
    "cost_micros": st.none() | st.integers(0, 2**63 - 1),
    "email": st.none() | st.from_regex(r"\A[a-z0-9.]{1,20}@[a-z0-9.]{1,20}\Z"),
    "phone": st.none() | st.from_regex(r"\A\+?[0-9 ]{3,20}\Z"),
}


def touchpoints(channels: list[Channel] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid touchpoint.v2 records (producer-side dicts): the model accepts every one."""
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str) | _id,
            "event_type": st.from_regex(r"\A[a-z][a-z0-9_]{0,63}\Z"),
            "channel": st.sampled_from(channels or list(Channel)),
            "event_time": _utc_ms,
            "anonymous_id": _identifier,
            "currency": st.sampled_from(["EUR", "USD", "JPY"]),
        },
        optional=_optional,
    )
