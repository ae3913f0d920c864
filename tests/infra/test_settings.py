"""Settings: bad values and unknown variables fail with one line naming the variable."""

from __future__ import annotations

import pytest

from infra.exceptions import ConfigError
from infra.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith("TOUCHLINE_"):
            monkeypatch.delenv(var)


def test_defaults_load() -> None:
    settings = load_settings()
    assert settings.input_partitions == 8
    assert settings.topic("touchpoints.raw") == "touchline.touchpoints.raw"


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS", "localhost", "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS"),
        ("TOUCHLINE_CLICKHOUSE_URL", "ftp://x", "TOUCHLINE_CLICKHOUSE_URL"),
        ("TOUCHLINE_CLICKHOUSE_URL", "http://host:99999", "TOUCHLINE_CLICKHOUSE_URL"),
        ("TOUCHLINE_INPUT_PARTITIONS", "zero", "TOUCHLINE_INPUT_PARTITIONS"),
        ("TOUCHLINE_SINK_BATCH_ROWS", "0", "TOUCHLINE_SINK_BATCH_ROWS"),
        ("TOUCHLINE_KAFKA_BOOTSTRAP", "a:1", "unknown setting TOUCHLINE_KAFKA_BOOTSTRAP"),
    ],
)
def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str, fragment: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_PASSWORD", "hunter2")
    monkeypatch.setenv("TOUCHLINE_KAFKA_SASL_PASSWORD", "s3cret")
    settings = load_settings()
    rendered = repr(settings) + str(settings.masked())
    assert "hunter2" not in rendered and "s3cret" not in rendered
    assert settings.clickhouse_password.get_secret_value() == "hunter2"


def test_unset_addresses_without_dev_stack_say_what_to_do(tmp_path) -> None:  # noqa: ANN001
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ConfigError, match="touchline dev up"):
        settings.bootstrap_servers()
    with pytest.raises(ConfigError, match="TOUCHLINE_CLICKHOUSE_URL"):
        settings.clickhouse_http_url()


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"TOUCHLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
         ["TOUCHLINE_KAFKA_SASL_MECHANISM", "TOUCHLINE_KAFKA_SASL_USERNAME", "TOUCHLINE_KAFKA_SASL_PASSWORD"]),
        ({"TOUCHLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "TOUCHLINE_KAFKA_SASL_MECHANISM": "PLAIN",
          "TOUCHLINE_KAFKA_SASL_USERNAME": "u"}, ["needs TOUCHLINE_KAFKA_SASL_PASSWORD"]),
        ({"TOUCHLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
         ["TOUCHLINE_KAFKA_SASL_MECHANISM", "TOUCHLINE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"]),
        ({"TOUCHLINE_KAFKA_SSL_CAFILE": "/no/such/ca.pem", "TOUCHLINE_KAFKA_SECURITY_PROTOCOL": "SSL"},
         ["TOUCHLINE_KAFKA_SSL_CAFILE", "/no/such/ca.pem"]),
        ({"TOUCHLINE_CLICKHOUSE_CA_FILE": "/no/such/ca.pem"}, ["TOUCHLINE_CLICKHOUSE_CA_FILE"]),
    ],
    ids=["sasl-without-login", "sasl-without-password", "mechanism-without-sasl", "missing-kafka-ca",
         "missing-clickhouse-ca"],
)
def test_contradicting_security_settings_name_the_variables(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                            fragments: list[str]) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message and "Value error" not in message
    for fragment in fragments:
        assert fragment in message


def test_ca_file_needs_a_tls_protocol_or_url(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("TOUCHLINE_KAFKA_SSL_CAFILE", str(ca))
    with pytest.raises(ConfigError, match="TOUCHLINE_KAFKA_SSL_CAFILE is set but TOUCHLINE_KAFKA_SECURITY_PROTOCOL"):
        load_settings()
    monkeypatch.setenv("TOUCHLINE_KAFKA_SECURITY_PROTOCOL", "SSL")
    assert load_settings().kafka_ssl_cafile == ca
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_CA_FILE", str(ca))
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_URL", "http://127.0.0.1:8123")
    with pytest.raises(ConfigError, match="TOUCHLINE_CLICKHOUSE_URL is not https"):
        load_settings()


def test_loaded_secrets_are_masked_in_every_log_record(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Libraries log what we hand them (aiokafka logs the SASL PLAIN request at DEBUG): masked anyway."""
    import logging

    monkeypatch.setenv("TOUCHLINE_KAFKA_SASL_PASSWORD", "pl41n-s3cret")
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE_PASSWORD", "ch-s3cret'x")
    load_settings()
    library = logging.getLogger("aiokafka.conn.test")
    with caplog.at_level(logging.DEBUG):
        library.debug("Request %r", b"\x00user\x00pl41n-s3cret")
        library.debug("password=%s also %r", "ch-s3cret'x", "ch-s3cret'x")
        try:
            raise RuntimeError("login with pl41n-s3cret failed")
        except RuntimeError:
            library.exception("oops")
    text = caplog.text
    assert "s3cret" not in text, text
    assert text.count("**********") >= 4
