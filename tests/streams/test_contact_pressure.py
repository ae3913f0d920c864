"""Contact pressure on the real broker: one person across two devices and two email addresses.

Two workers with web servers. The person logs in on a laptop (email A) and a
phone (email B), and gives a phone number: identity stitches them into one
profile. Then, over a week, 5 email sends (to A and to B) and 2 SMS sends, a
6th email send, and an SMS unsubscribe, each produced once the decision the
previous one caused is on the topic. ``decisions.contact`` shows, in the order
of the touches that caused them (never compared by time): emails 1-4 allowed,
after the 5th the 6th is suppressed by the cap (and stays so after it), the
SMS cap reached after the 2nd, emails never touching the SMS decision, and the
unsubscribe suppressing SMS at once. The HTTP check answers the same on both
workers, by profile and by any of the person's identifiers, and
``contact_decisions_latest`` in ClickHouse shows it. Finally the policy file
is edited and both workers apply it within seconds.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.wire import AvroDecoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.kafka_config import confluent_config
from streams.produce import TouchpointProducer
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import start_web_workers

pytestmark = pytest.mark.integration

EMAIL_A, EMAIL_B, PHONE = "Cap.Person@Example.com", "cap.person+shop@example.org", "+33612345678"
WEEK = timedelta(days=7)


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{urllib.parse.quote(path)}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Decisions:
    """Every message of the decisions topic so far, in each partition's order (a profile keeps to one).

    Any topic of records keyed by profile id does: ``schema`` names its Avro schema (tests/streams/test_realtime_segments.py).
    """

    def __init__(self, settings, topic: str, schema: str = "contact_decision") -> None:  # noqa: ANN001
        self.consumer = Consumer(confluent_config(settings, **{"group.id": f"{settings.app_id}-{schema}-test",
                                                               "enable.auto.commit": False}))
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self.decoder = AvroDecoder(schema)
        self.seen: list[dict] = []

    def read(self) -> list[dict]:
        for message in self.consumer.consume(500, timeout=0.05):
            if message.error() is None:
                record, _ = self.decoder.decode(message.value())
                assert message.key() == record["profile_id"].encode()
                self.seen.append(record)
        return self.seen

    def caused_by(self, event_id: str) -> list[dict]:
        return [d for d in self.read() if d["caused_by_event_id"] == event_id]

    def close(self) -> None:
        self.consumer.close()


def test_the_sixth_email_is_suppressed_across_devices_and_addresses(settings_factory, worker_factory,
                                                                     tmp_path: Path) -> None:  # noqa: ANN001
    policy_file = tmp_path / "contact-policy.toml"
    policy_file.write_text('[channels.email]\ncaps = [{window = "7d", max = 5}]\n')  # the default, spelt out
    settings = settings_factory(contact_policy_file=policy_file)
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    ports, workers = start_web_workers(settings, worker_factory)
    decisions = Decisions(settings, TopicNames.from_settings(settings).contact_decisions)
    now = datetime.now(timezone.utc)

    def event(name: str, event_type: str, channel: str, ago: timedelta, **fields: object) -> dict:
        return {"event_id": f"cp-{name}", "event_type": event_type, "channel": channel, "event_time": now - ago,
                **fields}

    with TouchpointProducer(settings) as producer:
        # Who the person is: two devices, two addresses and a phone number, linked by the user id.
        for record in (
            event("login-laptop", "login", "web", WEEK, device_type="desktop", device_id="cp-laptop",
                  user_id="cp-user", email=EMAIL_A),
            event("login-phone", "login", "app", WEEK - timedelta(hours=1), device_type="mobile",
                  device_id="cp-phone", user_id="cp-user", email=EMAIL_B),
            event("signup-phone", "signup", "app", WEEK - timedelta(hours=2), device_type="mobile",
                  device_id="cp-phone", user_id="cp-user", phone=PHONE),
        ):
            producer.send(record)
        producer.flush()
        stitched: list = [None]

        def one_profile() -> bool:
            answers = [_get(port, f"/identifiers/{who}/context/") for port in ports
                       for who in (f"email:{EMAIL_A}", f"email:{EMAIL_B}", f"phone:{PHONE}", "device_id:cp-laptop")]
            stitched[0] = answers
            return all(s == 200 and len(d["last_touches"]) == 3 for s, d in answers) and len(
                {d["profile_id"] for _, d in answers}) == 1

        wait_for(one_profile, timeout=90, what=lambda: f"one profile with the three touches ({stitched[0]})")
        profile = stitched[0][0][1]["profile_id"]

        # A week of contacts, each produced once the decision it causes is on the topic.
        contacts = [
            event("e1", "email_send", "email", timedelta(days=6), email=EMAIL_A, campaign_id="cmp-news"),
            event("s1", "sms_send", "sms", timedelta(days=5), phone=PHONE, campaign_id="cmp-sms"),
            event("e2", "email_send", "email", timedelta(days=4), email=EMAIL_B, campaign_id="cmp-news"),
            event("e3", "email_send", "email", timedelta(days=3), email=EMAIL_A, campaign_id="cmp-news"),
            event("s2", "sms_send", "sms", timedelta(days=2), phone=PHONE, campaign_id="cmp-sms"),
            event("e4", "email_send", "email", timedelta(days=1), email=EMAIL_B, campaign_id="cmp-news"),
            event("e5", "email_send", "email", timedelta(hours=2), email=EMAIL_A, campaign_id="cmp-news"),
            event("e6", "email_send", "email", timedelta(minutes=2), email=EMAIL_B, campaign_id="cmp-promo"),
            event("u1", "unsubscribe", "sms", timedelta(minutes=1), phone=PHONE,
                  properties={"reason": "too_many_messages"}),
        ]
        latency = {}
        for record in contacts:
            sent = time.monotonic()
            producer.send(record)
            producer.flush()
            wait_for(lambda: decisions.caused_by(record["event_id"]), timeout=60, interval=0.01,
                     what=f"a decision caused by {record['event_id']}")
            latency[record["event_id"]] = time.monotonic() - sent
    print(f"touch produced -> decision read, seconds: {json.dumps({k: round(v, 3) for k, v in latency.items()})}")

    order = {record["event_id"]: n for n, record in enumerate(contacts)}
    mine = [d for d in decisions.read() if d["profile_id"] == profile]
    decisions.close()
    # In the order of the touches that caused them.
    causes = [order[d["caused_by_event_id"]] for d in mine]
    assert causes == sorted(causes), causes
    email = [d for d in mine if d["channel"] == "email"]
    sms = [d for d in mine if d["channel"] == "sms"]
    assert {d["channel"] for d in mine} == {"email", "sms"}  # push, retargeting, call center: nothing changed
    assert [d["caused_by_event_id"] for d in email] == [f"cp-e{n}" for n in range(1, 7)]
    assert [d["version"] for d in email] == list(range(1, 7))
    assert [(d["allowed"], d["reason"], d["counts"]) for d in email] == [
        (True, "within_caps", {"7d": 1}), (True, "within_caps", {"7d": 2}), (True, "within_caps", {"7d": 3}),
        (True, "within_caps", {"7d": 4}),  # so the 5th email may go out
        (False, "cap:email:7d:5", {"7d": 5}),  # the 6th may not ...
        (False, "cap:email:7d:5", {"7d": 6}),  # ... and once sent anyway, still not
    ]
    times = {record["event_id"]: record["event_time"] for record in contacts}
    assert email[4]["next_allowed_at"] == (times["cp-e1"] + WEEK).replace(microsecond=times["cp-e1"].microsecond
                                                                          // 1000 * 1000)
    assert email[5]["next_allowed_at"] == (times["cp-e2"] + WEEK).replace(microsecond=times["cp-e2"].microsecond
                                                                          // 1000 * 1000)
    # SMS: at its cap after the 2nd, untouched by the emails, then unsubscribed at once.
    assert [(d["caused_by_event_id"], d["allowed"], d["reason"], d["counts"]) for d in sms] == [
        ("cp-s1", True, "within_caps", {"7d": 1}), ("cp-s2", False, "cap:sms:7d:2", {"7d": 2}),
        ("cp-u1", False, "unsubscribed:sms", {"7d": 2})]
    assert sms[-1]["next_allowed_at"] is None
    policy_version = email[-1]["policy_version"]

    # The HTTP check answers the same, on both workers, by profile and by any identifier.
    expected_email = {"profile_id": profile, "channel": "email", "allowed": False, "reason": "cap:email:7d:5",
                      "counts": {"7d": 6}, "next_allowed_at": _iso(email[5]["next_allowed_at"]),
                      "policy_version": policy_version}
    for port in ports:
        for path in (f"/profiles/{profile}/can_contact/email/", f"/identifiers/email:{EMAIL_B}/can_contact/email/",
                     f"/identifiers/phone:{PHONE}/can_contact/email/", "/identifiers/device_id:cp-phone/can_contact/email/"):
            assert _get(port, path) == (200, expected_email), path
        status, got = _get(port, f"/identifiers/email:{EMAIL_A}/can_contact/sms/")
        assert status == 200 and (got["allowed"], got["reason"], got["next_allowed_at"]) == (
            False, "unsubscribed:sms", None)
        assert _get(port, f"/profiles/{profile}/can_contact/push/")[1]["allowed"] is True
    status, got = _get(ports[1], f"/profiles/{profile}/can_contact/fax/")
    assert status == 400 and "email, sms, push, retargeting, call_center" in got["error"]
    status, got = _get(ports[0], "/identifiers/email:someone-new@example.com/can_contact/email/")
    assert status == 200 and (got["allowed"], got["reason"], got["profile_id"]) == (True, "no_contacts_on_record",
                                                                                     None)
    assert _get(ports[1], "/profiles/p-nobody/can_contact/sms/")[1]["reason"] == "no_contacts_on_record"
    assert _get(ports[1], "/identifiers/nonsense/can_contact/sms/")[0] == 400

    # ClickHouse: the latest decision per channel (an allowed or unsubscribed one shows no stale next_allowed_at).
    latest: list = [None]

    def stored() -> bool:
        latest[0] = client.query(
            f"SELECT channel, version, allowed, reason, counts, next_allowed_at IS NULL, caused_by_event_id"
            f" FROM {db}.contact_decisions_latest WHERE profile_id = %(p)s ORDER BY channel",
            parameters={"p": profile}).result_rows
        return latest[0] == [("email", 6, 0, "cap:email:7d:5", {"7d": 6}, 0, "cp-e6"),
                             ("sms", 3, 0, "unsubscribed:sms", {"7d": 2}, 1, "cp-u1")]

    wait_for(stored, timeout=60, what=lambda: f"the latest decisions in ClickHouse ({latest[0]})")
    assert client.query(f"SELECT count() FROM {db}.contact_decisions FINAL WHERE profile_id = %(p)s",
                        parameters={"p": profile}).result_rows[0][0] == len(mine)

    # Every decision counted in the metric (topic decisions and HTTP answers), whichever worker made it.
    def suppressed_by_cap() -> float:
        total = 0.0
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                for line in response.read().decode().splitlines():
                    if line.startswith('touchline_suppression_decisions_total{channel="email",decision="suppress_cap"}'):
                        total += float(line.rsplit(" ", 1)[1])
        return total

    assert suppressed_by_cap() >= 2 + 2 * 4  # e5's and e6's decisions, and the eight HTTP answers above

    # The policy file changes: both workers apply it within seconds (no restart).
    policy_file.write_text('[channels.email]\ncaps = [{window = "7d", max = 10}]\n')
    os.utime(policy_file)
    for port in ports:
        wait_for(lambda: _get(port, f"/profiles/{profile}/can_contact/email/")[1]["allowed"] is True, timeout=30,
                 what=f"worker on {port} applying the edited policy")
