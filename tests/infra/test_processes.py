"""TouchlineProcess: a child `touchline` process, restarted like a supervisor would for the codes it is given."""

from __future__ import annotations

from infra.processes import TouchlineProcess
from infra.settings import Settings
from tests.fixtures import wait_for

USAGE_ERROR = 2  # what click exits with for an unknown option: a quick, certain exit for the test


def test_an_exit_with_a_restart_code_is_restarted_and_logged(tmp_path) -> None:  # noqa: ANN001
    proc = TouchlineProcess(["config", "--no-such-option"], Settings(), tmp_path / "p.log",
                            restart_exit_codes=(USAGE_ERROR,))
    wait_for(lambda: proc.running and proc.restarts >= 1, timeout=60, what="a restart")
    proc.stop()
    log = proc.log_path.read_text()
    assert log.count(f"--- exited with {USAGE_ERROR}: restart") == proc.restarts
    assert log.count("No such option") >= proc.restarts


def test_other_exits_are_left_alone(tmp_path) -> None:  # noqa: ANN001
    proc = TouchlineProcess(["config", "--no-such-option"], Settings(), tmp_path / "p.log", restart_exit_codes=(75,))
    wait_for(lambda: not proc.running, timeout=60, what="the process to exit")
    assert proc.proc.returncode == USAGE_ERROR and proc.restarts == 0
