"""Three workers on three hosts, each with its own address (issue 22): lookups reach the owner.

Each worker runs in its own network namespace (tests/netns.py: a bridge, addresses
10.77.0.11-13 made by this test), all on the same web port 6066, advertising its own
address (TOUCHLINE_WORKER_WEB_ADVERTISED_HOST), behind a bearer token; the broker runs
in the hub namespace beside them. With the advertised address hard-coded to
127.0.0.1 as before, every worker would advertise the same URL and a lookup
forwarded to a key's owner would go to the asking worker itself.

Every identifier's context, asked of every worker, is the profile the events made
(its identifiers and its touches), the same document from all three. Then one worker
is killed (SIGKILL): once its partitions have moved, the two left answer every lookup
the same way again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from infra.localkafka import LocalKafka
from streams.produce import TouchpointProducer
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.netns import HUB_ADDRESS, NetworkHosts
from tests.streams.pipeline_checks import wait_until_group_stable

pytestmark = pytest.mark.integration

HOSTS = 3
WEB_PORT = 6066
PEOPLE = 12
TOKEN = "tok-" + uuid.uuid4().hex


@pytest.fixture
def hosts() -> Iterator[NetworkHosts]:
    network = NetworkHosts(HOSTS)
    try:
        with network.inside():
            yield network
    finally:
        network.remove()


@pytest.fixture
def hub_broker(hosts: NetworkHosts, tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "kafka", host=HUB_ADDRESS)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _get(address: str, path: str) -> tuple[int, dict | str]:
    request = urllib.request.Request(f"http://{address}:{WEB_PORT}{path}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, str(exc)


def _view(doc: dict) -> tuple:
    """What must not depend on the worker asked: the profile, its identifiers and its touches."""
    return doc["profile_id"], tuple(doc["identifiers"]), tuple(t["event_id"] for t in doc["last_touches"])


def test_each_worker_on_its_own_host_and_lookups_reach_the_owner(hosts: NetworkHosts, hub_broker: LocalKafka,  # noqa: ANN001
                                                                 settings_factory, worker_factory,
                                                                 tmp_path: Path) -> None:
    settings = settings_factory(kafka_bootstrap_servers=hub_broker.bootstrap_servers, worker_web_token=TOKEN)
    ensure_topics(settings)
    workers = []
    for i, address in enumerate(hosts.addresses):
        host_settings = settings.model_copy(update={
            "worker_web_port": WEB_PORT, "worker_web_bind": address, "worker_web_advertised_host": address,
            "data_dir": tmp_path / f"host-{i}"})  # every host its own disk
        workers.append(worker_factory(host_settings, "worker", "--no-sink", wrapper=hosts.wrapper(i)))
    wait_until_group_stable(settings, members=HOSTS, procs=workers)

    start = datetime.now(timezone.utc) - timedelta(hours=2)
    expected: dict[str, tuple[set[str], list[str]]] = {}  # identifier -> (the profile's identifiers, event ids)
    with TouchpointProducer(settings) as producer:
        for n in range(PEOPLE):
            user, cookie = f"u-hosts-{n}", f"cookie-hosts-{n}"
            events = [str(uuid.uuid4()) for _ in range(3)]
            for i, event_id in enumerate(events):  # a visit, then a login: the cookie joins the user
                producer.send({"event_id": event_id, "event_time": start + timedelta(minutes=n * 10 + i),
                               "channel": "web", "event_type": ("page_view", "login", "page_view")[i],
                               "device_type": "desktop", "anonymous_id": cookie,
                               **({"user_id": user} if i else {})})
            identifiers = {f"user_id:{user}", f"anonymous_id:{cookie}"}
            for identifier in identifiers:
                expected[identifier] = (identifiers, events)

    def answers(addresses: list[str]) -> dict[tuple[str, str], tuple[int, dict | str]]:
        return {(identifier, address): _get(address, f"/identifiers/{identifier}/context/")
                for identifier in expected for address in addresses}

    def all_right(addresses: list[str]) -> dict:
        last.clear()
        last.update(answers(addresses))
        by_identifier: dict[str, set] = {}
        for (identifier, _), (status, doc) in last.items():
            if status != 200:
                return {}
            identifiers, events = expected[identifier]
            if set(doc["identifiers"]) != identifiers or {t["event_id"] for t in doc["last_touches"]} != set(events):
                return {}
            by_identifier.setdefault(identifier, set()).add(_view(doc))
        return by_identifier if all(len(views) == 1 for views in by_identifier.values()) else {}

    last: dict = {}

    def wrong() -> str:
        bad = {k: v for k, v in last.items() if v[0] != 200 or not isinstance(v[1], dict)}
        return f"every lookup answered with its profile ({len(bad)} of {len(last)} not: {list(bad.items())[:3]})"

    # Asked of each of the three hosts, every identifier: the owner's answer, the same from all.
    views = wait_for(lambda: all_right(hosts.addresses), timeout=120, what=wrong)
    profiles = {identifier: next(iter(v))[0] for identifier, v in views.items()}
    for n in range(PEOPLE):  # the cookie and the user are one profile
        assert profiles[f"user_id:u-hosts-{n}"] == profiles[f"anonymous_id:cookie-hosts-{n}"]
    assert len(set(profiles.values())) == PEOPLE

    # The group's routing table: each host under its own advertised URL, the partitions shared out.
    status, doc = _get(hosts.addresses[0], "/router/")
    assert status == 200, doc
    assert {url.rstrip("/") for url in doc} == {f"http://{a}:{WEB_PORT}" for a in hosts.addresses}, doc
    owned = sorted(p for topics in doc.values() for topic, parts in topics.items()
                   if topic.endswith("-journeys-changelog") for p in parts)
    assert owned == list(range(settings.input_partitions)), doc

    # One host dies: its partitions move, and the two left answer everything again, the same profiles.
    workers[2].kill()
    wait_until_group_stable(settings, members=HOSTS - 1, procs=workers[:2])
    views = wait_for(lambda: all_right(hosts.addresses[:2]), timeout=120, what=wrong)
    assert {identifier: next(iter(v))[0] for identifier, v in views.items()} == profiles
