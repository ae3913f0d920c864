#!/usr/bin/env bash
# The demo, on a fresh machine: installs, starts a local Kafka broker and
# ClickHouse store, runs a worker, simulates omnichannel traffic, waits until
# it is queryable and prints a KPI summary. `touchline dev down` stops the stack.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/infra/bootstrap.sh"
cd "$root"
exec .venv/bin/touchline demo "$@"
