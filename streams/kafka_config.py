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

from infra.exceptions import ConfigError, StackError, TouchlineError
from infra.redact import redact_secrets
from infra.settings import ENV_PREFIX, Settings

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")

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
    protocol = settings.kafka_security_protocol
    if protocol in SASL_PROTOCOLS:  # Settings guarantees mechanism, username and password here
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        password = settings.kafka_sasl_password
        config["sasl.password"] = password.get_secret_value() if password else ""
    if protocol in TLS_PROTOCOLS:
        # Verify the broker's hostname against its certificate (librdkafka's default since 2.0; said
        # explicitly so no older default or override turns it off). Without a CA file, librdkafka
        # (statically linked OpenSSL in the wheels) probes the system's CA locations.
        config["ssl.endpoint.identification.algorithm"] = "https"
        if settings.kafka_ssl_cafile:
            config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    config.update(extra)
    return config


_LOGIN_ERRORS = (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED)
_CONFIG_ERRORS = (*_LOGIN_ERRORS, KafkaError._SSL)  # waiting will not cure these


class ErrorRecorder:
    """An ``error_cb`` that keeps the last client-level error (and logs it like the default one)."""

    def __init__(self) -> None:
        self.last: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        self.last = error
        _log_error(error)

    @property
    def is_fatal_for_config(self) -> bool:
        """Errors that waiting will not cure: credentials or TLS refused."""
        return self.last is not None and self.last.code() in _CONFIG_ERRORS


def connection_error(settings: Settings, timeout: float, error: KafkaError | None,
                     detail: str) -> TouchlineError:
    """Why Kafka did not answer, naming the setting to check (never a secret's value)."""
    servers = settings.bootstrap_servers()
    protocol = settings.kafka_security_protocol
    code = error.code() if error is not None else None
    text = error.str() if code in _CONFIG_ERRORS else detail
    if code in _LOGIN_ERRORS:
        return ConfigError(
            f"Kafka at {servers} refused the {settings.kafka_sasl_mechanism} login of user "
            f"{settings.kafka_sasl_username!r}: check {ENV_PREFIX}KAFKA_SASL_USERNAME and "
            f"{ENV_PREFIX}KAFKA_SASL_PASSWORD (and {ENV_PREFIX}KAFKA_SASL_MECHANISM): {text}")
    if code == KafkaError._SSL:
        return ConfigError(
            f"TLS with Kafka at {servers} failed: check {ENV_PREFIX}KAFKA_SSL_CAFILE (the CA that signed the "
            f"broker's certificate; the certificate must name the host you connect to) and "
            f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={protocol}: {text}")
    if "security.protocol" in text:  # librdkafka's hint when the listener speaks another protocol
        return ConfigError(
            f"Kafka at {servers} does not speak {protocol}: check {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL "
            f"(PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, as the broker's listener): {text}")
    # A listener of another protocol just drops the connection: librdkafka cannot tell it from a dead broker.
    return StackError(f"cannot reach Kafka at {servers} within {timeout:g}s ({ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS; "
                      f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={protocol} must match the listener): {text}")


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
    context = kafka_ssl_context(settings) if protocol in TLS_PROTOCOLS else None
    if protocol in SASL_PROTOCOLS:
        # faust picks SASL_SSL when given an ssl_context, SASL_PLAINTEXT otherwise.
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        redact_secrets(password)  # aiokafka logs its SASL PLAIN request, password included, at DEBUG
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    elif context is not None:  # SSL without SASL
        kwargs["broker_credentials"] = faust.SSLCredentials(context)
    return kwargs


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for aiokafka: the configured CA (or the system's), certificate and hostname always verified."""
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
