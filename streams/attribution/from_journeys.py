"""Paths from journeys (``streams.journeys.build.Journey``): which touches a model may credit.

A journey holds every event of the profile: page views, sends, cart events,
the goal. Crediting each would hand most of the credit to the pages a
visit clicks through (the site's own ``web`` channel, never what brought the
person). So, as web analytics credits sessions, a path has one touch per
**session** of the journey, its landing (first touch): an ad click and the
eight pages after it are one ``display`` touch. Sessions are the journey's
touches grouped by session key and cut by the session rule
(``streams.sessions.split.runs``), as ``Journey.sessions`` counts them.

Sends (``email_send``, ``sms_send``, ``push_send``) are left out before
sessions are cut: a send nobody opened is not a touch of the person (the open
or the click is). ``per_session=False`` keeps every remaining event instead.

A converted journey converts at its goal's time with the goal's revenue;
an open journey is a non-converting path ending at its newest touch. Then the
lookback applies: touches older than the end minus ``lookback_ms`` go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from streams.attribution.paths import DEFAULT_LOOKBACK_MS, Path, PathTouch, is_direct, within_lookback
from streams.journeys.build import Journey
from streams.sessions.policy import SessionPolicy
from streams.sessions.split import runs
from streams.sessions.touches import Touch

SENDS = frozenset({"email_send", "sms_send", "push_send"})


def path_touch(touch: Touch) -> PathTouch:
    return PathTouch(t=touch.t, channel=touch.channel, campaign_id=touch.campaign_id,
                     direct=is_direct(touch.channel, touch.source, touch.medium))


def landings(journey: Journey, policy: SessionPolicy, ignore: frozenset[str] = SENDS) -> list[Touch]:
    """The first touch of each session of the journey (sends ignored), in (time, event id) order."""
    by_key: dict[str, list[Touch]] = defaultdict(list)
    for touch, key in journey.touches:  # in (t, event_id) order already
        if touch.event_type not in ignore:
            by_key[key].append(touch)
    firsts = [run[0] for group in by_key.values() for run in runs(group, policy)]
    return sorted(firsts, key=lambda t: (t.t, t.event_id))


def path_of(journey: Journey, policy: SessionPolicy | None = None, lookback_ms: int = DEFAULT_LOOKBACK_MS,
            per_session: bool = True, ignore: frozenset[str] = SENDS) -> Path:
    policy = policy or SessionPolicy()
    if per_session:
        touches = landings(journey, policy, ignore)
    else:
        touches = [t for t, _ in journey.touches if t.event_type not in ignore]
    value = Decimal(journey.value_cents) / 100 if journey.converted else Decimal(0)
    path = Path(tuple(path_touch(t) for t in touches), journey.converted, value, end=journey.end)
    return within_lookback(path, lookback_ms)


def paths_from_journeys(journeys: Iterable[Journey], policy: SessionPolicy | None = None,
                        lookback_ms: int = DEFAULT_LOOKBACK_MS, per_session: bool = True,
                        ignore: frozenset[str] = SENDS) -> list[Path]:
    """One path per journey (converted or open), cut to ``lookback_ms`` before its end."""
    return [path_of(j, policy, lookback_ms, per_session, ignore) for j in journeys]
