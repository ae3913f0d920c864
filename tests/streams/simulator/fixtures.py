"""Simulation runs shared by the simulator tests (each built once per session: they are pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from schemas.wire import AvroEncoder
from streams.simulator import GroundTruth, SimulatedMessage, SimulationConfig, simulate, stream_records

END = datetime(2026, 5, 1, tzinfo=timezone.utc)  # fixed: the same config must give the same events


@dataclass
class Run:
    config: SimulationConfig
    messages: list[SimulatedMessage]
    truth: GroundTruth

    @property
    def records(self) -> list[dict]:
        return [m.record for m in self.messages if not m.malformed]

    @property
    def malformed(self) -> list[SimulatedMessage]:
        return [m for m in self.messages if m.malformed]


def run(config: SimulationConfig) -> Run:
    truth = GroundTruth()
    messages = list(simulate(config, AvroEncoder("touchpoint").encode, truth))
    return Run(config, messages, truth)


@pytest.fixture(scope="session")
def population_run() -> Run:
    """600 people over the default 30 days, every journey to the end of the span, 1% malformed."""
    return run(SimulationConfig(seed=11, people=600, end=END))


@pytest.fixture(scope="session")
def malformed_run() -> Run:
    """20,000 messages, 5% malformed: enough for every malformed kind."""
    return run(SimulationConfig(seed=5, events=20_000, malformed_share=0.05, end=END))


@dataclass
class RecordsRun:
    """A run's valid records and truth, without encoding (for checks on many people)."""

    config: SimulationConfig
    records: list[dict]
    truth: GroundTruth


def records_run(config: SimulationConfig) -> RecordsRun:
    truth = GroundTruth()
    return RecordsRun(config, list(stream_records(config, truth)), truth)


@pytest.fixture(scope="session")
def identity_run() -> RecordsRun:
    """2,000 people over 30 days with the default identity hazards: family devices, kiosks, junk."""
    return records_run(SimulationConfig(seed=13, people=2_000, end=END))


def ingest_now(config: SimulationConfig) -> datetime:
    """A wall clock at which the run's events are all within ingest's window."""
    return config.end + timedelta(minutes=5)
