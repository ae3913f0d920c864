"""The attribution job on the real engine: hand-built touchpoints in, credits worked out by hand out.

Times in UTC, T = 2026-10-10 10:00; the window is T-1d .. T+1d; lookback 30 days.

- P1 (device a1, email e1): display ad impression on a1 at T-2d; email click
  (no device: an email session) at T; page view on a1 at T+1m; purchase of
  100.00 on a1 at T+5m. Sessions: [display], [email], [page view, purchase].
  Path (one touch per session landing): display, email, web. A search click
  at T-40d is outside the 30-day lookback.
- P2's page view on device a2 at T+30m was stitched to P2 when stored;
  identity later merged a2 into P3 (identity_overrides a2 -> P3). P3 clicked
  an SMS at T+1h and bought 50.00 on a2 at T+2h, 90 minutes after the page
  view: a new session (30-minute timeout) whose landing is the purchase.
  Path: web, sms, web. P2 has no journey left.
- P4: one email click at T, no purchase: an open, non-converting path.

So 3 paths, 2 conversions, 150.00. By hand:
- first touch: display 1 (100.00), web 1 (50.00);
- last touch: web 2;
- linear: P1 gives 1/3 to each of display, email, web; P3 gives 2/3 to web
  and 1/3 to sms: display 1/3, email 1/3, web 1, sms 1/3; values 100/3 each
  from P1, 50/3 per touch from P3 (web 100/3 + 100/3, sms 50/3).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner

from infra.cli.main import cli
from sinks.attribution_job import run_attribution
from sinks.attribution_store import latest_credits, latest_run
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.attribution.exceptions import AttributionError
from streams.attribution.registry import MODELS
from streams.sessions.policy import session_policy_from_settings

pytestmark = pytest.mark.integration

T = datetime(2026, 10, 10, 10, 0, tzinfo=timezone.utc)
COLUMNS = ["event_id", "event_type", "channel", "device_type", "event_time", "profile_id", "identity_key",
           "anonymous_id", "email_sha256", "phone_sha256", "revenue"]


def _touch(event_id: str, event_type: str, channel: str, at: datetime, profile: str, *, device: str | None = None,
           email: str | None = None, phone: str | None = None, revenue: str | None = None) -> tuple:
    key = f"anonymous_id:{device}" if device else f"email_sha256:{email}" if email else f"phone_sha256:{phone}"
    return (event_id, event_type, channel, "mobile" if device else "unknown", at, profile, key, device, email, phone,
            Decimal(revenue) if revenue else None)


ROWS = [
    _touch("p1-search", "search_click", "paid_search", T - timedelta(days=40), "P1", device="a1"),
    _touch("p1-ad", "ad_impression", "display", T - timedelta(days=2), "P1", device="a1"),
    _touch("p1-email", "email_click", "email", T, "P1", email="e1"),
    _touch("p1-page", "page_view", "web", T + timedelta(minutes=1), "P1", device="a1"),
    _touch("p1-buy", "purchase", "web", T + timedelta(minutes=5), "P1", device="a1", revenue="100.00"),
    _touch("p2-page", "page_view", "web", T + timedelta(minutes=30), "P2", device="a2"),
    _touch("p3-sms", "sms_click", "sms", T + timedelta(hours=1), "P3", phone="f3"),
    _touch("p3-buy", "purchase", "web", T + timedelta(hours=2), "P3", device="a2", revenue="50.00"),
    _touch("p4-email", "email_click", "email", T, "P4", email="e4"),
]


@pytest.fixture
def stored(settings_factory):  # noqa: ANN001, ANN201
    """Settings and a client for a database holding ROWS and the a2 -> P3 merge."""
    settings = settings_factory()
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    client.insert(f"{db}.touchpoints", ROWS, column_names=COLUMNS)
    # The identity stage's later merge: a2's touches belong to P3 now (also every other key, as the stream writes).
    overrides = [("anonymous_id:a1", "P1"), ("email_sha256:e1", "P1"), ("anonymous_id:a2", "P3"),
                 ("phone_sha256:f3", "P3"), ("email_sha256:e4", "P4")]
    client.insert(f"{db}.identity_overrides", [(i, p, 2, T) for i, p in overrides],
                  column_names=["identifier", "profile_id", "version", "changed_at"])
    return settings, client, db


def _run(settings, client, db, save: bool = True, **kwargs):  # noqa: ANN001, ANN202
    return run_attribution(client, db, session_policy_from_settings(settings), T - timedelta(days=1),
                           T + timedelta(days=1), save=save, **kwargs)


def test_rules_credit_the_hand_computed_channels(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    run = _run(settings, client, db, save=False)
    assert (run.paths, run.converted_paths, run.conversions_value) == (3, 2, Decimal("150.00"))
    assert run.unattributed_conversions == 0

    first = run.credits[("first_touch", "channel")]
    assert first.conversions == {"display": 1.0, "web": 1.0}
    assert first.value == {"display": 100.0, "web": 50.0}
    assert run.credits[("last_touch", "channel")].conversions == {"web": 2.0}
    linear = run.credits[("linear", "channel")]
    assert linear.conversions == pytest.approx({"display": 1 / 3, "email": 1 / 3, "web": 1 / 3 + 2 / 3, "sms": 1 / 3})
    assert linear.value == pytest.approx({"display": 100 / 3, "email": 100 / 3, "web": 100 / 3 + 100 / 3,
                                          "sms": 50 / 3})
    # The search click 40 days before is outside the lookback under every model; so is everything of P2.
    for (model, by), credits in run.credits.items():
        assert "paid_search" not in credits.conversions, model
        assert credits.total_conversions == pytest.approx(2.0), (model, by)
        assert credits.total_value == pytest.approx(150.0), (model, by)


def test_a_longer_lookback_reaches_the_old_search_click(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    with pytest.raises(AttributionError, match="TOUCHLINE_JOURNEY_LOOKBACK_DAYS"):
        _run(settings, client, db, save=False, lookback_days=45)
    # Journeys of 45 days (TOUCHLINE_JOURNEY_LOOKBACK_DAYS=45) let a 45-day attribution lookback reach it.
    run = run_attribution(client, db, session_policy_from_settings(settings.model_copy(
        update={"journey_lookback_days": 45})), T - timedelta(days=1), T + timedelta(days=1), lookback_days=45,
        models=("first_touch",), save=False)
    assert run.credits[("first_touch", "channel")].conversions == {"paid_search": 1.0, "web": 1.0}


def test_a_run_is_written_and_the_latest_is_read_back(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    assert latest_credits(client, db) == {} and latest_run(client, db) is None
    run = _run(settings, client, db)
    credits = latest_credits(client, db)
    assert set(credits) == set(MODELS)
    assert credits["last_touch"] == {"web": 2.0}
    assert credits["linear"] == pytest.approx({"display": 1 / 3, "email": 1 / 3, "web": 1.0, "sms": 1 / 3})
    by_campaign = latest_credits(client, db, by="campaign")
    assert by_campaign["first_touch"] == {"(not set)": 2.0}
    row = latest_run(client, db)
    assert (row["run_id"], row["paths"], row["converted_paths"], row["conversions_value"]) == (
        run.run_id, 3, 2, Decimal("150.00"))

    # A newer run over a window without conversions replaces what attribution_latest shows.
    run_attribution(client, db, session_policy_from_settings(settings), T + timedelta(days=5),
                    T + timedelta(days=6))
    assert latest_credits(client, db) == {}
    assert client.query(f"SELECT uniqExact(run_id) FROM {db}.attribution_runs").result_rows[0][0] == 2


def test_cli_prints_one_model_and_writes_runs(stored) -> None:  # noqa: ANN001
    settings, client, db = stored
    env = settings.to_env(base={})
    window = ["--from", (T - timedelta(days=1)).isoformat(), "--to", (T + timedelta(days=1)).isoformat()]
    result = CliRunner().invoke(cli, ["attribution", "--model", "first_touch", *window, "--format", "json"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [{"channel": "display", "conversions": 1.0, "value": 100.0, "share": 0.5},
                    {"channel": "web", "conversions": 1.0, "value": 50.0, "share": 0.5}]
    assert latest_run(client, db) is None, "printing a model must not write a run"

    result = CliRunner().invoke(cli, ["attribution", "run", *window], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 conversions in 3 journeys" in result.stdout
    assert latest_credits(client, db)["first_touch"] == {"display": 1.0, "web": 1.0}

    bad = CliRunner().invoke(cli, ["attribution", *window, "--position-weights", "0.5,0.5"], env=env)
    assert bad.exit_code == 2 and "--position-weights" in bad.output
