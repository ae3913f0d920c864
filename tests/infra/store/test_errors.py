"""chDB's exception text -> ClickHouse's error code, name, HTTP status and body."""

from __future__ import annotations

from infra.store import errors


def test_engine_errors_keep_code_and_name():
    exc = errors.from_engine(RuntimeError(
        "Streaming insert finish failed: Code: 60. DB::Exception: Table default.nope does not exist. "
        "Maybe you meant system.one?. (UNKNOWN_TABLE) (version 26.9.2.1)"))
    assert (exc.code, exc.name, exc.http_status) == (60, "UNKNOWN_TABLE", 404)
    assert exc.body("26.9.2.1") == (b"Code: 60. DB::Exception: Table default.nope does not exist. "
                                    b"Maybe you meant system.one?. (UNKNOWN_TABLE) (version 26.9.2.1)\n")
    plain = errors.from_engine(RuntimeError("boom"))
    assert (plain.code, plain.name, plain.http_status) == (1002, "UNKNOWN_EXCEPTION", 500)
