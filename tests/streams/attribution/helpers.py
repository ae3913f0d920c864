"""Hand-made paths for the attribution tests: ``path("A B C", value=90)``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from streams.attribution.paths import Path, PathTouch, is_direct


def path(spec: str, value: str | int = 0, converted: bool = True, at: Sequence[int] | None = None,
         end: int | None = None) -> Path:
    """Touches named by ``spec`` (``channel`` or ``channel/campaign``), one ms apart unless ``at`` gives times.

    A converting path's value defaults to 0; pass ``converted=False`` for a path that did not convert.
    """
    touches = []
    for i, token in enumerate(spec.split()):
        channel, _, campaign = token.partition("/")
        touches.append(PathTouch(t=at[i] if at is not None else i, channel=channel, campaign_id=campaign or None,
                                 direct=is_direct(channel)))
    return Path(tuple(touches), converted, Decimal(value), end)


def lost(spec: str) -> Path:
    """A path that did not convert."""
    return path(spec, converted=False)
