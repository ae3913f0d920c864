"""The behaviour model: what the domain says journeys look like, measured on the events."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from streams.simulator.world import conflicting_campaigns
from tests.streams.simulator.fixtures import Run
from tests.streams.simulator.sessions import count_sessions, journey_records

DAY_MS = 86_400_000


def _by_id(run: Run) -> dict[str, dict]:
    return {r["event_id"]: r for r in run.records}


def test_most_buyers_need_two_or_more_touchpoints(population_run: Run) -> None:
    by_id = _by_id(population_run)
    converted = [j for _, j in population_run.truth.journeys() if j["converted"]]
    assert len(converted) > 100
    sessions_before = []
    for journey in converted:
        ids = journey["event_ids"]
        upto = ids[: ids.index(journey["conversion_event_id"]) + 1]
        sessions_before.append(count_sessions([by_id[i] for i in upto]))
    share = sum(s >= 2 for s in sessions_before) / len(sessions_before)
    assert share >= 0.8, share
    assert sum(len(j["touches"]) >= 2 for j in converted) / len(converted) >= 0.8
    assert share < 0.99  # and some do buy on their first visit


def test_multi_device_journeys_span_many_sessions_and_weeks(population_run: Run) -> None:
    by_id, end = _by_id(population_run), population_run.config.end.timestamp() * 1000
    multi = [j for _, j in population_run.truth.journeys() if len(j["devices"]) >= 2]
    assert len(multi) > 100

    def long(journey: dict) -> bool:
        return (journey["last_ms"] - journey["first_ms"] >= 14 * DAY_MS
                and count_sessions(journey_records(journey, by_id)) >= 6)

    assert sum(map(long, multi)) >= 20
    # Journeys that began 14+ days before the end of the span could have lasted 14 days: about half did.
    uncensored = [j for j in multi if end - j["first_ms"] >= 14 * DAY_MS]
    assert 0.3 <= sum(map(long, uncensored)) / len(uncensored) <= 0.8


def test_devices_identity_and_the_mobile_to_desktop_pattern(population_run: Run) -> None:
    truth, by_id = population_run.truth, _by_id(population_run)
    devices = Counter(len(p["device_kinds"]) for p in truth.persons.values())
    assert set(devices) == {1, 2, 3, 4} and devices[1] < len(truth.persons) / 2
    converted = [j for _, j in truth.journeys() if j["converted"]]
    mobile_to_desktop = [j for j in converted if by_id[j["event_ids"][0]]["device_type"] == "mobile"
                         and by_id[j["conversion_event_id"]]["device_type"] == "desktop"]
    assert len(mobile_to_desktop) >= 0.08 * len(converted)
    records = population_run.records
    assert any(r.get("user_id") and r.get("anonymous_id") and r["event_type"] == "login" for r in records)
    assert any(r["event_type"] == "email_click" and r.get("email_sha256") and r.get("anonymous_id") for r in records)
    assert any(r["event_type"] == "sms_click" and r.get("phone_sha256") and r.get("anonymous_id") for r in records)
    assert all(r.get("device_id") and r.get("user_id") for r in records if r["channel"] == "push")
    assert all(r.get("anonymous_id") for r in records if r["event_type"] in ("ad_impression", "ad_click"))
    store_buys = [r for r in records if r["channel"] == "store" and r["event_type"] == "purchase"]
    assert store_buys and all(r.get("loyalty_id") and r["items"] and r["revenue"] for r in store_buys)
    assert any(r.get("email") or r.get("phone") for r in store_buys)
    calls = [r for r in records if r["channel"] == "call_center"]
    assert calls and all(r.get("phone") or r.get("phone_sha256") for r in calls)
    assert any(r.get("loyalty_id") for r in calls)


def test_outcomes_non_buyers_unsubscribes_bopis(population_run: Run) -> None:
    truth = population_run.truth
    outlets = Counter(j["outlet"] for _, j in truth.journeys() if j["converted"])
    assert {"web", "store", "bopis", "app", "marketplace"} <= set(outlets)
    never = [p for p in truth.persons.values() if not any(j["converted"] for j in p["journeys"])]
    assert 0.2 * len(truth.persons) < len(never) < 0.9 * len(truth.persons)
    assert sum(len(j["unsubscribed"]) for _, j in truth.journeys()) > 0
    records = population_run.records
    pickups = [r for r in records if r.get("properties", {}).get("fulfillment") == "bopis_pickup"]
    orders = {r["order_id"]: r for r in records if r["event_type"] == "purchase"}
    assert pickups
    assert all(orders[p["order_id"]]["store_id"] == p["store_id"] for p in pickups if p["order_id"] in orders)


def test_campaigns_offers_experiments(population_run: Run) -> None:
    records, truth = population_run.records, population_run.truth
    discounts = defaultdict(set)
    for r in records:
        if r.get("campaign_id") and r.get("discount_percent") is not None:
            discounts[r["campaign_id"]].add((r["channel"], r["discount_percent"]))
    conflicting = {c for c, seen in discounts.items() if len({d for _, d in seen}) > 1}
    assert conflicting and conflicting <= set(conflicting_campaigns())
    assert set(truth.header["conflicting_offers"]) == set(conflicting_campaigns())
    person_of_event = {e: pid for pid, j in truth.journeys() for e in j["event_ids"]}
    for r in records:
        for assignment in r.get("experiments", []):  # sticky: the person's one variant, every time
            variants = truth.persons[person_of_event[r["event_id"]]]["variants"]
            assert variants[assignment["experiment_id"]] == assignment["variant_id"]


def test_channels_with_a_true_lift_convert_more_per_touch(population_run: Run) -> None:
    truth = population_run.truth
    assert truth.channel_lift["paid_search"] > truth.channel_lift["organic_search"] == 1.0
    touches, caused = Counter(), Counter()
    for _, journey in truth.journeys():
        touches.update(journey["touches"])
        if journey["converted"]:
            caused[journey["conversion_channel"]] += 1
    rate = {c: caused[c] / touches[c] for c in ("paid_search", "organic_search", "social")}
    assert rate["paid_search"] > rate["organic_search"] and rate["paid_search"] > rate["social"], rate


def test_sessions_helper() -> None:
    from datetime import datetime, timezone

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [{"event_type": "page_view", "anonymous_id": "a", "event_time": t0 + timedelta(minutes=m)}
              for m in (0, 10, 45, 200)] + [{"event_type": "email_send", "email_sha256": "e", "event_time": t0}]
    assert count_sessions(events) == 3
