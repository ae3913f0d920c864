"""The streaming session rule (state.py, through inprocess.SessionStream) against the batch reference.

Any arrival order ends at exactly the reference's sessions. Arrivals at most
the allowed lateness late write every session once, at version 1, with no
deletion: late touches join or merge sessions as if they had come in order.
Later touches re-emit with a higher version. A replayed input re-sends the
key's rows at their versions.
"""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sessions.inprocess import SessionStream
from streams.sessions.policy import HOUR_MS, MINUTE_MS, SessionPolicy
from streams.sessions.split import sessionize
from streams.sessions.state import add_touch
from streams.sessions.touches import Touch

POLICY = SessionPolicy(channel_timeout_ms={"store": HOUR_MS}, max_length_ms=3 * HOUR_MS)
T0 = int(datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc).timestamp() * 1000)
KEYS = ("anonymous_id:a1", "device_id:d2", "user_id:u3|email")


@st.composite
def touch_sets(draw) -> list[tuple[str, Touch]]:  # noqa: ANN001
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        # Minutes on a coarse grid hit the boundaries (gap exactly 30 or 60 min, 3 h cuts, midnight).
        minute = draw(st.one_of(st.integers(0, 16) .map(lambda m: m * 15), st.integers(0, 240)))
        out.append((draw(st.sampled_from(KEYS)), Touch(
            t=T0 + minute * MINUTE_MS + draw(st.sampled_from([0, 0, 1, -1])), event_id=f"e{i:02d}",
            event_type=draw(st.sampled_from(["page_view", "page_view", "purchase"])),
            channel=draw(st.sampled_from(["web", "app", "store", "email"])), device_type="mobile",
            campaign_id=None, source=None, medium=None, page_url=None,
            revenue_cents=draw(st.integers(0, 10_000)), profile_id="p-1", device=None)))
    return out


def reference(touches: list[tuple[str, Touch]]) -> dict[str, tuple]:
    out = {}
    for key in KEYS:
        for s in sessionize(key, [t for k, t in touches if k == key], POLICY):
            out[s.session_id] = (s.session_key, *s.digest(), s.landing.event_id)
    return out


def streamed(stream: SessionStream) -> dict[str, tuple]:
    return {sid: (row.session_key, *row.session.digest(), row.session.landing.event_id)
            for sid, row in stream.table.final().items()}


def run(arrivals: list[tuple[str, Touch]]) -> SessionStream:
    stream = SessionStream(POLICY)
    for key, touch in arrivals:
        stream.arrive(key, key.split("|")[0], touch)
    stream.finish()
    return stream


@settings(max_examples=300, deadline=None)
@given(touches=touch_sets(), data=st.data())
def test_any_arrival_order_ends_at_the_reference(touches, data) -> None:  # noqa: ANN001
    arrivals = data.draw(st.permutations(touches))
    assert streamed(run(arrivals)) == reference(touches)


@settings(max_examples=300, deadline=None)
@given(touches=touch_sets(), data=st.data())
def test_touches_within_the_allowed_lateness_write_each_session_once(touches, data) -> None:  # noqa: ANN001
    lateness = POLICY.allowed_lateness_ms
    delays = [data.draw(st.integers(0, lateness)) for _ in touches]
    arrivals = [kt for _, kt in sorted(zip(delays, touches), key=lambda d: (d[1][1].t + d[0], d[1][1].event_id))]
    stream = run(arrivals)
    assert streamed(stream) == reference(touches)
    assert stream.table.written == len(reference(touches))
    assert all(row.version == 1 and not row.deleted for row in stream.table.rows.values())


def test_a_touch_later_than_the_lateness_re_emits_the_session_with_a_higher_version() -> None:
    def web(minute: int, n: str) -> Touch:
        return Touch(T0 + minute * MINUTE_MS, n, "page_view", "web", "mobile", None, None, None, None, None,
                     "p-1", None)

    stream = SessionStream(POLICY)
    for minute, n in [(0, "a"), (10, "b"), (100, "c")]:  # (0-10) closes once 100 - 10 min lateness passes 40
        stream.arrive(KEYS[0], KEYS[0], web(minute, n))
    (first,) = [r for r in stream.table.rows.values() if r.session.start == T0]
    assert (first.version, first.session.touches) == (1, 2)
    stream.arrive(KEYS[0], KEYS[0], web(-5, "late"))  # 105 minutes late: becomes the session's first touch
    rows = stream.table.rows
    assert rows[first.session_id].deleted and rows[first.session_id].version == 2
    (moved,) = [r for r in stream.table.final().values() if r.session.start == T0 - 5 * MINUTE_MS]
    assert (moved.version, moved.session.touches) == (1, 3)
    stream.arrive(KEYS[0], KEYS[0], web(20, "late2"))  # extends it: same id, version 2
    assert (rows[moved.session_id].version, rows[moved.session_id].session.touches) == (2, 4)


def test_a_replayed_input_resends_the_keys_rows_at_their_versions() -> None:
    def web(minute: int, n: str) -> Touch:
        return Touch(T0 + minute * MINUTE_MS, n, "page_view", "web", "mobile", None, None, None, None, None,
                     "p-1", None)

    state, fx = add_touch(None, KEYS[0], KEYS[0], web(0, "a"), T0 + HOUR_MS, POLICY, ("e", 7))
    assert [(r.version, r.deleted) for r in fx.rows] == [(1, False)]
    state, again = add_touch(state, KEYS[0], KEYS[0], web(0, "a"), T0 + HOUR_MS, POLICY, ("e", 7))
    assert [(r.session_id, r.version) for r in again.rows] == [(r.session_id, r.version) for r in fx.rows]
    state, newer = add_touch(state, KEYS[0], KEYS[0], web(0, "a"), T0 + HOUR_MS, POLICY, ("e", 8))
    assert newer.rows == []  # a duplicate event at a new offset teaches nothing
