"""Ground truth of a simulation: who is who, what each journey was, which effects are real.

JSON Lines, one object per line, ``"type"`` first:

- ``header``: seed, span, ``channel_lift`` (true conversion lift per channel),
  ``campaign_lift`` (channel lift x campaign factor, per campaign and channel),
  ``conflicting_offers`` (campaign -> {channel: discount}), ``experiments``
  (experiment -> {variant: true lift});
- ``person`` (one per person with at least one emitted event): ``person_id``,
  ``device_kinds``, ``identifiers`` ({kind: [values]}: exactly the person's
  OWN identifiers its emitted events carry, raw email/phone counted as their
  hashes; shared and junk identifiers are left out, so each identifier
  listed belongs to exactly one person and ``GroundTruth.person_of`` stays a
  function), ``variants``, ``journeys`` (ordered ``event_ids``, ``touches`` =
  channels of inbound touches, ``converted``, ``conversion_event_id``,
  ``conversion_channel`` = the channel whose touch caused it, ``outlet``,
  ``order_id``, ``revenue`` as a string, ``currency``, ``devices`` = the
  person's cookies and app installs, kiosks and junk left out, ``unsubscribed``),
  ``linkable_groups`` (the connected components, as sorted lists of qualified
  identifiers ``"kind:value"``, of the graph of the person's own identifiers
  where two are joined when one emitted event carries both; singletons
  included; the list sorted) and ``shared_identifiers`` (the sorted qualified
  shared identifiers its events carried);
- ``shared`` (one per shared identifier that some emitted event carried):
  ``identifier`` (qualified), ``kind`` ("family": a laptop or tablet cookie
  two people of a household use; "kiosk": a store kiosk's device_id) and
  ``people`` (sorted person_ids of this run's people whose events carried
  it). Shared by construction: a family cookie only one of the two has used
  yet (or whose other user another shard simulates) is listed all the same;
  merge shards' records by uniting ``people``;
- ``junk`` (one, after the shared records): ``identifiers``, the sorted
  qualified junk identifiers the run emitted ("user_id:undefined",
  "email_sha256:<hash of test@test.com>", ...). They belong to nobody;
- ``summary``: message counts, malformed counts by kind.

Only emitted events are in the truth: a run stopped by ``events`` or clipped
at ``end`` has partial journeys, recorded as they were seen. Malformed
messages carry no truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

IDENTIFIER_KINDS = ("anonymous_id", "device_id", "user_id", "email_sha256", "phone_sha256", "loyalty_id")


@dataclass(slots=True)
class Journey:
    """One journey as it is being emitted (filled by the stream, turned into JSON at the end)."""

    journey_id: str
    event_ids: list[str] = field(default_factory=list)
    touches: list[str] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)
    unsubscribed: list[str] = field(default_factory=list)
    converted: bool = False
    conversion_event_id: str | None = None
    conversion_channel: str | None = None  # set by the generator before the purchase is emitted
    outlet: str | None = None
    order_id: str | None = None
    revenue: str | None = None
    currency: str | None = None
    first_ms: int | None = None
    last_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id, "event_ids": self.event_ids, "touches": self.touches,
            "devices": sorted(self.devices), "converted": self.converted,
            "conversion_event_id": self.conversion_event_id,
            "conversion_channel": self.conversion_channel if self.converted else None,
            "outlet": self.outlet if self.converted else None, "order_id": self.order_id, "revenue": self.revenue,
            "currency": self.currency, "first_ms": self.first_ms, "last_ms": self.last_ms,
            "unsubscribed": self.unsubscribed,
        }


class TruthSink(Protocol):
    def begin(self, header: dict[str, Any]) -> None: ...
    def add_person(self, person: dict[str, Any]) -> None: ...
    def add_shared(self, shared: dict[str, Any]) -> None: ...
    def add_junk(self, junk: dict[str, Any]) -> None: ...
    def finish(self, summary: dict[str, Any]) -> None: ...


class GroundTruth:
    """The whole truth in memory (fine up to a few 100k events), with an identifier index."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.persons: dict[str, dict[str, Any]] = {}
        self.summary: dict[str, Any] = {}
        self.shared: dict[str, dict[str, Any]] = {}  # qualified identifier -> its shared record
        self.junk: list[str] = []  # qualified junk identifiers emitted
        self._by_identifier: dict[tuple[str, str], str] = {}

    # -- TruthSink ----------------------------------------------------------------------
    def begin(self, header: dict[str, Any]) -> None:
        self.header = header

    def add_person(self, person: dict[str, Any]) -> None:
        self.persons[person["person_id"]] = person
        for kind, values in person["identifiers"].items():
            for value in values:
                self._by_identifier[(kind, value)] = person["person_id"]

    def add_shared(self, shared: dict[str, Any]) -> None:
        self.shared[shared["identifier"]] = shared

    def add_junk(self, junk: dict[str, Any]) -> None:
        self.junk = junk["identifiers"]

    def finish(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    # -- queries ------------------------------------------------------------------------
    def person_of(self, kind: str, value: str) -> str | None:
        return self._by_identifier.get((kind, value))

    def journeys(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for person_id, person in self.persons.items():
            for journey in person["journeys"]:
                yield person_id, journey

    @property
    def channel_lift(self) -> dict[str, float]:
        return self.header.get("channel_lift", {})

    # -- files --------------------------------------------------------------------------
    def write_jsonl(self, path: str | Path) -> None:
        with TruthWriter(path) as writer:
            writer.begin(self.header)
            for person in self.persons.values():
                writer.add_person(person)
            for shared in self.shared.values():
                writer.add_shared(shared)
            writer.add_junk({"identifiers": self.junk})
            writer.finish(self.summary)

    @classmethod
    def read(cls, path: str | Path) -> GroundTruth:
        truth = cls()
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                obj = json.loads(line)
                kind = obj.pop("type", None)
                if kind == "header":
                    truth.begin(obj)
                elif kind == "person":
                    truth.add_person(obj)
                elif kind == "shared":
                    truth.add_shared(obj)
                elif kind == "junk":
                    truth.add_junk(obj)
                elif kind == "summary":
                    truth.finish(obj)
                else:
                    raise ValueError(f"{path}:{number}: unknown truth line type {kind!r} "
                                     "(header, person, shared, junk, summary)")
        return truth


class TruthWriter:
    """Streams the truth to a JSONL file as people finish: constant memory for any run length."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: IO[str] | None = None

    def __enter__(self) -> TruthWriter:
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, kind: str, obj: dict[str, Any]) -> None:
        if self._file is None:
            self.__enter__()
        self._file.write(json.dumps({"type": kind, **obj}, separators=(",", ":")) + "\n")

    def begin(self, header: dict[str, Any]) -> None:
        self._write("header", header)

    def add_person(self, person: dict[str, Any]) -> None:
        self._write("person", person)

    def add_shared(self, shared: dict[str, Any]) -> None:
        self._write("shared", shared)

    def add_junk(self, junk: dict[str, Any]) -> None:
        self._write("junk", junk)

    def finish(self, summary: dict[str, Any]) -> None:
        self._write("summary", summary)
        self.close()
