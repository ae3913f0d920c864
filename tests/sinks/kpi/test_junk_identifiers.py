"""KPIs count people and identifiers by identity's rule, through the real worker and store (issue 20).

SDKs send placeholders for a missing cookie ('undefined', 'null', '0'). Identity
ignores them as junk (streams/identity/policy.py); channel_summary counted them,
so 30 users who share the cookie 'undefined' showed as a handful of identifiers.
Here every event of N distinct users carries a junk cookie: channel_summary
must count N identifiers, and an event whose only identifier is junk none.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sinks import kpi
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.topics import ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

USERS = 30
JUNK_COOKIES = ("undefined", "null", "0", "00000")


def test_channel_summary_skips_junk_identifiers(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    now = datetime.now(timezone.utc)
    producer = TouchpointProducer(settings)
    events = 0
    for i in range(USERS):
        for j, cookie in enumerate(JUNK_COOKIES):
            producer.send({"event_id": str(uuid.uuid4()), "event_type": "page_view", "channel": "web",
                           "anonymous_id": cookie, "user_id": f"u-junk-{i}",
                           "event_time": now - timedelta(minutes=i * 5 + j)})
            events += 1
    for cookie in JUNK_COOKIES:  # nothing but junk: kept (an identifier is set), belongs to nobody
        producer.send({"event_id": str(uuid.uuid4()), "event_type": "page_view", "channel": "web",
                       "anonymous_id": cookie, "event_time": now - timedelta(minutes=1)})
        events += 1
    producer.flush()
    worker_factory(settings, "worker")
    wait_for(lambda: client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0] == events,
             timeout=120, what=f"{events} touchpoints stored")
    columns, rows = kpi.run(client, "channel_summary", db)
    summary = dict(zip(columns, rows[0]))
    assert (summary["channel"], summary["touches"], summary["identifiers"]) == ("web", events, USERS)
