"""Real-time segments on the real broker: a cart abandoner becomes a VIP, and the VIP's email cap rises.

Two workers with web servers and sinks; the default segment definitions and a
contact policy whose ``[segments.vip]`` raises the email cap from 5 to 8 per
7 days. One person logs in on a laptop (user id and email address) and a
phone, gets 5 marketing emails (email cap reached), adds a 600.00 item to the
cart on the phone (stamped 5 s short of an hour ago), then buys it. Each touch
is produced once what it causes is on the topics. ``<prefix>segments`` shows,
in order: ``new`` entered (a login), ``cart_abandoner`` entered by time alone
(a segment tick, caused by no touch, once the cart is an hour old), then
``vip`` entered and ``cart_abandoner`` left (the purchase); the email decision
goes from ``cap:email:7d:5`` to allowed with the same 5 emails (the VIP's
cap), caused by the purchase. The HTTP context shows
the segments on both workers, ``can_contact`` agrees, and
``segment_members_current`` in ClickHouse holds the final membership.
"""

from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import start_web_workers
from tests.streams.test_contact_pressure import Decisions, _get

pytestmark = pytest.mark.integration

EMAIL = "Seg.Person@Example.com"


def test_a_cart_abandoner_buys_becomes_vip_and_the_vip_email_cap_applies(settings_factory, worker_factory,  # noqa: ANN001
                                                                         tmp_path: Path) -> None:
    policy_file = tmp_path / "contact-policy.toml"
    policy_file.write_text('[segments.vip.channels]\nemail = [{window = "7d", max = 8}]\n')
    settings = settings_factory(contact_policy_file=policy_file, segment_tick_s=1)  # segments: the defaults
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    ports, workers = start_web_workers(settings, worker_factory)
    names = TopicNames.from_settings(settings)
    segments = Decisions(settings, names.segments, schema="segment_membership")
    decisions = Decisions(settings, names.contact_decisions)
    now = datetime.now(timezone.utc)

    def event(name: str, event_type: str, channel: str, ago: timedelta, **fields: object) -> dict:
        return {"event_id": f"sg-{name}", "event_type": event_type, "channel": channel, "event_time": now - ago,
                **fields}

    item = {"sku": "SKU-VIP-1", "quantity": 1, "unit_price": "600.00", "category": "electronics"}
    phone = {"device_type": "mobile", "device_id": "sg-phone", "user_id": "sg-user"}
    logins = [event("login-laptop", "login", "web", timedelta(days=8), device_type="desktop", device_id="sg-laptop",
                    user_id="sg-user", email=EMAIL),
              event("login-phone", "login", "app", timedelta(days=8, hours=-1), **phone)]
    emails = [event(f"e{n}", "email_send", "email", timedelta(days=7 - n), email=EMAIL, campaign_id="cmp-news")
              for n in range(1, 6)]
    with TouchpointProducer(settings) as producer:
        # Who the person is, stitched first (a device seen for the first time may pass through a profile of its
        # own before identity links it: its changes go to that profile id).
        for record in logins:
            producer.send(record)
        producer.flush()
        answers: list = [None]

        def one_profile() -> bool:
            answers[0] = [_get(port, f"/identifiers/{who}/context/") for port in ports
                          for who in (f"email:{EMAIL}", "device_id:sg-phone")]
            return all(s == 200 and len(d["last_touches"]) == 2 for s, d in answers[0]) and len(
                {d["profile_id"] for _, d in answers[0]}) == 1

        wait_for(one_profile, timeout=90, what=lambda: f"one profile with both logins ({answers[0]})")
        profile = answers[0][0][1]["profile_id"]

        def caused(topic: Decisions, event_id: str) -> list[dict]:
            return [r for r in topic.caused_by(event_id) if r["profile_id"] == profile]

        wait_for(lambda: [r for r in segments.read() if r["profile_id"] == profile], timeout=30,
                 what="the person's first segment")
        for record in emails:  # each produced once its decision is on the topic
            producer.send(record)
            producer.flush()
            wait_for(lambda: caused(decisions, record["event_id"]), timeout=60, interval=0.02,
                     what=f"the decision {record['event_id']} causes")

        # The cart, 5 s short of an hour old when sent: cart_abandoner comes with no new touch, by the
        # segment ticks (every second here), once the hour is over.
        cart_at = datetime.now(timezone.utc) - timedelta(hours=1) + timedelta(seconds=5)
        producer.send({**event("cart", "add_to_cart", "app", timedelta(0), items=[item], currency="EUR", **phone),
                       "event_time": cart_at})
        producer.flush()
        wait_for(lambda: (_get(ports[0], f"/profiles/{profile}/context/")[1].get("open_cart") or {}).get("items"),
                 timeout=60, what="the cart in the profile")
        abandoned = wait_for(lambda: [r for r in segments.read() if r["profile_id"] == profile
                                      and r["segment"] == "cart_abandoner"], timeout=60, interval=0.05,
                             what="cart_abandoner entered by time alone")
        print(f"cart_abandoner entered {datetime.now(timezone.utc) - cart_at - timedelta(hours=1)} after the hour")

        producer.send({**event("buy", "purchase", "app", timedelta(0), items=[item], currency="EUR",
                               revenue="600.00", order_id="sg-order-1", **phone),
                       "event_time": datetime.now(timezone.utc)})
        producer.flush()
        wait_for(lambda: caused(segments, "sg-buy"), timeout=60, interval=0.02, what="the purchase's segments")
        wait_for(lambda: caused(decisions, "sg-buy"), timeout=30, interval=0.02, what="the VIP's email decision")

    mine = [r for r in segments.read() if r["profile_id"] == profile]
    segments.close()
    assert [(r["segment"], r["change"], r["version"]) for r in mine] == [
        ("new", "entered", 1),
        ("cart_abandoner", "entered", 1),
        ("vip", "entered", 1), ("cart_abandoner", "left", 2),  # one batch: in the definitions' order
    ]
    assert mine[0]["caused_by_event_id"] in ("sg-login-laptop", "sg-login-phone")
    assert [r["caused_by_event_id"] for r in mine[1:]] == [None, "sg-buy", "sg-buy"]  # None: time, not a touch
    cart_ms = cart_at.replace(microsecond=cart_at.microsecond // 1000 * 1000)  # as the topic carries it
    assert abandoned[0]["evaluated_at"] >= cart_ms + timedelta(hours=1)
    assert all(r["definitions_version"] == mine[0]["definitions_version"] for r in mine)

    # Contact decisions: the 5th email reached the cap; the purchase made a VIP, whose cap is 8.
    email = [d for d in decisions.read() if d["profile_id"] == profile and d["channel"] == "email"]
    decisions.close()
    assert [(d["caused_by_event_id"], d["allowed"], d["reason"], d["counts"]) for d in email][-2:] == [
        ("sg-e5", False, "cap:email:7d:5", {"7d": 5}), ("sg-buy", True, "within_caps", {"7d": 5})]

    # The HTTP context and check, on both workers, by profile and by identifier.
    for port in ports:
        for path in (f"/profiles/{profile}/context/", f"/identifiers/email:{EMAIL}/context/",
                     "/identifiers/device_id:sg-phone/context/"):
            status, got = _get(port, path)
            assert status == 200 and got["segments"] == ["new", "vip"], (port, path, got)
        status, got = _get(port, "/identifiers/user_id:sg-user/can_contact/email/")
        assert status == 200 and (got["allowed"], got["reason"], got["counts"]) == (True, "within_caps", {"7d": 5})

    # ClickHouse: the members now, and every change once.
    current: list = [None]

    def stored() -> bool:
        current[0] = client.query(
            f"SELECT segment, version, caused_by_event_id FROM {db}.segment_members_current WHERE profile_id = %(p)s"
            " ORDER BY segment", parameters={"p": profile}).result_rows
        return current[0] == [("new", 1, mine[0]["caused_by_event_id"]), ("vip", 1, "sg-buy")]

    wait_for(stored, timeout=60, what=lambda: f"the current members in ClickHouse ({current[0]})")
    assert client.query(f"SELECT segment, version, change FROM {db}.segment_memberships FINAL WHERE profile_id = %(p)s"
                        " ORDER BY segment, version", parameters={"p": profile}).result_rows == [
        ("cart_abandoner", 1, "entered"), ("cart_abandoner", 2, "left"), ("new", 1, "entered"), ("vip", 1, "entered")]

    # Every change counted in the metric, whichever worker emitted it.
    def changes(segment: str, change: str) -> float:
        total = 0.0
        labels = {f'segment="{segment}"', f'change="{change}"'}
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                total += sum(float(line.rsplit(" ", 1)[1]) for line in response.read().decode().splitlines()
                             if line.startswith("touchline_segment_changes_total{")
                             and labels <= set(line[line.index("{") + 1:line.index("}")].split(",")))
        return total

    assert changes("vip", "entered") >= 1 and changes("cart_abandoner", "left") >= 1
