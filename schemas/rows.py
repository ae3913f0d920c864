"""Compact rows: how a record of one of our schemas travels between our own stages.

A row is::

    E2 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, as Avro single-object) | msgpack array

The array holds the record's top-level fields in the writer schema's order
(nested records as msgpack maps, timestamps as msgpack timestamps, decimals as
extension type 1 holding their text). It is the Avro record, minus Avro's
binary encoding: a stage pays about 2 us to encode and 4 us to decode a
touchpoint, against 23 and 20 us for fastavro (docs/benchmarks.md), and the
record read back equals the one fastavro reads back from the same writer schema.

Only internal topics carry rows (``touchpoints.valid``, ``touchpoints.enriched``);
the raw topic keeps its producer contract (Avro, ``schemas/wire.py``), and the
Avro encodings of the catalog stay the documented contract of every record.
``RowDecoder`` reads both a row and an Avro payload, so a topic written by an
older pipeline, or a replayed one, still reads. A row of another version of the
same schema resolves to the reader's version as Avro resolution would (the
catalog's ``compile_resolver``). ``RowDecoder.decode`` raises ``DecodeError`` and
nothing else.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

import msgpack

from schemas.catalog import SchemaCatalog, SchemaEntry, default_catalog
from schemas.exceptions import DecodeError, EncodeError
from schemas.models import AvroModel
from schemas.reasons import RejectReason
from schemas.resolution import compile_resolver
from schemas.wire import AvroDecoder

ROW_MAGIC = b"\xe2\x01"
_HEADER = 10
_DECIMAL_EXT = 1
_REQUIRED = object()


def _pack_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return msgpack.ExtType(_DECIMAL_EXT, str(value).encode())
    raise TypeError(f"{type(value).__name__} has no row encoding")


def _ext(code: int, data: bytes) -> Any:
    if code == _DECIMAL_EXT:
        return Decimal(data.decode())
    raise ValueError(f"unknown msgpack extension type {code}")


def millis(moment: datetime) -> datetime:
    """``moment`` at millisecond precision: what an Avro ``timestamp-millis`` keeps, and so what a row
    must carry for a reader to see the same record either way."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now_millis() -> datetime:
    """Now, in UTC, at millisecond precision (see ``millis``)."""
    return millis(datetime.now(timezone.utc))


class RowEncoder:
    """Encodes records of one schema version as rows (``ROW_MAGIC`` framing)."""

    def __init__(self, schema: str, version: int | None = None, *, catalog: SchemaCatalog | None = None):
        self.entry: SchemaEntry = (catalog or default_catalog()).get(schema, version)
        self.header = ROW_MAGIC + self.entry.fingerprint
        fields = self.entry.parsed["fields"]
        self._fields = itemgetter(*(f["name"] for f in fields))
        # A field left out takes its schema default, as fastavro's writer does; without one it is an error.
        self._defaults = [(f["name"], f.get("default", _REQUIRED)) for f in fields]
        # Timestamps must be timezone-aware (msgpack refuses naive ones, as our Avro records hold UTC).
        self._packer = msgpack.Packer(datetime=True, default=_pack_default)

    def encode(self, record: dict[str, Any] | AvroModel) -> bytes:
        """One row. Raises EncodeError naming the field that is missing or has no encoding."""
        if isinstance(record, AvroModel):
            record = record.to_avro()
        try:
            try:
                values = self._fields(record)
            except KeyError:
                values = self._with_defaults(record)
            return self.header + self._packer.pack(values)
        except (TypeError, ValueError, OverflowError) as exc:
            self._packer.reset()  # a failed pack may leave bytes behind in the packer's buffer
            raise EncodeError(f"record does not fit {self.entry.label}: {exc}") from None

    def _with_defaults(self, record: dict[str, Any]) -> list[Any]:
        values = []
        for name, default in self._defaults:
            value = record.get(name, default)
            if value is _REQUIRED:
                raise EncodeError(f"record does not fit {self.entry.label}: field {name!r} is missing and has "
                                  "no default")
            values.append(value)
        return values


class RowDecoder:
    """Reads rows, and Avro payloads in either wire format, into records of ``reader_schema``."""

    def __init__(self, reader_schema: str, reader_version: int | None = None, *, max_payload_bytes: int = 1_000_000,
                 catalog: SchemaCatalog | None = None):
        self.catalog = catalog or default_catalog()
        self.reader: SchemaEntry = self.catalog.get(reader_schema, reader_version)
        self.avro = AvroDecoder(reader_schema, reader_version, max_payload_bytes=max_payload_bytes,
                                catalog=self.catalog)
        self.max_payload_bytes = max_payload_bytes
        self._plans: dict[bytes, tuple[str, list[str], Any]] = {}  # writer fingerprint -> (label, names, resolve)

    def decode(self, payload: bytes | bytearray | memoryview | None) -> tuple[dict[str, Any], str]:
        """(record in the reader schema, writer label such as "row:enriched_touchpoint.v2" or "touchpoint.v1")."""
        if not payload or payload[:2] != ROW_MAGIC:
            return self.avro.decode(payload)
        if len(payload) > self.max_payload_bytes:
            raise DecodeError(RejectReason.oversized_payload,
                              f"row is {len(payload)} bytes, the limit is {self.max_payload_bytes}")
        fingerprint = bytes(payload[2:_HEADER])
        label, names, resolve = self._plans.get(fingerprint) or self._plan(fingerprint)
        try:
            values = msgpack.unpackb(memoryview(payload)[_HEADER:], timestamp=3, ext_hook=_ext)
        except (ValueError, TypeError, InvalidOperation, msgpack.UnpackException) as exc:
            raise DecodeError(RejectReason.avro_decode_error,
                              f"row of {label} is truncated or corrupt ({type(exc).__name__}: {str(exc)[:200]})"
                              ) from None
        if not isinstance(values, list) or len(values) != len(names):
            raise DecodeError(RejectReason.avro_decode_error,
                              f"row of {label} holds {len(values) if isinstance(values, list) else 'no'} field "
                              f"values, the schema has {len(names)}")
        record = dict(zip(names, values))
        return (record if resolve is None else resolve(record)), label

    def _plan(self, fingerprint: bytes) -> tuple[str, list[str], Any]:
        entry = self.catalog.by_fingerprint(fingerprint)
        if entry is None or entry.name != self.reader.name:
            what = "not in the catalog" if entry is None else f"{entry.label}"
            raise DecodeError(RejectReason.unknown_fingerprint if entry is None else RejectReason.unknown_schema,
                              f"row written with schema {fingerprint.hex()} ({what}); this decoder reads "
                              f"{self.reader.label}: deploy a pipeline that ships the writer's schema")
        resolve = None
        if fingerprint != self.reader.fingerprint:
            resolve = compile_resolver(entry.parsed, self.reader.parsed)
            if resolve is None:
                raise DecodeError(RejectReason.unknown_schema,
                                  f"rows of {entry.label} cannot be resolved to {self.reader.label}")
        plan = self._plans[fingerprint] = (f"row:{entry.label}", [f["name"] for f in entry.parsed["fields"]], resolve)
        return plan
