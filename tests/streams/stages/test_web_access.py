"""The workers' HTTP endpoints behind a bearer token, on the real broker (issue 22).

Two workers with TOUCHLINE_WORKER_WEB_TOKEN: a lookup without the token, or with
a wrong one, gets 401 and says what to send; with it, either worker answers,
including the one that has to forward the lookup to the key's owner (it sends the
token on). The probes and /metrics stay open. The servers listen on 127.0.0.1
only (TOUCHLINE_WORKER_WEB_BIND's default), and the token is in no log line.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from streams.produce import TouchpointProducer
from streams.topics import ensure_topics
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import start_web_workers

pytestmark = pytest.mark.integration

TOKEN = "tok-" + uuid.uuid4().hex


def _get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers),
                                    timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def test_lookups_need_the_token_and_workers_forward_it(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory(worker_web_token=TOKEN)
    ensure_topics(settings)
    ports, workers = start_web_workers(settings, worker_factory)
    user = f"u-{uuid.uuid4().hex[:8]}"
    with TouchpointProducer(settings) as producer:
        producer.send({"event_id": str(uuid.uuid4()), "event_time": datetime.now(timezone.utc) - timedelta(minutes=1),
                       "channel": "web", "event_type": "page_view", "device_type": "desktop", "user_id": user,
                       "anonymous_id": f"cookie-{user}"})
    path = f"/identifiers/user_id:{user}/context/"

    def answered_by_both() -> bool:
        return all(_get(port, path, TOKEN)[0] == 200 for port in ports)

    # One of the two owns the key: the other forwards the lookup, token included, or it would get a 401 back.
    wait_for(answered_by_both, timeout=90, what=lambda: f"both workers answering {path}: "
             f"{[_get(port, path, TOKEN) for port in ports]}")
    documents = {json.dumps({**json.loads(_get(port, path, TOKEN)[1]), "as_of": None}, sort_keys=True)
                 for port in ports}
    assert len(documents) == 1

    for port in ports:
        status, body = _get(port, path)
        assert status == 401 and "Authorization: Bearer" in body and "TOUCHLINE_WORKER_WEB_TOKEN" in body
        status, body = _get(port, path, "not-the-token")
        assert status == 401 and "wrong" in body
        assert _get(port, "/profiles/p-x/can_contact/email/")[0] == 401
        assert _get(port, "/")[0] == 401  # faust's own pages too
        assert _get(port, "/health")[0] == 200
        assert _get(port, "/ready")[0] != 401
        assert _get(port, "/metrics")[0] == 200
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, not every interface

    for worker in workers:
        worker.stop()
        assert TOKEN not in worker.log_path.read_text(errors="replace")
