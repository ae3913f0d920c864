"""The simulator's fixtures (tests.fixtures-style module; the root conftest may register it instead)."""

from tests.streams.simulator.fixtures import malformed_run, population_run  # noqa: F401
