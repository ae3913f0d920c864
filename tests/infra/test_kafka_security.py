"""Security: the pipeline over Kafka SASL_SSL (SCRAM, PLAIN) and ClickHouse HTTPS with a user.

A second, secure local broker (TLS with a throwaway CA, SCRAM-SHA-512 and
PLAIN users) and a second `touchline store` (HTTPS, user + password) run for
this module; clients verify certificates and hostnames (the certificates name
127.0.0.1 and localhost). Wrong credentials fail fast with the setting named;
no secret reaches a log or `touchline config`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from infra.exceptions import ConfigError
from infra.localkafka import LocalKafka
from infra.processes import TouchlineProcess
from infra.settings import Settings
from infra.store.process import StoreProcess
from infra.tlscerts import LocalCerts, ensure_local_certs
from infra.traffic import produce_simulation
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import confluent_config, faust_broker_kwargs, kafka_ssl_context, producer_config
from streams.simulator import SimulationConfig
from streams.topics import ensure_topics
from tests.streams.pipeline_checks import wait_until_stored

EVENTS = 300
PIPELINE_TIMEOUT_S = 150  # normally well under a minute; a loaded 2-core CI box is slower
CH_USER = "writer"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A second local broker: SASL_SSL with two users (each may use PLAIN and SCRAM), and a TLS-only listener."""
    users = {"touchline": secrets.token_urlsafe(16), "analyst": secrets.token_urlsafe(16)}
    broker = LocalKafka(tmp_path_factory.mktemp("kafka-secure"), secure=True, users=users, tls_listener=True)
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def store_certs(tmp_path_factory: pytest.TempPathFactory) -> LocalCerts:
    return ensure_local_certs(tmp_path_factory.mktemp("store-tls"))


@pytest.fixture(scope="module")
def secure_store(tmp_path_factory: pytest.TempPathFactory,
                 store_certs: LocalCerts) -> Iterator[tuple[StoreProcess, str]]:
    """A second `touchline store`: HTTPS and a user with a password, logging at DEBUG. Yields (store, password)."""
    password = secrets.token_urlsafe(16)
    store = StoreProcess(tmp_path_factory.mktemp("store-secure"), user=CH_USER, password=password,
                         tls_cert=store_certs.cert_file, tls_key=store_certs.key_file, log_level="DEBUG",
                         exit_with_parent=True)
    store.start()
    try:
        yield store, password
    finally:
        store.stop()


@pytest.fixture
def secure_settings(secure_broker: LocalKafka, secure_store: tuple[StoreProcess, str], store_certs: LocalCerts,
                    tmp_path: Path) -> Callable[..., Settings]:
    """Settings for the secure broker and store, isolated like ``settings_factory`` (own prefix, db, app id).

    Not ``settings_factory`` itself: that would start the session's plaintext broker and store for nothing.
    """
    token = uuid.uuid4().hex[:8]
    store, password = secure_store

    def make(mechanism: str | None = "SCRAM-SHA-512", user: str | None = None, **overrides: object) -> Settings:
        """``mechanism=None``: the TLS-only listener (protocol SSL, no login)."""
        values: dict[str, object] = dict(
            **secure_broker.client_settings(mechanism, user),
            clickhouse_url=store.url, clickhouse_username=CH_USER, clickhouse_password=password,
            clickhouse_ca_file=store_certs.ca_file,
            topic_prefix=f"s{token}.", clickhouse_database=f"s_{token}", app_id=f"touchline-s{token}",
            data_dir=tmp_path / "touchline", worker_web_port=0, sink_batch_seconds=0.5,
            input_partitions=2,  # fewer partitions: faster topic creation and group join
        )
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def debug_workers(tmp_path: Path) -> Iterator[Callable[[Settings], TouchlineProcess]]:
    """`touchline worker` at DEBUG (the most a log can say); stopped at teardown."""
    started: list[TouchlineProcess] = []

    def start(settings: Settings) -> TouchlineProcess:
        worker = TouchlineProcess(["worker"], settings, tmp_path / f"worker-{len(started)}.log", log_level="DEBUG")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def run_cli(settings: Settings, *args: str, timeout: float = 60) -> tuple[int, str, str, float]:
    """`touchline <args>` with exactly ``settings`` in its environment; (code, stdout, stderr, seconds)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "infra.cli.main", *args], env=settings.to_env(),
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.clickhouse_password.get_secret_value()]
    if settings.kafka_sasl_password is not None:
        values.append(settings.kafka_sasl_password.get_secret_value())
    assert all(len(v) >= 12 for v in values), "test secrets must be long enough not to occur by chance"
    return values


def assert_no_secret(text: str, settings: Settings, where: str) -> None:
    for secret in secrets_of(settings):
        assert secret not in text, f"a password appears in {where}"


def produce_events(settings: Settings, seed: int) -> int:
    """EVENTS valid simulated touchpoints into the raw topic with the project's producer; returns how many."""
    end = datetime.now(timezone.utc)
    sent = produce_simulation(settings, SimulationConfig(seed=seed, events=EVENTS, malformed_share=0.0,
                                                         start=end - timedelta(days=7), end=end))
    assert sent.valid == EVENTS and not sent.malformed
    return sent.valid


