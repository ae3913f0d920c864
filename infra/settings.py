"""Touchline settings: one model, read from ``TOUCHLINE_*`` environment variables.

Every setting is declared once here with its type, default and meaning.
``touchline config`` prints the effective values with secrets masked.

Kafka and ClickHouse addresses default to the local dev stack: when
``TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS`` / ``TOUCHLINE_CLICKHOUSE_URL`` are not
set, the addresses written by ``touchline dev up`` under ``TOUCHLINE_DATA_DIR``
are used. Point them at a real cluster / server for production.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.exceptions import ConfigError

ENV_PREFIX = "TOUCHLINE_"


class Settings(BaseSettings):
    """What a Touchline process needs to run. Frozen once loaded."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    # -- local state -------------------------------------------------------
    data_dir: Path = Field(
        Path(".touchline"),
        description="Local state: dev broker and store data, worker tables.",
    )

    # -- Kafka ----------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        None, description="host:port[,host:port]; unset = the local dev broker."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SSL = TLS; SASL_SSL = TLS plus a SASL user (docs/security.md)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="Required with SASL_SSL / SASL_PLAINTEXT, refused otherwise."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = Field(None, description="Never logged; masked here.")
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle to trust (SSL/SASL_SSL); unset = the system's CAs. The broker's "
        "hostname is always verified against its certificate."
    )
    kafka_timeout_s: float = Field(10.0, gt=0, le=300, description="Per-request Kafka timeout.")
    schema_registry_url: str | None = Field(
        None, description="Confluent Schema Registry URL; unset = registry-less Avro single-object encoding."
    )

    # -- topics (declared in streams/topics.py) -------------------------------
    topic_prefix: str = Field("touchline.", pattern=r"^[A-Za-z0-9._-]*$")
    input_partitions: int = Field(8, ge=1, le=1024)
    topic_replication: int = Field(1, ge=1, le=7)

    # -- ingest -----------------------------------------------------------------
    max_payload_bytes: int = Field(1_000_000, ge=1024, le=16_000_000)
    max_event_age_days: float = Field(
        90, gt=0, description="Events older than this (event time vs now) are rejected."
    )
    max_future_skew_s: float = Field(
        86_400, ge=0, description="Events this far in the future (device clocks) are rejected."
    )
    phone_default_country_code: str = Field("1", pattern=r"^[1-9][0-9]{0,2}$")

    # -- identity stitching (docs/design/identity.md) ----------------------------------
    identity_limits: dict[str, int] = Field(
        default_factory=dict,
        description='Per-kind identifier limits per profile, JSON, e.g. {"email_sha256": 5}; unset kinds keep '
        "their defaults (1 user_id, 1 loyalty_id, 3 emails, 3 phones, 100 devices, 500 cookies).",
    )
    identity_shared_after: int = Field(
        10, ge=1, le=10_000,
        description="An identifier seen with more distinct person-level identifiers than this is shared "
        "(kiosk, test address) and links nothing.",
    )
    identity_max_identifiers: int = Field(1000, ge=2, le=100_000, description="Cap on identifiers per profile.")
    identity_blocklist: list[str] = Field(
        default_factory=list,
        description='Extra junk identifiers, JSON list of "kind:value" ("email:" and "phone:" take raw values).',
    )

    # -- sessions and journeys (docs/design/sessions.md) -------------------------------
    session_timeout_s: float = Field(1800, gt=0, le=86_400, description="Inactivity that ends a session.")
    session_channel_timeouts_s: dict[str, float] = Field(
        default_factory=dict,
        description='Per-channel inactivity timeouts, JSON, e.g. {"store": 3600}; the timeout after a touch is '
        "its channel's.",
    )
    session_max_length_s: float = Field(86_400, gt=0, le=7 * 86_400, description="A longer session is cut.")
    session_allowed_lateness_s: float = Field(
        600, ge=0, le=86_400,
        description="Touches up to this late (behind the newest event time of their partition) join sessions "
        "before they are emitted; later ones re-emit the session with a higher version.",
    )
    session_goals: list[str] = Field(
        default_factory=lambda: ["purchase", "subscription"],
        description="Event types that count as conversions (JSON list).",
    )
    session_tick_s: float = Field(5, gt=0, le=300, description="How often the leader sends the sessions "
                                  "stage a tick per partition (closing sessions on idle partitions).")
    session_idle_close_s: float = Field(
        60, gt=0, le=86_400,
        description="A partition without events this long (wall clock) moves its watermark to the wall clock, "
        "so the night's last sessions close.",
    )
    journey_lookback_days: float = Field(30, gt=0, le=90, description="A journey starts at most this long "
                                         "before its conversion.")

    # -- live optimization (docs/optimization.md) -----------------------------------------
    contact_policy_file: Path | None = Field(
        None, description="TOML contact policy: caps per channel and overall, quiet hours, what suppresses "
        "(infra/contact-policy.example.toml); unset = at most 5 emails and 2 SMS per 7 days. Workers re-read it "
        "within seconds of a change or on SIGHUP; an invalid file keeps the policy in force (logged).",
    )
    segments_file: Path | None = Field(
        None, description="TOML real-time segment definitions (infra/segments.example.toml); unset = the default "
        "segments vip, cart_abandoner, lapsed, new, omnichannel, unsubscribed_email. Workers re-read it within "
        "seconds of a change or on SIGHUP; an invalid file keeps the definitions in force (logged).",
    )
    segment_tick_s: float = Field(
        30, gt=0, le=3600, description="How often the leader sends the journey stage a segment tick per partition: "
        "memberships that change with time alone (cart_abandoner, lapsed) are re-evaluated within this long of "
        "their due time.",
    )

    # -- ClickHouse ---------------------------------------------------------------
    clickhouse_url: str | None = Field(
        None, description="http(s)://host:port of ClickHouse; unset = the local `touchline store`."
    )
    clickhouse_username: str = "default"
    clickhouse_password: SecretStr = Field(SecretStr(""), description="Never logged; masked here.")
    clickhouse_ca_file: Path | None = Field(
        None, description="PEM CA bundle to trust for an https:// ClickHouse URL; unset = the system's CAs. "
        "The hostname is always verified."
    )
    clickhouse_database: str = Field("touchline", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_cluster: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Cluster name in the servers' remote_servers config; unset = a single ClickHouse server "
        "(plain ReplacingMergeTree tables). Set, `touchline migrate` creates the tables ON CLUSTER as Replicated "
        "*MergeTree `<table>_local` tables plus a Distributed table under each original name (docs/scaling.md). "
        "Choose before the first migrate: a database keeps the layout it was created with.",
    )
    clickhouse_timeout_s: float = Field(30.0, gt=0, le=600)

    # -- sink -------------------------------------------------------------------------
    sink_batch_rows: int = Field(20_000, ge=1, le=1_000_000, description="Flush at this many buffered rows.")
    sink_batch_seconds: float = Field(1.0, gt=0, le=60, description="Flush at least this often.")
    sink_retry_max_s: float = Field(30.0, gt=0, le=600, description="Longest backoff between retries.")

    # -- workers ----------------------------------------------------------------------
    app_id: str = Field("touchline", pattern=r"^[A-Za-z0-9._-]+$")
    worker_web_port: int = Field(6066, ge=0, le=65535, description="Port of the worker's HTTP server (0 = off).")
    worker_web_bind: str = Field(
        "127.0.0.1", min_length=1,
        description="Address the worker's HTTP server listens on: 127.0.0.1 keeps it on this machine; 0.0.0.0 "
        "(all interfaces) in a container or when workers on several hosts forward lookups to each other.",
    )
    worker_web_advertised_host: str = Field(
        "127.0.0.1", pattern=r"^[A-Za-z0-9.:\[\]-]+$",
        description="Host name or address the other workers use to reach this worker (a lookup asked of any "
        "worker is forwarded to the key's owner at this address): set it to the worker's own address or DNS "
        "name when workers run on several hosts or containers; every worker needs a different one (or port).",
    )
    worker_web_advertised_port: int | None = Field(
        None, ge=1, le=65535,
        description="Port the other workers use to reach this worker; unset = TOUCHLINE_WORKER_WEB_PORT (set it "
        "when a container publishes the port under another number).",
    )
    worker_web_token: SecretStr | None = Field(
        None, min_length=16,
        description="Bearer token every worker HTTP endpoint requires (`Authorization: Bearer <token>`), except "
        "/health, /ready and, unless TOUCHLINE_WORKER_WEB_METRICS_NEED_TOKEN, /metrics; workers send it to each "
        "other when they forward a lookup. Unset = no authentication (one machine, 127.0.0.1 only). Never "
        "logged; masked here (docs/security.md).",
    )
    worker_web_metrics_need_token: bool = Field(
        False, description="Also require the bearer token on /metrics (Prometheus then sends it: docs/security.md).")
    worker_recovery_stall_s: float = Field(
        600.0, ge=30, le=86_400,
        description="A worker whose rebalance or table recovery reads no changelog record for this long stops "
        "(exit code 75) so the group gives its partitions to the others (streams/recovery_watchdog.py). "
        "Raise it only if one changelog partition can take longer than this to start answering.",
    )
    worker_commit_stall_alarm_s: float = Field(
        300.0, ge=1, le=86_400,
        description="A worker logs an ERROR when a partition it has processed events of has committed nothing "
        "for this long (Faust's broker_commit_livelock_soft_timeout; streams/commit_alarm.py: not while "
        "there is nothing to commit).",
    )
    failpoints: list[str] = Field(
        [], description="Fault tests only: named places where a worker dies as if killed (streams/failpoints.py). "
        "Never set in production.",
    )
    table_store: str = Field(
        "memory://",
        description="Faust table store: memory:// (tests, demos: rebuilt from the changelog at every start) or "
        "rocksdb:// (production: state on disk under data_dir, through the rocksdict driver).",
    )
    table_standby_replicas: int = Field(
        1, ge=0, le=8,
        description="Standby copies of each table partition kept warm on other workers, for a fast take-over "
        "when a worker dies. Each standby reads the whole changelog again: on one small machine running "
        "several workers set 0 (a take-over then recovers from the changelog).",
    )

    @field_validator("worker_web_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # An empty variable (compose's `${TOUCHLINE_WORKER_WEB_TOKEN:-}`) means no token, not a short one.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value

    @field_validator("kafka_ssl_cafile", "clickhouse_ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value} (a PEM file with the CA certificate(s) to trust)")
        return value

    @model_validator(mode="after")
    def _check_security(self) -> Settings:
        """Kafka security settings that contradict each other fail here, not as a hang at connect time."""
        protocol = self.kafka_security_protocol
        var = f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL"
        if protocol.startswith("SASL_"):
            missing = [f"{ENV_PREFIX}{name.upper()}" for name in
                       ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"{var}={protocol} needs {', '.join(missing)}")
        elif self.kafka_sasl_mechanism is not None:
            raise ValueError(f"{ENV_PREFIX}KAFKA_SASL_MECHANISM is set but {var}={protocol} uses no SASL: "
                             "use SASL_SSL (or SASL_PLAINTEXT), or unset the mechanism")
        if self.kafka_ssl_cafile is not None and protocol not in ("SSL", "SASL_SSL"):
            raise ValueError(f"{ENV_PREFIX}KAFKA_SSL_CAFILE is set but {var}={protocol} uses no TLS: "
                             "use SSL or SASL_SSL, or unset the CA file")
        if self.clickhouse_ca_file is not None and self.clickhouse_url and not self.clickhouse_url.startswith("https:"):
            raise ValueError(f"{ENV_PREFIX}CLICKHOUSE_CA_FILE is set but {ENV_PREFIX}CLICKHOUSE_URL is not https://")
        return self

    @field_validator("clickhouse_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host:port, got {value!r}")
        try:
            parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
        return value

    # -- derived -------------------------------------------------------------------------
    @property
    def dev_dir(self) -> Path:
        return self.data_dir / "dev"

    @property
    def kafka_max_message_bytes(self) -> int:
        """Broker-side limit of the raw and dead-letter topics.

        Larger than the ingest limit on purpose: a message between the two
        reaches ingest and is dead-lettered with a clear reason (and its
        bytes); only one beyond this is refused to the producer by Kafka.
        """
        return self.max_payload_bytes * 4 + 64 * 1024

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers, from the setting or the running dev broker."""
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        state = _read_state(self.dev_dir / "kafka" / "broker.json")
        if state and state.get("bootstrap"):
            return str(state["bootstrap"])
        raise ConfigError(
            "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS is not set and no local broker is running "
            f"(no state in {self.dev_dir / 'kafka'}): run `touchline dev up` or set it."
        )

    def clickhouse_http_url(self) -> str:
        """The ClickHouse HTTP URL, from the setting or the running dev store."""
        if self.clickhouse_url:
            return self.clickhouse_url
        state = _read_state(self.dev_dir / "store" / "store.json")
        if state and state.get("url"):
            return str(state["url"])
        raise ConfigError(
            "TOUCHLINE_CLICKHOUSE_URL is not set and no local store is running "
            f"(no state in {self.dev_dir / 'store'}): run `touchline dev up` or set it."
        )

    def to_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment that makes a `touchline` subprocess load exactly these settings."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(ENV_PREFIX)}
        for name, value in self:
            if value is not None:
                secret = value.get_secret_value() if isinstance(value, SecretStr) else value
                # dict/list settings are JSON in the environment (pydantic-settings parses them so)
                env[f"{ENV_PREFIX}{name.upper()}"] = json.dumps(secret) if isinstance(secret, dict | list) else str(secret)
        return env

    def secret_values(self) -> list[str]:
        """The values of every secret setting (for ``infra.redact``: masked in all log records)."""
        return [v.get_secret_value() for _, v in self if isinstance(v, SecretStr) and v.get_secret_value()]

    def masked(self) -> dict[str, object]:
        """Settings as a dict, secrets shown as '**********'."""
        return {k: (str(v) if isinstance(v, SecretStr) else v) for k, v in self}


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# TOUCHLINE_* variables that are not settings (read by the test fixtures and
# the jar cache), so an unknown-variable check does not flag them.
NON_SETTING_ENV = {"TOUCHLINE_TEST_DOCKER", "TOUCHLINE_CACHE_DIR", "TOUCHLINE_LOG_LEVEL"}


def load_settings(**overrides: object) -> Settings:
    """Load settings from the environment (plus overrides), or raise one clear ConfigError.

    A TOUCHLINE_* variable that is no setting is an error, not silently ignored:
    a typo in a production env file must not fall back to a default.
    """
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | NON_SETTING_ENV
    for var in sorted(os.environ):
        if var.startswith(ENV_PREFIX) and var not in known:
            raise ConfigError(f"unknown setting {var}: remove it or check its spelling")
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a check across settings: its message names them
            raise ConfigError(f"bad settings: {first['msg'].removeprefix('Value error, ')}") from None
        name = ".".join(str(p) for p in first["loc"])
        env = f"{ENV_PREFIX}{name.upper()}"
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"unknown setting {env}: remove it or check its spelling") from None
        raise ConfigError(f"bad setting {env}: {first['msg'].removeprefix('Value error, ')}") from None
    _mask_secrets_in_logs(settings)
    return settings


def _mask_secrets_in_logs(settings: Settings) -> None:
    """No library this process hands a secret to can log it (see infra.redact)."""
    from infra.redact import MIN_SECRET_LEN, redact_secrets

    for name, value in settings:
        if isinstance(value, SecretStr) and 0 < len(value.get_secret_value()) < MIN_SECRET_LEN:
            logging.getLogger(__name__).warning(
                "%s%s is shorter than %d characters: too weak, and not masked in library logs",
                ENV_PREFIX, name.upper(), MIN_SECRET_LEN)
    redact_secrets(*settings.secret_values())
