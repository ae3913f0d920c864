"""Offer consistency and next-best-channel on the real broker: one person, 20% by email, then 50% by SMS.

Two workers with web servers and sinks; a contact policy that caps SMS at one
per 7 days. One person logs in on a laptop (user id, email address) and signs
up on a phone (user id, phone number): identity stitches them. They get the
spring sale at 20% by email twice (the first opened), and once that is in the
profile, the same sale at 50% by SMS on the phone number, which they click
(send and click produced together: the click may reach the journey stage
first, through another partition). ``<prefix>alerts.offers`` holds exactly one
conflict for the person, naming the second 20% email (the show just before)
and the 50% SMS (its send, or its click when that arrived first: one flip,
one alert); ``offer_conflicts`` FINAL holds exactly that row. The HTTP context on both
workers shows the 50% offer as the best (its latest show, the click) and as the last offer;
``next_best_channel`` by profile and by identifier, on both workers, ranks
email first (1 engaged of 2 contacts) and excludes SMS, capped, although its
one SMS was clicked.
"""

from __future__ import annotations

import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import start_web_workers
from tests.streams.test_contact_pressure import Decisions, _get, _iso

pytestmark = pytest.mark.integration

EMAIL, PHONE = "Offer.Person@Example.com", "+33698765432"
SPRING = "cmp-spring-sale"


def _drained(records: Decisions, topic: str) -> list[dict]:
    """Every record of the topic up to its end now (polls until each partition's position reaches it)."""
    consumer = records.consumer
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}

    def at_end() -> bool:
        records.read()
        positions = consumer.position([TopicPartition(topic, p) for p in partitions])
        return all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions)

    wait_for(at_end, timeout=30, what=f"reading {topic} to its end {ends}")
    return records.seen