# -- the pipeline over SASL_SSL ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_pipeline_over_sasl_ssl_and_https(secure_settings, debug_workers, mechanism: str) -> None:  # noqa: ANN001
    """Topics, worker (faust/aiokafka + librdkafka sink), producer and ClickHouse, all over TLS with a login;
    the worker's DEBUG log never shows a password."""
    settings = secure_settings(mechanism, user="touchline" if mechanism != "PLAIN" else "analyst")
    ensure_topics(settings)
    client = connect(settings)
    migrate(client, settings.clickhouse_database)
    sent = produce_events(settings, seed=81 if mechanism == "PLAIN" else 80)

    worker = debug_workers(settings)
    wait_until_stored(client, settings.clickhouse_database, sent, [worker], timeout=PIPELINE_TIMEOUT_S)
    assert worker.stop() == 0, f"worker did not stop cleanly:\n{worker.log_tail()}"
    log = worker.log_path.read_text(errors="replace")
    assert " DEBUG " in log, "the worker did not log at DEBUG: the check below would prove little"
    assert_no_secret(log, settings, f"the worker log {worker.log_path}")


@pytest.mark.integration
def test_plain_round_trip_with_confluent_kafka(secure_settings) -> None:  # noqa: ANN001
    """PLAIN through librdkafka with the project's producer/consumer configs: every message back, in order."""
    from confluent_kafka import Consumer, Producer

    from streams.topics import TopicSpec

    settings = secure_settings("PLAIN", user="analyst")
    topic = settings.topic("plain-round-trip")
    ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    producer = Producer(producer_config(settings))
    for i in range(50):
        producer.produce(topic, key=b"k", value=b"%d" % i)
    assert producer.flush(30) == 0
    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-rt",
                                                      "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    got: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < 50 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(int(msg.value()))
    finally:
        consumer.close()
    assert got == list(range(50))


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", [None, "PLAIN", "SCRAM-SHA-256"], ids=["SSL", "SASL_SSL-PLAIN",
                                                                          "SASL_SSL-SCRAM-SHA-256"])
