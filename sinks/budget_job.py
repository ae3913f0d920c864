"""The budget job: evidence from the live tables, the bandit, one recommendation per arm to Kafka.

``touchline optimize budget`` calls ``run_budget`` every minute: it reads the
evidence window (default the 7 days before the run) from the tables the
stream keeps seconds behind Kafka, computes the evidence per channel and per
campaign (``streams.optimization.outcomes``) and the budget shares
(``streams.optimization.bandit``), and publishes one ``budget_recommendation``
record per compared arm to ``<prefix>recommendations.budget``, keyed by the
arm kind; the sink writes them to ``budget_recommendations``.

What it reads (four queries, bounded by the window):

- touches: ``sessions FINAL`` started in the window, counted per landing
  channel and campaign (grouped in ClickHouse);
- conversions: ``journeys FINAL`` converted in the window;
- the sessions of the profiles that converted (``sessions_resolved``: the
  profile a session belongs to now, as journeys do);
- cost: ``touchpoints FINAL`` with a ``cost_micros`` in the window, summed
  per channel and campaign.

The window ends ``settle`` before the run: sessions are written when they
close (inactivity timeout plus allowed lateness), so the newest minutes hold
conversions whose sessions are not stored yet.

A run publishes both kinds or nothing (each kind's records all delivered, or
an error); a kind without touches in the window publishes nothing and says so.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from clickhouse_connect.driver.client import Client

from infra.settings import Settings
from schemas.models import BudgetRecommendation
from schemas.wire import AvroEncoder
from streams.attribution.paths import BY_KEYS, DAY_MS
from streams.optimization.arms import BUDGET_CHANNELS, select
from streams.optimization.bandit import Allocation, BanditSettings, recommend
from streams.optimization.exceptions import BudgetError
from streams.optimization.outcomes import Conversion, Evidence, SessionTouch, evidence
from streams.sessions.policy import SessionPolicy

log = logging.getLogger(__name__)

DEFAULT_WINDOW_MS = 7 * DAY_MS
_T = "DateTime64(3, 'UTC')"


@dataclass(frozen=True)
class BudgetOptions:
    kinds: tuple[str, ...] = BY_KEYS
    window_ms: int = DEFAULT_WINDOW_MS
    # None: every arm with touches in the window (campaigns: but "(not set)").
    channels: tuple[str, ...] | None = BUDGET_CHANNELS
    campaigns: tuple[str, ...] | None = None
    bandit: BanditSettings = field(default_factory=BanditSettings)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(BY_KEYS)
        if not self.kinds or unknown:
            raise BudgetError(f"arm kinds {sorted(unknown) or '(none)'}: use {' and/or '.join(BY_KEYS)} (--by)")
        if not 3_600_000 <= self.window_ms <= 90 * DAY_MS:
            raise BudgetError(f"the evidence window must be between 1h and 90d, not {self.window_ms / DAY_MS:g} "
                              "days (--window)")

    def names(self, kind: str) -> tuple[str, ...] | None:
        return self.channels if kind == "channel" else self.campaigns


@dataclass(frozen=True)
class BudgetRun:
    """One kind's run: its evidence, the arms compared and left out, the allocation and its records."""

    run_id: str
    run_at: datetime
    kind: str
    evidence: Evidence
    left_out: dict[str, str]  # arm -> why it was not compared
    allocation: Allocation | None  # None: nothing to compare in the window
    records: list[dict[str, Any]]

    @property
    def window_start(self) -> datetime:
        return _time(self.evidence.start)

    @property
    def window_end(self) -> datetime:
        return _time(self.evidence.end)


def settle_ms(policy: SessionPolicy) -> int:
    """How long a session may stay unwritten: the longest inactivity timeout plus the allowed lateness."""
    return max([policy.timeout_ms, *policy.channel_timeout_ms.values()]) + policy.allowed_lateness_ms


def _ms(value: datetime) -> int:
    if value.tzinfo is None:  # clickhouse-connect hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


@dataclass(frozen=True)
class Rows:
    """What the job reads for a window (``read_rows``); ``evidence`` turns it into arms."""

    touches: dict[tuple[str, str | None], int]
    costs: dict[tuple[str, str | None], tuple[int, int]]
    conversions: list[Conversion]
    sessions: list[SessionTouch]


