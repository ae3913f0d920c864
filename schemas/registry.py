"""Writer schemas from a Confluent Schema Registry: fetched by id once, parsed once, cached.

The cache is bounded (LRU). Ids are immutable in a registry, so a schema
once fetched never changes; a 404 is remembered for ``negative_ttl``
seconds so a flood of messages naming a bogus id does not become a flood of
registry requests. An unreachable registry is never cached: the next
message tries again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas.catalog import parse, unbounded_array_path
from schemas.exceptions import DecodeError
from schemas.reasons import RejectReason

REGISTRY_URL_SETTING = "TOUCHLINE_SCHEMA_REGISTRY_URL"
T = TypeVar("T")


def connect_registry(url: str, **conf: Any) -> SchemaRegistryClient:
    """A registry client for ``url``; ``mock://<name>`` gives confluent-kafka's in-memory registry (tests)."""
    return SchemaRegistryClient.new_client({"url": url, **conf})


@dataclass(frozen=True)
class RegistryWriter:
    schema_id: int
    full_name: str  # record name the writer used, e.g. io.touchline.TouchpointEvent
    parsed: dict[str, Any]
    fingerprint: bytes  # CRC-64-AVRO of its canonical form: equal to a catalog entry's if it is one of ours

    @property
    def label(self) -> str:
        return f"registry:{self.schema_id}"


class RegistrySchemas(Generic[T]):
    """schema id -> ``prepare(RegistryWriter)``, or DecodeError (unknown_registry_id, unknown_schema or
    schema_registry_unavailable).

    ``prepare`` (default: identity) turns a fetched writer into what the caller
    wants cached with it (the decoder caches its read plan); a DecodeError it
    raises is cached like a 404.
    """

    def __init__(self, client: SchemaRegistryClient, capacity: int = 1000, negative_ttl: float = 60.0,
                 prepare: Callable[[RegistryWriter], T] | None = None):
        self.client = client
        self.capacity = capacity
        self.negative_ttl = negative_ttl
        self._prepare = prepare or (lambda writer: writer)
        self._cache: OrderedDict[int, tuple[float, T | DecodeError]] = OrderedDict()
        self._lock = threading.Lock()  # guards the cache, not the fetch: a slow registry blocks no reader

    def get(self, schema_id: int) -> T:
        with self._lock:
            hit = self._cache.get(schema_id)
            if hit is not None:
                self._cache.move_to_end(schema_id)
        if hit is not None:
            expires, value = hit
            if not isinstance(value, DecodeError):
                return value
            if expires > time.monotonic():
                raise value
        try:
            value = self._prepare(self._fetch(schema_id))
        except DecodeError as exc:
            if exc.reason is not RejectReason.schema_registry_unavailable:  # ids are immutable: no use asking soon
                self._remember(schema_id, time.monotonic() + self.negative_ttl, exc)
            raise
        self._remember(schema_id, float("inf"), value)
        return value

    def _remember(self, schema_id: int, expires: float, value: T | DecodeError) -> None:
        with self._lock:
            self._cache[schema_id] = (expires, value)
            self._cache.move_to_end(schema_id)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)

    def _fetch(self, schema_id: int) -> RegistryWriter:
        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise DecodeError(
                    RejectReason.unknown_registry_id,
                    f"schema id {schema_id} is not in the schema registry: the producer used another registry "
                    f"than {REGISTRY_URL_SETTING} points to, or the schema was deleted",
                ) from None
            raise _unavailable(schema_id, exc) from None
        except Exception as exc:  # connection refused, timeout, TLS, auth: the registry is not answering
            raise _unavailable(schema_id, exc) from None
        if (schema.schema_type or "AVRO") != "AVRO":
            raise DecodeError(RejectReason.unknown_schema,
                              f"schema id {schema_id} is a {schema.schema_type} schema: produce Avro")
        if schema.references:
            raise DecodeError(RejectReason.unknown_schema, f"schema id {schema_id} uses schema references, which "
                              "Touchline does not resolve: register a self-contained schema")
        try:
            raw = json.loads(schema.schema_str)
            parsed, _, fingerprint = parse(raw)
            full_name = parsed["name"] if isinstance(parsed, dict) and parsed.get("type") == "record" else ""
        except Exception as exc:  # malformed JSON or Avro: not a schema we can read with
            raise DecodeError(RejectReason.unknown_schema,
                              f"schema id {schema_id} is not a valid Avro schema: {str(exc)[:200]}") from None
        if problem := unbounded_array_path(parsed):
            raise DecodeError(RejectReason.unknown_schema, f"schema id {schema_id} has an array ({problem}) whose "
                              "items can encode to zero bytes; Touchline refuses such writer schemas")
        return RegistryWriter(schema_id, full_name, parsed, fingerprint)


def _unavailable(schema_id: int, exc: Exception) -> DecodeError:
    return DecodeError(
        RejectReason.schema_registry_unavailable,
        f"could not fetch schema id {schema_id} from the schema registry ({type(exc).__name__}: {str(exc)[:200]}): "
        f"check that {REGISTRY_URL_SETTING} is right and the registry is up; the message can be replayed",
    )
