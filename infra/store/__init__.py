"""``touchline store``: an embedded ClickHouse (chDB) behind ClickHouse's HTTP interface.

chDB lets one process open a data directory, so one store process owns it and
everything else (workers, CLI, analysts, tests) talks to it with an ordinary
ClickHouse client, e.g. ``clickhouse_connect.get_client(host=..., port=...)``.

Modules, one concept each:
- ``process``: launch/find/stop a store subprocess (``StoreProcess``);
- ``__main__``: ``python -m infra.store --data-dir D --port P``, the server process;
- ``state``: the data directory's lock and state file (who owns it, at which URL);
- ``server``: HTTP handling (what is and is not supported is listed there);
- ``protocol``: URL parameters, credentials and content types of the HTTP interface;
- ``body``: request bodies (chunked, lz4/zstd/gzip, size limit);
- ``sql``: routing a statement (INSERT data vs query, output format);
- ``engine``: the chDB side, a fresh session per request;
- ``errors``: errors in ClickHouse's own format.

Importing this package does not load chDB; only the server process does.
"""