def read_rows(client: Client, database: str, start: datetime, end: datetime, reach: timedelta) -> Rows:
    """The four reads of a window [start, end); ``reach``: how long before its end a journey may start."""
    window = {"start": start, "end": end, "reach": start - reach}
    started = f"start_time >= {{start:{_T}}} AND start_time < {{end:{_T}}}"
    # reach only prunes partitions (journeys are partitioned by their start): a journey is never longer.
    converted = (f"FROM {database}.journeys FINAL WHERE converted = 1 AND is_deleted = 0 "
                 f"AND end_time >= {{start:{_T}}} AND end_time < {{end:{_T}}} AND start_time >= {{reach:{_T}}}")
    touches = client.query(
        f"SELECT landing_channel, landing_campaign_id, count() FROM {database}.sessions FINAL "
        f"WHERE {started} AND is_deleted = 0 GROUP BY landing_channel, landing_campaign_id",
        parameters=window).result_rows
    costs = client.query(
        f"SELECT channel, campaign_id, count(), sum(cost_micros) FROM {database}.touchpoints FINAL "
        f"WHERE event_time >= {{start:{_T}}} AND event_time < {{end:{_T}}} AND cost_micros IS NOT NULL "
        "GROUP BY channel, campaign_id", parameters=window).result_rows
    journeys = client.query(f"SELECT journey_id, profile_id, start_time, end_time, value {converted}",
                            parameters=window).result_rows
    sessions = client.query(
        f"SELECT session_id, current_profile_id, start_time, landing_channel, landing_campaign_id "
        f"FROM {database}.sessions_resolved WHERE {started} AND current_profile_id IN (SELECT profile_id {converted})",
        parameters=window).result_rows
    counts: dict[tuple[str, str | None], int] = defaultdict(int)
    for channel, campaign, n in touches:
        counts[(channel, campaign or None)] += int(n)  # NULL and '' are both "no campaign"
    paid: dict[tuple[str, str | None], tuple[int, int]] = {}
    for channel, campaign, n, micros in costs:
        before = paid.get((channel, campaign or None), (0, 0))
        paid[(channel, campaign or None)] = (before[0] + int(n), before[1] + int(micros))
    return Rows(
        touches=dict(counts),
        costs=paid,
        conversions=[Conversion(j, p, _ms(s), _ms(e), v) for j, p, s, e, v in journeys],
        sessions=[SessionTouch(i, p, _ms(s), c, k or None) for i, p, s, c, k in sessions],
    )


def records_of(allocation: Allocation, kind: str, run_id: str, run_at: datetime, ev: Evidence) -> list[dict]:
    """The ``budget_recommendation`` records of one allocation, validated by the model."""
    s = allocation.settings
    out = []
    for r in allocation.recommendations:
        e = r.evidence
        record = BudgetRecommendation(
            run_id=run_id, run_at=run_at, arm_kind=kind, arm=r.arm, arms=len(allocation.recommendations),
            share=min(1.0, r.share), p_best=min(1.0, r.p_best), objective=s.objective, basis=s.basis, mean=r.mean,
            low=r.low, high=r.high, touches=e.touches, conversions=e.conversions, revenue=e.revenue,
            cost_micros=e.cost_micros, paid_touches=e.paid_touches, alpha=r.alpha, beta=r.beta,
            prior_alpha=allocation.prior.alpha, prior_beta=allocation.prior.beta, floor=allocation.floor,
            window_start=_time(ev.start), window_end=_time(ev.end), draws=s.draws, seed=allocation.seed)
        out.append(record.to_avro())
    return out


def compute_budget(rows: Rows, options: BudgetOptions, start: datetime, end: datetime, run_at: datetime,
                   seed: int) -> list[BudgetRun]:
    """Every kind's run over rows already read (pure)."""
    runs = []
    for kind in options.kinds:
        ev = evidence(kind, _ms(start), _ms(end), rows.conversions, rows.sessions, rows.touches, rows.costs)
        compared, left_out = select(ev, options.names(kind), options.bandit.basis)
        allocation = recommend(compared, options.bandit, seed) if compared else None
        run_id = uuid.uuid4().hex
        records = records_of(allocation, kind, run_id, run_at, ev) if allocation else []
        runs.append(BudgetRun(run_id, run_at, kind, ev, left_out, allocation, records))
    return runs


def publish(runs: list[BudgetRun], settings: Settings) -> int:
    """Send every record, keyed by arm kind, and wait for Kafka to acknowledge all (DeliveryFailed if not)."""
    from streams.produce import TouchpointProducer
    from streams.topics import TopicNames

    records = [(run.kind, r) for run in runs for r in run.records]
    if not records:
        return 0
    encoder = AvroEncoder("budget_recommendation")
    producer = TouchpointProducer(settings, topic=TopicNames.from_settings(settings).budget_recommendations)
    for kind, record in records:
        producer.send_raw(encoder.encode(record), kind.encode())
    producer.flush()  # bounded: 3 x TOUCHLINE_KAFKA_TIMEOUT_S; the error names the setting to check
    return producer.delivered


def run_budget(client: Client, settings: Settings, policy: SessionPolicy, options: BudgetOptions = BudgetOptions(),
               now: datetime | None = None, publish_records: bool = True) -> list[BudgetRun]:
    """Read the window before ``now`` (default: the wall clock), recommend, publish; the runs, by kind."""
    began = time.monotonic()
    run_at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    run_at = _time(_ms(run_at))  # whole milliseconds, as the record carries it
    end = run_at - timedelta(milliseconds=settle_ms(policy))
    start = end - timedelta(milliseconds=options.window_ms)
    rows = read_rows(client, settings.clickhouse_database, start, end, timedelta(milliseconds=policy.lookback_ms))
    runs = compute_budget(rows, options, start, end, run_at, seed=_ms(run_at))
    sent = publish(runs, settings) if publish_records else 0
    for run in runs:
        if run.allocation is None:
            log.warning("budget %s: no %s with touches in %s .. %s; nothing published (left out: %s)", run.kind,
                        run.kind, start.isoformat(), end.isoformat(), run.left_out or "none")
        elif run.left_out:
            log.info("budget %s run %s left out %s", run.kind, run.run_id, run.left_out)
    log.info("budget run at %s: %d records published in %.2f s", run_at.isoformat(), sent, time.monotonic() - began)
    return runs
