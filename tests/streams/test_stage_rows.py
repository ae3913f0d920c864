"""The session and journey rows the stages send to the sink read back as their Avro encodings would.

The stages send these records as compact rows (schemas/rows.py), deletions
included (whose records leave optional fields out, for the schema's default).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from schemas.rows import RowDecoder, RowEncoder, utc_now_millis
from schemas.wire import AvroDecoder, AvroEncoder
from streams.journeys.build import journeys_of
from streams.journeys.record import journey_record
from streams.journeys.state import JourneyRow
from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import SessionPolicy
from streams.sessions.record import session_record
from streams.sessions.touches import session_key, touch_of
from tests.streams.pipeline_checks import anchored_records


def _records(events: int) -> list[dict]:
    return anchored_records(events, seed=5, end=datetime(2026, 11, 20, tzinfo=timezone.utc))


def _same_both_ways(schema: str, records: list[dict]) -> None:
    rows, avro = (RowEncoder(schema), RowDecoder(schema)), (AvroEncoder(schema), AvroDecoder(schema))
    for record in records:
        assert rows[1].decode(rows[0].encode(record))[0] == avro[1].decode(avro[0].encode(record))[0], record


def test_session_rows_and_deletions_read_back_as_avro() -> None:
    rng, stream = random.Random(3), SessionStream(SessionPolicy())
    records = _records(1_500)
    for record in sorted(records, key=lambda r: r["event_time"] + timedelta(hours=2 * (rng.random() < 0.1))):
        stream.arrive(*session_key(record), touch_of(record))
    stream.finish()
    produced = stream.table.log
    assert any(row.deleted for row in produced) and any(not row.deleted for row in produced)
    _same_both_ways("session", [session_record(row, utc_now_millis()) for row in produced])


def test_journey_rows_and_deletions_read_back_as_avro() -> None:
    policy, by_profile = SessionPolicy(), {}
    for record in _records(1_500):
        touch = touch_of({**record, "profile_id": record["identity_key"]})
        by_profile.setdefault(record["identity_key"], []).append((touch, session_key(record)[0]))
    rows = []
    for profile, touches in by_profile.items():
        for journey in journeys_of(profile, touches, policy):
            rows.append(JourneyRow(journey.journey_id, profile, 1, False, journey.start, journey))
            rows.append(JourneyRow(journey.journey_id, profile, 2, True, journey.start, None))
    assert any(row.journey.converted for row in rows if row.journey)
    _same_both_ways("journey", [journey_record(row, utc_now_millis()) for row in rows])
