"""The attribution job: credits of every model for the journeys that ended in a window, into ClickHouse.

``touchline attribution run`` calls ``run_attribution``: it rebuilds the
journeys from the stored touchpoints (``sinks.stored_journeys``: the stream's
own journey rule, over each touch's current profile), turns them into paths
(``streams.attribution.from_journeys``: one touch per session landing, sends
left out, cut to the lookback), keeps the paths whose end (the conversion, or
an open journey's newest touch) lies in the window, and runs every model of
``streams.attribution.registry.MODELS`` by channel and by campaign. The
result goes to attribution_runs / attribution_credits (migration 0007) in
one go: a run is visible whole or not at all (attribution_latest picks runs
from attribution_runs, written last).

Rules-based and data-driven models alike are recomputed by each run, so a
scheduled run (``--every``) keeps the table current; the Markov and Shapley
models need every path of the window at once, which is why this is a job and
not a stream stage.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.attribution.credits import Credits
from streams.attribution.exceptions import AttributionError
from streams.attribution.from_journeys import path_of
from streams.attribution.paths import BY_KEYS, DAY_MS, Path
from streams.attribution.registry import MODELS, attribute
from streams.journeys.build import Journey
from streams.sessions.policy import SessionPolicy

DEFAULT_LOOKBACK_DAYS = 30.0


@dataclass(frozen=True)
class AttributionRun:
    """One run: its window, what it read, and the credits per (model, key kind)."""

    run_id: str
    computed_at: datetime
    window_start: datetime
    window_end: datetime
    lookback_days: float
    paths: int
    converted_paths: int
    conversions_value: Decimal
    unattributed_conversions: int
    unattributed_value: Decimal
    seconds: float
    credits: Mapping[tuple[str, str], Credits] = field(default_factory=dict)  # (model, by) -> credits


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def window_paths(journeys: Iterable[Journey], policy: SessionPolicy, start: datetime, end: datetime,
                 lookback_ms: int) -> list[Path]:
    """The paths of the journeys whose end lies in [start, end), cut to ``lookback_ms``."""
    first, last = _ms(start), _ms(end)
    return [path_of(j, policy, lookback_ms) for j in journeys if first <= j.end < last]


def credit_paths(paths: list[Path], lookback_ms: int, models: Iterable[str] = tuple(MODELS),
                 params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[tuple[str, str], Credits]:
    """Every model's credits by channel and by campaign (``params``: model -> its parameters)."""
    params = params or {}
    return {(model, by): attribute(paths, model, by, lookback_ms, **params.get(model, {}))
            for model in models for by in BY_KEYS}


def run_attribution(client: Client, database: str, policy: SessionPolicy, start: datetime, end: datetime,
                    lookback_days: float = DEFAULT_LOOKBACK_DAYS, models: Iterable[str] = tuple(MODELS),
                    params: Mapping[str, Mapping[str, Any]] | None = None, save: bool = True) -> AttributionRun:
    """Credit the journeys that ended in [start, end); write the run unless ``save`` is False."""
    from sinks.attribution_store import write_run
    from sinks.stored_journeys import stored_journeys

    began = time.monotonic()
    lookback_ms = int(lookback_days * DAY_MS)
    if lookback_ms > policy.lookback_ms:
        raise AttributionError(
            f"an attribution lookback of {lookback_days:g} days reaches further back than journeys do "
            f"({policy.lookback_ms / DAY_MS:g} days): lower it, or raise TOUCHLINE_JOURNEY_LOOKBACK_DAYS (max 90)")
    # A journey ending at `start` reaches back at most the journey lookback (the stream's own rule).
    reach = timedelta(milliseconds=policy.lookback_ms)
    journeys = stored_journeys(client, database, policy, start - reach, end)
    paths = window_paths(journeys, policy, start, end, lookback_ms)
    credits = credit_paths(paths, lookback_ms, models, params)
    any_credits = next(iter(credits.values()), None)
    converted = [p for p in paths if p.converted]
    run = AttributionRun(
        run_id=uuid.uuid4().hex, computed_at=datetime.now(timezone.utc), window_start=start, window_end=end,
        lookback_days=lookback_days, paths=len(paths), converted_paths=len(converted),
        conversions_value=sum((p.value for p in converted), Decimal(0)),
        unattributed_conversions=any_credits.unattributed_conversions if any_credits else 0,
        unattributed_value=any_credits.unattributed_value if any_credits else Decimal(0),
        seconds=round(time.monotonic() - began, 3), credits=credits)
    if save:
        write_run(client, database, run)
    return run
