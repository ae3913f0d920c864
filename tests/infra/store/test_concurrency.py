"""Several client threads inserting and querying at once: no lost rows, no settings leaking between requests."""

from __future__ import annotations

import threading

import pytest


pytestmark = pytest.mark.integration

THREADS = 4
BATCHES = 10
ROWS = 2_000


def test_parallel_inserts_and_queries(client_factory, database):
    setup = client_factory()
    setup.command(f"CREATE TABLE {database}.c (worker UInt8, batch UInt16, n UInt32) "
                  "ENGINE = MergeTree ORDER BY (worker, batch, n)")
    failures: list[str] = []
    clients = [client_factory() for _ in range(THREADS)]

    def work(worker: int) -> None:
        client = clients[worker]
        try:
            for batch in range(BATCHES):
                rows = [(worker, batch, n) for n in range(ROWS)]
                client.insert(f"{database}.c", rows, column_names=["worker", "batch", "n"],
                              settings={"insert_deduplication_token": f"w{worker}b{batch}"})
                # Each request carries its own max_threads; another thread's value must never show up.
                threads = client.command("SELECT getSetting('max_threads')", settings={"max_threads": worker + 1})
                if threads != worker + 1:
                    failures.append(f"worker {worker} saw max_threads={threads}")
                seen = client.command(f"SELECT count() FROM {database}.c WHERE worker = {worker}")
                if seen != (batch + 1) * ROWS:
                    failures.append(f"worker {worker} batch {batch}: {seen} rows")
        except Exception as exc:  # noqa: BLE001 (collected, asserted below)
            failures.append(f"worker {worker}: {exc!r}")

    threads = [threading.Thread(target=work, args=(w,), name=f"store-client-{w}") for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert setup.command(f"SELECT count() FROM {database}.c") == THREADS * BATCHES * ROWS
    assert setup.command(f"SELECT uniqExact(worker, batch) FROM {database}.c") == THREADS * BATCHES
