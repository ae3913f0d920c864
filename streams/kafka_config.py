"""librdkafka (confluent-kafka) and aiokafka (Faust) client settings from one Settings.

Both client libraries get the same address, security and timeouts, so a
setting changed once applies to the ingest workers, the sinks and the CLI.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

from confluent_kafka import KafkaError

from infra.settings import Settings

_rdkafka_log = logging.getLogger("librdkafka")
_last_error_logged: dict[str, float] = {}


class _DebugOnly:
    """librdkafka's own log lines go to DEBUG: it retries connections by itself and
    repeats each failure many times a second; what matters reaches ``_log_error``."""

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        _rdkafka_log.debug(msg, *args)


def _log_error(error: KafkaError) -> None:
    """Client-level errors (brokers down, auth failed) as WARNING, at most once a minute each."""
    now = time.monotonic()
    if now - _last_error_logged.get(error.name(), -60.0) >= 60.0:
        _last_error_logged[error.name()] = now
        _rdkafka_log.warning("Kafka client error: %s", error.str())


def confluent_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """Base config for confluent-kafka Producer/Consumer/AdminClient."""
    timeout_ms = int(settings.kafka_timeout_s * 1000)
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers(),
        "security.protocol": settings.kafka_security_protocol,
        "socket.timeout.ms": timeout_ms,
        # Fail fast on a wrong address instead of retrying for minutes.
        "socket.connection.setup.timeout.ms": timeout_ms,
        "client.id": settings.app_id,
        "logger": _DebugOnly(),
        "error_cb": _log_error,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        password = settings.kafka_sasl_password
        config["sasl.password"] = password.get_secret_value() if password else ""
    if settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    config.update(extra)
    return config


# Topics whose key decides which worker owns the state (touchpoints.valid, identity.commands)
# must be partitioned like faust/aiokafka and Kafka's Java clients do: murmur2 of the key.
# librdkafka's default (consistent_random, CRC32) would put an identifier elsewhere.
KEYED_PARTITIONER = {"partitioner": "murmur2_random"}


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """Producer settings recommended in docs/producers.md: idempotent, acks=all, lz4, batched."""
    return confluent_config(
        settings,
        **{
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 20,
            "batch.size": 256 * 1024,
            "message.timeout.ms": max(30_000, int(settings.kafka_timeout_s * 3000)),
            # Bounded local queue: produce() raises BufferError instead of growing.
            "queue.buffering.max.messages": 200_000,
            # Up to the dead-letter topic's limit (dead letters wrap raw messages).
            "message.max.bytes": settings.kafka_max_message_bytes * 2,
            **extra,
        },
    )


def faust_broker_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for faust.App for the broker connection and its security."""
    import faust  # local import: the CLI's fast paths should not pay for faust

    kwargs: dict[str, Any] = {"broker": [f"kafka://{s.strip()}" for s in settings.bootstrap_servers().split(",")]}
    protocol = settings.kafka_security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    elif context is not None:
        kwargs["broker_credentials"] = faust.SSLCredentials(context)
    return kwargs
