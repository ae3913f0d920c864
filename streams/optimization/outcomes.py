"""Evidence for the budget bandit: per arm, touches, credited conversions and revenue, and cost over a window.

An **arm** is a channel or a campaign (``by``). A **touch** is a session
(a visit or a contact: ``streams.sessions``), counted under the channel and
campaign of its landing (first touch), in the window by its start. That is
the unit attribution already credits (one touch per session landing,
docs/attribution.md), and it makes an ad click and the eight pages after it
one ``display`` touch rather than one ``display`` and eight ``web`` ones.
Unlike attribution's paths, sessions that start with a send count: a send
is what email budget buys.

**Conversions** are the converted journeys whose conversion lies in the
window. Each is split among its touches by the linear model
(``streams.attribution.rules.linear``: 1/n of the conversion and of its
value to each of its n touches). A conversion's touches are its profile's
sessions that start inside both the journey (first touch .. conversion) and
the window: the window is the lookback, so every credited touch is also a
counted touch, and an arm's credited conversions never exceed its touches
(what the Beta posterior of the bandit needs). A conversion with no session
in the window is unattributed (counted, credited to nobody).

**Cost**: the sum of ``cost_micros`` of the touchpoints in the window (paid
impressions and clicks), per channel and campaign of the touchpoint itself;
``None`` for an arm without any cost event.

Pure: rows in, evidence out. ``sinks/budget_job.py`` reads the rows from
ClickHouse (``journeys FINAL``, ``sessions_resolved``, ``touchpoints FINAL``),
``streams/optimization/budget_replay.py`` from the batch references.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from streams.attribution.paths import BY_KEYS, Path, PathTouch
from streams.attribution.rules import linear
from streams.optimization.exceptions import BudgetError

# (channel, campaign id or None): the finest grain the store aggregates touches and cost by.
Pair = tuple[str, "str | None"]


@dataclass(frozen=True)
class SessionTouch:
    """One session: a row of ``sessions_resolved`` (its current profile, its landing's channel and campaign)."""

    session_id: str
    profile_id: str | None
    start: int  # ms since the epoch
    channel: str
    campaign_id: str | None = None


@dataclass(frozen=True)
class Conversion:
    """One converted journey: a row of ``journeys FINAL`` (``end`` is the conversion time)."""

    journey_id: str
    profile_id: str
    start: int
    end: int
    value: Decimal


@dataclass(frozen=True)
class ArmEvidence:
    arm: str
    touches: int
    conversions: float  # credited (fractional)
    revenue: float  # credited revenue, currency units
    cost_micros: int | None = None  # None: no cost event in the window
    paid_touches: int = 0  # touchpoints that carried a cost


@dataclass(frozen=True)
class Evidence:
    """Every arm of one kind seen in [start, end), and what could not be credited."""

    by: str
    start: int
    end: int
    arms: Mapping[str, ArmEvidence]
    conversions: int  # converted journeys in the window
    value: Decimal
    unattributed_conversions: int  # of which with no touch in the window
    unattributed_value: Decimal


def arm_key(by: str, channel: str, campaign_id: str | None) -> str:
    """The arm of a (channel, campaign) pair: attribution's own keying (no campaign -> ``(not set)``)."""
    if by not in BY_KEYS:
        raise BudgetError(f"cannot key budget arms by {by!r}: use one of {', '.join(BY_KEYS)}")
    return PathTouch(0, channel, campaign_id or None).key(by)  # '' and None both mean no campaign


def count_touches(sessions: Iterable[SessionTouch], start: int, end: int) -> dict[Pair, int]:
    """Sessions per (channel, campaign) starting in [start, end): what the job's GROUP BY returns."""
    counts: dict[Pair, int] = defaultdict(int)
    for s in sessions:
        if start <= s.start < end:
            counts[(s.channel, s.campaign_id or None)] += 1
    return dict(counts)


def assign(conversions: Iterable[Conversion], sessions: Iterable[SessionTouch], start: int,
           end: int) -> list[tuple[Conversion, list[SessionTouch]]]:
    """Each conversion in [start, end) with the sessions it credits, in (start, session id) order.

    A session belongs to at most one conversion: the first (by end, then id) of its profile whose
    [max(start, journey start), conversion] holds the session's start. (A profile's journeys do not
    overlap; only a session starting at the very millisecond of a conversion could match the next one.)
    """
    window = sorted((c for c in conversions if start <= c.end < end), key=lambda c: (c.end, c.journey_id))
    wanted = {c.profile_id for c in window}
    by_profile: dict[str, list[SessionTouch]] = defaultdict(list)
    for s in sessions:
        if s.profile_id in wanted and start <= s.start < end:
            by_profile[s.profile_id].append(s)
    taken: set[str] = set()
    out = []
    for c in window:
        first = max(start, c.start)
        mine = sorted((s for s in by_profile[c.profile_id] if first <= s.start <= c.end and s.session_id not in taken),
                      key=lambda s: (s.start, s.session_id))
        taken.update(s.session_id for s in mine)
        out.append((c, mine))
    return out


def path_of(conversion: Conversion, sessions: Iterable[SessionTouch]) -> Path:
    touches = tuple(PathTouch(s.start, s.channel, s.campaign_id or None) for s in sessions)
    return Path(touches, converted=True, value=conversion.value, end=conversion.end)


def evidence(by: str, start: int, end: int, conversions: Iterable[Conversion], sessions: Iterable[SessionTouch],
             touches: Mapping[Pair, int], costs: Mapping[Pair, tuple[int, int]] | None = None) -> Evidence:
    """The arms of kind ``by`` over [start, end) (ms).

    ``touches``: sessions per (channel, campaign) starting in the window (``count_touches``);
    ``sessions``: at least those of the profiles that converted in the window (more are ignored);
    ``costs``: (paid touchpoints, sum of cost_micros) per (channel, campaign) in the window.
    """
    if start >= end:
        raise BudgetError(f"the evidence window is empty: start {start} ms is not before end {end} ms")
    assigned = assign(conversions, sessions, start, end)
    paths = [path_of(c, mine) for c, mine in assigned]
    credits = linear(paths, by)
    counted: dict[str, int] = defaultdict(int)
    for (channel, campaign), n in touches.items():
        counted[arm_key(by, channel, campaign)] += n
    # The touch counts and the sessions are two reads, not one snapshot: a credited session the count
    # missed (written in between) still counts as a touch, so conversions never exceed touches.
    credited: dict[str, int] = defaultdict(int)
    for _, mine in assigned:
        for s in mine:
            credited[arm_key(by, s.channel, s.campaign_id)] += 1
    cost: dict[str, tuple[int, int]] = {}
    for (channel, campaign), (paid, micros) in (costs or {}).items():
        arm = arm_key(by, channel, campaign)
        before = cost.get(arm, (0, 0))
        cost[arm] = (before[0] + paid, before[1] + micros)
    arms = {}
    for arm in sorted(set(counted) | set(credited) | set(cost)):
        paid, micros = cost.get(arm, (0, None))
        arms[arm] = ArmEvidence(arm, max(counted.get(arm, 0), credited.get(arm, 0)),
                                credits.conversions.get(arm, 0.0), credits.value.get(arm, 0.0), micros, paid)
    return Evidence(by, start, end, arms, len(paths), sum((p.value for p in paths), Decimal(0)),
                    credits.unattributed_conversions, credits.unattributed_value)
