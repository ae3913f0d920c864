"""The budget bandit replayed in-process over simulated traffic, hour by simulated hour (no Kafka, no store).

The simulator (``streams.simulator``, ``SimulationConfig.conversion_lift``)
makes one channel truly convert better per touch. Its events go through the
batch references of the stream's own rules: identity (``stitch``), sessions
(``sessions_of``) and journeys (``reference_journeys``). That gives the rows
the job reads from ClickHouse: sessions with their current profile and
landing, converted journeys, paid touchpoints. After each simulated hour the
evidence of the window before it (``outcomes.evidence``, exactly as the job
computes it) feeds the bandit (``bandit.recommend``), and the shares are
kept.

The references run once over the whole span, and each hour reads what lies
in its window by event time. That equals a run over the events up to that
hour for sessions (a session's landing, the only part read, never changes)
and converted journeys (a journey ends at its conversion), with one
difference: identity is the final stitching, so a merge learnt later (a
cookie that logs in the next day) already joins that person's sessions
earlier. Journey credit can only be spread over more of the person's
sessions by it, and touch counts do not change. The live path on the broker
and the store is the job's test (tests/sinks/test_budget_job.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from streams.identity.observe import observation_of
from streams.identity.policy import IdentityPolicy
from streams.identity.reference import stitch
from streams.journeys.reference import reference_journeys
from streams.optimization.arms import select
from streams.optimization.bandit import Allocation, BanditSettings, recommend
from streams.optimization.outcomes import Conversion, Evidence, SessionTouch, count_touches, evidence
from streams.sessions.policy import SessionPolicy
from streams.sessions.reference import sessions_of
from streams.simulator import SimulationConfig, simulate

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Replay:
    """The rows the job would read, for the whole simulated span."""

    sessions: list[SessionTouch]
    conversions: list[Conversion]
    costs: list[tuple[int, str, str | None, int]]  # (event ms, channel, campaign, cost_micros)
    events: int


@dataclass(frozen=True)
class Hour:
    hour: int  # simulated hours since the start
    evidence: Evidence
    allocation: Allocation | None  # None: no arm had a touch yet

    def share(self, arm: str) -> float:
        if self.allocation is None:
            return 0.0
        return next((r.share for r in self.allocation.recommendations if r.arm == arm), 0.0)

    @property
    def top(self) -> str | None:
        if self.allocation is None:
            return None
        return max(self.allocation.recommendations, key=lambda r: (r.share, r.arm)).arm


def _ms(value: datetime) -> int:
    return int(value.astimezone(timezone.utc).timestamp() * 1000)


def simulated_records(config: SimulationConfig, identity: IdentityPolicy = IdentityPolicy()) -> list[dict]:
    """The valid events of a simulation, each with its identity key (as the ingest stage adds it)."""
    out = []
    for message in simulate(config.model_copy(update={"malformed_share": 0.0}), lambda record: b""):
        record = dict(message.record)
        obs = observation_of(record, identity)
        record["identity_key"] = obs.anchor if obs is not None else None
        out.append(record)
    return out


def replay(records: Sequence[dict], policy: SessionPolicy = SessionPolicy(),
           identity: IdentityPolicy = IdentityPolicy()) -> Replay:
    """Sessions (current profile, landing), converted journeys and paid touches of ``records``, by the references."""
    profiles = stitch([r for r in records if r["identity_key"]], identity).profiles
    key_of = {r["event_id"]: r["identity_key"] for r in records}
    sessions = []
    for s in sessions_of(records, policy).values():
        profile = profiles.get(key_of.get(s.landing.event_id) or "")
        sessions.append(SessionTouch(s.session_id, profile, s.start, s.landing.channel, s.landing.campaign_id))
    journeys = reference_journeys(((r, profiles.get(r["identity_key"])) for r in records if r["identity_key"]),
                                  policy)
    conversions = [Conversion(j.journey_id, j.profile_id, j.start, j.end, Decimal(j.value_cents) / 100)
                   for j in journeys.values() if j.converted]
    costs = [(_ms(r["event_time"]), r["channel"], r.get("campaign_id"), r["cost_micros"])
             for r in records if r.get("cost_micros") is not None]
    return Replay(sessions, conversions, costs, len(records))


def costs_in(costs: Iterable[tuple[int, str, str | None, int]], start: int, end: int) -> dict:
    """(paid touchpoints, sum of cost_micros) per (channel, campaign) in [start, end): what the job's cost query returns."""
    out: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for t, channel, campaign, micros in costs:
        if start <= t < end:
            entry = out[(channel, campaign or None)]
            entry[0] += 1
            entry[1] += micros
    return {k: (n, micros) for k, (n, micros) in out.items()}


def hourly(data: Replay, start: datetime, hours: int, *, by: str = "channel", arms: Sequence[str] | None = None,
           window_ms: int = 7 * 24 * HOUR_MS, settle_ms: int = 40 * 60_000,
           settings: BanditSettings = BanditSettings(), seed: int = 0) -> Iterator[Hour]:
    """After each simulated hour 1 .. ``hours``: the evidence of the window before it and the bandit's shares.

    The window ends ``settle_ms`` before the hour, as the job's does; each hour draws with ``seed + hour``.
    """
    first = _ms(start)
    for hour in range(1, hours + 1):
        end = first + hour * HOUR_MS - settle_ms
        begin = end - window_ms
        ev = evidence(by, begin, end, data.conversions, data.sessions, count_touches(data.sessions, begin, end),
                      costs_in(data.costs, begin, end))
        compared, _ = select(ev, arms, settings.basis)
        yield Hour(hour, ev, recommend(compared, settings, seed + hour) if compared else None)
