"""Identity questions answered from ClickHouse: a profile's identifiers, history and conflicts; erasure.

Every value from outside (an identifier, a profile id) is bound as a query
parameter by clickhouse-connect, never pasted into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from clickhouse_connect.driver.client import Client

from sinks.cluster_ddl import Layout
from streams.identity.identifiers import KINDS

# Every identifier a stored touchpoint carries, qualified, as one array (for first/last seen).
_IDENTIFIERS_OF_ROW = "arrayFilter(x -> isNotNull(x), [{}])".format(
    ", ".join(f"if({k} IS NULL, NULL, concat('{k}:', {k}))" for k in KINDS)
)


@dataclass
class ProfileView:
    identifier: str
    profile_id: str | None
    identifiers: list[tuple]  # (identifier, first seen, last seen, touchpoints)
    conflicts: list[tuple]  # (identifier, other, reason, event id, event time, profile, other profile)
    history: list[tuple]  # (changed_at, kind, identifier, profile, previous profile, reason)
    shared: bool = False
    columns: dict[str, list[str]] = field(default_factory=dict)


def current_profile(client: Client, db: str, identifier: str) -> str | None:
    rows = client.query(
        f"SELECT profile_id FROM {db}.identity_current WHERE identifier = %(id)s", parameters={"id": identifier}
    ).result_rows
    return rows[0][0] if rows else None


def profile_identifiers(client: Client, db: str, profile_id: str) -> list[str]:
    return [r[0] for r in client.query(
        f"SELECT identifier FROM {db}.identity_current WHERE profile_id = %(p)s ORDER BY identifier",
        parameters={"p": profile_id},
    ).result_rows]


def show(client: Client, db: str, identifier: str) -> ProfileView:
    profile = current_profile(client, db, identifier)
    members = profile_identifiers(client, db, profile) if profile else [identifier]
    seen = client.query(
        f"""SELECT identifier, min(event_time), max(event_time), count()
            FROM (SELECT arrayJoin({_IDENTIFIERS_OF_ROW}) AS identifier, event_time FROM {db}.touchpoints FINAL)
            WHERE identifier IN %(ids)s GROUP BY identifier ORDER BY identifier""",
        parameters={"ids": members},
    ).result_rows
    known = {row[0] for row in seen}
    identifiers = seen + [(m, None, None, 0) for m in members if m not in known]
    conflicts = client.query(
        f"""SELECT identifier, other_identifier, reason, event_id, event_time, profile_id, other_profile_id
            FROM {db}.identity_conflicts FINAL
            WHERE identifier IN %(ids)s OR other_identifier IN %(ids)s
               OR profile_id = %(p)s OR other_profile_id = %(p)s
            ORDER BY event_time, identifier""",
        parameters={"ids": members, "p": profile or ""},
    ).result_rows
    history = client.query(
        f"""SELECT changed_at, kind, identifier, profile_id, previous_profile_id, reason
            FROM {db}.identity_changes FINAL
            WHERE kind IN ('assigned', 'shared') AND (identifier IN %(ids)s OR profile_id = %(p)s
                                                      OR previous_profile_id = %(p)s)
            ORDER BY changed_at, identifier, version""",
        parameters={"ids": members, "p": profile or ""},
    ).result_rows
    shared = any(kind == "shared" and ident == identifier for _, kind, ident, *_ in history)
    return ProfileView(identifier, profile, identifiers, conflicts, history, shared)


def erase(client: Client, db: str, identifiers: list[str], profile_id: str, request_id: str,
          cluster: str | None = None) -> int:
    """Delete a profile's rows (touchpoints, identity tables) and record the erasure; returns touchpoints deleted.

    ``cluster`` (TOUCHLINE_CLICKHOUSE_CLUSTER): the deletes go to the ``<table>_local`` tables ON CLUSTER,
    since a Distributed table takes no mutation.
    """
    layout = Layout(db, cluster)
    params = {"ids": identifiers, "p": profile_id}
    touchpoints = client.query(
        f"SELECT count() FROM {db}.touchpoints WHERE identity_key IN %(ids)s OR profile_id = %(p)s",
        parameters=params,
    ).result_rows[0][0]
    # Synchronous mutations: when this returns, a query no longer sees the rows.
    settings = {"mutations_sync": 2}
    client.command(f"ALTER TABLE {layout.mutation_target('touchpoints')} DELETE "
                   "WHERE identity_key IN %(ids)s OR profile_id = %(p)s", parameters=params, settings=settings)
    for table in ("identity_changes", "identity_overrides"):
        client.command(f"ALTER TABLE {layout.mutation_target(table)} DELETE WHERE identifier IN %(ids)s",
                       parameters=params, settings=settings)
    client.command(f"ALTER TABLE {layout.mutation_target('identity_conflicts')} DELETE WHERE identifier IN %(ids)s "
                   "OR other_identifier IN %(ids)s", parameters=params, settings=settings)
    client.insert(f"{db}.identity_erasures", [(request_id, profile_id, len(identifiers), touchpoints,
                                              datetime.now(timezone.utc))],
                  column_names=["request_id", "profile_id", "identifiers", "touchpoints", "requested_at"])
    return touchpoints


def all_assignments(client: Client, db: str) -> dict[str, str]:
    return dict(client.query(f"SELECT identifier, profile_id FROM {db}.identity_current").result_rows)
