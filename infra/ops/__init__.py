"""On-call tooling behind `touchline status` and `touchline dlq`: read-only checks and the dead-letter replay.

- ``when``: `--since 1h` / ISO-8601 instants;
- ``preview``: a terminal- and PII-safe look at rejected bytes;
- ``groups``: consumer group lag and members (Kafka admin API);
- ``store``: dead-letter counts, rows and last flushes (ClickHouse, parameterized SQL);
- ``status``: the one-screen health report and its exit code;
- ``replay``: re-feed dead letters to the raw topic, bounded by the end offsets seen at start.
"""
