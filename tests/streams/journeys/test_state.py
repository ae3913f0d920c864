"""The journey stage's messages (routing.py -> state.py, through inprocess.JourneyNetwork) against the reference.

Identifiers send touches and move between profiles as the identity stage
would (its change versions, its move messages, replays included); messages
are delivered in any interleaving that keeps each profile's queue in order
(a Kafka partition). However they cross, the journeys table ends equal to the
batch reference: every touch with the final profile of its identifier.
"""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.journeys.build import journeys_of
from streams.journeys.inprocess import JourneyNetwork
from streams.journeys.routing import drop_message, move_messages, touch_message
from streams.journeys.state import apply, new_state
from streams.sessions.policy import DAY_MS, HOUR_MS, SessionPolicy
from streams.sessions.touches import Touch

POLICY = SessionPolicy(lookback_ms=3 * DAY_MS)
T0 = int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp() * 1000)
PROFILES = ("p-a", "p-b", "p-c")


class Identifier:
    """One identifier's side of the identity stage: its change version, stays and the messages it sends."""

    def __init__(self, name: str, profile: str) -> None:
        self.name, self.profile = name, profile
        self.state: dict | None = {"cv": 0}
        self.touches: list[tuple[Touch, str]] = []

    def touch(self, touch: Touch) -> list:
        (to, msg), _ = touch_message(self.state, self.name, self.profile, touch, f"{self.name}|web")
        self.touches.append((touch, f"{self.name}|web"))
        return [(to, msg)]

    def assign(self, profile: str) -> list:
        if profile == self.profile:
            return []
        self.state["cv"] += 1
        self.profile = profile
        change = {"kind": "assigned", "identifier": self.name, "profile_id": profile, "version": self.state["cv"]}
        return move_messages(self.name, self.state, [change])[0]

    def replay(self) -> list:
        change = {"kind": "assigned", "identifier": self.name, "profile_id": self.profile, "version": self.state["cv"]}
        return move_messages(self.name, self.state, [change])[0]

    def erase(self) -> list:
        sends = drop_message(self.name, self.state)
        self.state, self.touches = None, []
        return sends


@st.composite
def scripts(draw) -> tuple[list[Identifier], list[tuple[int, str, object]]]:  # noqa: ANN001
    identifiers = [Identifier(f"id:{i}", draw(st.sampled_from(PROFILES))) for i in range(draw(st.integers(1, 4)))]
    steps = []
    for n in range(draw(st.integers(1, 40))):
        who = draw(st.integers(0, len(identifiers) - 1))
        kind = draw(st.sampled_from(["touch", "touch", "touch", "assign", "replay", "erase"]))
        if kind == "touch":
            steps.append((who, "touch", Touch(
                t=T0 + draw(st.integers(0, 8 * 24)) * HOUR_MS, event_id=f"e{n:02d}",
                event_type=draw(st.sampled_from(["page_view", "page_view", "purchase"])),
                channel=draw(st.sampled_from(["web", "email"])), device_type="mobile", campaign_id=None,
                source=None, medium=None, page_url=None, revenue_cents=100, profile_id=None,
                device=draw(st.sampled_from([None, "device_id:d1", "device_id:d2"])))))
        elif kind == "assign":
            steps.append((who, "assign", draw(st.sampled_from(PROFILES))))
        elif kind == "erase" and draw(st.booleans()):
            steps.append((who, "erase", None))
        else:
            steps.append((who, "replay", None))
    return identifiers, steps


def reference(identifiers: list[Identifier]) -> dict[str, tuple]:
    out = {}
    for profile in PROFILES:
        touches = [t for i in identifiers if i.state is not None and i.profile == profile for t in i.touches]
        for j in journeys_of(profile, touches, POLICY):
            out[j.journey_id] = (j.profile_id, *map(str, j.digest()))
    return out


def streamed(network: JourneyNetwork) -> dict[str, tuple]:
    return {jid: (row.profile_id, *map(str, row.journey.digest())) for jid, row in network.table.final().items()}


@settings(max_examples=400, deadline=None)
@given(scripts(), st.data())
def test_any_interleaving_ends_at_the_reference(script, data) -> None:  # noqa: ANN001
    identifiers, steps = script
    network = JourneyNetwork(POLICY)
    erased: set[int] = set()
    for who, kind, arg in steps:
        ident = identifiers[who]
        if who in erased:
            continue  # an erased identifier is gone (a new one would be a new identity)
        sends = {"touch": lambda: ident.touch(arg), "assign": lambda: ident.assign(arg),
                 "replay": ident.replay, "erase": ident.erase}[kind]()
        if kind == "erase":
            erased.add(who)
        for profile, msg in sends:
            network.send(profile, msg)
        # Deliver some of what is queued, from any profile's queue, before the next step.
        while network.pending() and data.draw(st.booleans()):
            network.step(data.draw(st.sampled_from(sorted(network.pending()))))
    while network.pending():
        network.step(data.draw(st.sampled_from(sorted(network.pending()))))
    assert streamed(network) == reference(identifiers)


def test_a_touch_from_before_a_move_follows_the_identifier() -> None:
    """The move overtakes a touch sent before it (the touch went round another profile): it is sent on."""
    state = new_state("p-a")
    # The (empty) slot is sent on all the same: it revives a tombstone the identifier left at p-b.
    assert apply(state, {"op": "m", "ik": "id:1", "v": 2, "to": "p-b"}) == (
        [("p-b", {"op": "a", "ik": "id:1", "v": 2, "x": []})], True)
    touch = [[T0, "e1", "page_view", "web", "mobile", None, None, None, None, None, None, None], "id:1|web"]
    sends, changed = apply(state, {"op": "a", "ik": "id:1", "v": 1, "x": [touch]})
    assert sends == [("p-b", {"op": "a", "ik": "id:1", "v": 1, "x": [touch]})] and not changed
    # Tagged at or after the move: the identifier came back; kept here.
    assert apply(state, {"op": "t", "ik": "id:1", "v": 3, "x": touch}) == ([], True)
    assert apply(state, {"op": "m", "ik": "id:1", "v": 2, "to": "p-b"}) == ([], False)  # stale move
