"""Live profile context on the real broker: any worker answers for any profile or identifier.

Two workers with web servers stitch a simulation plus one hand-made
customer (phone, laptop and email; a cart, an offer, a session open now).
Asked on either worker, by raw email or by device or by profile id, the
answer is the same document: the customer's newest touches in order, the open
session, the cart net of a removal, the last offer. For simulated profiles
the last touches equal the newest stored touchpoints of the profile.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.simulator import SimulationConfig, simulate
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import start_web_workers, wait_until_journeys_match, wait_until_stored

pytestmark = pytest.mark.integration

EMAIL = "Ann.Handoff@Example.com"


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _customer(now: datetime) -> list[dict]:
    """Phone browsing days ago, an email click, then on the laptop now: cart, removal, offer."""
    def event(n: int, minutes_ago: float, event_type: str, channel: str, **fields: object) -> dict:
        return {"event_id": f"handoff-{n}", "event_type": event_type, "channel": channel,
                "event_time": now - timedelta(minutes=minutes_ago), **fields}

    line = {"sku": "SKU-1", "quantity": 2, "unit_price": Decimal("19.90")}
    other = {"sku": "SKU-2", "quantity": 1, "unit_price": Decimal("5.00")}
    return [
        event(1, 3 * 24 * 60, "page_view", "web", device_type="mobile", device_id="handoff-phone",
              page_url="https://shop.example/p/1"),
        event(2, 3 * 24 * 60 - 1, "login", "web", device_type="mobile", device_id="handoff-phone",
              user_id="handoff-user"),
        event(3, 24 * 60, "email_click", "email", email=EMAIL, user_id="handoff-user", campaign_id="cmp-mail"),
        event(4, 6, "login", "web", device_type="desktop", device_id="handoff-laptop", user_id="handoff-user"),
        event(5, 5, "add_to_cart", "web", device_type="desktop", device_id="handoff-laptop", currency="EUR",
              items=[line, other]),
        event(6, 4, "remove_from_cart", "web", device_type="desktop", device_id="handoff-laptop", currency="EUR",
              items=[other]),
        event(7, 3, "offer_view", "web", device_type="desktop", device_id="handoff-laptop", offer_id="OFF-20",
              discount_percent=Decimal("20"), campaign_id="cmp-offer"),
    ]


def test_any_worker_answers_for_any_identifier(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    now = datetime.now(timezone.utc)
    end = now - timedelta(days=1)
    config = SimulationConfig(seed=47, events=1_500, malformed_share=0.0, start=end - timedelta(days=30), end=end)
    messages = list(simulate(config, AvroEncoder("touchpoint").encode))
    ports, workers = start_web_workers(settings, worker_factory)
    customer = _customer(now)
    with TouchpointProducer(settings) as producer:
        for message in messages:
            producer.send_raw(message.payload, message.key)
        for record in customer:
            producer.send(record)
    wait_until_stored(client, db, len(messages) + len(customer), workers)
    journeys = wait_until_journeys_match(client, settings, workers)

    # The hand-made customer, by raw email, by device and by profile id, on both workers. The live
    # context follows identity by messages (moves of the phone's and laptop's touches into the merged
    # profile), so it is polled until it shows all seven touches.
    expected_touches = [f"handoff-{n}" for n in range(7, 0, -1)]
    seen: list = [None]

    def complete() -> bool:
        seen[0] = _get(ports[0], f"/identifiers/email:{EMAIL}/context/")
        status, doc = seen[0]
        return status == 200 and [t["event_id"] for t in doc["last_touches"]] == expected_touches

    wait_for(complete, timeout=60, what=lambda: f"the customer's context with 7 touches (last: {seen[0]})")
    status, doc = seen[0]
    profile = doc["profile_id"]
    answers = [_get(port, path) for port in ports for path in (
        f"/identifiers/email:{EMAIL.lower()}/context/", "/identifiers/device_id:handoff-laptop/context/",
        f"/profiles/{profile}/context/")]
    assert all(s == 200 for s, _ in answers), answers
    assert {json.dumps({**d, "as_of": None}, sort_keys=True) for _, d in answers} == {
        json.dumps({**doc, "as_of": None}, sort_keys=True)}
    assert [t["event_id"] for t in doc["last_touches"]] == expected_touches
    assert doc["open_session"]["session_key"] == "device_id:handoff-laptop"
    assert doc["open_session"]["touches"] == 4
    assert doc["open_cart"] == {"items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.90"}],
                                "value": "39.80", "updated": doc["open_cart"]["updated"]}
    assert doc["last_offer"]["offer_id"] == "OFF-20" and doc["last_offer"]["discount_percent"] == 20.0
    assert doc["open_journey"]["devices"] == 2 and doc["open_journey"]["touches"] == 7
    assert EMAIL not in json.dumps(doc) and EMAIL.lower() not in json.dumps(doc)

    # Simulated profiles: the last touches are the profile's newest stored touchpoints.
    profiles = sorted({j.profile_id for j in journeys.values()})[:: max(1, len(journeys) // 20)]
    for profile_id in profiles:
        newest = client.query(
            f"SELECT event_id FROM {db}.touchpoints_resolved WHERE current_profile_id = %(p)s"
            " ORDER BY event_time DESC, event_id DESC LIMIT 10", parameters={"p": profile_id}).result_rows
        for port in ports:
            status, got = _get(port, f"/profiles/{profile_id}/context/")
            assert status == 200 and [t["event_id"] for t in got["last_touches"]] == [r[0] for r in newest]

    assert _get(ports[1], "/identifiers/nonsense/context/")[0] == 400
    assert _get(ports[1], "/identifiers/user_id:nobody-at-all/context/")[0] == 404
    assert _get(ports[0], "/profiles/p-nobody/context/")[0] == 404
