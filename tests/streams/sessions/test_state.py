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


def rows_written(stream: SessionStream) -> list[tuple]:
    return sorted((r.session_id, r.version, r.deleted, tuple(map(str, r.session.digest())) if r.session else None)
                  for r in stream.table.log)


@settings(max_examples=300, deadline=None)
@given(touches=touch_sets(), data=st.data())
def test_the_archive_writes_exactly_the_rows_of_the_whole_history_rule(touches, data) -> None:  # noqa: ANN001
    # Any order, also far later than the lateness (thaws): same rows, same versions, as one value per key.
    arrivals = data.draw(st.permutations(touches))
    archived, whole = SessionStream(POLICY), SessionStream(POLICY, archive=False)
    for stream in (archived, whole):
        for key, touch in arrivals:
            stream.arrive(key, key.split("|")[0], touch)
        stream.finish()
    assert rows_written(archived) == rows_written(whole)
    assert streamed(archived) == reference(touches)


@settings(max_examples=200, deadline=None)
@given(touches=touch_sets(), data=st.data())
def test_a_replay_resends_the_same_rows_with_or_without_the_archive(touches, data) -> None:  # noqa: ANN001
    # A worker restarted from an older offset: entries up to what the state applied come again.
    arrivals = data.draw(st.permutations(touches))
    replay_from = data.draw(st.integers(0, len(arrivals) - 1))
    outputs = []
    for stream in (SessionStream(POLICY), SessionStream(POLICY, archive=False)):
        written = []
        states, newest = stream.states, -(2**62)
        for offset, (key, touch) in [*enumerate(arrivals), *list(enumerate(arrivals))[replay_from:]]:
            newest = max(newest, touch.t)
            state, fx = add_touch(states.get(key), key, key, touch, newest - POLICY.allowed_lateness_ms, POLICY,
                                  ("e", offset), cold=stream.cold)
            if fx.dirty:
                states.put(key, state)
            written += [(r.session_id, r.version, r.deleted) for r in fx.rows]
        outputs.append(sorted(written))
    assert outputs[0] == outputs[1]


def test_a_keys_value_holds_only_its_open_chains_whatever_its_history() -> None:
    stream, starts = SessionStream(POLICY), []
    for day in range(40):  # 40 days, 3 visits a day of 5 page views each
        for visit in range(3):
            starts.append(T0 + day * 24 * HOUR_MS + visit * 5 * HOUR_MS)
            for view in range(5):
                t = T0 + day * 24 * HOUR_MS + visit * 5 * HOUR_MS + view * MINUTE_MS
                stream.arrive(KEYS[0], KEYS[0], Touch(t, f"e{day}-{visit}-{view}", "page_view", "web", "mobile",
                                                       None, None, None, None, None, "p-1", None))
    value = stream.states.get(KEYS[0])
    assert len(value["t"]) == 5  # the last visit, still open
    assert stream.states.encoded_size(KEYS[0]) < 2_000
    days = sorted({t // (24 * HOUR_MS) for t in starts[:-1]})
    assert value["cd"][:2] == [days[0], days[-1]]
    assert all(f"~cold:{day}:{KEYS[0]}" in stream.states for day in days)  # a value per cold day
    cold_touches = sum(len(stream.states.get(f"~cold:{day}:{KEYS[0]}")["t"]) for day in days)
    assert cold_touches == 40 * 3 * 5 - 5
    assert len(stream.table.final()) == 40 * 3 - 1  # every closed visit written; the last one still open


def test_retention_drops_cold_days_whose_sessions_all_ended_before_the_horizon() -> None:
    policy = SessionPolicy(retention_ms=3 * 24 * HOUR_MS)
    stream = SessionStream(policy)
    for day in range(10):
        stream.arrive(KEYS[0], KEYS[0], Touch(T0 + day * 24 * HOUR_MS, f"e{day}", "page_view", "web", "mobile",
                                              None, None, None, None, None, "p-1", None))
    newest_day = (T0 + 9 * 24 * HOUR_MS) // (24 * HOUR_MS)
    assert stream.states.get(KEYS[0])["cd"][:2] == [newest_day - 3, newest_day - 1]  # day 9 is open: in the key's value
    kept = [day for day in range(newest_day - 10, newest_day + 1) if f"~cold:{day}:{KEYS[0]}" in stream.states]
    assert kept == [newest_day - 3, newest_day - 2, newest_day - 1]