def test_faust_transport_settings_reach_the_broker(secure_settings, mechanism: str | None) -> None:  # noqa: ANN001
    """What faust hands aiokafka (faust's own mapping of our broker_credentials) connects and round-trips,
    with TLS alone (SSL) and with TLS plus a login; the topic is made through librdkafka with the same settings."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.topics import TopicSpec

    settings = secure_settings(mechanism, user="analyst" if mechanism else None)
    topic = settings.topic("faust-auth")
    ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    kwargs = faust_broker_kwargs(settings)
    auth = credentials_to_aiokafka_auth(kwargs["broker_credentials"])
    assert auth["security_protocol"] == ("SASL_SSL" if mechanism else "SSL")
    assert auth.get("sasl_mechanism") == mechanism
    bootstrap = [b.removeprefix("kafka://") for b in kwargs["broker"]]

    async def round_trip() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=20_000, **auth)
        await asyncio.wait_for(producer.start(), 30)
        try:
            for i in range(10):
                await asyncio.wait_for(producer.send_and_wait(topic, b"%d" % i), 30)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{settings.app_id}-aio",
                                    auto_offset_reset="earliest", request_timeout_ms=20_000, **auth)
        await asyncio.wait_for(consumer.start(), 30)
        received: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while len(received) < 10 and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                received += [m.value for msgs in batches.values() for m in msgs]
        finally:
            await consumer.stop()
        return received

    assert asyncio.run(round_trip()) == [b"%d" % i for i in range(10)]


@pytest.mark.integration
def test_broker_certificate_is_checked_against_the_hostname(secure_broker: LocalKafka, secure_settings) -> None:  # noqa: ANN001
    """The TLS context clients get verifies the name: 127.0.0.1 and localhost pass, another name fails."""
    import socket

    context = kafka_ssl_context(secure_settings())

    def handshake(server_hostname: str) -> None:
        with socket.create_connection(("127.0.0.1", secure_broker.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_hostname):
                pass

    handshake("127.0.0.1")
    handshake("localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="(?i)hostname|IP address mismatch|doesn't match"):
        handshake("kafka.example.com")


# -- wrong credentials: fail fast, name the setting ---------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(("command", "bad"), [("topics", "password"), ("topics", "username"),
                                              ("worker", "password")])
def test_wrong_kafka_login_names_the_setting(secure_settings, command: str, bad: str) -> None:  # noqa: ANN001
    wrong = secrets.token_urlsafe(16)
    field = {"password": "kafka_sasl_password", "username": "kafka_sasl_username"}[bad]
    settings = secure_settings(**{field: wrong})
    code, out, err, seconds = run_cli(settings, command)
    assert code == 2, (out, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and " WARNING " not in line and " DEBUG " not in line
             and " INFO " not in line]
    assert len(lines) == 1, err
    assert "TOUCHLINE_KAFKA_SASL_USERNAME" in lines[0] and "TOUCHLINE_KAFKA_SASL_PASSWORD" in lines[0], lines[0]
    assert seconds < 20, f"a refused login took {seconds:.1f}s to report"
    if bad == "password":
        assert wrong not in out + err
    assert_no_secret(out + err, settings, f"`touchline {command}` output")


@pytest.mark.integration
def test_untrusted_kafka_certificate_names_the_ca_setting(secure_settings, tmp_path: Path) -> None:  # noqa: ANN001
    other_ca = ensure_local_certs(tmp_path / "other-ca").ca_file  # a CA that did not sign the broker's cert
    settings = secure_settings(kafka_ssl_cafile=other_ca, kafka_timeout_s=5)
    with pytest.raises(ConfigError, match="TOUCHLINE_KAFKA_SSL_CAFILE") as failure:
        ensure_topics(settings)
    assert "certificate verify failed" in str(failure.value)


@pytest.mark.integration
def test_plaintext_client_against_the_tls_listener_names_the_protocol(secure_broker: LocalKafka,  # noqa: D103
                                                                      secure_settings) -> None:  # noqa: ANN001
    settings = secure_settings(kafka_security_protocol="PLAINTEXT", kafka_sasl_mechanism=None,
                               kafka_ssl_cafile=None, kafka_timeout_s=3)
    with pytest.raises(Exception, match="TOUCHLINE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT must match the listener"):
        ensure_topics(settings)


# -- ClickHouse: credentials and HTTPS -------------------------------------------------------------


@pytest.mark.integration
def test_clickhouse_https_with_credentials(secure_settings) -> None:  # noqa: ANN001
    settings = secure_settings()
    assert settings.clickhouse_http_url().startswith("https://127.0.0.1:")
    client = connect(settings)
    try:
        assert client.command("SELECT 1") == 1
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.parametrize(("override", "setting"), [
    ({"clickhouse_password": "not-the-password"}, "TOUCHLINE_CLICKHOUSE_PASSWORD"),
    ({"clickhouse_username": "nobody"}, "TOUCHLINE_CLICKHOUSE_USERNAME"),
    ({"clickhouse_ca_file": None}, "TOUCHLINE_CLICKHOUSE_CA_FILE"),  # the system CAs do not know ours
], ids=["password", "username", "no-ca"])
def test_clickhouse_refusal_names_the_setting(secure_settings, override: dict, setting: str) -> None:  # noqa: ANN001
    settings = secure_settings(**override)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=setting):
        connect(settings)
    assert time.monotonic() - started < 15


@pytest.mark.integration
def test_clickhouse_untrusted_certificate_via_cli(secure_settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings = secure_settings(clickhouse_ca_file=ensure_local_certs(tmp_path / "other-ca").ca_file)
    code, out, err, seconds = run_cli(settings, "migrate")
    assert code == 2 and "Traceback" not in err, err
    assert "TOUCHLINE_CLICKHOUSE_CA_FILE" in err.strip().splitlines()[-1]
    assert seconds < 20


# -- secrets never shown ---------------------------------------------------------------------------


def test_config_masks_every_secret(secure_settings) -> None:  # noqa: ANN001
    settings = secure_settings()
    code, out, err, _ = run_cli(settings, "--log-level", "DEBUG", "config")
    assert code == 0, err
    assert_no_secret(out + err, settings, "`touchline config`")
    masked = [line for line in out.splitlines() if line.startswith(("TOUCHLINE_KAFKA_SASL_PASSWORD",
                                                                     "TOUCHLINE_CLICKHOUSE_PASSWORD"))]
    assert len(masked) == 2 and all(line.rstrip().endswith("**********") for line in masked), masked
    assert f"{settings.kafka_ssl_cafile}" in out and f"{settings.clickhouse_ca_file}" in out


@pytest.mark.integration
def test_broker_and_store_files_keep_secrets_private(secure_broker: LocalKafka) -> None:
    """Passwords live only in 0600 files; the broker's state file (read by `dev status`) has none."""
    for name in ("server.properties", "users.json", "tls/server-keystore.pem", "tls/server.key"):
        mode = (secure_broker.data_dir / name).stat().st_mode & 0o777
        assert mode == 0o600, f"{name} is {oct(mode)}"
    state = (secure_broker.data_dir / "broker.json").read_text()
    assert all(password not in state for password in secure_broker.users.values())
    assert "SASL_SSL" in state


