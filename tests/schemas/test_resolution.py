"""The precompiled resolution gives exactly what fastavro's full resolution gives, or steps aside."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings

from schemas.catalog import default_catalog, parse
from schemas.models import Channel, TouchpointEvent
from schemas.resolution import compile_resolver
from tests.schemas.samples import touchpoints

V1_CHANNELS = [c for c in Channel if c is not Channel.retail_media]


def both_ways(record: dict[str, Any], writer: dict, reader: dict) -> tuple[dict, dict]:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, writer, record)
    full = fastavro.schemaless_reader(io.BytesIO(buffer.getvalue()), writer, reader)
    resolve = compile_resolver(writer, reader)
    assert resolve is not None
    fast = resolve(fastavro.schemaless_reader(io.BytesIO(buffer.getvalue()), writer))
    return fast, full


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touchpoints())
def test_v2_to_v1_matches_fastavro(record: dict) -> None:
    v1, v2 = default_catalog().get("touchpoint", 1).parsed, default_catalog().get("touchpoint", 2).parsed
    fast, full = both_ways(TouchpointEvent.model_validate(record).to_avro(), v2, v1)
    assert fast == full


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touchpoints(V1_CHANNELS))
def test_v1_to_v2_matches_fastavro(record: dict) -> None:
    v1, v2 = default_catalog().get("touchpoint", 1).parsed, default_catalog().get("touchpoint", 2).parsed
    fast, full = both_ways(TouchpointEvent.model_validate(record).to_avro(), v1, v2)
    assert fast == full


def _record(*fields: dict) -> dict:
    return parse({"type": "record", "name": "R", "namespace": "t", "fields": list(fields)})[0]


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ({"name": "a", "type": "int"}, {"name": "a", "type": "long"}),  # promotion
        ({"name": "a", "type": "string"}, {"name": "b", "type": "string"}),  # new field without default
        ({"name": "a", "type": "string"},
         {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}),
        ({"name": "a", "type": {"type": "enum", "name": "E", "symbols": ["x", "y"]}},
         {"name": "a", "type": {"type": "enum", "name": "E", "symbols": ["x"]}}),  # no enum default
        ({"name": "a", "type": {"type": "array", "items": {"type": "record", "name": "I", "fields": [
            {"name": "p", "type": "int"}]}}},
         {"name": "a", "type": {"type": "array", "items": {"type": "record", "name": "I", "fields": [
             {"name": "p", "type": "int"}, {"name": "q", "type": "int", "default": 0}]}}}),  # nested change
    ],
)
def test_anything_else_falls_back_to_fastavro(writer: dict, reader: dict) -> None:
    assert compile_resolver(_record(writer), _record(reader)) is None


def test_different_record_names_do_not_resolve() -> None:
    other = parse({"type": "record", "name": "S", "namespace": "t", "fields": []})[0]
    assert compile_resolver(_record(), other) is None


def test_defaults_are_fresh_objects() -> None:
    resolve = compile_resolver(_record(), _record({"name": "l", "type": {"type": "array", "items": "int"},
                                                   "default": []}))
    first, second = resolve({}), resolve({})
    assert first == {"l": []} and first["l"] is not second["l"]
