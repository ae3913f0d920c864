"""The schema catalog: every ``schemas/avro/<name>.v<N>.avsc``, parsed once.

Each entry carries its Parsing Canonical Form and CRC-64-AVRO fingerprint
(the 8 little-endian bytes the single-object encoding puts after ``C3 01``),
so a decoder finds the writer schema of a payload with one dict lookup.

    catalog = default_catalog()
    catalog.get("touchpoint")          # latest version
    catalog.get("touchpoint", 1)
    catalog.by_fingerprint(payload[2:10])
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.exceptions import CatalogError, UnknownSchema

AVRO_DIR = Path(__file__).with_name("avro")
_FILE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


@dataclass(frozen=True)
class SchemaEntry:
    name: str  # "touchpoint"
    version: int
    raw: dict[str, Any] = field(repr=False)  # the file's JSON, docs included
    parsed: dict[str, Any] = field(repr=False)  # fastavro-parsed, what readers and writers take
    canonical: str = field(repr=False)
    fingerprint: bytes  # CRC-64-AVRO of `canonical`, 8 bytes little-endian

    @property
    def label(self) -> str:
        return f"{self.name}.v{self.version}"

    @property
    def full_name(self) -> str:
        return f"{self.raw['namespace']}.{self.raw['name']}" if "namespace" in self.raw else self.raw["name"]


def parse(raw: dict[str, Any]) -> tuple[dict[str, Any], str, bytes]:
    """(parsed, canonical form, fingerprint) of one schema, with its own namespace of named types."""
    parsed = fastavro.parse_schema(raw, named_schemas={})
    canonical = to_parsing_canonical_form(raw)
    return parsed, canonical, bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def unbounded_array_path(parsed: dict[str, Any] | list | str) -> str | None:
    """Path of an array whose items may encode to zero bytes, else None.

    Decoding such an array loops once per item *without consuming input*, so
    a corrupt block count (up to 2**63) would hang the decoder. Every other
    repeated value eats at least one byte, so input size bounds the work.
    """
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}

    def min_size(schema: Any, path: str, seen: frozenset[str]) -> int:
        if isinstance(schema, list):
            return 1  # the branch index
        if isinstance(schema, str):
            if schema in named and schema not in seen:
                return min_size(named[schema], path, seen | {schema})
            return {"null": 0, "float": 4, "double": 8}.get(schema, 1)  # a recursive reference: >= 1
        kind = schema["type"]
        if kind == "record":
            seen = seen | {schema["name"]}
            return sum(min_size(f["type"], f"{path}.{f['name']}", seen) for f in schema["fields"])
        if kind == "fixed":
            return schema["size"]
        if kind in ("array", "map"):
            items = schema["items"] if kind == "array" else schema["values"]
            inner = min_size(items, f"{path}[]", seen)
            if kind == "array" and inner == 0:
                raise _Unbounded(path)
            return 1
        if kind == "enum":
            return 1
        return min_size(kind, path, seen)

    try:
        min_size(parsed, "", frozenset())
    except _Unbounded as bad:
        return bad.args[0] or "<root>"
    return None


class _Unbounded(Exception):
    pass


class SchemaCatalog:
    """The .avsc files of one directory, indexed by (name, version) and by fingerprint."""

    def __init__(self, directory: Path = AVRO_DIR):
        self.directory = directory
        self._entries: dict[tuple[str, int], SchemaEntry] = {}
        self._by_fingerprint: dict[bytes, SchemaEntry] = {}
        self._latest: dict[str, SchemaEntry] = {}
        for path in sorted(directory.glob("*.avsc")):
            self._add(self._load(path))
        if not self._entries:
            raise CatalogError(f"no <name>.v<N>.avsc files in {directory}: is the package installed with its data?")

    @staticmethod
    def _load(path: Path) -> SchemaEntry:
        match = _FILE_NAME.match(path.name)
        if not match:
            raise CatalogError(f"{path}: schema files must be named <name>.v<N>.avsc (e.g. touchpoint.v2.avsc)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            parsed, canonical, fp = parse(raw)
        except Exception as exc:  # JSON or fastavro's SchemaParseException: either way the file is broken
            raise CatalogError(f"{path}: not a valid Avro schema: {exc}") from exc
        if problem := unbounded_array_path(parsed):
            raise CatalogError(f"{path}: array {problem} has items that can be zero bytes; give them a field")
        return SchemaEntry(match["name"], int(match["version"]), raw, parsed, canonical, fp)

    def _add(self, entry: SchemaEntry) -> None:
        clash = self._by_fingerprint.get(entry.fingerprint)
        if clash is not None:
            raise CatalogError(
                f"{entry.label} and {clash.label} have the same canonical form (fingerprint "
                f"{entry.fingerprint.hex()}): a new version must change the fields, types or symbols"
            )
        self._entries[entry.name, entry.version] = entry
        self._by_fingerprint[entry.fingerprint] = entry
        latest = self._latest.get(entry.name)
        if latest is None or entry.version > latest.version:
            self._latest[entry.name] = entry

    def get(self, name: str, version: int | None = None) -> SchemaEntry:
        """The entry for ``name`` at ``version`` (None = latest); raises UnknownSchema."""
        entry = self._latest.get(name) if version is None else self._entries.get((name, version))
        if entry is None:
            known = ", ".join(sorted(e.label for e in self._entries.values()))
            raise UnknownSchema(f"no schema {name}{'' if version is None else f'.v{version}'} in {self.directory} "
                                f"(known: {known})")
        return entry

    def by_fingerprint(self, fp: bytes) -> SchemaEntry | None:
        return self._by_fingerprint.get(bytes(fp))

    def versions(self, name: str) -> list[int]:
        return sorted(v for n, v in self._entries if n == name)

    def __iter__(self) -> Iterator[SchemaEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.name, e.version)))


@cache
def default_catalog() -> SchemaCatalog:
    """The package's own catalog, loaded on first use and shared."""
    return SchemaCatalog()
