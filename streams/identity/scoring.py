"""How good a stitching is: pairwise precision and recall of profiles against the simulator's truth.

The universe is every identifier in some true person's ``linkable_groups``
(streams/simulator/truth.py): each belongs to exactly one person, and junk
values and shared devices/kiosks are not in it. An identifier of the
universe that the ``assignment`` (qualified identifier -> profile id) does
not mention is a profile of its own; assigned identifiers outside the
universe are ignored.

- predicted pairs: two identifiers of the universe in one profile;
- precision = predicted pairs of one person / predicted pairs;
- recall = predicted pairs inside one linkable group / linkable pairs, where
  linkable pairs are the pairs inside each linkable group: what the events
  allow to link at all, so a perfect stitcher reaches 1.0.

Pairs are counted, not listed: identifiers are grouped by profile, then by
person and by group, and a group of n gives n * (n - 1) / 2 pairs, so a
10,000-person truth scores in milliseconds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FALSE_MERGES = 5


@dataclass(frozen=True, slots=True)
class FalseMerge:
    """Two identifiers of two different people that the assignment put in one profile."""

    profile_id: str
    identifier_a: str
    person_a: str
    identifier_b: str
    person_b: str


@dataclass(frozen=True, slots=True)
class IdentityScore:
    precision: float
    recall: float
    predicted_pairs: int
    true_predicted_pairs: int  # predicted pairs whose two identifiers belong to one person
    linkable_pairs: int
    linked_pairs: int  # linkable pairs the assignment put in one profile
    identifiers_scored: int
    profiles: int  # profiles over the scored identifiers (an unassigned identifier is one)
    false_merges: tuple[FalseMerge, ...] = ()  # up to MAX_FALSE_MERGES examples, for debugging

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def summary(self) -> str:
        return (f"precision {self.precision:.4f} ({self.true_predicted_pairs}/{self.predicted_pairs} pairs), "
                f"recall {self.recall:.4f} ({self.linked_pairs}/{self.linkable_pairs} pairs), "
                f"{self.identifiers_scored} identifiers in {self.profiles} profiles, "
                f"{len(self.false_merges)} false-merge examples")


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _universe(people: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
    """identifier -> (person_id, index of its linkable group); one listed for two people is left out."""
    owner: dict[str, tuple[str, int]] = {}
    ambiguous: set[str] = set()
    for person in people:
        person_id = person["person_id"]
        for number, group in enumerate(person.get("linkable_groups", ())):
            for identifier in group:
                if identifier in owner and owner[identifier][0] != person_id:
                    ambiguous.add(identifier)
                owner[identifier] = (person_id, number)
    for identifier in ambiguous:  # the simulator never does this; a hand-made truth might
        del owner[identifier]
    return owner


def score_profiles(people: Iterable[Mapping[str, Any]], assignment: Mapping[str, str]) -> IdentityScore:
    """Pairwise precision and recall of ``assignment`` against the truth ``people`` records (see module doc)."""
    owner = _universe(people)
    group_sizes = Counter(owner.values())
    linkable = sum(_pairs(n) for n in group_sizes.values())
    members: dict[str, list[str]] = defaultdict(list)  # profile -> its identifiers of the universe
    unassigned = 0
    for identifier in owner:
        profile = assignment.get(identifier)
        if profile is None:
            unassigned += 1  # a singleton: no pair
        else:
            members[profile].append(identifier)
    predicted = true_predicted = linked = 0
    false_merges: list[FalseMerge] = []
    for profile in sorted(members):
        identifiers = members[profile]
        predicted += _pairs(len(identifiers))
        by_person: dict[str, list[str]] = defaultdict(list)
        by_group: Counter[tuple[str, int]] = Counter()
        for identifier in identifiers:
            by_person[owner[identifier][0]].append(identifier)
            by_group[owner[identifier]] += 1
        true_predicted += sum(_pairs(len(ids)) for ids in by_person.values())
        linked += sum(_pairs(n) for n in by_group.values())
        if len(by_person) > 1 and len(false_merges) < MAX_FALSE_MERGES:
            (person_a, ids_a), (person_b, ids_b) = sorted(by_person.items())[:2]
            false_merges.append(FalseMerge(profile, min(ids_a), person_a, min(ids_b), person_b))
    return IdentityScore(
        precision=true_predicted / predicted if predicted else 1.0,
        recall=linked / linkable if linkable else 1.0,
        predicted_pairs=predicted,
        true_predicted_pairs=true_predicted,
        linkable_pairs=linkable,
        linked_pairs=linked,
        identifiers_scored=len(owner),
        profiles=len(members) + unassigned,
        false_merges=tuple(false_merges),
    )


def _read(path: str | Path, kind: str) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.pop("type", None) == kind:
                out.append(record)
    return out


def read_truth_people(path: str | Path) -> list[dict[str, Any]]:
    """The ``person`` records of a truth JSONL file (streams/simulator/truth.py), ``type`` removed."""
    return _read(path, "person")


def read_truth_shared(path: str | Path) -> list[dict[str, Any]]:
    """The ``shared`` records (family devices, kiosks) of a truth JSONL file, ``type`` removed."""
    return _read(path, "shared")
