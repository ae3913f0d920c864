"""The budget job on the real store and broker: stored rows in, records on the topic and rows in ClickHouse out.

T is a day before the run; the evidence window is the 7 days ending 40 minutes
(session timeout + lateness) before the run. Times in minutes after T:

- P1: sessions display/cmp-a at T-8 days (before the window), email/cmp-b at
  +60, social (no campaign) at +120, direct at +180; converts at +185 for
  90.00 (journey from T-8 days). In the window: email, social, direct get
  1/3 each, 30.00 each.
- P2: email/cmp-b at +240 (stored under P2-old, whose email later merged
  into P2: sessions_resolved gives P2), email/cmp-c at +300 (stored twice:
  FINAL counts it once); converts at +300 for 10.00: email 1, cmp-b and cmp-c
  1/2 each, 5.00 each. Then display/cmp-a at +360, no conversion.
- P3: converts at +420 for 20.00 with no session in the window: unattributed.
- P4: email/cmp-c at +480; converts 35 minutes before the run (after the
  window): a touch, no credit.
- A converted journey of P5 whose id was deleted later (is_deleted): nothing.
- Cost: three display/cmp-a impressions in the window (1.0M + 1.5M + 2.0M
  micros), one before it, one touchpoint without cost.

Channels compared (the default: channels that spend budget): display, email,
social (direct is not one). Campaigns: cmp-a, cmp-b, cmp-c ((not set) is not a
campaign). Pooled over the channels: C = 4/3 + 1/3 = 5/3 in T = 6 touches,
p = (C + 1) / (T + 2) = 1/3, prior Beta(1, 2).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from infra.cli.main import cli
from schemas.wire import AvroDecoder
from sinks.budget_job import BudgetOptions, run_budget
from sinks.clickhouse import connect
from sinks.migrate import migrate
from sinks.worker import build_sink_runner
from streams.kafka_config import confluent_config
from streams.sessions.policy import session_policy_from_settings
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T = NOW - timedelta(days=1)
MIN = timedelta(minutes=1)

SESSION_COLUMNS = ["session_id", "session_key", "identity_key", "version", "is_deleted", "start_time", "end_time",
                   "profile_id", "touches", "landing_event_id", "landing_channel", "landing_campaign_id",
                   "last_event_id", "emitted_at"]
JOURNEY_COLUMNS = ["journey_id", "profile_id", "version", "is_deleted", "start_time", "end_time", "converted",
                   "touches", "sessions", "first_event_id", "first_channel", "last_event_id", "last_channel", "value",
                   "emitted_at"]
TOUCH_COLUMNS = ["event_id", "event_type", "channel", "device_type", "event_time", "campaign_id", "cost_micros",
                 "currency", "ingested_at", "writer_schema", "source_topic"]


def _session(sid: str, profile: str, key: str, at: datetime, channel: str, campaign: str | None,
             version: int = 1) -> tuple:
    return (sid, key, key, version, 0, at, at + MIN, profile, 1, f"e-{sid}", channel, campaign, f"e-{sid}", NOW)


def _journey(jid: str, profile: str, start: datetime, end: datetime, value: str, version: int = 1,
             deleted: int = 0) -> tuple:
    return (jid, profile, version, deleted, start, end, 1, 3, 2, f"f-{jid}", "web", f"l-{jid}", "web", Decimal(value),
            NOW)


SESSIONS = [
    _session("s1", "P1", "anonymous_id:a1", T - timedelta(days=8), "display", "cmp-a"),
    _session("s2", "P1", "email_sha256:e1", T + 60 * MIN, "email", "cmp-b"),
    _session("s3", "P1", "anonymous_id:a1", T + 120 * MIN, "social", None),
    _session("s4", "P1", "anonymous_id:a1", T + 180 * MIN, "direct", None),
    _session("s5", "P2-old", "email_sha256:e2", T + 240 * MIN, "email", "cmp-b"),
    _session("s6", "P2", "email_sha256:e2b", T + 300 * MIN, "email", "cmp-c"),
    _session("s6", "P2", "email_sha256:e2b", T + 300 * MIN, "email", "cmp-c", version=2),
    _session("s7", "P2", "anonymous_id:a2", T + 360 * MIN, "display", "cmp-a"),
    _session("s8", "P4", "email_sha256:e4", T + 480 * MIN, "email", "cmp-c"),
]
JOURNEYS = [
    _journey("j1", "P1", T - timedelta(days=8), T + 185 * MIN, "90.00"),
    _journey("j2", "P2", T + 240 * MIN, T + 300 * MIN, "10.00"),
    _journey("j3", "P3", T + 420 * MIN, T + 420 * MIN, "20.00"),
    _journey("j4", "P4", T + 480 * MIN, NOW - 35 * MIN, "70.00"),
    _journey("j5", "P5", T + 500 * MIN, T + 510 * MIN, "15.00"),
    _journey("j5", "P5", T + 500 * MIN, T + 510 * MIN, "0.00", version=2, deleted=1),  # merged away
]


def _paid(eid: str, at: datetime, cost: int | None) -> tuple:
    return (eid, "ad_impression", "display", "mobile", at, "cmp-a", cost, "EUR" if cost else None, NOW, "v2", "raw")


TOUCHPOINTS = [_paid("c1", T + 10 * MIN, 1_000_000), _paid("c2", T + 20 * MIN, 1_500_000),
               _paid("c3", T + 30 * MIN, 2_000_000), _paid("c4", T - timedelta(days=8), 9_000_000),
               _paid("c5", T + 40 * MIN, None)]

EXPECTED = {  # arm -> (touches, conversions, revenue, cost_micros, paid_touches)
    "channel": {"display": (1, 0.0, 0.0, 4_500_000, 3), "email": (4, 4 / 3, 40.0, None, 0),
                "social": (1, 1 / 3, 30.0, None, 0)},
    "campaign": {"cmp-a": (1, 0.0, 0.0, 4_500_000, 3), "cmp-b": (2, 1 / 3 + 1 / 2, 35.0, None, 0),
                 "cmp-c": (2, 0.5, 5.0, None, 0)},
}


@pytest.fixture
def stored(settings_factory):  # noqa: ANN001, ANN201
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    client.insert(f"{db}.sessions", SESSIONS, column_names=SESSION_COLUMNS)
    client.insert(f"{db}.journeys", JOURNEYS, column_names=JOURNEY_COLUMNS)
    client.insert(f"{db}.touchpoints", TOUCHPOINTS, column_names=TOUCH_COLUMNS)
    client.insert(f"{db}.identity_overrides", [("email_sha256:e2", "P2", 2, T)],  # P2-old's email is P2's now
                  column_names=["identifier", "profile_id", "version", "changed_at"])
    return settings, client, db


def _evidence(record: dict) -> tuple:
    return (record["touches"], pytest.approx(record["conversions"]), pytest.approx(record["revenue"]),
            record["cost_micros"], record["paid_touches"])


def _topic_records(settings, expected: int) -> list[tuple[bytes, dict]]:  # noqa: ANN001
    topic = TopicNames.from_settings(settings).budget_recommendations
    consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-budget-test",
                                                      "enable.auto.commit": False}))
    decoder, seen = AvroDecoder("budget_recommendation"), []
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

        def read() -> bool:
            for message in consumer.consume(100, timeout=0.2):
                if message.error() is None:
                    seen.append((message.key(), decoder.decode(message.value())[0]))
            return len(seen) >= expected

        wait_for(read, 30, lambda: f"{expected} budget records on {topic} (have {len(seen)})")
    finally:
        consumer.close()
    return seen


def test_one_run_publishes_exact_evidence_and_the_sink_stores_it(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    policy = session_policy_from_settings(settings)
    runs = run_budget(client, settings, policy, BudgetOptions(), now=NOW)
    assert [r.kind for r in runs] == ["channel", "campaign"]
    window_end = NOW - timedelta(minutes=40)
    for run in runs:
        assert (run.window_start, run.window_end) == (window_end - timedelta(days=7), window_end)
        assert (run.evidence.conversions, run.evidence.value) == (3, Decimal("120.00"))  # j1, j2, j3
        assert (run.evidence.unattributed_conversions, run.evidence.unattributed_value) == (1, Decimal("20.00"))
    assert runs[0].left_out == {"push": "no touches in the window", "sms": "no touches in the window",
                                "video": "no touches in the window", "retail_media": "no touches in the window",
                                "paid_search": "no touches in the window", "affiliate": "no touches in the window"}

    records = _topic_records(settings, 6)
    assert sorted(key for key, _ in records) == [b"campaign"] * 3 + [b"channel"] * 3
    for kind in ("channel", "campaign"):
        mine = [r for key, r in records if key == kind.encode()]
        assert {r["arm"]: _evidence(r) for r in mine} == EXPECTED[kind]
        assert {r["arm_kind"] for r in mine} == {kind} and {r["arms"] for r in mine} == {3}
        assert len({r["run_id"] for r in mine}) == 1
        assert sum(r["share"] for r in mine) == pytest.approx(1.0)
        assert all(r["share"] >= r["floor"] - 1e-12 for r in mine) and mine[0]["floor"] == pytest.approx(0.1 / 3)
        assert {(r["objective"], r["basis"], r["draws"], r["seed"]) for r in mine} == {
            ("conversions", "touch", 10_000, int(NOW.timestamp() * 1000))}
        for r in mine:  # the posterior is the prior plus the evidence
            assert (r["alpha"], r["beta"]) == pytest.approx(
                (r["prior_alpha"] + r["conversions"], r["prior_beta"] + r["touches"] - r["conversions"]))
            assert r["low"] <= r["mean"] <= r["high"]
            assert r["run_at"] == NOW and r["window_end"] == window_end
    channel = {r["arm"]: r for key, r in records if key == b"channel"}
    assert (channel["email"]["prior_alpha"], channel["email"]["prior_beta"]) == pytest.approx((1.0, 2.0))
    assert channel["email"]["mean"] == pytest.approx((1 + 4 / 3) / (1 + 2 + 4))

    # The sink route writes them; the latest view shows the complete newest run only.
    runner = build_sink_runner(settings, apply_ddl=False)
    thread = threading.Thread(target=runner.run, name="budget-sink")
    thread.start()
    try:
        table = f"{db}.budget_recommendations"
        wait_for(lambda: client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0] == 6, 60, "6 rows")
        rows = client.query(f"SELECT arm_kind, arm, touches, conversions, revenue, cost_micros, paid_touches, share "
                            f"FROM {table} FINAL").result_rows
        for kind, arm, touches, conversions, revenue, cost, paid, share in rows:
            assert (touches, pytest.approx(conversions), pytest.approx(revenue), cost, paid) == EXPECTED[kind][arm]
            assert share == pytest.approx(next(r["share"] for k, r in records if r["arm"] == arm))
        # A newer run that the sink wrote only in part is not in force yet.
        client.command(f"INSERT INTO {table} (run_id, run_at, arm_kind, arm, arms, share) "
                       f"VALUES ('partial', now64(3), 'channel', 'email', 3, 1.0)")
        latest = client.query(f"SELECT arm_kind, run_id, arm FROM {db}.budget_recommendations_latest").result_rows
        assert {(k, a) for k, _, a in latest} == {(k, a) for k in EXPECTED for a in EXPECTED[k]}
        assert {i for _, i, _ in latest} == {r.run_id for r in runs}

        later = run_budget(client, settings, policy, BudgetOptions(kinds=("channel",)), now=NOW + MIN)
        wait_for(lambda: client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0] == 6 + 1 + 3, 60,
                 "the second run's rows")
        latest = client.query(f"SELECT arm_kind, run_id FROM {db}.budget_recommendations_latest").result_rows
        assert {(k, i) for k, i in latest} == {("channel", later[0].run_id), ("campaign", runs[1].run_id)}
    finally:
        runner.stop()
        thread.join(30)


def test_cli_once_prints_the_shares_and_publishes_nothing_on_a_dry_run(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    env = settings.to_env(base={})
    result = CliRunner().invoke(cli, ["optimize", "budget", "--once", "--dry-run", "--by", "campaign", "--per",
                                      "cost", "--format", "json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # Per cost only cmp-a has a cost: it is the only arm, with the whole budget.
    assert [(r["arm"], r["share"], r["touches"], r["cost"], r["paid"]) for r in rows] == [
        ("cmp-a", 1.0, 1, 4.5, 3)]
    assert "dry run: not published" in result.stderr

    bad = CliRunner().invoke(cli, ["optimize", "budget", "--once", "--window", "30m"], env=env)
    assert bad.exit_code == 2 and "--window" in bad.output
