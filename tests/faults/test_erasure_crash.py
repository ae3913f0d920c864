"""A worker dying in the middle of a GDPR erasure: the erasure still completes after the restart.

An erasure deletes the identifier's state, and with it everything a replay
could re-send from. The identity stage therefore delivers the erasure's
messages (the journeys' drop, unlinks, the ``erased`` change) before it writes
the deletion (streams/stages/identity.py). The failpoint
``identity.erasure.outputs_delivered`` (streams/failpoints.py) kills the worker
exactly between the two: the restarted worker must finish the erasure, so the
person's journeys leave ClickHouse and every identifier is recorded as erased.
With the writes the other way round (the deletion first), the replay found no
state and the person's journeys stayed for good.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.failpoints import EXIT_CODE
from streams.produce import TouchpointProducer
from streams.topics import ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

FAILPOINT = "identity.erasure.outputs_delivered"
EMAIL = "Erase.Me@Example.com"
IDENTIFIERS = 3  # user id, email, device id


def test_a_crash_between_an_erasures_messages_and_its_state_deletion(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory(failpoints=[FAILPOINT])
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    first = worker_factory(settings, "worker")
    now = datetime.now(timezone.utc)
    person = {"device_type": "desktop", "device_id": "er-laptop"}
    with TouchpointProducer(settings) as producer:
        producer.send({"event_id": "er-login", "event_type": "login", "channel": "web",
                       "event_time": now - timedelta(hours=3), "user_id": "er-user", "email": EMAIL, **person})
        for i in range(3):
            producer.send({"event_id": f"er-view-{i}", "event_type": "page_view", "channel": "web",
                           "event_time": now - timedelta(hours=2, minutes=-i), **person})
        producer.flush()

    def live_journeys() -> list[tuple]:
        return client.query(f"SELECT profile_id, touches FROM {db}.journeys FINAL WHERE NOT is_deleted").result_rows

    def erased() -> int:
        return client.query(f"SELECT uniqExact(identifier) FROM {db}.identity_changes "
                            "WHERE kind = 'erased'").result_rows[0][0]

    journeys = wait_for(lambda: [j for j in live_journeys() if j[1] == 4], timeout=120,
                        what=lambda: f"the person's journey of 4 touches in ClickHouse (have {live_journeys()})")
    assert len(journeys) == 1
    wait_for(lambda: client.query(f"SELECT count() FROM {db}.identity_current WHERE profile_id = %(p)s",
                                  parameters={"p": journeys[0][0]}).result_rows[0][0] == IDENTIFIERS,
             timeout=60, what="the person's identifiers in identity_current")

    done = subprocess.run([sys.executable, "-m", "infra.cli.main", "identity", "forget", f"email:{EMAIL}", "--yes"],
                          env=settings.to_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{IDENTIFIERS} identifiers" in done.stdout

    wait_for(lambda: not first.running, timeout=120, what="the worker to die at the failpoint")
    assert first.proc.returncode == EXIT_CODE
    assert f"failpoint {FAILPOINT} reached" in first.log_tail(200)

    worker_factory(settings.model_copy(update={"failpoints": []}), "worker")
    wait_for(lambda: not live_journeys() and erased() == IDENTIFIERS, timeout=180,
             what=lambda: f"the erasure to complete after the restart (live journeys {live_journeys()}, "
                          f"erased identifiers {erased()} of {IDENTIFIERS})")
