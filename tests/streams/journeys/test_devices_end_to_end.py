"""A journey counts devices as a person uses them, through the real worker and store (issue 20).

One person: an ad click on the phone (its device_id), the app opened on the same
phone (device_id and the app's anonymous_id together: identity links them), a
login in the app (only the anonymous_id), an email open (no device), then the
desktop browser (a cookie) where the purchase happens. One phone and one
desktop: devices = 2, device types mobile then desktop (no `unknown` for the
email), cross-device. Before the fix the phone counted twice and the email
added `unknown`: devices = 3, ['mobile', 'unknown', 'desktop'].
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.produce import TouchpointProducer
from streams.topics import ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration


def test_one_phone_and_one_desktop_are_two_devices(settings_factory, worker_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    ensure_topics(settings)
    client, db = connect(settings), settings.clickhouse_database
    migrate(client, db)
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    phone, app_install, cookie, user = "idfa-7", "app-inst-7", "cookie-desk-7", "u-devices-7"
    touches = [
        {"channel": "paid_search", "event_type": "ad_click", "device_type": "mobile", "device_id": phone},
        {"channel": "app", "event_type": "app_open", "device_type": "mobile", "device_id": phone,
         "anonymous_id": app_install},
        {"channel": "app", "event_type": "login", "device_type": "mobile", "anonymous_id": app_install,
         "user_id": user},
        {"channel": "email", "event_type": "email_open", "user_id": user},
        {"channel": "web", "event_type": "login", "device_type": "desktop", "anonymous_id": cookie, "user_id": user},
        {"channel": "web", "event_type": "purchase", "device_type": "desktop", "anonymous_id": cookie,
         "user_id": user, "revenue": "42.00", "currency": "USD", "order_id": "o-devices-7"},
    ]
    producer = TouchpointProducer(settings)
    for i, touch in enumerate(touches):
        producer.send({"event_id": str(uuid.uuid4()), "event_time": start + timedelta(minutes=7 * i), **touch})
    producer.flush()
    worker_factory(settings, "worker")

    def converted() -> list[tuple]:
        return client.query(f"SELECT touches, devices, device_types, cross_device FROM {db}.journeys FINAL "
                            "WHERE converted = 1").result_rows

    # The phone's first two touches reach the user's profile by a move on another partition
    # (docs/design/journeys.md, section 2): a version without them may come first and is replaced.
    expected = [(len(touches), 2, ["mobile", "desktop"], True)]
    seen: list = []

    def converged() -> bool:
        seen[:] = converted()
        return seen == expected

    wait_for(converged, timeout=120, what=lambda: f"the converted journey {expected} (stored: {seen})")
    assert seen == expected
