#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs, then runs pytest.
# Tests start their own Kafka broker and ClickHouse store (and stop them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/infra/bootstrap.sh"
cd "$root"
# Debian's prometheus package (server and promtool) for tests/infra/test_monitoring.py: the shipped
# alert rules are checked by promtool and evaluated by a real Prometheus scraping a real worker.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"
  echo "test: installing Debian's prometheus package" >&2
  export DEBIAN_FRONTEND=noninteractive
  $as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null \
    || { $as_root apt-get update -q >/dev/null && $as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
fi
exec .venv/bin/python -m pytest -rs "$@"
