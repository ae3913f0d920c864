"""Drift test: every model mirrors the latest version of its .avsc; the checker catches a one-sided change."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Annotated, Any

import pytest
from pydantic import Field, create_model

from schemas.catalog import default_catalog
from schemas.models import (
    BudgetRecommendation, ContactDecision, EnrichedTouchpoint, IdentityChange, Journey, OfferConflict, RejectedEvent,
    SegmentMembership, Session, TouchpointEvent,
)
from tests.schemas.drift import model_problems

MODELS = [TouchpointEvent, EnrichedTouchpoint, RejectedEvent, IdentityChange, Session, Journey, ContactDecision,
          SegmentMembership, BudgetRecommendation, OfferConflict]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_matches_latest_avsc(model: Any) -> None:
    entry = default_catalog().get(model.avro_schema)
    assert model_problems(model, entry.raw) == []


def test_enriched_is_touchpoint_without_raw_pii_plus_provenance() -> None:
    touchpoint = [f["name"] for f in default_catalog().get("touchpoint").raw["fields"]]
    enriched = [f["name"] for f in default_catalog().get("enriched_touchpoint").raw["fields"]]
    assert enriched == [n for n in touchpoint if n not in ("email", "phone")] + [
        "profile_id", "identity_key", "source_topic", "source_partition", "source_offset", "ingested_at", "writer_schema"]


def test_every_field_is_documented() -> None:
    def fields(schema: Any) -> Any:
        if isinstance(schema, dict):
            for field in schema.get("fields", []):
                yield field
                yield from fields(field["type"])
            yield from fields(schema.get("items")) if "items" in schema else ()
        elif isinstance(schema, list):
            for branch in schema:
                yield from fields(branch)

    for entry in default_catalog():
        undocumented = [f["name"] for f in fields(entry.raw) if not f.get("doc")]
        assert undocumented == [], f"{entry.label}: fields without doc: {undocumented}"


# --- the checker itself catches drift ---------------------------------------------------------

def _touchpoint() -> dict[str, Any]:
    return copy.deepcopy(default_catalog().get("touchpoint").raw)


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _add_field(schema: dict[str, Any]) -> None:
    schema["fields"].append({"name": "loyalty_tier", "type": ["null", "string"], "default": None})


def _drop_field(schema: dict[str, Any]) -> None:
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "locale"]


def _swap_order(schema: dict[str, Any]) -> None:
    fields = schema["fields"]
    fields[0], fields[1] = fields[1], fields[0]


def _make_required(schema: dict[str, Any]) -> None:
    field = _field(schema, "user_id")
    del field["default"]
    field["type"] = "string"


def _change_default(schema: dict[str, Any]) -> None:
    _field(schema, "device_type")["default"] = "desktop"


def _add_symbol(schema: dict[str, Any]) -> None:
    _field(schema, "channel")["type"]["symbols"].append("tiktok")


def _change_type(schema: dict[str, Any]) -> None:
    _field(schema, "cost_micros")["type"] = ["null", "double"]


def _change_nested(schema: dict[str, Any]) -> None:
    _field(schema, "items")["type"]["items"]["fields"].append({"name": "discount", "type": "double", "default": 0})


def _change_scale(schema: dict[str, Any]) -> None:
    _field(schema, "revenue")["type"][1]["scale"] = 4


def _change_consent_default(schema: dict[str, Any]) -> None:
    _field(schema, "consent")["default"] = {"marketing": True, "analytics": None, "personalization": None}


ALTERATIONS = [_add_field, _drop_field, _swap_order, _make_required, _change_default, _add_symbol, _change_type,
               _change_nested, _change_scale, _change_consent_default]


@pytest.mark.parametrize("alter", ALTERATIONS, ids=lambda f: f.__name__.lstrip("_"))
def test_checker_catches_a_schema_only_change(alter: Any) -> None:
    schema = _touchpoint()
    alter(schema)
    assert model_problems(TouchpointEvent, schema), f"{alter.__name__} went unnoticed"


def test_checker_catches_a_model_only_field() -> None:
    widened = create_model("TouchpointEvent", __base__=TouchpointEvent, loyalty_tier=(str | None, None))
    problems = model_problems(widened, _touchpoint())
    assert problems and "loyalty_tier" in problems[0]


def test_checker_catches_a_model_only_type_change() -> None:
    # An Avro int field without an int32 bound, and a decimal with the wrong number of places.
    loose = create_model("LineItem", __base__=None, sku=(str, ...), quantity=(int, ...),
                         unit_price=(Annotated[Decimal, Field(max_digits=18, decimal_places=3)], ...),
                         category=(str | None, None))
    line_item = _field(_touchpoint(), "items")["type"]["items"]
    schema = dict(line_item, namespace="io.touchline")
    problems = model_problems(loose, schema)
    assert any("quantity" in p and "above" in p for p in problems)
    assert any("unit_price" in p and "decimal" in p for p in problems)


def test_every_enum_has_a_default_symbol_for_old_readers() -> None:
    def enums(schema: Any) -> Any:
        if isinstance(schema, list):
            for branch in schema:
                yield from enums(branch)
        elif isinstance(schema, dict):
            if schema.get("type") == "enum":
                yield schema
            for field in schema.get("fields", []):
                yield from enums(field["type"])
            for key in ("items", "values"):
                if key in schema:
                    yield from enums(schema[key])

    for entry in default_catalog():
        for enum in enums(entry.raw):
            assert enum.get("default") in enum["symbols"], f"{entry.label}: enum {enum['name']} needs a default"
