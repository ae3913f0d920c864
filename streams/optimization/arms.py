"""Which arms a budget run compares: the ones asked for (by default the channels that spend budget) with touches.

An arm asked for with no touch in the window is left out (there is nothing
to recommend on, and the run says so); an arm that appears in the window is
compared as soon as it has one touch, and the prior makes a new arm explored
rather than starved (``streams.optimization.bandit``). Per cost, arms without
a cost in the window are left out too. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.attribution.paths import NO_CAMPAIGN
from streams.optimization.bandit import comparable
from streams.optimization.outcomes import ArmEvidence, Evidence

# Channels that spend budget (sends and paid media): the default channel arms. The site and app themselves,
# direct and organic visits, stores and marketplaces are where conversions happen, not what a budget buys,
# and per touch they look best exactly because conversions land there.
BUDGET_CHANNELS = ("email", "sms", "push", "display", "video", "retail_media", "paid_search", "social", "affiliate")
NO_TOUCHES = "no touches in the window"
NO_COST = "no cost in the window (compared per cost)"


def select(ev: Evidence, names: Iterable[str] | None, basis: str) -> tuple[list[ArmEvidence], dict[str, str]]:
    """(arms to compare, arm -> why not): ``names`` (None: every arm seen, campaigns but "(not set)") with touches."""
    wanted = None if names is None else list(dict.fromkeys(names))
    left_out: dict[str, str] = {}
    arms = []
    for arm in (wanted if wanted is not None else ev.arms):
        a = ev.arms.get(arm)
        if a is None or a.touches == 0:
            if wanted is not None:
                left_out[arm] = NO_TOUCHES
            continue
        if wanted is None and ev.by == "campaign" and arm == NO_CAMPAIGN:
            continue  # touches without a campaign are not a campaign to fund
        arms.append(a)
    compared, unpaid = comparable(arms, basis)
    left_out.update({a.arm: NO_COST for a in unpaid})
    return compared, left_out
