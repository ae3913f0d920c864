"""Stand-alone benchmarks, run from the repository root: `.venv/bin/python -m benchmarks.<name> --help`."""
