"""Schema resolution compiled once per (writer, reader) pair, for the common evolution steps.

fastavro resolves writer to reader while it reads, matching schemas again
for every value: a v1 event read as v2 decodes about half as fast as a v2
one. Most evolution is top-level and simple (a field added with a default,
a field removed, an enum symbol added), so for such pairs the body is read
with the writer schema alone and this module's precomputed step list turns
the result into the reader's record. Any other difference (type promotion,
nested changes, non-trivial defaults) returns no plan and the decoder keeps
fastavro's full resolution. tests/schemas/test_resolution.py checks both
paths give the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastavro.schema import expand_schema

Resolver = Callable[[dict[str, Any]], dict[str, Any]]
_SCALARS = (type(None), bool, int, float, str)
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def _strip(schema: Any) -> Any:
    """The schema without what does not change decoded values (docs, aliases, fastavro bookkeeping)."""
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k not in ("doc", "aliases") and not k.startswith("__")}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


def _default_factory(field: dict[str, Any]) -> Callable[[], Any] | None:
    """How to make the reader's default for a field the writer lacks, if it is a plain value."""
    if "default" not in field:
        return None
    default, kind = field["default"], field["type"]
    if default is None and isinstance(kind, list) and kind and kind[0] == "null":
        return lambda: None
    if isinstance(kind, str) and kind in _PRIMITIVES and isinstance(default, _SCALARS) and kind != "bytes":
        return lambda: default
    if isinstance(kind, dict) and kind.get("type") in ("array", "map") and default in ([], {}):
        return list if kind["type"] == "array" else dict
    return None


def _enum_mapper(writer: Any, reader: Any) -> Callable[[str], str] | None:
    """For a plain enum field whose reader lacks some writer symbols: symbol -> reader symbol or default."""
    if not (isinstance(writer, dict) and isinstance(reader, dict)):
        return None
    if writer.get("type") != "enum" or reader.get("type") != "enum" or writer.get("name") != reader.get("name"):
        return None
    if {k: v for k, v in writer.items() if k not in ("symbols", "default")} != \
            {k: v for k, v in reader.items() if k not in ("symbols", "default")}:
        return None
    known = frozenset(reader["symbols"])
    if set(writer["symbols"]) <= known:
        return lambda symbol: symbol
    if "default" not in reader:
        return None
    fallback = reader["default"]
    return lambda symbol: symbol if symbol in known else fallback


def compile_resolver(writer_parsed: dict[str, Any], reader_parsed: dict[str, Any]) -> Resolver | None:
    """A function from the writer-read record to the reader's record, or None (use fastavro's resolution)."""
    writer, reader = _strip(expand_schema(writer_parsed)), _strip(expand_schema(reader_parsed))
    if writer.get("type") != "record" or reader.get("type") != "record" or writer["name"] != reader["name"]:
        return None
    writer_fields = {f["name"]: f for f in writer["fields"]}
    copy: list[str] = []
    mapped: list[tuple[str, Callable[[str], str]]] = []
    added: list[tuple[str, Callable[[], Any]]] = []
    for field in reader["fields"]:
        name, theirs = field["name"], writer_fields.get(field["name"])
        if theirs is None:
            make = _default_factory(field)
            if make is None:
                return None
            added.append((name, make))
        elif theirs["type"] == field["type"]:
            copy.append(name)
        elif (mapper := _enum_mapper(theirs["type"], field["type"])) is not None:
            mapped.append((name, mapper))
        else:
            return None

    def resolve(record: dict[str, Any]) -> dict[str, Any]:
        out = {name: record[name] for name in copy}
        for name, mapper in mapped:
            out[name] = mapper(record[name])
        for name, make in added:
            out[name] = make()
        return out

    return resolve
