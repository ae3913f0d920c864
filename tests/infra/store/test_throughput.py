"""Prints the store's insert throughput (rows/s); asserts the rows arrived, not a speed."""

from __future__ import annotations

import pytest

from tests.infra.store.throughput import measure, measure_arrow, measure_store_only

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("compress", [True, False], ids=["lz4", "plain"])
def test_client_insert_throughput(store, compress, capsys, record_property):
    rate = measure(store.url, batches=5, compress=compress)
    record_property("rows_per_second", round(rate))
    with capsys.disabled():
        print(f"\nclient.insert into the store ({'lz4' if compress else 'plain'}, 10k-row batches, "
              f"30 columns): {rate:,.0f} rows/s")


def test_store_only_throughput(store, capsys, record_property):
    rate = measure_store_only(store.url, batches=5)
    record_property("rows_per_second", round(rate))
    with capsys.disabled():
        print(f"\nthe store alone (pre-encoded lz4 bodies, 10k-row batches, 30 columns): {rate:,.0f} rows/s")


def test_insert_arrow_throughput(store, capsys, record_property):
    rate = measure_arrow(store.url, batches=5)
    record_property("rows_per_second", round(rate))
    with capsys.disabled():
        print(f"\nclient.insert_arrow into the store (10k-row batches, 30 columns): {rate:,.0f} rows/s")
