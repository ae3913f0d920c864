"""Root conftest: loads each test folder's fixtures (tests mirror the package tree)."""

pytest_plugins = [
    "tests.fixtures",
    "tests.infra.store.fixtures",
    "tests.streams.simulator.fixtures",
]
