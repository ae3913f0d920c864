"""Idempotent DDL: ordered ``sinks/migrations/NNNN_name.sql`` files and an applied-version table.

The same files run against the local store and a ClickHouse server. Every
statement is ``IF NOT EXISTS``-safe, so two workers migrating at once (or a
crash between a statement and its version row) only re-run harmless DDL.

With a cluster name (``TOUCHLINE_CLICKHOUSE_CLUSTER``) each statement is
rendered for the cluster by ``sinks.cluster_ddl`` (ON CLUSTER, Replicated
local tables, Distributed tables under the original names); the files and
their checksums stay the same. A database keeps the layout it was created
with: migrating it with the other one is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from sinks.cluster_ddl import Layout
from sinks.exceptions import SinkError

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip().replace("{db}", database) for s in body.split(";") if s.strip()]


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("sinks.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(client: Client, database: str, cluster: str | None = None) -> list[int]:
    """Apply pending migrations; return the versions applied now.

    ``cluster``: the ClickHouse cluster name (``TOUCHLINE_CLICKHOUSE_CLUSTER``), None for one server.
    """
    layout = Layout(database, cluster)
    _check_layout(client, layout)
    client.command(layout.create_database())
    client.command(layout.bookkeeping_table())
    rows = client.query(f"SELECT version, checksum FROM {database}.schema_migrations FINAL").result_rows
    applied = {int(v): c for v, c in rows}
    done = []
    for migration in load_migrations():
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise SinkError(
                    f"migration {migration.version:04d}_{migration.name}.sql changed after it was applied "
                    f"to {database}: add a new migration file instead of editing an applied one"
                )
            continue
        for statement in layout.render(migration.statements(database)):
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [(migration.version, migration.name, migration.checksum)],
            column_names=["version", "name", "checksum"],
        )
        log.info("applied migration %04d_%s to %s%s", migration.version, migration.name, database,
                 f" on cluster {cluster}" if cluster else "")
        done.append(migration.version)
    return done


def _check_layout(client: Client, layout: Layout) -> None:
    """Refuse to mix layouts: the bookkeeping table's engine says which one a database was created with."""
    rows = client.query(
        "SELECT engine FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations'",
        parameters={"db": layout.database},
    ).result_rows
    if not rows:
        return
    clustered = str(rows[0][0]).startswith("Replicated")
    if layout.cluster is not None and not clustered:
        raise SinkError(
            f"database {layout.database} was created for a single ClickHouse server (schema_migrations is "
            f"{rows[0][0]}), but TOUCHLINE_CLICKHOUSE_CLUSTER={layout.cluster}: unset it, or migrate into a new "
            "database (TOUCHLINE_CLICKHOUSE_DATABASE) and copy the data (docs/scaling.md)"
        )
    if layout.cluster is None and clustered:
        raise SinkError(
            f"database {layout.database} was created on a cluster (schema_migrations is {rows[0][0]}): "
            "set TOUCHLINE_CLICKHOUSE_CLUSTER to its cluster name"
        )
