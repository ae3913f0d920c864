"""The partitioned protocol ends where the batch reference is, whatever the order, partitioning or crashes."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.identity.identifiers import erased_identifier
from streams.identity.inprocess import InProcessStitcher
from streams.identity.policy import IdentityPolicy
from streams.identity.reference import stitch

# A small universe, so random events collide into components, conflicts and shared identifiers.
KINDS = {
    "user_id": ["u1", "u2", "u3"],
    "loyalty_id": ["l1", "l2"],
    "email_sha256": ["e1", "e2", "e3", "e4"],
    "phone_sha256": ["p1", "p2"],
    "device_id": ["d1", "d2", "kiosk"],
    "anonymous_id": ["c1", "c2", "c3", "c4", "null"],
}
POLICY = IdentityPolicy(shared_after=3, max_identifiers_per_profile=6)

identifier_sets = st.dictionaries(
    st.sampled_from(sorted(KINDS)), st.integers(0, 4), min_size=1, max_size=3,
).map(lambda d: {k: KINDS[k][i % len(KINDS[k])] for k, i in d.items()})
event_lists = st.lists(st.tuples(identifier_sets, st.integers(0, 50)), min_size=1, max_size=40).map(
    lambda items: [{"event_id": f"ev{n}", "event_time": 1_700_000_000_000 + minute * 60_000, **ids}
                   for n, (ids, minute) in enumerate(items)]
)


@settings(max_examples=300, deadline=None)
@given(events=event_lists, seed=st.integers(0, 2**32 - 1), partitions=st.sampled_from([1, 3, 8]),
       crash_rate=st.sampled_from([0.0, 0.0, 0.2]), separate_inputs=st.booleans())
def test_streaming_profiles_equal_the_batch_reference(events, seed, partitions, crash_rate, separate_inputs):
    expected = stitch(events, POLICY)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    stitcher = InProcessStitcher(POLICY, partitions=partitions, seed=seed, crash_rate=crash_rate,
                                 separate_inputs=separate_inputs)
    stitcher.feed(shuffled)
    stitcher.run(max_steps=200_000)
    assert stitcher.assignment() == expected.profiles
    conflicts = {(c["identifier"], c["other_identifier"]) for c in stitcher.changes if c["kind"] == "conflict"}
    assert {(c.identifier, c.other) for c in expected.conflicts} <= conflicts


@settings(max_examples=200, deadline=None)
@given(events=event_lists, seed=st.integers(0, 2**32 - 1))
def test_batch_reference_does_not_depend_on_order(events, seed):
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert stitch(shuffled, POLICY) == stitch(events, POLICY)  # profiles and conflicts, exactly


def test_every_event_gets_a_profile_and_the_last_ones_get_the_final_one(event):
    policy = IdentityPolicy()
    events = [event(0, anonymous_id="c1"), event(1, anonymous_id="c1", user_id="u1")]
    stitcher = InProcessStitcher(policy, partitions=4, seed=1)
    stitcher.feed(events)
    stitcher.run()
    final = stitcher.assignment()
    assert final["anonymous_id:c1"] == final["user_id:u1"]
    assert set(stitcher.event_profiles) == {e["event_id"] for e in events}
    later = event(2, anonymous_id="c1")
    stitcher.feed([later])
    stitcher.run()
    assert stitcher.event_profiles[later["event_id"]] == final["user_id:u1"]


def test_assignment_changes_describe_every_move(event):
    stitcher = InProcessStitcher(IdentityPolicy(), partitions=2, seed=3)
    stitcher.feed([event(0, anonymous_id="c1"), event(1, anonymous_id="c1", user_id="u1")])
    stitcher.run()
    final = stitcher.assignment()
    last = {}
    for change in stitcher.changes:
        if change["kind"] == "assigned":
            assert change["previous_profile_id"] == last.get(change["identifier"])
            last[change["identifier"]] = change["profile_id"]
    assert last == final


def test_forget_removes_every_identifier_of_a_profile_and_the_rest_restitches(event):
    policy = IdentityPolicy()
    events = [
        event(0, user_id="u1", email_sha256="e1"),
        event(1, anonymous_id="c1", user_id="u1"),
        event(2, user_id="u2", anonymous_id="c2"),
    ]
    stitcher = InProcessStitcher(policy, partitions=3, seed=5)
    stitcher.feed(events)
    stitcher.run()
    profile = stitcher.assignment()["user_id:u1"]
    doomed = [i for i, p in stitcher.assignment().items() if p == profile]
    for identifier in doomed:
        stitcher.send({"op": "forget", "to": identifier, "request": "req-1"})
    stitcher.run()
    assert set(stitcher.assignment()) == {"user_id:u2", "anonymous_id:c2"}
    erased = [c for c in stitcher.changes if c["kind"] == "erased"]
    assert sorted(c["identifier"] for c in erased) == sorted(erased_identifier(i) for i in doomed)  # no value in the trail
    # The person comes back: a fresh profile, built from the new events only.
    stitcher.feed([event(10, anonymous_id="c1")])
    stitcher.run()
    assert stitcher.assignment()["anonymous_id:c1"] != profile
