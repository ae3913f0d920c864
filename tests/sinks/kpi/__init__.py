"""KPI library tests: hand-built rows in the real engine, numbers computed by hand."""
