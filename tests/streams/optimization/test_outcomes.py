"""Budget evidence from hand-made rows: touches, linear credit, cost, per channel and per campaign.

Times in minutes after T; the window is [T, T + 1 day).

- P1: sessions display/cmp-a at T-60 (before the window), email/cmp-b at +60,
  social (no campaign) at +120, direct at +180; converts at +185 for 90.00
  (journey from T-60). Path in the window: email, social, direct: 1/3 each,
  30.00 each.
- P2: email/cmp-b at +240, email/cmp-c at +300; converts at +300 for 10.00
  (journey from +240): email 1 (two halves), cmp-b and cmp-c 1/2 each, 5.00
  each. Then display/cmp-a at +360, no conversion: a touch without credit.
- P3: converts at +420 for 20.00, no session in the window: unattributed.
- P4: email/cmp-c at +480; converts after the window ends: a touch, no credit.
- Cost: display/cmp-a 3 paid touchpoints, 4,500,000 micros.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.optimization.exceptions import BudgetError
from streams.optimization.outcomes import (
    ArmEvidence, Conversion, SessionTouch, arm_key, assign, count_touches, evidence,
)

T = 1_793_000_000_000
MIN = 60_000
DAY = 1440 * MIN
START, END = T, T + DAY

SESSIONS = [
    SessionTouch("s1", "P1", T - 60 * MIN, "display", "cmp-a"),
    SessionTouch("s2", "P1", T + 60 * MIN, "email", "cmp-b"),
    SessionTouch("s3", "P1", T + 120 * MIN, "social", None),
    SessionTouch("s4", "P1", T + 180 * MIN, "direct", ""),  # '' is no campaign, as ClickHouse may return it
    SessionTouch("s5", "P2", T + 240 * MIN, "email", "cmp-b"),
    SessionTouch("s6", "P2", T + 300 * MIN, "email", "cmp-c"),
    SessionTouch("s7", "P2", T + 360 * MIN, "display", "cmp-a"),
    SessionTouch("s8", "P4", T + 480 * MIN, "email", "cmp-c"),
]
CONVERSIONS = [
    Conversion("j1", "P1", T - 60 * MIN, T + 185 * MIN, Decimal("90.00")),
    Conversion("j2", "P2", T + 240 * MIN, T + 300 * MIN, Decimal("10.00")),
    Conversion("j3", "P3", T + 420 * MIN, T + 420 * MIN, Decimal("20.00")),
    Conversion("j4", "P4", T + 480 * MIN, END + 5 * MIN, Decimal("70.00")),
]
COSTS = {("display", "cmp-a"): (3, 4_500_000)}


def _evidence(by: str, touches: dict | None = None):  # noqa: ANN202
    counts = count_touches(SESSIONS, START, END) if touches is None else touches
    return evidence(by, START, END, CONVERSIONS, SESSIONS, counts, COSTS)


def test_touches_are_sessions_per_landing_pair_in_the_window() -> None:
    assert count_touches(SESSIONS, START, END) == {
        ("email", "cmp-b"): 2, ("social", None): 1, ("direct", None): 1, ("email", "cmp-c"): 2,
        ("display", "cmp-a"): 1,
    }


def test_by_channel_exact() -> None:
    ev = _evidence("channel")
    assert ev.arms == {
        "direct": ArmEvidence("direct", 1, pytest.approx(1 / 3), pytest.approx(30.0)),
        "display": ArmEvidence("display", 1, 0.0, 0.0, 4_500_000, 3),
        "email": ArmEvidence("email", 4, pytest.approx(4 / 3), pytest.approx(40.0)),
        "social": ArmEvidence("social", 1, pytest.approx(1 / 3), pytest.approx(30.0)),
    }
    assert (ev.conversions, ev.value) == (3, Decimal("120.00"))
    assert (ev.unattributed_conversions, ev.unattributed_value) == (1, Decimal("20.00"))
    assert sum(a.conversions for a in ev.arms.values()) == pytest.approx(ev.conversions - ev.unattributed_conversions)


def test_by_campaign_exact() -> None:
    ev = _evidence("campaign")
    assert ev.arms == {
        "(not set)": ArmEvidence("(not set)", 2, pytest.approx(2 / 3), pytest.approx(60.0)),
        "cmp-a": ArmEvidence("cmp-a", 1, 0.0, 0.0, 4_500_000, 3),
        "cmp-b": ArmEvidence("cmp-b", 2, pytest.approx(1 / 3 + 1 / 2), pytest.approx(35.0)),
        "cmp-c": ArmEvidence("cmp-c", 2, pytest.approx(1 / 2), pytest.approx(5.0)),
    }


def test_the_window_is_the_lookback() -> None:
    """P1's display session before the window neither counts nor earns credit; P4's conversion after it does not."""
    paths = assign(CONVERSIONS, SESSIONS, START, END)
    assert [(c.journey_id, [s.session_id for s in mine]) for c, mine in paths] == [
        ("j1", ["s2", "s3", "s4"]), ("j2", ["s5", "s6"]), ("j3", [])]


def test_a_credited_session_the_count_missed_still_counts() -> None:
    """Two reads, not one snapshot: credit never exceeds touches."""
    counts = count_touches(SESSIONS, START, END)
    del counts[("social", None)]
    assert _evidence("channel", counts).arms["social"].touches == 1


def test_a_session_at_a_conversion_millisecond_goes_to_one_conversion() -> None:
    at = T + 100 * MIN
    sessions = [SessionTouch("a", "P", T + 10 * MIN, "email"), SessionTouch("b", "P", at, "sms")]
    conversions = [Conversion("j1", "P", T + 10 * MIN, at, Decimal("1.00")),
                   Conversion("j2", "P", at, at + 5 * MIN, Decimal("3.00"))]
    ev = evidence("channel", START, END, conversions, sessions, count_touches(sessions, START, END))
    assert ev.arms["sms"].touches == 1
    assert ev.arms["sms"].conversions == pytest.approx(0.5)  # half of j1; j2 has no touch of its own
    assert ev.unattributed_conversions == 1
    assert all(a.conversions <= a.touches for a in ev.arms.values())


def test_sessions_of_other_profiles_and_times_are_ignored() -> None:
    noise = [SessionTouch("x1", "P9", T + 200 * MIN, "email", "cmp-b"), SessionTouch("x2", None, T, "sms")]
    ev = evidence("channel", START, END, CONVERSIONS, SESSIONS + noise, count_touches(SESSIONS, START, END), COSTS)
    assert ev == _evidence("channel")


def test_errors_name_the_problem() -> None:
    with pytest.raises(BudgetError, match="by 'device'"):
        arm_key("device", "email", None)
    with pytest.raises(BudgetError, match="window is empty"):
        evidence("channel", END, START, [], [], {})
