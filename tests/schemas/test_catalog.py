"""The catalog: files, canonical forms, CRC-64-AVRO fingerprints, lookups and load-time guards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas.catalog import AVRO_DIR, SchemaCatalog, default_catalog, parse, unbounded_array_path
from schemas.exceptions import CatalogError, UnknownSchema

# CRC-64-AVRO exactly as the Avro specification gives it (the reference for the 8 header bytes).
_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def spec_fingerprint(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_reference_algorithm_matches_the_spec_test_vectors() -> None:
    assert spec_fingerprint(b'"null"') == 7195948357588979594
    assert spec_fingerprint(b'"int"') == 8247732601305521295


@pytest.mark.parametrize("entry", list(default_catalog()), ids=lambda e: e.label)
def test_fingerprint_is_little_endian_crc64_of_canonical_form(entry) -> None:  # noqa: ANN001
    assert entry.fingerprint == spec_fingerprint(entry.canonical.encode()).to_bytes(8, "little")
    assert '"doc"' not in entry.canonical and " " not in entry.canonical.replace('" "', "")


def test_catalog_holds_the_contract() -> None:
    catalog = default_catalog()
    assert {e.label for e in catalog} == {
        "touchpoint.v1", "touchpoint.v2", "enriched_touchpoint.v1", "enriched_touchpoint.v2", "rejected_event.v1",
        "identity_change.v1", "session.v1", "journey.v1", "contact_decision.v1", "segment_membership.v1",
        "budget_recommendation.v1", "offer_conflict.v1"}
    assert catalog.get("touchpoint").label == "touchpoint.v2"  # the current writer version
    assert catalog.get("touchpoint", 1).version == 1
    assert catalog.versions("touchpoint") == [1, 2]
    for entry in catalog:
        assert entry.full_name.startswith("io.touchline.")
        assert catalog.by_fingerprint(entry.fingerprint) is entry
    assert catalog.by_fingerprint(b"\x00" * 8) is None


def test_unknown_name_or_version_lists_what_exists() -> None:
    with pytest.raises(UnknownSchema, match=r"touchpoint\.v9.*known: .*touchpoint\.v2"):
        default_catalog().get("touchpoint", 9)
    with pytest.raises(KeyError):  # UnknownSchema is also a KeyError
        default_catalog().get("nope")


def test_versions_of_one_schema_differ_in_canonical_form() -> None:
    v1, v2 = default_catalog().get("touchpoint", 1), default_catalog().get("touchpoint", 2)
    assert v1.fingerprint != v2.fingerprint
    assert "retail_media" in v2.canonical and "retail_media" not in v1.canonical


def _copy_catalog(tmp_path: Path) -> Path:
    for path in AVRO_DIR.glob("*.avsc"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_copy_with_the_same_canonical_form_is_refused(tmp_path: Path) -> None:
    directory = _copy_catalog(tmp_path)
    raw = json.loads((directory / "touchpoint.v2.avsc").read_text())
    raw["doc"] = "only the doc changed"  # docs are not part of the canonical form
    (directory / "touchpoint.v3.avsc").write_text(json.dumps(raw))
    with pytest.raises(CatalogError, match="same canonical form"):
        SchemaCatalog(directory)


@pytest.mark.parametrize("name", ["touchpoint.avsc", "Touchpoint.v1.avsc", "touchpoint.v0.avsc"])
def test_badly_named_files_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text('{"type": "string"}')
    with pytest.raises(CatalogError, match=r"<name>\.v<N>\.avsc"):
        SchemaCatalog(tmp_path)


def test_invalid_schema_and_empty_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no <name>"):
        SchemaCatalog(tmp_path)
    (tmp_path / "x.v1.avsc").write_text('{"type": "record", "name": "X", "fields": [{"name": "a"}]}')
    with pytest.raises(CatalogError, match="not a valid Avro schema"):
        SchemaCatalog(tmp_path)


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "array", "items": "null"}, "<root>"),
        ({"type": "record", "name": "R", "fields": [
            {"name": "a", "type": {"type": "array", "items": {"type": "record", "name": "E", "fields": []}}}]}, ".a"),
        ({"type": "record", "name": "R", "fields": [
            {"name": "a", "type": {"type": "array", "items": {"type": "fixed", "name": "F", "size": 0}}}]}, ".a"),
        ({"type": "record", "name": "N", "fields": [{"name": "kids", "type": {"type": "array", "items": "N"}}]}, None),
        ({"type": "map", "values": "null"}, None),  # every map entry has a key: at least one byte
        ({"type": "array", "items": ["null", "string"]}, None),  # the branch index is a byte
    ],
)
def test_arrays_of_zero_byte_items_are_detected(schema: dict, path: str | None) -> None:
    assert unbounded_array_path(parse(schema)[0]) == path


def test_catalog_refuses_a_schema_with_zero_byte_array_items(tmp_path: Path) -> None:
    (tmp_path / "bad.v1.avsc").write_text(json.dumps(
        {"type": "record", "name": "Bad", "fields": [{"name": "nulls", "type": {"type": "array", "items": "null"}}]}))
    with pytest.raises(CatalogError, match="zero bytes"):
        SchemaCatalog(tmp_path)