def test_conflicting_offers_alert_once_and_every_channel_sees_the_best(settings_factory, worker_factory,  # noqa: ANN001
                                                                       tmp_path: Path) -> None:
    policy_file = tmp_path / "contact-policy.toml"
    policy_file.write_text('[channels.sms]\ncaps = [{window = "7d", max = 1}]\n')  # offers: the defaults (7d)
    settings = settings_factory(contact_policy_file=policy_file)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    ports, workers = start_web_workers(settings, worker_factory)
    topic = TopicNames.from_settings(settings).offer_alerts
    alerts = Decisions(settings, topic, schema="offer_conflict")
    now = datetime.now(timezone.utc)

    def event(name: str, event_type: str, channel: str, ago: timedelta, **fields: object) -> dict:
        return {"event_id": f"oc-{name}", "event_type": event_type, "channel": channel, "event_time": now - ago,
                **fields}

    def email_offer(name: str, event_type: str, ago: timedelta) -> dict:
        return event(name, event_type, "email", ago, email=EMAIL, campaign_id=SPRING, offer_id="off-spring-20",
                     discount_percent=20)

    def sms_offer(name: str, event_type: str, ago: timedelta, **fields: object) -> dict:
        return event(name, event_type, "sms", ago, phone=PHONE, campaign_id=SPRING, offer_id="off-spring-50",
                     discount_percent=50, **fields)

    def profile_touches(count: int) -> list:
        seen: list = [None]

        def arrived() -> bool:
            seen[0] = [_get(port, f"/identifiers/{who}/context/") for port in ports
                       for who in (f"email:{EMAIL}", f"phone:{PHONE}")]
            return all(s == 200 and len(d["last_touches"]) == count for s, d in seen[0]) and len(
                {d["profile_id"] for _, d in seen[0]}) == 1

        wait_for(arrived, timeout=90, what=lambda: f"one profile with {count} touches ({seen[0]})")
        return seen[0]

    with TouchpointProducer(settings) as producer:
        for record in (
            event("login-laptop", "login", "web", timedelta(days=6), device_type="desktop", device_id="oc-laptop",
                  user_id="oc-user", email=EMAIL),
            event("signup-phone", "signup", "app", timedelta(days=6) - timedelta(hours=1), device_type="mobile",
                  device_id="oc-phone", user_id="oc-user", phone=PHONE),
        ):
            producer.send(record)
        producer.flush()
        profile = profile_touches(2)[0][1]["profile_id"]
        # 20% by email, twice, the first opened (the open shows the same 20%: no conflict) ...
        for record in (email_offer("e1", "email_send", timedelta(days=5)),
                       email_offer("e1-open", "email_open", timedelta(days=5) - timedelta(hours=1)),
                       email_offer("e2", "email_send", timedelta(days=4))):
            producer.send(record)
        producer.flush()
        profile_touches(5)
        # ... then, once those are in the profile, 50% by SMS, clicked.
        for record in (sms_offer("s1", "sms_send", timedelta(days=2)),
                       sms_offer("s1-click", "sms_click", timedelta(days=2) - timedelta(minutes=5),
                                 device_type="mobile", device_id="oc-phone")):
            producer.send(record)
        sent = time.monotonic()
        producer.flush()
        wait_for(lambda: [a for a in alerts.read() if a["profile_id"] == profile], timeout=60, interval=0.01,
                 what="the offer conflict on the alerts topic")
        print(f"SMS produced -> offer alert read: {time.monotonic() - sent:.3f} s")
        profile_touches(7)

    # Exactly one alert for the person: the 20% email just before the 50% SMS, and the SMS.
    mine = [a for a in _drained(alerts, topic) if a["profile_id"] == profile]
    alerts.close()
    assert len(mine) == 1, [(a["first_event_id"], a["second_event_id"]) for a in mine]
    alert = mine[0]
    times = {name: (now - ago).replace(microsecond=(now - ago).microsecond // 1000 * 1000)
             for name, ago in (("e2", timedelta(days=4)), ("s1", timedelta(days=2)),
                               ("s1-click", timedelta(days=2) - timedelta(minutes=5)))}
    second = alert["second_event_id"].removeprefix("oc-")
    print(f"the alert names {second} as the second show")
    assert second in ("s1", "s1-click")
    assert {k: v for k, v in alert.items() if k not in ("conflict_id", "detected_at", "policy_version")} == {
        "profile_id": profile, "campaign_id": SPRING,
        "first_offer_id": "off-spring-20", "first_discount_percent": 20.0, "first_channel": "email",
        "first_event_type": "email_send", "first_shown_at": times["e2"], "first_event_id": "oc-e2",
        "second_offer_id": "off-spring-50", "second_discount_percent": 50.0, "second_channel": "sms",
        "second_event_type": "sms_send" if second == "s1" else "sms_click", "second_shown_at": times[second],
        "second_event_id": f"oc-{second}", "window": "7d"}
    assert alert["conflict_id"].startswith("oc-") and alert["detected_at"] >= now - timedelta(milliseconds=1)

    # Exactly one row in ClickHouse, with both offers.
    rows: list = [None]

    def stored() -> bool:
        rows[0] = client.query(
            f"SELECT conflict_id, first_offer_id, first_discount_percent, first_channel, first_event_id,"
            f" second_offer_id, second_discount_percent, second_channel, second_event_id,"
            f" toUnixTimestamp64Milli(second_shown_at)"
            f" FROM {db}.offer_conflicts FINAL WHERE profile_id = %(p)s", parameters={"p": profile}).result_rows
        return len(rows[0]) > 0

    wait_for(stored, timeout=60, what="the offer conflict in ClickHouse")
    assert [row[:9] for row in rows[0]] == [(alert["conflict_id"], "off-spring-20", 20.0, "email", "oc-e2",
                                             "off-spring-50", 50.0, "sms", f"oc-{second}")]
    assert rows[0][0][9] == int(times[second].timestamp() * 1000)

    # Every channel sees the same best offer: the 50% (the last offer shown is the SMS too).
    for port in ports:
        for path in (f"/profiles/{profile}/context/", f"/identifiers/email:{EMAIL}/context/"):
            status, doc = _get(port, path)
            assert status == 200, (path, doc)
            assert doc["best_offer"] == {"offer_id": "off-spring-50", "discount_percent": 50.0, "campaign_id": SPRING,
                                         "channel": "sms", "shown": _iso(times["s1-click"]),
                                         "event_id": "oc-s1-click",  # 50% twice: the latest shown
                                         "valid_until": _iso(times["s1-click"] + timedelta(days=7))}
            assert doc["last_offer"]["offer_id"] == "off-spring-50"
            assert doc["next_best_channel"]["channel"] == "email"

    # Next best channel: email (1 engaged of 2), push at the prior; SMS, clicked but capped, excluded.
    for port in ports:
        for path in (f"/profiles/{profile}/next_best_channel/", f"/identifiers/phone:{PHONE}/next_best_channel/",
                     "/identifiers/device_id:oc-laptop/next_best_channel/"):
            status, got = _get(port, path)
            assert status == 200, (path, got)
            assert (got["profile_id"], got["channel"], got["probability"]) == (profile, "email", round(2 / 6, 6))
            assert [(r["channel"], r["probability"], r["engaged"], r["contacts"], r["excluded"])
                    for r in got["ranking"]] == [
                ("email", round(2 / 6, 6), 1, 2, None), ("push", 0.25, 0, 0, None),
                ("sms", 0.4, 1, 1, "cap:sms:7d:1"),
                ("retargeting", None, 0, 0, "not_measured"), ("call_center", None, 0, 0, "not_measured")]
    status, got = _get(ports[1], "/identifiers/email:nobody-yet@example.com/next_best_channel/")
    assert status == 200 and (got["profile_id"], got["channel"], got["probability"]) == (None, "email", 0.25)
    assert _get(ports[0], "/identifiers/nonsense/next_best_channel/")[0] == 400

    # The conflict counted once in the metric, on whichever worker owns the profile.
    total = 0.0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("touchline_offer_conflicts_total "):
                    total += float(line.rsplit(" ", 1)[1])
    assert total == 1
