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
