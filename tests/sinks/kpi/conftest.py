"""This folder's fixtures (tests/sinks/kpi/fixtures.py)."""

from tests.sinks.kpi.fixtures import kpi_rows, kpi_settings  # noqa: F401
