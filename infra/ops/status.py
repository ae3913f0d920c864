"""`touchline status`: one screen for on-call, and an exit code a probe can use.

Exit codes (also in docs/runbook.md):

- 0 healthy: Kafka and ClickHouse answer, each group has at least
  ``min_members`` live members, no partition lags more than ``max_lag``;
- 1 unhealthy: one of those checks failed (the report lists which);
- 2 bad settings or usage (as every `touchline` command);
- 3 Kafka or ClickHouse did not answer within its timeout (or has no address
  configured): the report holds what the other one said, and names the
  setting to check.

Warnings (a group rebalancing, dead letters in the window) never change the
exit code. Kafka and ClickHouse are asked in parallel, each bounded by its
own timeout (TOUCHLINE_KAFKA_TIMEOUT_S, TOUCHLINE_CLICKHOUSE_TIMEOUT_S).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from infra.exceptions import TouchlineError
from infra.ops.groups import GroupStatus, app_groups, describe_groups
from infra.ops.store import DlqCount, Store, StoreQueryError, TableFlush
from infra.ops.when import iso
from infra.settings import Settings

HEALTHY, UNHEALTHY, DOWN = 0, 1, 3


@dataclass
class Service:
    name: str
    address: str | None = None
    reachable: bool = False
    error: str | None = None


@dataclass
class StatusReport:
    kafka: Service
    clickhouse: Service
    max_lag: int
    min_members: int
    window_s: int
    groups: list[GroupStatus] = field(default_factory=list)
    dlq: list[DlqCount] | None = None
    tables: list[TableFlush] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def exit_code(self) -> int:
        if not (self.kafka.reachable and self.clickhouse.reachable):
            return DOWN
        return UNHEALTHY if self.problems else HEALTHY

    @property
    def verdict(self) -> str:
        return {HEALTHY: "healthy", UNHEALTHY: "unhealthy", DOWN: "down"}[self.exit_code]

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.verdict,
            "exit_code": self.exit_code,
            "checked_at": iso(self.checked_at),
            "problems": self.problems,
            "warnings": self.warnings,
            "thresholds": {"max_lag": self.max_lag, "min_members": self.min_members, "dlq_window_s": self.window_s},
            "kafka": vars(self.kafka),
            "clickhouse": vars(self.clickhouse),
            "groups": [_group_dict(g) for g in self.groups],
            "dlq": None if self.dlq is None else {
                "total": sum(c.total for c in self.dlq),
                "last_window": sum(c.last_window for c in self.dlq),
                "by_reason": [{"reason": c.reason, "stage": c.stage, "last_window": c.last_window,
                               "total": c.total, "latest": iso(c.latest)} for c in self.dlq],
            },
            "tables": None if self.tables is None else [
                {"table": t.table, "rows": t.rows, "last_flush": iso(t.last_flush),
                 "age_s": _age(self.checked_at, t.last_flush)} for t in self.tables],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


def _group_dict(group: GroupStatus) -> dict[str, object]:
    worst = group.worst()
    return {
        "group": group.spec.group_id, "role": group.spec.role, "state": group.state,
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "host": m.host, "assignment": m.assignment}
                    for m in group.members],
        "lag_total": group.lag_total,
        "lag_max": worst.lag if worst else 0,
        "missing_topics": group.missing_topics,
        "error": group.error,
        "partitions": [{"topic": p.topic, "partition": p.partition, "committed": p.committed, "end": p.high,
                        "lag": p.lag} for p in group.partitions],
    }


def _age(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    then = then if then.tzinfo else then.replace(tzinfo=timezone.utc)
    return round(max(0.0, (now - then).total_seconds()), 3)


def collect(settings: Settings, max_lag: int, min_members: int = 1, window_s: int = 3600) -> StatusReport:
    report = StatusReport(Service("kafka"), Service("clickhouse"), max_lag, min_members, window_s)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="status") as pool:
        kafka = pool.submit(_kafka, settings, report)
        clickhouse = pool.submit(_clickhouse, settings, report)
        kafka.result()
        clickhouse.result()
    _judge(report)
    return report


def _kafka(settings: Settings, report: StatusReport) -> None:
    service = report.kafka
    try:
        service.address = settings.bootstrap_servers()
        report.groups = describe_groups(settings, app_groups(settings))
        service.reachable = True
    except TouchlineError as exc:  # KafkaUnreachable, or ConfigError (no bootstrap servers)
        service.error = str(exc)


def _clickhouse(settings: Settings, report: StatusReport) -> None:
    from sinks.clickhouse import connect

    service = report.clickhouse
    try:
        service.address = settings.clickhouse_http_url()
        client = connect(settings)
    except TouchlineError as exc:  # ConfigError naming TOUCHLINE_CLICKHOUSE_URL
        service.error = f"{exc} (TOUCHLINE_CLICKHOUSE_TIMEOUT_S is the wait)"
        return
    service.reachable = True
    try:
        store = Store(client, settings.clickhouse_database, settings.clickhouse_timeout_s)
        report.dlq = store.dlq_counts(report.window_s)
        report.tables = store.table_flushes()
    except StoreQueryError as exc:
        if exc.unreachable:
            service.reachable = False
        service.error = str(exc)
    finally:
        client.close()


def _judge(report: StatusReport) -> None:
    problems, warnings = report.problems, report.warnings
    for service in (report.kafka, report.clickhouse):
        if service.error:
            problems.append(f"{service.name} {'DOWN' if not service.reachable else 'query failed'}: {service.error}")
    for group in report.groups:
        name = f"{group.spec.role} group {group.spec.group_id}"
        if group.error:
            problems.append(f"{name}: {group.error}")
        for topic in group.missing_topics:
            problems.append(f"{name}: topic {topic} does not exist (check TOUCHLINE_TOPIC_PREFIX; "
                            "`touchline topics` creates it)")
        if len(group.members) < report.min_members:
            start = "`touchline worker`" if group.spec.role == "worker" else "`touchline sink` (or `touchline worker`)"
            problems.append(f"{name}: {len(group.members)} live member(s), need {report.min_members} "
                            f"(state {group.state}): start {start}")
        elif group.state != "stable":
            warnings.append(f"{name}: state {group.state} (a rebalance is under way)")
        over = [p for p in group.partitions if p.lag > report.max_lag]
        if over:
            worst = max(over, key=lambda p: p.lag)
            problems.append(f"{name}: lag above --max-lag {report.max_lag} on {len(over)} partition(s), "
                            f"worst {worst.topic}[{worst.partition}] = {worst.lag}")
    if report.dlq:
        recent = sum(c.last_window for c in report.dlq)
        if recent:
            warnings.append(f"{recent} dead letter(s) in the last {_span(report.window_s)}: "
                            f"`touchline dlq show --since {_span(report.window_s)}`")


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if n == start else f"{start}-{n}")
            start = None
    return ",".join(parts)


def render_table(report: StatusReport) -> str:
    from infra.cli.traffic import render

    out = [f"touchline status: {report.verdict.upper()} (exit {report.exit_code}) at {iso(report.checked_at)}"]
    out += [f"  PROBLEM {p}" for p in report.problems] + [f"  warning {w}" for w in report.warnings]
    for service in (report.kafka, report.clickhouse):
        state = "ok" if service.reachable and not service.error else ("DOWN" if not service.reachable else "ERROR")
        out.append(f"{service.name:10} {service.address or '?'}: {state}")
    for group in report.groups:
        out.append(f"\n{group.spec.role} group {group.spec.group_id}: {group.state}, {len(group.members)} member(s), "
                   f"lag {group.lag_total}")
        if group.members:
            out.append(render(["member", "host", "assigned"], [
                (m.member_id, m.host, _assigned(m.assignment, {p.topic for p in group.partitions}))
                for m in group.members]))
        by_topic: dict[str, list] = {}
        for p in group.partitions:
            by_topic.setdefault(p.topic, []).append(p)
        rows = []
        for topic, parts in by_topic.items():
            worst = max(parts, key=lambda p: p.lag)
            rows.append((topic, len(parts), sum(p.lag for p in parts),
                         f"{worst.lag} (p{worst.partition})" if worst.lag else "0"))
        if rows:
            out.append(render(["topic", "partitions", "lag", "max lag"], rows))
    if report.dlq is not None:
        total, recent = sum(c.total for c in report.dlq), sum(c.last_window for c in report.dlq)
        out.append(f"\ndead letters (rejects table): {total} total, {recent} in the last {_span(report.window_s)}")
        if report.dlq:
            out.append(render(["reason", "stage", f"last {_span(report.window_s)}", "total", "latest"],
                              [(c.reason, c.stage, c.last_window, c.total, iso(c.latest)) for c in report.dlq]))
    if report.tables is not None:
        out.append("\nClickHouse tables (last flush = max(inserted_at), the server's insert time)")
        out.append(render(["table", "rows", "last flush", "age"], [
            (t.table, t.rows, iso(t.last_flush) or "never", _human_age(_age(report.checked_at, t.last_flush)))
            for t in report.tables]))
    return "\n".join(out)


def _assigned(assignment: dict[str, list[int]], shown: set[str]) -> str:
    """The member's partitions of the group's own topics; the rest (Faust changelogs, leader topic) counted."""
    text = " ".join(f"{t}[{ranges(ps)}]" for t, ps in assignment.items() if t in shown) or "nothing"
    others = sum(len(ps) for t, ps in assignment.items() if t not in shown)
    return f"{text} (+{others} changelog/internal)" if others else text


def _human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s"