@pytest.mark.integration
def test_broker_and_store_logs_have_no_password(secure_broker: LocalKafka, secure_store: tuple[StoreProcess, str],
                                                secure_settings) -> None:  # noqa: ANN001
    """After logins, right and wrong, to both (the store at DEBUG), neither log shows a password."""
    good = secure_settings("PLAIN")
    ensure_topics(good, [])
    with pytest.raises(ConfigError):
        ensure_topics(secure_settings("PLAIN", kafka_sasl_password=good.clickhouse_password.get_secret_value()), [])
    connect(good).close()
    with pytest.raises(ConfigError):
        connect(secure_settings(clickhouse_password=good.kafka_sasl_password.get_secret_value()))
    text = secure_broker.log_path.read_text(errors="replace")
    logs = secure_broker.data_dir / "logs" / "server.log"
    if logs.exists():
        text += logs.read_text(errors="replace")
    assert all(password not in text for password in secure_broker.users.values())
    store, password = secure_store
    store_log = Path(store.log_path).read_text(errors="replace")
    assert " DEBUG " in store_log and "Authentication failed" in store_log  # it saw logins, right and wrong
    assert password not in store_log


# -- how clients are configured (no broker needed) -------------------------------------------------


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_both_client_stacks_get_the_same_protocol(protocol: str, tmp_path: Path) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    ca = ensure_local_certs(tmp_path / "tls").ca_file
    sasl = protocol.startswith("SASL_")
    tls = protocol.endswith("SSL")
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9093", kafka_security_protocol=protocol,
                        kafka_sasl_mechanism="SCRAM-SHA-256" if sasl else None,
                        kafka_sasl_username="u" if sasl else None, kafka_sasl_password="p" * 12 if sasl else None,
                        kafka_ssl_cafile=ca if tls else None)
    rd = confluent_config(settings)
    aio = credentials_to_aiokafka_auth(faust_broker_kwargs(settings).get("broker_credentials"))
    assert rd["security.protocol"] == aio["security_protocol"] == protocol
    assert ("sasl.mechanism" in rd) == ("sasl_mechanism" in aio) == sasl
    if sasl:
        assert rd["sasl.mechanism"] == aio["sasl_mechanism"] == "SCRAM-SHA-256"
        assert rd["sasl.password"] == aio["sasl_plain_password"] == "p" * 12
    if tls:  # hostname verification on in both
        assert rd["ssl.endpoint.identification.algorithm"] == "https" and rd["ssl.ca.location"] == str(ca)
        context = aio["ssl_context"]
        assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    else:
        assert "ssl.ca.location" not in rd and aio.get("ssl_context") is None


