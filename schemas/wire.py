"""The two wire formats of a Kafka message value, both decoding to the same record.

- Avro single-object encoding (registry-less, the default)::

      C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | Avro binary

  The writer schema is looked up in the catalog (``schemas/avro/``) by fingerprint.
- Confluent Schema Registry framing (when ``TOUCHLINE_SCHEMA_REGISTRY_URL`` is set)::

      00 | schema id (4 bytes, big-endian) | Avro binary

Either way the body is read with the writer schema and resolved to the
decoder's reader schema (Avro schema evolution: new fields get their
defaults, removed fields are skipped, unknown enum symbols become the enum
default). ``AvroDecoder.decode`` raises ``DecodeError`` and nothing else, for
any input: a producer cannot crash a worker.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from schemas.catalog import SchemaCatalog, SchemaEntry, default_catalog
from schemas.exceptions import DecodeError, EncodeError, SchemaConfigError
from schemas.models import AvroModel
from schemas.reasons import RejectReason
from schemas.registry import REGISTRY_URL_SETTING, RegistrySchemas, RegistryWriter
from schemas.resolution import Resolver, compile_resolver

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
REGISTRY_MAGIC = b"\x00"
_SINGLE_OBJECT_HEADER = 10
_REGISTRY_HEADER = 5


class AvroEncoder:
    """Encodes records of one schema version in one wire format (registry framing iff ``registry``)."""

    def __init__(self, schema: str = "touchpoint", version: int | None = None, *,
                 registry: SchemaRegistryClient | None = None, subject: str | None = None,
                 catalog: SchemaCatalog | None = None):
        self.entry: SchemaEntry = (catalog or default_catalog()).get(schema, version)
        if registry is not None and not subject:
            raise SchemaConfigError("registry framing needs the subject to register the schema under: "
                                    "pass subject=f'{topic}-value'")
        self.registry, self.subject = registry, subject
        self._header: bytes | None = None if registry is not None else SINGLE_OBJECT_MAGIC + self.entry.fingerprint

    @property
    def header(self) -> bytes:
        """The bytes every message starts with; registers the schema on first use with a registry."""
        if self._header is None:
            try:
                schema_id = self.registry.register_schema(self.subject, Schema(json.dumps(self.entry.raw), "AVRO"))
            except Exception as exc:
                raise EncodeError(
                    f"could not register {self.entry.label} under subject {self.subject!r} ({type(exc).__name__}: "
                    f"{exc}): check {REGISTRY_URL_SETTING} and the subject's compatibility setting"
                ) from exc
            self._header = REGISTRY_MAGIC + schema_id.to_bytes(4, "big")
        return self._header

    def encode(self, record: dict[str, Any] | AvroModel) -> bytes:
        """One message value. Raises EncodeError naming what does not fit (validate with the model first)."""
        if isinstance(record, AvroModel):
            record = record.to_avro()
        buffer = io.BytesIO()
        buffer.write(self.header)
        try:
            schemaless_writer(buffer, self.entry.parsed, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"record does not fit {self.entry.label}: {exc}") from None
        return buffer.getvalue()


@dataclass(frozen=True)
class _Plan:
    """How to read one writer schema as the reader: resolved once, used for every message."""

    label: str
    writer: dict[str, Any]
    reader: dict[str, Any] | None  # None: no resolution while reading
    resolve: Resolver | None = None  # precompiled resolution applied after reading with the writer schema


class AvroDecoder:
    """Decodes either wire format into a record of ``reader_schema`` (latest version unless given)."""

    def __init__(self, reader_schema: str = "touchpoint", reader_version: int | None = None, *,
                 registry: SchemaRegistryClient | None = None, max_payload_bytes: int = 1_000_000,
                 catalog: SchemaCatalog | None = None, registry_cache_size: int = 1000):
        self.catalog = catalog or default_catalog()
        self.reader: SchemaEntry = self.catalog.get(reader_schema, reader_version)
        self.max_payload_bytes = max_payload_bytes
        self.registry = (None if registry is None
                         else RegistrySchemas(registry, registry_cache_size, prepare=self._registry_writer_plan))
        self._plans: dict[bytes, _Plan] = {}  # catalog fingerprint -> plan (bounded by the catalog)

    def decode(self, payload: bytes | bytearray | memoryview | None) -> tuple[dict[str, Any], str]:
        """(record in the reader schema, writer label such as "touchpoint.v1" or "registry:17")."""
        if not payload:
            raise DecodeError(RejectReason.empty_payload, "message value is empty: send one Avro-encoded record")
        if not isinstance(payload, bytes):
            if not isinstance(payload, (bytearray, memoryview)):
                raise DecodeError(RejectReason.internal_error, f"payload is {type(payload).__name__}, not bytes")
            payload = bytes(payload)
        size = len(payload)
        if size > self.max_payload_bytes:
            raise DecodeError(RejectReason.oversized_payload,
                              f"message is {size} bytes, the limit is {self.max_payload_bytes}: "
                              "split items or drop bulky properties")
        if payload[0] == 0xC3:
            if size < _SINGLE_OBJECT_HEADER or payload[1] != 0x01:
                raise _bad_header(payload)
            plan = self._plans.get(payload[2:10]) or self._catalog_plan(payload[2:10])
            offset = _SINGLE_OBJECT_HEADER
        elif payload[0] == 0x00:
            if size < _REGISTRY_HEADER:
                raise _bad_header(payload)
            plan = self._registry_plan(int.from_bytes(payload[1:5], "big"))
            offset = _REGISTRY_HEADER
        else:
            raise _bad_header(payload)
        return self._read(payload, offset, plan), plan.label

    def _read(self, payload: bytes, offset: int, plan: _Plan) -> dict[str, Any]:
        buffer = io.BytesIO(payload)
        buffer.seek(offset)
        try:
            record = schemaless_reader(buffer, plan.writer, plan.reader)
            if plan.resolve is not None:
                record = plan.resolve(record)
        except SchemaResolutionError as exc:
            raise DecodeError(RejectReason.unknown_schema, f"writer schema {plan.label} cannot be read as "
                              f"{self.reader.label}: {str(exc)[:200]}") from None
        except OverflowError as exc:
            raise DecodeError(
                RejectReason.avro_decode_error,
                f"Avro body (written with {plan.label}) holds a value out of range ({exc}): timestamps are epoch "
                "MILLIseconds within years 1-9999 (microseconds or nanoseconds land here)",
            ) from None
        except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError, MemoryError, ...
            raise DecodeError(
                RejectReason.avro_decode_error,
                f"Avro body (written with {plan.label}) is truncated or corrupt ({type(exc).__name__}: "
                f"{str(exc)[:200]}): encode with the writer schema the header names, one record per message",
            ) from None
        if buffer.tell() != len(payload):
            raise DecodeError(RejectReason.trailing_bytes,
                              f"{len(payload) - buffer.tell()} byte(s) follow the {plan.label} record: "
                              "send exactly one record per message, no padding or concatenation")
        return record

    def _plan(self, label: str, writer: dict[str, Any], fingerprint: bytes) -> _Plan:
        if fingerprint == self.reader.fingerprint:
            return _Plan(label, self.reader.parsed, None)
        resolve = compile_resolver(writer, self.reader.parsed)
        return _Plan(label, writer, None if resolve else self.reader.parsed, resolve)

    def _catalog_plan(self, fingerprint: bytes) -> _Plan:
        entry = self.catalog.by_fingerprint(fingerprint)
        if entry is None:
            known = ", ".join(f"{e.label}={e.fingerprint.hex()}" for e in self.catalog if e.name == self.reader.name)
            raise DecodeError(RejectReason.unknown_fingerprint,
                              f"writer schema fingerprint {fingerprint.hex()} is not in the catalog (known {known}): "
                              f"produce {self.reader.label}, or deploy a pipeline that ships the producer's schema")
        if entry.name != self.reader.name:
            raise DecodeError(RejectReason.unknown_schema, f"payload was written with {entry.label}; this decoder "
                              f"reads {self.reader.name}: is it on the wrong topic?")
        plan = self._plans[entry.fingerprint] = self._plan(entry.label, entry.parsed, entry.fingerprint)
        return plan

    def _registry_plan(self, schema_id: int) -> _Plan:
        if self.registry is None:
            raise DecodeError(RejectReason.no_registry_configured,
                              f"payload uses Schema Registry framing (schema id {schema_id}) but no registry is "
                              f"configured: set {REGISTRY_URL_SETTING}")
        return self.registry.get(schema_id)

    def _registry_writer_plan(self, writer: RegistryWriter) -> _Plan:
        if writer.full_name != self.reader.full_name:
            what = writer.full_name or "not a record schema"
            raise DecodeError(RejectReason.unknown_schema, f"schema id {writer.schema_id} is {what}; this decoder "
                              f"reads {self.reader.full_name}: is it on the wrong topic?")
        ours = self.catalog.by_fingerprint(writer.fingerprint)  # same binary layout: use our logical types
        return self._plan(writer.label, ours.parsed if ours else writer.parsed, writer.fingerprint)


def _bad_header(payload: bytes) -> DecodeError:
    head = payload[:10].hex(" ")
    if payload[0] in (0xC3, 0x00):
        return DecodeError(RejectReason.avro_decode_error,
                           f"message header is truncated ({len(payload)} bytes: {head}): the single-object header "
                           "is C3 01 + 8 fingerprint bytes, the registry header 00 + 4 id bytes")
    looks = " (it looks like JSON: send Avro)" if payload[:1] in (b"{", b"[") else ""
    return DecodeError(RejectReason.bad_magic_byte,
                       f"message starts with {head}{looks}: expected C3 01 (Avro single-object encoding) or 00 "
                       "(Confluent Schema Registry framing); use streams.produce.TouchpointProducer")
