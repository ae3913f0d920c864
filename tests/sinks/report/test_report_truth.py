"""The report's numbers against the simulator's ground truth, through the real pipeline.

Simulated traffic goes through the broker, a worker (ingest, identity,
sessions, journeys) and the sink into ClickHouse; the attribution job runs;
`touchline report` writes the page. Then the numbers the page shows (read
back from its data tables) are recomputed from the truth the simulator
wrote (streams/simulator/truth.py). TOLERANCES says how close each must be
and why; exact where identity stitching cannot change the number.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner

from infra.cli.main import cli
from infra.traffic import produce_simulation
from sinks.attribution_job import run_attribution
from sinks.clickhouse import connect
from sinks.migrate import migrate
from sinks.report.read import read_tables
from streams.sessions.policy import session_policy_from_settings
from streams.simulator import SimulationConfig
from streams.simulator.truth import GroundTruth
from streams.topics import ensure_topics
from tests.streams.pipeline_checks import wait_until_journeys_match, wait_until_stored

pytestmark = pytest.mark.integration

EVENTS = 6_000

# number -> (allowed absolute difference, why)
TOLERANCES = {
    "orders": (0, "a purchase is one event; stitching cannot add or remove one"),
    "revenue": (Decimal("0.00"), "revenue is carried by the purchase event itself"),
    "attributed conversions": (1e-6, "every model distributes each conversion exactly once (float sums)"),
    "attributed value": (Decimal("0.01"), "every model distributes each purchase's revenue once (float sums, "
                                          "rounded to the cent)"),
    # Measured: report 0.130 and 0.188 in two runs (identity's merge order varies with the interleaving of
    # partitions) against 0.133 linkable in the truth; 0.417 counting every device, linkable or not.
    "cross-device share": (0.10, "the truth side counts only devices some event ties together (a login, an "
                                 "email click): no stitcher can link two cookies nothing connects; the report "
                                 "also counts subscriptions, the truth only purchases"),
}


def _within(name: str, got: float | Decimal, want: float | Decimal) -> None:
    allowed, why = TOLERANCES[name]
    assert abs(got - want) <= allowed, f"{name}: report {got} vs truth {want} (allowed +-{allowed}: {why})"


def linkable_devices(person: dict, journey: dict) -> int:
    """The journey's devices that any stitcher could tie together: the most of them inside one linkable group
    of the person's identifiers (joined when one event carries both). Two cookies never linked by a login
    look like two people to any identity graph, so the truth counts them as such here."""
    devices = {f"{kind}:{d}" for d in journey["devices"] for kind in ("anonymous_id", "device_id")}
    return max((len(devices & set(group)) for group in person["linkable_groups"]), default=0)


def _num(value: str | None) -> float:
    return float(value) if value not in (None, "") else 0.0


def test_report_numbers_match_the_truth(settings_factory, worker_factory, tmp_path) -> None:  # noqa: ANN001
    settings = settings_factory(session_tick_s=1, session_idle_close_s=5)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    start = end - timedelta(days=20)
    truth = GroundTruth()
    sent = produce_simulation(settings, SimulationConfig(seed=61, events=EVENTS, malformed_share=0.0,
                                                         start=start, end=end), truth=truth)
    worker = worker_factory(settings, "worker")
    wait_until_stored(client, db, sent.valid, [worker])
    wait_until_journeys_match(client, settings, [worker])

    window = (start - timedelta(days=1), end + timedelta(minutes=30))
    run = run_attribution(client, db, session_policy_from_settings(settings), *window)
    page = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(page), "--from", window[0].isoformat(),
                                      "--to", window[1].isoformat()], env=settings.to_env(base={}),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tables = read_tables(page.read_text())

    converted = [j for _, j in truth.journeys() if j["converted"]]
    owner = {j["journey_id"]: truth.persons[p] for p, j in truth.journeys()}
    assert len(converted) >= 40, "the simulation should convert enough journeys to compare"
    truth_revenue = sum((Decimal(j["revenue"]) for j in converted), Decimal(0))

    # Orders and revenue per channel: their sums are the truth's, exactly.
    channels = tables["channels"]
    _within("orders", sum(int(_num(r["orders"])) for r in channels), len(converted))
    _within("revenue", sum((Decimal(r["revenue"] or "0") for r in channels), Decimal(0)), truth_revenue)

    # Attribution: the job's conversions are the truth's purchases plus the other goal events (subscriptions,
    # which the truth does not count as conversions), and their value is the truth's revenue.
    other_goals = client.query(
        f"SELECT count() FROM {db}.touchpoints FINAL WHERE event_type IN %(goals)s AND event_type != 'purchase'",
        parameters={"goals": sorted(settings.session_goals)}).result_rows[0][0]
    assert run.converted_paths == len(converted) + other_goals
    _within("revenue", run.conversions_value, truth_revenue)
    for (model, by), credits in run.credits.items():
        _within("attributed value", Decimal(str(round(credits.total_value, 2))), truth_revenue)
    credited: Counter[str] = Counter()
    for row in tables["attribution"]:  # one row per channel, one column per model
        for model, value in row.items():
            if model != "channel":
                credited[model] += _num(value)
    assert len(credited) == 8, f"the page should show every model, got {sorted(credited)}"
    for model, total in credited.items():
        _within("attributed conversions", total, run.converted_paths)

    # Cross-device conversions: close to the truth's share, within what stitching can see.
    days = tables["cross_device_share"]
    report_share = sum(_num(r["cross_device_conversions"]) for r in days) / sum(_num(r["conversions"]) for r in days)
    truth_share = sum(1 for j in converted if linkable_devices(owner[j["journey_id"]], j) >= 2) / len(converted)
    _within("cross-device share", report_share, truth_share)
    assert not math.isnan(report_share)
