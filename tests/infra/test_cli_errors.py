"""A bad setting gives one clear line naming it, within seconds: no hang, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, float]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli.main", *args],
        env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )
    return proc.returncode, proc.stderr.strip(), time.monotonic() - started


def assert_one_clear_line(code: int, stderr: str, *fragments: str) -> None:
    assert code != 0
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and " WARNING " not in line]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("command", "env", "variable", "address"),
    [
        ("topics", {"TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "TOUCHLINE_KAFKA_TIMEOUT_S": "3"},
         "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"),
        ("migrate", {"TOUCHLINE_CLICKHOUSE_URL": "http://127.0.0.1:1", "TOUCHLINE_CLICKHOUSE_TIMEOUT_S": "3"},
         "TOUCHLINE_CLICKHOUSE_URL", "127.0.0.1:1"),
    ],
    ids=["kafka", "clickhouse"],
)
def test_unreachable_service_names_the_setting(tmp_path, command, env, variable, address) -> None:  # noqa: ANN001
    code, err, seconds = run_cli(command, env={**env, "TOUCHLINE_DATA_DIR": str(tmp_path)})
    assert_one_clear_line(code, err, variable, address)
    assert seconds < 30


def test_malformed_setting_names_the_variable() -> None:
    code, err, _ = run_cli("config", env={"TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": "no-port"})
    assert_one_clear_line(code, err, "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS")


def test_unknown_variable_is_an_error() -> None:
    code, err, _ = run_cli("config", env={"TOUCHLINE_SINK_BATCH": "5"})
    assert_one_clear_line(code, err, "unknown setting TOUCHLINE_SINK_BATCH")


def test_unknown_option_is_an_error() -> None:
    code, err, _ = run_cli("worker", "--partitions", "3")
    assert code == 2
    assert "No such option: --partitions" in err
    assert "Traceback" not in err


def test_help_explains_every_command() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    from infra.cli.main import cli

    for name, command in cli.commands.items():
        assert command.help, f"`touchline {name}` has no help text"
        sub_code, _, _ = run_cli(name, "--help")
        assert sub_code == 0, name
