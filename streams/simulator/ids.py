"""Seeded ids and millisecond clocks: everything random comes from a ``random.Random`` we pass in."""

from __future__ import annotations

import random
from bisect import bisect
from datetime import datetime, timedelta, timezone
from itertools import accumulate

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (uuid.uuid4() would use the OS and break determinism)."""
    bits = rng.getrandbits(128)
    h = "%032x" % bits
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits >> 62 & 3]}{h[17:20]}-{h[20:]}"


def hex_id(rng: random.Random, prefix: str, digits: int = 16) -> str:
    return f"{prefix}{rng.getrandbits(4 * digits):0{digits}x}"


def to_ms(value: datetime) -> int:
    return (value - EPOCH) // _MS


def utc(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds (whole milliseconds: survives Avro timestamp-millis).

    Through a float: exact, since the float error (< 0.25 us until year 2100) rounds away to the microsecond.
    """
    return _fromtimestamp(ms / 1000, timezone.utc)


_fromtimestamp = datetime.fromtimestamp


def person_rng(seed: int, index: int) -> random.Random:
    """Independent stream per person: a person's life does not depend on who else is simulated."""
    return random.Random(f"person-{seed}-{index}")  # str seeds go through SHA-512: no (seed, index) collide


def run_tag(seed: int) -> str:
    """A short seed-derived tag for ids that must be unique per run (user ids, order ids)."""
    return "%06x" % random.Random(f"tag-{seed}").getrandbits(24)


class Weighted:
    """A fixed weighted choice, drawn with one random() and a bisect (random.choices rebuilds its table per call)."""

    __slots__ = ("options", "cumulative", "total")

    def __init__(self, weights: dict):
        self.options = [k for k, w in weights.items() if w > 0]
        self.cumulative = list(accumulate(weights[k] for k in self.options))
        self.total = self.cumulative[-1] if self.cumulative else 0.0

    def pick(self, rng: random.Random):  # noqa: ANN201 - one of the options
        return self.options[bisect(self.cumulative, rng.random() * self.total)]


def pick(rng: random.Random, options: tuple | list):  # noqa: ANN201 - an element of options
    """rng.choice without its two Python-level helper calls (it is on the hot path)."""
    return options[int(rng.random() * len(options))]
