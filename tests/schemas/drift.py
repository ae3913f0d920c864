"""Compare a pydantic model with an Avro record schema: names, order, nullability, defaults, types, symbols.

``model_problems(Model, schema)`` returns human-readable differences (empty
when they agree). ``schema`` is an .avsc dict; named types may be inline or
referenced. Used by test_models_match_avsc.py, which also shows that a
deliberately altered schema or model is caught.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import annotated_types
import fastavro
from fastavro.schema import expand_schema
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

_PRIMITIVES: dict[str, type] = {"string": str, "int": int, "long": int, "float": float, "double": float,
                                "boolean": bool, "bytes": bytes}
_LOGICAL: dict[tuple[str, str], type] = {("bytes", "decimal"): Decimal, ("long", "timestamp-millis"): datetime}
_INT32_MAX = 2**31 - 1


def expanded(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every named-type reference replaced by its definition (full names)."""
    return expand_schema(fastavro.parse_schema(schema, named_schemas={}))


def model_problems(model: type[BaseModel], schema: dict[str, Any]) -> list[str]:
    return _record(model, expanded(schema), model.__name__)


def _record(model: type[BaseModel], record: dict[str, Any], path: str) -> list[str]:
    problems = []
    short = record["name"].rsplit(".", 1)[-1]
    if model.__name__ != short:
        problems.append(f"{path}: model {model.__name__} mirrors Avro record {short}")
    ours, theirs = list(model.model_fields), [f["name"] for f in record["fields"]]
    if ours != theirs:
        only_model = [n for n in ours if n not in theirs]
        only_avsc = [n for n in theirs if n not in ours]
        problems.append(f"{path}: fields differ (only in model: {only_model}, only in avsc: {only_avsc}, "
                        f"order model={ours} avsc={theirs})")
    avro_fields = {f["name"]: f for f in record["fields"]}
    for name, info in model.model_fields.items():
        if name in avro_fields:
            problems += _default(info, avro_fields[name], f"{path}.{name}")
            problems += _type(info.annotation, list(info.metadata), avro_fields[name]["type"], f"{path}.{name}")
    return problems


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    return value


def _default(info: FieldInfo, field: dict[str, Any], path: str) -> list[str]:
    if info.is_required():
        return [f"{path}: avsc default {field['default']!r} but the model requires it"] if "default" in field else []
    if "default" not in field:
        return [f"{path}: model default {info.get_default(call_default_factory=True)!r} but the avsc requires it"]
    ours = _plain(info.get_default(call_default_factory=True))
    return [] if ours == field["default"] else [f"{path}: default model={ours!r} avsc={field['default']!r}"]


def _unwrap(annotation: Any, metadata: list[Any]) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:  # FieldInfo inside Annotated carries constraints in its own metadata
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation


def _optional_of(annotation: Any) -> Any | None:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return None


def _type(annotation: Any, metadata: list[Any], avro: Any, path: str) -> list[str]:
    annotation = _unwrap(annotation, metadata)
    inner = _optional_of(annotation)
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if "null" not in avro or len(branches) != 1:
            return [f"{path}: the checker only knows [\"null\", T] unions, not {avro}"]
        if inner is None:
            return [f"{path}: nullable in the avsc, not in the model"]
        return _type(inner, metadata, branches[0], path)
    if inner is not None:
        return [f"{path}: nullable in the model, not in the avsc"]
    avro = {"type": avro} if isinstance(avro, str) else avro
    kind = avro["type"]
    if kind == "record":
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return [f"{path}: avsc record {avro['name']}, model {annotation}"]
        return _record(annotation, avro, path)
    if kind == "enum":
        if not (isinstance(annotation, type) and issubclass(annotation, Enum)):
            return [f"{path}: avsc enum {avro['name']}, model {annotation}"]
        symbols = [m.value for m in annotation]
        if symbols != avro["symbols"] or annotation.__name__ != avro["name"].rsplit(".", 1)[-1]:
            return [f"{path}: enum {annotation.__name__}{symbols} vs avsc {avro['name']}{avro['symbols']}"]
        return []
    if kind in ("array", "map"):
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if kind == "array" and origin is list:
            return _type(args[0], [], avro["items"], f"{path}[]")
        if kind == "map" and origin is dict and _unwrap(args[0], []) is str:
            return _type(args[1], [], avro["values"], f"{path}{{}}")
        return [f"{path}: avsc {kind}, model {annotation}"]
    expected = _LOGICAL.get((kind, avro.get("logicalType", ""))) or _PRIMITIVES.get(kind)
    actual = datetime if annotation is AwareDatetime else annotation
    if expected is None or actual is not expected:
        return [f"{path}: avsc {kind}{'/' + avro['logicalType'] if 'logicalType' in avro else ''}, model {annotation}"]
    return _bounds(kind, avro, metadata, path)


def _bounds(kind: str, avro: dict[str, Any], metadata: list[Any], path: str) -> list[str]:
    """An Avro int needs a model bound within int32; an Avro decimal needs matching digits and places."""
    if kind == "int":
        upper = [m.le for m in metadata if isinstance(m, annotated_types.Le)]
        if not upper or upper[0] > _INT32_MAX:
            return [f"{path}: Avro int but the model allows values above {_INT32_MAX} (add le=...)"]
    if avro.get("logicalType") == "decimal":
        digits = {k: getattr(m, k) for m in metadata for k in ("max_digits", "decimal_places") if hasattr(m, k)}
        if digits != {"max_digits": avro["precision"], "decimal_places": avro.get("scale", 0)}:
            return [f"{path}: decimal({avro['precision']},{avro.get('scale', 0)}) but the model has {digits}"]
    return []
