"""Junk identifier values, the kind real trackers send: "null", "undefined", zero UUIDs, test addresses.

A stitcher that links on them merges thousands of strangers into one
profile. Junk is added to a small share of events next to the person's real
identifiers (only into fields the event does not set, so no real identifier
is lost). Only values the schema accepts are used: ids must be 1-256
characters (schemas/fields.py rejects ""), so the empty string never reaches
stitching and is not sent; a raw email is only added to events without an
email_sha256, since ingest drops a raw email when the hash is present.
"""

from __future__ import annotations

import math
import random

from streams.pii import normalize_email, sha256_hex
from streams.simulator.ids import pick

JUNK_ID_FIELDS = ("anonymous_id", "device_id", "user_id", "loyalty_id")
JUNK_ID_VALUES = ("null", "undefined", "0", "unknown", "none", "n/a", "00000000-0000-0000-0000-000000000000")
JUNK_EMAILS = ("test@test.com", "test@example.com", "noreply@example.com")
JUNK_EMAIL_HASHES = {email: sha256_hex(normalize_email(email)) for email in JUNK_EMAILS}
# Every junk identifier the simulator can emit, qualified (kind:value): what the truth keeps out of people.
JUNK_IDENTIFIERS = frozenset(
    [f"{kind}:{value}" for kind in JUNK_ID_FIELDS for value in JUNK_ID_VALUES]
    + [f"email_sha256:{digest}" for digest in JUNK_EMAIL_HASHES.values()]
)


def add_junk(record: dict, rng: random.Random) -> None:
    """One junk value in a field ``record`` leaves empty (nothing if every candidate field is set)."""
    fields = [name for name in JUNK_ID_FIELDS if not record.get(name)]
    if not (record.get("email") or record.get("email_sha256")):
        fields.append("email")
    if fields:
        name = pick(rng, fields)
        record[name] = pick(rng, JUNK_EMAILS if name == "email" else JUNK_ID_VALUES)


class JunkInjector:
    """Spoils a ``share`` of one person's events, batch by batch, from their own extra random stream.

    The gap to the next spoiled event is drawn once (geometric), not a coin per event: events are the hot path.
    """

    __slots__ = ("rng", "log_keep", "skip")

    def __init__(self, rng: random.Random, share: float):
        if not 0 < share <= 1:
            raise ValueError(f"junk share must be in (0, 1], got {share}: make no injector for 0")
        self.rng = rng
        self.log_keep = math.log1p(-share) if share < 1 else None  # None: every event
        self.skip = self._gap()

    def _gap(self) -> int:
        if self.log_keep is None:
            return 0
        return int(math.log1p(-self.rng.random()) / self.log_keep)

    def inject(self, batch: list[tuple[int, dict, str | None]]) -> None:
        i, n = self.skip, len(batch)
        while i < n:
            add_junk(batch[i][1], self.rng)
            i += 1 + self._gap()
        self.skip = i - n
