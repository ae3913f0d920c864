#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs, then runs pytest.
# Tests start their own Kafka broker and ClickHouse store (and stop them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/infra/bootstrap.sh"
cd "$root"
exec .venv/bin/python -m pytest -rs "$@"
