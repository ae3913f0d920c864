"""The producer helper for channel backends: validate, encode, key and send touchpoints.

    from infra.settings import load_settings
    from streams.produce import TouchpointProducer

    with TouchpointProducer(load_settings()) as producer:
        producer.send({"event_id": "...", "event_type": "page_view", "channel": "web",
                       "anonymous_id": "c-123", "event_time": datetime.now(timezone.utc)})

A record that would be rejected downstream raises ``InvalidTouchpoint``
here, naming the field, before anything is sent. docs/producers.md is the
contract this implements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from pydantic import ValidationError

from infra.exceptions import TouchlineError
from infra.settings import Settings
from schemas.models import TouchpointEvent
from schemas.registry import connect_registry
from schemas.validation import describe_validation_error
from schemas.wire import AvroEncoder
from streams.kafka_config import producer_config
from streams.keys import routing_key
from streams.topics import TopicNames

log = logging.getLogger(__name__)

class InvalidTouchpoint(TouchlineError):
    def __init__(self, field: str | None, message: str):
        # describe_validation_error's message already starts with the field's path: do not say it twice.
        named = field is not None and message.startswith(f"{field}:")
        super().__init__(f"invalid touchpoint: {message}" if named else
                         f"invalid touchpoint: {field or 'record'}: {message}")
        self.field = field


class DeliveryFailed(TouchlineError):
    """Kafka did not acknowledge some messages within the timeout."""


class MessageTooLarge(TouchlineError):
    """A message larger than the raw topic accepts: refused before it is queued (docs/producers.md, Size limits)."""


def validate(record: Mapping[str, Any]) -> TouchpointEvent:
    """The checks the ingest stage applies to the record's content (time window excepted)."""
    try:
        return TouchpointEvent.model_validate(dict(record))
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        raise InvalidTouchpoint(field, message) from None


class TouchpointProducer:
    """Thin wrapper over confluent-kafka's Producer with the recommended settings."""

    def __init__(self, settings: Settings, *, topic: str | None = None, registry: Any = None, **config: Any):
        self.topic = topic or TopicNames.from_settings(settings).raw
        self._timeout = settings.kafka_timeout_s
        if registry is None and settings.schema_registry_url:
            registry = connect_registry(settings.schema_registry_url, timeout=settings.kafka_timeout_s)
        # With a registry: Confluent framing; without: Avro single-object encoding.
        self._encoder = AvroEncoder("touchpoint", registry=registry, subject=f"{self.topic}-value")
        self._producer = Producer(producer_config(settings, **config))
        # The three size limits (docs/producers.md): ingest's payload rule, and the raw topic's
        # max.message.bytes, which the client's message.max.bytes (twice that, for dead letters) exceeds.
        self._max_payload = settings.max_payload_bytes
        self._max_message = settings.kafka_max_message_bytes
        self.delivered = 0
        self.failed_count = 0
        self.failed: list[str] = []  # the first errors, for the message

    def send(self, record: Mapping[str, Any], key: bytes | None = None, validate_first: bool = True) -> None:
        """Validate (unless told not to), encode and queue one event; raises InvalidTouchpoint."""
        event = validate(record) if validate_first else None
        avro = event.to_avro() if event is not None else dict(record)
        payload = self._encoder.encode(avro)
        if validate_first and len(payload) > self._max_payload:
            raise InvalidTouchpoint(None, f"the encoded event is {len(payload):,} bytes, the limit is "
                                          f"{self._max_payload:,} (TOUCHLINE_MAX_PAYLOAD_BYTES; ingest would "
                                          "dead-letter it as oversized_payload): split items or drop bulky "
                                          "properties")
        self.send_raw(payload, key if key is not None else routing_key(avro))

    def send_raw(
        self,
        payload: bytes | None,
        key: bytes | None = None,
        headers: list | None = None,
        on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
    ) -> None:
        """Queue already-encoded bytes (replays, tests of the reject path); ``on_delivery`` sees the offset.

        Raises MessageTooLarge for a message the raw topic would refuse, before anything is queued (a
        message above ingest's payload limit but within the topic's reaches the dead-letter topic).
        """
        size = len(payload or b"") + len(key or b"") + sum(len(k) + len(v or b"") for k, v in headers or ())
        if size > self._max_message:
            raise MessageTooLarge(
                f"message is {size:,} bytes (value, key and headers); {self.topic} accepts at most "
                f"{self._max_message:,} (its max.message.bytes: 4 x TOUCHLINE_MAX_PAYLOAD_BYTES "
                f"{self._max_payload:,} + 64 KiB), and ingest dead-letters anything over "
                f"{self._max_payload:,} bytes: split the event")
        callback = self._on_delivery
        if on_delivery is not None:
            def callback(error: KafkaError | None, message: Message) -> None:
                self._on_delivery(error, message)
                on_delivery(error, message)
        while True:
            try:
                self._producer.produce(self.topic, payload, key, headers=headers, on_delivery=callback)
                break
            except BufferError:  # local queue full: wait for deliveries instead of growing
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float | None = None) -> None:
        remaining = self._producer.flush(self._timeout * 3 if timeout is None else timeout)
        if remaining or self.failed_count:
            raise DeliveryFailed(
                f"{remaining} message(s) undelivered and {self.failed_count} failed to {self.topic}"
                + (f"; first error: {self.failed[0]}" if self.failed else "")
                + " (check TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS and that the topic exists: `touchline topics`)"
            )

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed_count += 1
        if len(self.failed) < 10:  # bounded: after the first few, the count is what matters
            self.failed.append(error.str())

    def __enter__(self) -> "TouchpointProducer":
        return self

    def __exit__(self, *exc: object) -> None:
        """Deliver what was accepted, also when the block failed later (its error wins)."""
        if exc[0] is None:
            self.flush()
            return
        try:
            self.flush()
        except DeliveryFailed as failed:
            log.error("%s", failed)
