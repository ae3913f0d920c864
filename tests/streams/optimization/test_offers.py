"""Offer consistency, list in / conflicts out: what conflicts, window edges, best offer, emission once per conflict."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from schemas.models import OfferConflict
from schemas.wire import AvroDecoder, AvroEncoder
from streams.journeys.context import _iso
from streams.journeys.state import apply, new_state
from streams.optimization import offer_alerts
from streams.optimization.offers import OfferShow, best_offer, conflict_id, conflicts, offer_shows, offer_view
from streams.optimization.policy import DEFAULT_POLICY, parse_policy
from streams.sessions.touches import Touch

HOUR, DAY = 3_600_000, 86_400_000
WEEK = 7 * DAY
NOW = int(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
OFFERS = DEFAULT_POLICY.offers  # window 7d, valid for 7d, every touch with an offer shows it
SPRING = "cmp-spring-sale"


def show(t: int, eid: str, offer: str | None, discount: float | None = None, channel: str = "email",
         campaign: str | None = SPRING, event_type: str | None = None) -> tuple[Touch, dict | None]:
    touch = Touch(t, eid, event_type or f"{channel}_send", channel, "unknown", campaign, None, None, None, None,
                  None, None)
    extra = None if offer is None else {"o": offer, **({} if discount is None else {"d": discount})}
    return touch, extra


def split(shows: list[tuple[Touch, dict | None]]) -> tuple[list[Touch], dict[str, dict]]:
    return [t for t, _ in shows], {t.event_id: x for t, x in shows if x}


def found(shows: list, policy=OFFERS) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(c.first.event_id, c.second.event_id) for c in conflicts(*split(shows), policy)]


# -- conflicts -------------------------------------------------------------------------------------------------

def test_twenty_by_email_then_fifty_by_sms_is_one_conflict_naming_both() -> None:
    shows = [show(NOW - 2 * DAY, "e1", "off-spring-20", 20.0), show(NOW - DAY, "s1", "off-spring-50", 50.0, "sms")]
    (conflict,) = conflicts(*split(shows), OFFERS)
    assert conflict.first == OfferShow(NOW - 2 * DAY, "e1", "off-spring-20", 20.0, "email", SPRING, "email_send")
    assert conflict.second == OfferShow(NOW - DAY, "s1", "off-spring-50", 50.0, "sms", SPRING, "sms_send")
    assert conflict.conflict_id == conflict_id(conflict.first, conflict.second) and conflict.campaign_id == SPRING
    assert conflict.conflict_id.startswith("oc-") and len(conflict.conflict_id) == 23


def test_the_offer_flipping_is_the_conflict_not_every_repeat() -> None:
    shows = [show(NOW - 5 * DAY, "e1", "off-spring-20", 20.0),
             show(NOW - 4 * DAY, "s1", "off-spring-50", 50.0, "sms"),  # flips: conflict
             show(NOW - 3 * DAY, "e2", "off-spring-20", 20.0),  # flips back: conflict
             show(NOW - 3 * DAY + HOUR, "e2-open", "off-spring-20", 20.0, event_type="email_open"),  # same: none
             show(NOW - 3 * DAY + 2 * HOUR, "e2-click", "off-spring-20", 20.0, event_type="email_click"),
             show(NOW - DAY, "s2", "off-spring-50", 50.0, "sms")]  # flips again
    assert found(shows) == [("e1", "s1"), ("s1", "e2"), ("e2-click", "s2")]


def test_other_campaigns_touches_without_offers_and_equal_offers_do_not_conflict() -> None:
    shows = [show(NOW - 3 * DAY, "e1", "off-spring-20", 20.0),
             show(NOW - 2 * DAY, "l1", "off-loyal-15", 15.0, campaign="cmp-loyalty-weekend"),  # another campaign
             show(NOW - 2 * DAY, "p1", None, channel="web", event_type="page_view"),  # no offer
             show(NOW - DAY, "d1", "off-spring-20", 20.0, "display", event_type="ad_impression"),  # the same offer
             show(NOW - HOUR, "l2", "off-loyal-25", 25.0, "push", campaign="cmp-loyalty-weekend")]
    assert found(shows) == [("l1", "l2")]


def test_same_offer_id_with_another_discount_conflicts_an_unknown_discount_does_not() -> None:
    assert found([show(NOW - DAY, "a", "off-x", 10.0), show(NOW, "b", "off-x", 30.0, "sms")]) == [("a", "b")]
    assert found([show(NOW - DAY, "a", "off-x", 10.0), show(NOW, "b", "off-x", None, "sms")]) == []
    # Without a campaign, an offer is its own scope: two offer ids never meet, one id with two discounts does.
    assert found([show(NOW - DAY, "a", "off-x", 10.0, campaign=None),
                  show(NOW, "b", "off-y", 30.0, campaign=None)]) == []
    assert found([show(NOW - DAY, "a", "off-x", 10.0, campaign=None),
                  show(NOW, "b", "off-x", 30.0, campaign=None)]) == [("a", "b")]


def test_window_edges_to_the_millisecond() -> None:
    first = show(NOW - WEEK, "e1", "off-spring-20", 20.0)
    assert found([first, show(NOW - 1, "s1", "off-spring-50", 50.0, "sms")]) == [("e1", "s1")]  # 7d - 1 ms apart
    assert found([first, show(NOW, "s1", "off-spring-50", 50.0, "sms")]) == []  # exactly 7 days apart: no conflict
    day = parse_policy('[offers]\nwindow = "24h"\n').offers
    assert found([first, show(NOW - WEEK + DAY - 1, "s1", "off-spring-50", 50.0, "sms")], day) == [("e1", "s1")]
    assert found([first, show(NOW - WEEK + DAY, "s1", "off-spring-50", 50.0, "sms")], day) == []


def test_same_millisecond_orders_by_event_id() -> None:
    got = conflicts(*split([show(NOW, "b", "off-spring-50", 50.0, "sms"), show(NOW, "a", "off-spring-20", 20.0)]),
                    OFFERS)
    assert [(c.first.event_id, c.second.event_id) for c in got] == [("a", "b")]


def test_show_events_restricts_what_shows_an_offer() -> None:
    sends = parse_policy('[offers]\nshow_events = ["email_send", "sms_send"]\n').offers
    shows = [show(NOW - DAY, "e1", "off-spring-20", 20.0),
             show(NOW - HOUR, "c1", "off-spring-50", 50.0, "sms", event_type="sms_click"),  # not a show here
             show(NOW, "s1", "off-spring-50", 50.0, "sms")]
    assert found(shows, sends) == [("e1", "s1")]
    assert found(shows) == [("e1", "c1")]  # by default every offer touch shows it


def test_a_touch_held_twice_is_one_show() -> None:
    touches, extras = split([show(NOW - DAY, "e1", "off-spring-20", 20.0), show(NOW, "s1", "off-spring-50", 50.0)])
    assert len(offer_shows(touches + touches, extras, OFFERS)) == 2
    assert len(conflicts(touches + touches[::-1], extras, OFFERS)) == 1


# -- best offer ------------------------------------------------------------------------------------------------

def test_best_offer_is_the_highest_valid_discount() -> None:
    shows = [show(NOW - 3 * DAY, "s1", "off-spring-50", 50.0, "sms"), show(NOW - DAY, "e1", "off-spring-20", 20.0),
             show(NOW - HOUR, "l1", "off-loyal-15", 15.0, campaign="cmp-loyalty-weekend")]
    best = best_offer(*split(shows), NOW, OFFERS)
    assert (best.offer_id, best.discount, best.channel) == ("off-spring-50", 50.0, "sms")
    assert best_offer(*split(shows), NOW, OFFERS, campaign_id="cmp-loyalty-weekend").offer_id == "off-loyal-15"
    assert best_offer(*split(shows), NOW, OFFERS, campaign_id="cmp-none") is None
    assert offer_view(best, OFFERS, _iso) == {
        "offer_id": "off-spring-50", "discount_percent": 50.0, "campaign_id": SPRING, "channel": "sms",
        "shown": _iso(NOW - 3 * DAY), "event_id": "s1", "valid_until": _iso(NOW - 3 * DAY + WEEK)}


def test_best_offer_validity_edges_to_the_millisecond() -> None:
    shows = [show(NOW - WEEK, "s1", "off-spring-50", 50.0, "sms"), show(NOW - DAY, "e1", "off-spring-20", 20.0)]
    assert best_offer(*split(shows), NOW - 1, OFFERS).offer_id == "off-spring-50"  # 7d - 1 ms old: valid
    assert best_offer(*split(shows), NOW, OFFERS).offer_id == "off-spring-20"  # exactly 7 days old: expired
    assert best_offer(*split(shows), NOW + WEEK - DAY, OFFERS) is None  # nothing valid any more


def test_best_offer_ties_go_to_the_latest_shown_and_no_discount_ranks_last() -> None:
    shows = [show(NOW - 2 * DAY, "b", "off-a", 25.0, "sms"), show(NOW - DAY, "a", "off-b", 25.0, "push"),
             show(NOW - HOUR, "z", "off-c", None, "web", event_type="offer_view")]
    assert best_offer(*split(shows), NOW, OFFERS).event_id == "a"  # 25% twice: the one shown last
    same_ms = [show(NOW - DAY, "b", "off-a", 25.0, "sms"), show(NOW - DAY, "a", "off-b", 25.0, "push")]
    assert best_offer(*split(same_ms), NOW, OFFERS).event_id == "b"  # and at the same ms, the larger event id
    assert best_offer(*split(shows[2:]), NOW, OFFERS).offer_id == "off-c"  # an offer without discount still counts


# -- properties ------------------------------------------------------------------------------------------------

OFFER_CHOICES = [("off-spring-20", 20.0), ("off-spring-50", 50.0), ("off-spring-50", 45.0), ("off-x", None)]
shows_strategy = st.lists(
    st.tuples(st.integers(min_value=-3 * WEEK, max_value=0), st.sampled_from(OFFER_CHOICES),
              st.sampled_from([SPRING, "cmp-loyalty-weekend", None]), st.sampled_from(["email", "sms", "push"])),
    max_size=25)


def _build(spec: list) -> list:
    return [show(NOW + t, f"e{n:02d}", offer, discount, channel, campaign)
            for n, (t, (offer, discount), campaign, channel) in enumerate(spec)]


@settings(max_examples=300, deadline=None)
@given(spec=shows_strategy, seed=st.integers(0, 10_000))
def test_arrival_order_never_matters(spec: list, seed: int) -> None:
    shows = _build(spec)
    shuffled = shows[:]
    random.Random(seed).shuffle(shuffled)
    touches, extras = split(shows)
    again, extras_again = split(shuffled)
    assert conflicts(touches, extras, OFFERS) == conflicts(again, extras_again, OFFERS)
    assert best_offer(touches, extras, NOW, OFFERS) == best_offer(again, extras_again, NOW, OFFERS)


@settings(max_examples=300, deadline=None)
@given(spec=shows_strategy)
def test_conflicts_are_exactly_flips_within_the_window(spec: list) -> None:
    touches, extras = split(_build(spec))
    shows = offer_shows(touches, extras, OFFERS)
    expected = set()
    for i, later in enumerate(shows):
        earlier = [s for s in shows[:i] if s.scope == later.scope]
        if earlier and later.t - earlier[-1].t < WEEK and (
                earlier[-1].offer_id != later.offer_id
                or None not in (earlier[-1].discount, later.discount) and earlier[-1].discount != later.discount):
            expected.add((earlier[-1].event_id, later.event_id))
    assert {(c.first.event_id, c.second.event_id) for c in conflicts(touches, extras, OFFERS)} == expected


@settings(max_examples=300, deadline=None)
@given(spec=shows_strategy)
def test_best_offer_is_a_valid_show_no_other_valid_show_beats(spec: list) -> None:
    touches, extras = split(_build(spec))
    best = best_offer(touches, extras, NOW, OFFERS)
    valid = [s for s in offer_shows(touches, extras, OFFERS) if NOW - WEEK < s.t]
    assert (best is None) == (not valid)
    if best is not None:
        assert best in valid
        rank = (lambda s: -1.0 if s.discount is None else s.discount)  # noqa: E731
        assert all(rank(s) < rank(best) or (rank(s) == rank(best) and (s.t, s.event_id) <= (best.t, best.event_id))
                   for s in valid)


# -- emission: each new conflict once, replays repeat the same ids ---------------------------------------------

def _state_of(shows: list) -> dict:
    state = new_state("p-1")
    for touch, extra in shows:
        ik = f"{touch.channel}:id"
        apply(state, {"op": "t", "ik": ik, "v": 0, "x": [list(touch), ik] + ([extra] if extra else [])})
    return state


def test_each_conflict_is_emitted_once_and_a_replay_repeats_it() -> None:
    at = datetime(2026, 11, 20, 12, 0, 1, tzinfo=timezone.utc)
    state = _state_of([show(NOW - 2 * DAY, "e1", "off-spring-20", 20.0)])
    assert offer_alerts.changed_records(state, at, DEFAULT_POLICY) == [] and "oa" not in state
    sms, extra = show(NOW - DAY, "s1", "off-spring-50", 50.0, "sms")
    apply(state, {"op": "t", "ik": "sms:id", "v": 0, "x": [list(sms), "sms:id", extra]})
    before = {**state, "oa": list(state.get("oa", []))}
    (record,) = offer_alerts.changed_records(state, at, DEFAULT_POLICY)
    assert record == {
        "conflict_id": state["oa"][0][0], "profile_id": "p-1", "campaign_id": SPRING,
        "first_offer_id": "off-spring-20", "first_discount_percent": 20.0, "first_channel": "email",
        "first_event_type": "email_send", "first_shown_at": NOW - 2 * DAY, "first_event_id": "e1",
        "second_offer_id": "off-spring-50", "second_discount_percent": 50.0, "second_channel": "sms",
        "second_event_type": "sms_send", "second_shown_at": NOW - DAY, "second_event_id": "s1",
        "window": "7d", "detected_at": at, "policy_version": DEFAULT_POLICY.version}
    assert offer_alerts.changed_records(state, at, DEFAULT_POLICY) == []  # known: never again
    # The worker died before writing the state: the replay recomputes the same record.
    assert offer_alerts.changed_records(before, at, DEFAULT_POLICY) == [record]
    # The Avro record round-trips and validates.
    decoded, _ = AvroDecoder("offer_conflict").decode(AvroEncoder("offer_conflict").encode(record))
    model = OfferConflict.from_avro(decoded)
    assert model.second_shown_at == datetime.fromtimestamp((NOW - DAY) / 1000, timezone.utc)
    assert model.first_discount_percent == 20.0 and model.conflict_id == record["conflict_id"]


def _arrive(shows: list, cut: int) -> tuple[dict, list[dict]]:
    """The shows arriving in batches of ``cut``: (the final state, every record emitted)."""
    state, emitted = new_state("p-1"), []
    for start in range(0, len(shows), cut):
        for touch, extra in shows[start:start + cut]:
            ik = f"{touch.channel}:id"
            apply(state, {"op": "t", "ik": ik, "v": 0, "x": [list(touch), ik] + ([extra] if extra else [])})
        emitted += offer_alerts.changed_records(state, datetime.now(timezone.utc), DEFAULT_POLICY)
    return state, emitted


def test_a_click_arriving_before_its_send_is_one_flip_one_alert() -> None:
    email = show(NOW - 3 * DAY, "e1", "off-spring-20", 20.0)
    send = show(NOW - DAY, "s1", "off-spring-50", 50.0, "sms")
    click = show(NOW - DAY + 5 * 60_000, "s1-click", "off-spring-50", 50.0, "sms", event_type="sms_click")
    _, in_order = _arrive([email, send, click], 1)
    assert [(r["first_event_id"], r["second_event_id"]) for r in in_order] == [("e1", "s1")]
    state, click_first = _arrive([email, click, send], 1)  # the click's partition was faster
    assert [(r["first_event_id"], r["second_event_id"]) for r in click_first] == [("e1", "s1-click")]
    assert [entry[1:3] for entry in state["oa"]] == [["e1", "s1"]]  # what the touches say now, remembered
    # A late 20% open between the email and the SMS: the same flip again, not a new alert.
    late_open = show(NOW - 2 * DAY, "e1-open", "off-spring-20", 20.0, event_type="email_open")
    _, with_late_open = _arrive([email, send, click, late_open], 1)
    assert len(with_late_open) == 1
    # A real flip back (20% again after the 50%) is a new alert.
    _, back = _arrive([email, send, show(NOW - HOUR, "e2", "off-spring-20", 20.0)], 1)
    assert [(r["first_event_id"], r["second_event_id"]) for r in back] == [("e1", "s1"), ("s1", "e2")]


@settings(max_examples=150, deadline=None)
@given(spec=shows_strategy, cut=st.integers(1, 6))
def test_in_event_time_order_every_conflict_is_emitted_once(spec: list, cut: int) -> None:
    shows = sorted(_build(spec), key=lambda s: (s[0].t, s[0].event_id))
    state, emitted = _arrive(shows, cut)
    final = [c.conflict_id for c in conflicts(*split(shows), OFFERS)]
    assert [r["conflict_id"] for r in emitted] == final
    assert [entry[0] for entry in state.get("oa", [])] == final


@settings(max_examples=150, deadline=None)
@given(spec=shows_strategy, seed=st.integers(0, 10_000), cut=st.integers(1, 6))
def test_in_any_arrival_order_ids_are_unique_and_every_flip_alerted(spec: list, seed: int, cut: int) -> None:
    shows = _build(spec)
    random.Random(seed).shuffle(shows)
    state, emitted = _arrive(shows, cut)
    ids = [r["conflict_id"] for r in emitted]
    assert len(ids) == len(set(ids))
    final = conflicts(*split(shows), OFFERS)
    # Every conflict of the final touches was alerted, or its flip was, through other touches of the same shows.
    alerted = {(r["campaign_id"], r["first_offer_id"], r["first_discount_percent"], r["second_offer_id"],
                r["second_discount_percent"]) for r in emitted}
    for c in final:
        assert (c.campaign_id, c.first.offer_id, c.first.discount, c.second.offer_id, c.second.discount) in alerted
    assert [entry[0] for entry in state.get("oa", [])] == [c.conflict_id for c in final]


def test_the_registry_is_bounded(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(offer_alerts, "MAX_REMEMBERED", 3)
    flips = [show(NOW - 10 * HOUR + n * HOUR, f"e{n}", "off-spring-20" if n % 2 else "off-spring-50",
                  20.0 if n % 2 else 50.0) for n in range(8)]
    state = _state_of(flips)
    records = offer_alerts.changed_records(state, datetime.now(timezone.utc), DEFAULT_POLICY)
    assert [r["second_event_id"] for r in records] == ["e5", "e6", "e7"] and len(state["oa"]) == 3
    assert offer_alerts.changed_records(state, datetime.now(timezone.utc), DEFAULT_POLICY) == []


def test_the_profile_context_shows_the_best_offer_and_keeps_the_last() -> None:
    from streams.journeys.context import profile_context
    from streams.sessions.policy import SessionPolicy

    state = _state_of([show(NOW - 2 * DAY, "s1", "off-spring-50", 50.0, "sms"),
                       show(NOW - DAY, "e1", "off-spring-20", 20.0)])
    doc = profile_context(state, NOW, SessionPolicy(), contact_policy=DEFAULT_POLICY)
    assert doc["last_offer"]["offer_id"] == "off-spring-20"  # what was shown last ...
    assert doc["best_offer"] == {"offer_id": "off-spring-50", "discount_percent": 50.0, "campaign_id": SPRING,
                                 "channel": "sms", "shown": _iso(NOW - 2 * DAY), "event_id": "s1",
                                 "valid_until": _iso(NOW - 2 * DAY + WEEK)}  # ... and what every channel should show
    assert profile_context(state, NOW + 5 * DAY, SessionPolicy())["best_offer"]["offer_id"] == "off-spring-20"
    # The email and the SMS are too recent to judge (pending): every channel at the prior, email first by order.
    assert doc["next_best_channel"]["channel"] == "email"
    assert [(r["channel"], r["contacts"], r["pending"]) for r in doc["next_best_channel"]["ranking"][:3]] == [
        ("email", 0, 1), ("sms", 0, 1), ("push", 0, 0)]
