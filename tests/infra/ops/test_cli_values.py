"""What on-call types and reads: `--since` values, durations, the payload preview, partition ranges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from infra.ops.preview import hex_head, preview
from infra.ops.replay import REPLAY_HEADER, ReplaySelection, origin_of
from infra.ops.status import ranges
from infra.ops.when import iso, parse_duration, parse_when

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW - timedelta(minutes=30)),
    ("1h", NOW - timedelta(hours=1)),
    ("2d", NOW - timedelta(days=2)),
    (" 90s ", NOW - timedelta(seconds=90)),
    ("2026-02-28T10:00:00Z", datetime(2026, 2, 28, 10, tzinfo=timezone.utc)),
    ("2026-02-28T10:00:00", datetime(2026, 2, 28, 10, tzinfo=timezone.utc)),  # naive = UTC
    ("2026-02-28T12:00:00+02:00", datetime(2026, 2, 28, 10, tzinfo=timezone.utc)),
    ("2026-02-28", datetime(2026, 2, 28, tzinfo=timezone.utc)),
])
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "1w", "-1h", "", "2026-13-01"])
def test_when_rejects_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="30m, 1h, 2d"):
        parse_when(text, now=NOW)


def test_duration() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "1h", "2d")] == [90, 1800, 3600, 172800]
    for bad in ("0h", "1", "h", "1.5h"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_iso_reads_naive_clickhouse_times_as_utc() -> None:
    assert iso(datetime(2026, 3, 1, 12, 0, 0, 5000)) == "2026-03-01T12:00:00.005Z"
    assert iso(None) is None


def test_preview_is_printable_masked_and_bounded() -> None:
    assert preview(b"\xc3\x01\x00abc\n\tdef") == "...abc..def"
    assert preview(b"from Ann.Lee+x@mail.example.org or 0049 (30) 1234-5678") == "from <email> or <digits>"
    # A single-object header whose fingerprint bytes print as 'k@N': no address there (issue 20).
    fingerprint = bytes.fromhex("6b404e1f0a9c2e77")
    assert preview(b"\xc3\x01" + fingerprint + b"\x02e1") == "..k@N....w.e1"
    assert preview(b"a@b ann@shop.example.co.uk x@y.z") == "a@b <email> x@y.z"
    assert preview(b"order 12345 ok") == "order 12345 ok"  # short numbers are not phones
    long = preview(b"x" * 500, width=20)
    assert long == "x" * 17 + "..." and len(long) == 20
    assert hex_head(bytes(range(20))) == " ".join(f"{b:02x}" for b in range(16))


def test_partition_ranges() -> None:
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert ranges([3]) == "3" and ranges([]) == ""


def _record(**overrides: object) -> dict:
    return {"reason": "bad_magic_byte", "stage": "ingest", "rejected_at": NOW, "source_topic": "raw",
            "source_partition": 2, "source_offset": 17, "headers": [], **overrides}


def test_origin_is_the_first_position_of_the_event() -> None:
    assert origin_of(_record()) == "raw/2/17"
    again = _record(source_offset=99, headers=[{"key": "x", "value": b"1"},
                                                {"key": REPLAY_HEADER, "value": b"raw/2/17"}])
    assert origin_of(again) == "raw/2/17"


def test_selection_window_is_half_open() -> None:
    selection = ReplaySelection("bad_magic_byte", since=NOW - timedelta(hours=1), until=NOW)
    assert selection.wants(_record(rejected_at=NOW - timedelta(hours=1)))
    assert not selection.wants(_record(rejected_at=NOW))
    assert not selection.wants(_record(reason="empty_payload", rejected_at=NOW - timedelta(minutes=1)))
    assert not ReplaySelection("bad_magic_byte", stage="sink").wants(_record())


def test_the_old_unknown_schema_code_selects_the_codes_split_from_it() -> None:
    from infra.ops.store import DlqFilter

    at = NOW - timedelta(minutes=1)
    old = ReplaySelection("unknown_schema")
    for reason in ("unknown_schema", "unknown_fingerprint", "no_registry_configured", "unknown_registry_id"):
        assert old.wants(_record(reason=reason, rejected_at=at))
    assert not old.wants(_record(reason="avro_decode_error", rejected_at=at))
    assert not ReplaySelection("unknown_fingerprint").wants(_record(reason="unknown_registry_id", rejected_at=at))
    where, params = DlqFilter(reason="unknown_schema").where()
    assert "has({reasons:Array(String)}, reason)" in where
    assert sorted(params["reasons"]) == sorted(["unknown_schema", "unknown_fingerprint", "no_registry_configured",
                                                "unknown_registry_id"])