def test_ssl_context_trusts_only_the_configured_ca(tmp_path: Path) -> None:
    ca = ensure_local_certs(tmp_path / "tls").ca_file
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9093", kafka_security_protocol="SSL", kafka_ssl_cafile=ca)
    context = kafka_ssl_context(settings)
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "Touchline local CA"),), (("organizationName", "Touchline (local, not for production)"),))]


def test_local_certificate_names_localhost_and_127_0_0_1(tmp_path: Path) -> None:
    from cryptography import x509

    certs = ensure_local_certs(tmp_path / "tls")
    leaf = x509.load_pem_x509_certificate(certs.cert_file.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert os.stat(certs.key_file).st_mode & 0o777 == 0o600
    assert ensure_local_certs(tmp_path / "tls").ca_file.read_bytes() == certs.ca_file.read_bytes(), "made once"


@pytest.mark.integration
def test_another_process_finds_the_secure_broker(secure_broker: LocalKafka) -> None:
    from confluent_kafka.admin import AdminClient

    found = LocalKafka.from_state(secure_broker.data_dir)
    assert found is not None and found.secure and found.security_protocol == "SASL_SSL"
    assert found.users == secure_broker.users and found.ca_file == secure_broker.ca_file
    metadata = AdminClient({**found.client_config("SCRAM-SHA-256", "analyst"), "log_level": 0}).list_topics(timeout=10)
    assert metadata.cluster_id and list(metadata.brokers) == [1]


def test_secure_setup_keeps_its_users_across_restarts(tmp_path: Path) -> None:
    from infra.exceptions import StackError
    from infra.localkafka_secure import SecureSetup

    first = SecureSetup.prepare(tmp_path, None)  # one generated user
    assert list(first.users) == ["touchline"] and len(first.users["touchline"]) >= 16
    again = SecureSetup.prepare(tmp_path, None)
    assert again.users == first.users and again.broker_password == first.broker_password
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.properties").write_text("cluster.id=x\n")  # formatted: SCRAM users are fixed
    with pytest.raises(StackError, match="use a new directory"):
        SecureSetup.prepare(tmp_path, {"someone": "else-entirely"})
    with pytest.raises(StackError, match="must match"):
        SecureSetup.prepare(tmp_path / "fresh", {"quote": 'has"quote'})
    config = LocalKafka(tmp_path, secure=True).config()
    assert "PLAINTEXT://" not in config["listeners"] and config["listeners"].startswith("SASL_SSL://127.0.0.1:")
    assert config["inter.broker.listener.name"] == "SASL_SSL"


@pytest.mark.integration
def test_restart_keeps_users_certificate_and_data(secure_broker: LocalKafka, secure_settings) -> None:  # noqa: ANN001
    """Last in the module (it restarts the module's broker): the same CA file and logins work afterwards."""
    from confluent_kafka.admin import AdminClient

    from streams.topics import TopicSpec

    settings = secure_settings("SCRAM-SHA-512", user="analyst")
    topic = settings.topic("kept")
    ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    ca_before = secure_broker.ca_file.read_bytes()
    secure_broker.stop()
    secure_broker.start(timeout=120)  # storage already formatted: the SCRAM users come from it
    assert secure_broker.ca_file.read_bytes() == ca_before
    for mechanism in ("SCRAM-SHA-512", "PLAIN"):
        admin = AdminClient({**secure_broker.client_config(mechanism, "analyst"), "log_level": 0})
        assert topic in admin.list_topics(timeout=10).topics
