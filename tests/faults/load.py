"""Steady simulated traffic for the fault tests, and the accounting every fault test ends with.

Every fault test produces a simulation at a fixed rate in a background thread
(``SteadyLoad``), breaks something while it flows, and ends with
``wait_until_accounted``: every valid event in ``touchpoints FINAL`` exactly
once, every malformed one in ``rejects`` at its source position with a reason,
nothing else. The figures (events in, in ClickHouse, in the DLQ, lost,
duplicated, recovery time) are what docs/reliability.md publishes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from infra.processes import TouchlineProcess
from infra.settings import Settings
from infra.traffic import TrafficReport, produce_simulation
from schemas.rows import RowDecoder
from streams import envelopes
from streams.simulator import SimulationConfig
from streams.topics import TopicNames
from tests.fixtures import wait_for
from tests.streams.pipeline_checks import read_topic


class SteadyLoad:
    """``produce_simulation`` at ``rate`` messages/s in a thread; ``report`` fills as it goes."""

    def __init__(self, settings: Settings, config: SimulationConfig, rate: float) -> None:
        self.report = TrafficReport()
        self.expected = config.events or 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(settings, config, rate), name="steady-load",
                                        daemon=True)

    def _run(self, settings: Settings, config: SimulationConfig, rate: float) -> None:
        try:
            produce_simulation(settings, config, rate=rate, report=self.report)
        except BaseException as exc:  # reported by join(): a test must not pass on half a load
            self._error = exc

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join(timeout=300)

    @property
    def produced(self) -> int:
        """Messages handed to the producer so far (malformed included)."""
        return self.report.messages

    def join(self, timeout: float) -> TrafficReport:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the load did not finish within {timeout:g}s ({self.produced} sent)"
        if self._error is not None:
            raise AssertionError(f"the load failed after {self.produced} messages: {self._error!r}") from self._error
        return self.report


@dataclass
class Accounting:
    """Where each produced message ended up."""

    events_in: int
    in_clickhouse: int  # distinct valid event ids in touchpoints FINAL
    in_dlq: int  # malformed messages found in rejects at their source position
    lost: int  # produced, in neither
    duplicated: int  # extra rows for one event id in touchpoints FINAL
    unexpected: int  # rows nobody produced, or rejects at no malformed message's position
    redone_rows: int  # raw rows beyond one per event, not yet merged away (redelivery and duplicate copies)

    @property
    def exact(self) -> bool:
        # lost == 0: every distinct valid event id stored, every malformed message dead-lettered
        return self.lost == self.duplicated == self.unexpected == 0


def account(client, db: str, raw_topic: str, sent: TrafficReport) -> Accounting:  # noqa: ANN001
    ids = client.query(f"SELECT event_id FROM {db}.touchpoints FINAL").result_columns
    final = Counter(ids[0] if ids else [])
    raw_rows = client.query(f"SELECT count() FROM {db}.touchpoints").result_rows[0][0]
    rejects = client.query(
        f"SELECT source_topic, source_partition, source_offset, reason FROM {db}.rejects FINAL").result_rows
    at = {(r[1], r[2]): r for r in rejects if r[0] == raw_topic}
    malformed_at = {(m.partition, m.offset) for m in sent.malformed}
    valid = set(sent.valid_event_ids)
    in_dlq = sum(1 for pos in malformed_at if pos in at and at[pos][3])
    in_clickhouse = len(valid & final.keys())
    return Accounting(
        events_in=sent.messages,
        in_clickhouse=in_clickhouse,
        in_dlq=in_dlq,
        lost=len(valid - final.keys()) + len(malformed_at) - in_dlq,
        duplicated=sum(n - 1 for n in final.values()),
        unexpected=len(final.keys() - valid) + len(rejects) - in_dlq,
        redone_rows=raw_rows - sum(final.values()),
    )


def wait_until_accounted(client, settings: Settings, sent: TrafficReport,  # noqa: ANN001
                         procs: list[TouchlineProcess], timeout: float = 300) -> Accounting:
    """Poll until every produced message is accounted for exactly once; fail with the last accounting
    and, for the events missing, the pipeline topics that still hold them (where they were lost)."""
    assert all(m.offset >= 0 for m in sent.malformed), "a malformed message was not acknowledged by Kafka"
    db, names = settings.clickhouse_database, TopicNames.from_settings(settings)
    last: list[Accounting | None] = [None]

    def exact() -> bool:
        for proc in procs:
            assert proc.running, f"worker exited:\n{proc.log_tail()}"
        last[0] = account(client, db, names.raw, sent)
        return last[0].exact

    try:
        wait_for(exact, timeout=timeout, what=lambda: f"every message accounted for ({last[0]})")
    except AssertionError as exc:
        stored = set(client.query(f"SELECT event_id FROM {db}.touchpoints FINAL").result_columns[0])
        missing = set(sent.valid_event_ids) - stored
        seen = {topic: len(missing & event_ids_in(settings, topic)) for topic in (names.valid, names.enriched)}
        raise AssertionError(f"{exc}; of the {len(missing)} valid events missing, in {seen}") from None
    assert last[0] is not None
    return last[0]


def event_ids_in(settings: Settings, topic: str) -> set[str]:
    """Every event id in a pipeline topic (valid or enriched: enriched touchpoints as rows, in envelopes)."""
    decoder = RowDecoder("enriched_touchpoint", max_payload_bytes=settings.max_payload_bytes * 2)
    return {decoder.decode(value)[0]["event_id"] for m in read_topic(settings, topic)
            for _, value in envelopes.entries(m.key(), m.value())}


def rows_stored(client, db: str) -> int:  # noqa: ANN001
    """Messages accounted for in ClickHouse: valid events (touchpoints FINAL) plus dead letters (rejects FINAL)."""
    return client.query(f"SELECT (SELECT count() FROM {db}.touchpoints FINAL)"
                        f" + (SELECT count() FROM {db}.rejects FINAL)").result_rows[0][0]


def wait_until_caught_up(client, db: str, load: SteadyLoad, procs: list[TouchlineProcess],  # noqa: ANN001
                         timeout: float = 300) -> float:
    """Seconds until ClickHouse holds as many rows (touchpoints + rejects) as were produced when called:
    the recovery time after a fault, with the load still flowing."""
    started, target = time.monotonic(), load.produced

    def stored() -> int:
        for proc in procs:
            assert proc.running, f"worker exited:\n{proc.log_tail()}"
        return rows_stored(client, db)

    wait_for(lambda: stored() >= target, timeout=timeout, what=f"{target} rows stored")
    return time.monotonic() - started
