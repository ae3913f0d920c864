"""A person's identifiers sorted into their own, shared and junk, and the groups events link together.

Worked out once per person, from the distinct identifier combinations their
events carried (``combo``), not event by event: booking events is the hot
path. Identifiers are qualified, ``f"{kind}:{value}"``; a raw email or phone
counts as its hash, as ingest computes it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.simulator.junk import JUNK_EMAIL_HASHES, JUNK_IDENTIFIERS
from streams.simulator.truth import IDENTIFIER_KINDS

Combo = tuple["str | None", ...]


def combo(record: Mapping[str, Any]) -> Combo:
    """The event's identifier fields: IDENTIFIER_KINDS in order, then the raw email and phone."""
    get = record.get
    return (get("anonymous_id"), get("device_id"), get("user_id"), get("email_sha256"), get("phone_sha256"),
            get("loyalty_id"), get("email"), get("phone"))


@dataclass(frozen=True, slots=True)
class PersonIdentity:
    identifiers: dict[str, list[str]]  # kind -> sorted values: the person's own identifiers
    linkable_groups: list[list[str]]  # connected components of the own identifiers, qualified
    shared: list[str]  # qualified shared identifiers (family devices, kiosks) the events carried
    junk: list[str]  # qualified junk identifiers the events carried


def _qualified(combo: Combo, email_sha256: str | None, phone_sha256: str | None) -> Iterable[str]:
    for kind, value in zip(IDENTIFIER_KINDS, combo):
        if value:
            yield f"{kind}:{value}"
    email, phone = combo[6], combo[7]
    if email and not combo[3]:  # ingest ignores a raw email when the hash is also set
        yield f"email_sha256:{JUNK_EMAIL_HASHES.get(email, email_sha256)}"
    if phone and not combo[4]:
        yield f"phone_sha256:{phone_sha256}"


def person_identity(combos: Iterable[Combo], email_sha256: str | None, phone_sha256: str | None,
                    shared: Collection[str]) -> PersonIdentity:
    """Own identifiers, linkable groups and the shared/junk identifiers used, from one person's combos.

    ``email_sha256``/``phone_sha256`` are the person's, for their raw values; ``shared`` holds the
    qualified identifiers that are shared by construction (the person's family device, the kiosks).
    """
    parent: dict[str, str] = {}  # union-find over own identifiers, joined when one event carries both

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = node = parent[parent[node]]
        return node

    shared_used, junk_used = set(), set()
    for item in combos:
        first = None
        for node in _qualified(item, email_sha256, phone_sha256):
            if node in JUNK_IDENTIFIERS:
                junk_used.add(node)
            elif node in shared:
                shared_used.add(node)
            else:
                parent.setdefault(node, node)
                if first is None:
                    first = root(node)
                else:
                    parent[root(node)] = first
    groups: dict[str, list[str]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    identifiers: dict[str, list[str]] = {kind: [] for kind in IDENTIFIER_KINDS}
    for node in parent:
        kind, value = node.split(":", 1)
        identifiers[kind].append(value)
    return PersonIdentity(
        identifiers={kind: sorted(values) for kind, values in identifiers.items() if values},
        linkable_groups=sorted(sorted(group) for group in groups.values()),
        shared=sorted(shared_used),
        junk=sorted(junk_used),
    )
