"""The config: checked on construction, people sized from events, stream bounded in memory."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from streams.simulator import SimulationConfig, people_count, stream_records
from streams.simulator.stream import sorted_uniforms
from tests.streams.simulator.fixtures import END


def test_defaults_and_checks() -> None:
    config = SimulationConfig(end=END)
    assert config.span_start == END - timedelta(days=30) and people_count(config) == 1000
    assert SimulationConfig().end.tzinfo is not None
    with pytest.raises(ValidationError, match="timezone-aware"):
        SimulationConfig(end=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="before end"):
        SimulationConfig(start=END, end=END)
    with pytest.raises(ValidationError, match="unknown channels"):
        SimulationConfig(conversion_lift={"carrier_pigeon": 3.0})
    with pytest.raises(ValidationError, match="unknown kinds"):
        SimulationConfig(malformed_weights={"cosmic_rays": 1.0})


def test_people_are_sized_to_reach_the_event_count() -> None:
    config = SimulationConfig(events=20_000, malformed_share=0, end=END)
    people = people_count(config)
    produced = sum(1 for _ in stream_records(config, people=people))
    assert 20_000 <= produced <= 30_000


def test_sorted_uniforms_are_sorted_and_uniform() -> None:
    values = list(sorted_uniforms(random.Random(1), 20_000))
    assert all(a <= b for a, b in zip(values, values[1:])) and 0 < values[0] and values[-1] < 1
    assert abs(sum(values) / len(values) - 0.5) < 0.01
    assert abs(sum(v < 0.25 for v in values) / len(values) - 0.25) < 0.015


def test_stream_is_lazy() -> None:
    """A million-person config starts yielding at once: people are admitted as time reaches them."""
    stream = stream_records(SimulationConfig(people=1_000_000, end=END))
    first = [next(stream) for _ in range(1000)]
    stream.close()
    assert first[0]["event_time"] >= END - timedelta(days=30)
    assert first[-1]["event_time"] - first[0]["event_time"] < timedelta(hours=1)


def test_live_config() -> None:
    config = SimulationConfig.live(timedelta(hours=1))
    assert abs(config.span_start - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert config.time_compression == pytest.approx(720)
