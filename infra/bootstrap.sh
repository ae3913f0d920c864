#!/usr/bin/env bash
# Installs what Touchline needs on a fresh machine, idempotently:
# a Python venv (.venv) with the package and its test extra, and the
# Apache Kafka jars from Maven Central (cached in ~/.cache/touchline).
# Sourced by infra/demo.sh and infra/test.sh; safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

need() { command -v "$1" >/dev/null 2>&1 || { echo "bootstrap: '$1' not found: $2" >&2; exit 1; }; }
need python3 "install Python >= 3.11"
need java "install a Java 17+ runtime (the local Kafka broker runs on it)"
need mvn "install Apache Maven (it fetches the Kafka jars from Maven Central)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: Python >= 3.11 required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  python3 -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.touchline-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing Python dependencies (first run downloads ~1 GB: chDB, pyarrow)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  touch "$stamp"
fi
.venv/bin/python -c 'from infra.localkafka import ensure_kafka_jars; ensure_kafka_jars()' >&2
