"""Checks shared by the identity tests on the broker: wait for the stored rows, compare with the reference."""

from __future__ import annotations

from infra.processes import TouchlineProcess
from infra.settings import Settings
from sinks.identity_store import all_assignments
from streams.identity.identifiers import KINDS
from streams.identity.policy import policy_from_settings
from streams.identity.reference import stitch
from streams.identity.resolve import Resolution
from tests.fixtures import wait_for


def stored_records(client, db: str) -> list[dict]:  # noqa: ANN001
    """The touchpoints in ClickHouse, as the records the batch reference reads."""
    columns = ["event_id", "event_time", *KINDS]
    rows = client.query(f"SELECT {', '.join(columns)} FROM {db}.touchpoints FINAL").result_rows
    return [dict(zip(columns, row)) for row in rows]


def _alive(procs: list[TouchlineProcess]) -> None:
    for proc in procs:
        assert proc.running, f"worker exited:\n{proc.log_tail()}"


def wait_until_stored(client, db: str, expected: int, procs: list[TouchlineProcess],  # noqa: ANN001
                      timeout: float = 300) -> None:
    def missing() -> str | None:
        _alive(procs)
        count = client.query(f"SELECT count() FROM {db}.touchpoints FINAL").result_rows[0][0]
        return None if count == expected else f"{count} stored"

    wait_for(lambda: missing() is None, timeout=timeout, what=lambda: f"{expected} touchpoints ({missing()})")


def changes_of(client, db: str, identifier: str) -> list[tuple]:  # noqa: ANN001
    return client.query(
        f"SELECT kind, profile_id, other_identifier, reason, version FROM {db}.identity_changes "
        "WHERE identifier = %(i)s ORDER BY version, changed_at", parameters={"i": identifier}).result_rows


def wait_until_converged(client, settings: Settings, procs: list[TouchlineProcess],  # noqa: ANN001
                         timeout: float = 180) -> Resolution:
    """The batch reference over the stored touchpoints, once ClickHouse's profiles equal it."""
    db = settings.clickhouse_database
    reference = stitch(stored_records(client, db), policy_from_settings(settings))
    differences: list[str] = []

    def converged() -> bool:
        _alive(procs)
        actual = all_assignments(client, db)
        differences[:] = sorted(i for i in reference.profiles if actual.get(i) != reference.profiles[i])
        return actual == reference.profiles

    try:
        wait_for(converged, timeout=timeout, what="the stitched profiles to equal the batch reference")
    except AssertionError as exc:
        histories = "\n".join(f"  {i}: expected {reference.profiles[i]}, changes {changes_of(client, db, i)}"
                              for i in differences[:3])
        raise AssertionError(f"{exc}: {len(differences)} of {len(reference.profiles)} identifiers differ, e.g.\n"
                             f"{histories}") from None
    return reference
