"""The recovery watchdog's decision (streams/recovery_watchdog.py), snapshot by snapshot."""

from __future__ import annotations

from streams.recovery_watchdog import RecoverySnapshot, RecoveryWatch

STALL_S = 60.0


def _snap(loop_running: bool | None = True, stopping: bool = False, recovering: bool = False,
          records_read: int = 0) -> RecoverySnapshot:
    return RecoverySnapshot(loop_running, stopping, recovering, records_read)


def test_a_running_worker_out_of_recovery_is_fine_for_ever() -> None:
    watch = RecoveryWatch(STALL_S)
    assert [watch.problem(_snap(), t) for t in (0, 1_000, 100_000)] == [None, None, None]


def test_an_ended_recovery_loop_is_a_problem_at_once() -> None:
    problem = RecoveryWatch(STALL_S).problem(_snap(loop_running=False), 0)
    assert problem is not None and "table-recovery loop has ended" in problem


def test_an_ended_loop_while_stopping_is_the_normal_shutdown() -> None:
    assert RecoveryWatch(STALL_S).problem(_snap(loop_running=False, stopping=True, recovering=True), 0) is None


def test_recovery_without_reading_for_the_stall_time_is_a_problem() -> None:
    watch = RecoveryWatch(STALL_S)
    assert watch.problem(_snap(recovering=True, records_read=5), 100) is None
    assert watch.problem(_snap(recovering=True, records_read=5), 100 + STALL_S - 0.1) is None
    problem = watch.problem(_snap(recovering=True, records_read=5), 100 + STALL_S)
    assert problem is not None and "TOUCHLINE_WORKER_RECOVERY_STALL_S=60" in problem


def test_a_long_recovery_that_keeps_reading_is_not_stalled() -> None:
    watch = RecoveryWatch(STALL_S)
    for minute in range(30):  # half an hour, a few records each minute
        assert watch.problem(_snap(recovering=True, records_read=minute * 100), minute * STALL_S) is None


def test_each_recovery_gets_its_own_stall_time() -> None:
    watch = RecoveryWatch(STALL_S)
    assert watch.problem(_snap(recovering=True, records_read=7), 0) is None
    assert watch.problem(_snap(recovering=False, records_read=7), STALL_S / 2) is None  # done
    assert watch.problem(_snap(recovering=True, records_read=7), STALL_S) is None  # the next one starts here
    assert watch.problem(_snap(recovering=True, records_read=7), 2 * STALL_S - 1) is None
    assert watch.problem(_snap(recovering=True, records_read=7), 2 * STALL_S) is not None


def test_unknown_loop_state_leaves_the_stall_timer_alone_in_charge() -> None:
    watch = RecoveryWatch(STALL_S)
    assert watch.problem(_snap(loop_running=None, recovering=True), 0) is None
    assert watch.problem(_snap(loop_running=None, recovering=True), STALL_S) is not None
