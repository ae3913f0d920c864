"""Reloading the policy file: on change (checked at most every few seconds), on request, never to a broken one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from streams.optimization.exceptions import PolicyError
from streams.optimization.policy import DEFAULT_POLICY
from streams.optimization.reload import PolicySource


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, mtime: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime * 10**9, mtime * 10**9))  # distinct stamps, whatever the file system's resolution


def test_no_file_means_the_defaults() -> None:
    assert PolicySource(None).current() is DEFAULT_POLICY


def test_a_change_is_seen_at_the_next_check_and_a_broken_file_keeps_the_policy(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, clock = tmp_path / "policy.toml", Clock()
    write(path, '[channels.email]\ncaps = [{window = "7d", max = 3}]', 1)
    source = PolicySource(path, check_every_s=2.0, clock=clock)
    assert source.current().channel("email").caps[0].max == 3
    write(path, '[channels.email]\ncaps = [{window = "7d", max = 4}]', 2)
    clock.now += 1.9
    assert source.current().channel("email").caps[0].max == 3  # not checked yet: bounded work
    clock.now += 0.2
    good = source.current()
    assert good.channel("email").caps[0].max == 4

    write(path, '[channels.email]\ncaps = [{window = "7z", max = 4}]', 3)
    caplog.set_level(logging.ERROR, "streams.optimization.reload")
    for _ in range(5):
        clock.now += 2.5
        assert source.current() is good
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1, errors  # once per change of the file, not at every check
    assert str(path) in errors[0] and "channels.email.caps[0].window" in errors[0] and "'7z' is not a duration" \
        in errors[0] and f"keeping contact policy {good.version}" in errors[0]

    path.unlink()
    clock.now += 2.5
    assert source.current() is good and len(caplog.records) == 2 and "no such file" in caplog.records[-1].getMessage()
    write(path, "", 4)
    clock.now += 2.5
    assert source.current().version == DEFAULT_POLICY.version


def test_a_requested_reload_reads_at_once(tmp_path: Path) -> None:
    path, clock = tmp_path / "policy.toml", Clock()
    write(path, "[overall]\ncaps = []", 1)
    source = PolicySource(path, clock=clock)
    path.write_text('[overall]\ncaps = [{window = "1d", max = 9}]')
    os.utime(path, ns=(10**9, 10**9))  # same stamp as before: only the request makes it read again
    assert source.current().overall.caps == []
    source.request_reload()
    assert source.current().overall.caps[0].max == 9


def test_a_broken_file_at_start_stops_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    write(path, '[quiet_hours]\nstart = 22\nend = 6\ntimezone = "Nowhere/City"', 1)
    with pytest.raises(PolicyError, match=r"policy\.toml: quiet_hours\.timezone: 'Nowhere/City'"):
        PolicySource(path)


def test_segment_definitions_reload_like_the_policy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from streams.optimization.exceptions import SegmentsError
    from streams.optimization.reload import SegmentsSource
    from streams.optimization.segment_definitions import DEFAULT_DEFINITIONS

    assert SegmentsSource(None).current() is DEFAULT_DEFINITIONS
    path, clock = tmp_path / "segments.toml", Clock()
    write(path, '[segments.buyers]\nall = [{orders = {window = "30d", min = 1}}]', 1)
    source = SegmentsSource(path, check_every_s=2.0, clock=clock)
    good = source.current()
    assert good.names == ("buyers",)
    write(path, '[segments.buyers]\nall = [{orders = {window = "30d", mn = 1}}]', 2)
    caplog.set_level(logging.ERROR, "streams.optimization.reload")
    clock.now += 2.5
    assert source.current() is good
    assert [r.getMessage() for r in caplog.records] == [
        f"segment definitions {path}: segments.buyers.all[0].orders.mn: not a condition or one of its settings "
        "(misspelt? conditions: all, any, first_touch, last_touch, last_purchase, open_cart, touches, orders, "
        f"revenue, stage, subscription, channels, device_types); keeping segment definitions {good.version}"]
    write(path, '[segments.big]\nall = [{orders = {window = "30d", min = 3}}]', 3)
    clock.now += 2.5
    assert source.current().names == ("big",)
    write(path, "[segments.big]\nall = 1", 4)
    with pytest.raises(SegmentsError, match=r"segments\.toml: segments\.big\.all: Input should be a valid list"):
        SegmentsSource(path)  # at start: the worker stops


def test_one_sighup_rereads_every_file(tmp_path: Path) -> None:
    import asyncio
    import signal

    from streams.optimization.reload import SegmentsSource, reload_on_sighup

    policy_path, segments_path = tmp_path / "policy.toml", tmp_path / "segments.toml"
    write(policy_path, "", 1)
    write(segments_path, "", 1)
    policy, segments = PolicySource(policy_path), SegmentsSource(segments_path)

    async def hup() -> None:
        reload_on_sighup(policy)
        reload_on_sighup(segments, PolicySource(None))  # a second call adds to the first; no file: nothing
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            await asyncio.sleep(0.01)  # let the loop run the handler
            if policy._forced and segments._forced:
                break
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    asyncio.run(hup())
    assert policy._forced and segments._forced
