"""The chDB side of the store: one embedded ClickHouse engine, a fresh session per request.

chDB lets one process open a data directory; inside it any number of
connections share the engine and run in parallel. Every request gets its
own connection, so ``USE`` and ``SET`` (the request's database and
settings) die with it and never reach another request or thread; opening
one costs about a millisecond while the primary connection keeps the engine
up. A semaphore bounds how many requests run at once; ``close`` lets the
running ones finish, refuses new ones, then shuts the engine down cleanly.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.store import errors

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# chDB's Python wrapper treats these "formats" as Python objects, not bytes.
_PYTHON_FORMATS = frozenset({"dataframe", "arrowtable", "datastore"})


@dataclass(frozen=True)
class Outcome:
    """What a statement returned: the formatted result and ClickHouse's X-ClickHouse-Summary fields."""

    body: bytes
    summary: dict[str, str] = field(default_factory=dict)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _assignments(settings: Mapping[str, str]) -> str:
    """``a = 'x', b = '1'`` (readonly last, so it cannot block the others); names must be identifiers."""
    for name in settings:
        if not _IDENTIFIER.match(name):
            raise errors.QueryError(errors.UNKNOWN_SETTING, f"Unknown setting {name!r}")
    ordered = sorted(settings.items(), key=lambda item: item[0] == "readonly")
    return ", ".join(f"{name} = {_quote(value)}" for name, value in ordered)


def _summary(read_rows: int, read_bytes: int, written_rows: int, written_bytes: int,
             result_rows: int, result_bytes: int, elapsed_s: float) -> dict[str, str]:
    return {
        "read_rows": str(read_rows), "read_bytes": str(read_bytes),
        "written_rows": str(written_rows), "written_bytes": str(written_bytes),
        "total_rows_to_read": str(read_rows),
        "result_rows": str(result_rows), "result_bytes": str(result_bytes),
        "elapsed_ns": str(int(elapsed_s * 1e9)),
    }


class Engine:
    """One chDB engine on ``path``; thread-safe."""

    def __init__(self, path: Path, max_concurrent_queries: int = 8, queue_timeout_s: float = 30.0):
        import chdb

        self._chdb = chdb
        path.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        self._max = max_concurrent_queries
        self._queue_timeout_s = queue_timeout_s
        self._slots = threading.BoundedSemaphore(max_concurrent_queries)
        self._state = threading.Condition()
        self._active = 0
        self._closed = False
        self._primary = chdb.connect(self._path)
        row = self._primary.query("SELECT version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = row.decode().rstrip("\n").split("\t")
        log.info("chDB %s opened %s (timezone %s)", self.version, self._path, self.timezone)

    def query(self, sql: str, fmt: str, *, settings: Mapping[str, str] | None = None,
              params: Mapping[str, str] | None = None, database: str | None = None) -> Outcome:
        """Run any statement; a result comes back in ``fmt`` unless the SQL names its own FORMAT."""
        if not sql.strip():
            raise errors.QueryError(errors.SYNTAX_ERROR, "Empty query")
        if fmt.lower() in _PYTHON_FORMATS or not _IDENTIFIER.match(fmt):
            raise errors.QueryError(errors.UNKNOWN_FORMAT, f"Unknown output format {fmt}")
        with self._session(settings, database) as conn, _engine_errors():
            result = conn.query(sql, fmt, params=dict(params or {}))
            body = result.bytes()
            # chDB's rows_read() counts result rows; storage_rows_read() what the query read.
            return Outcome(body, _summary(
                result.storage_rows_read(), result.storage_bytes_read(), result.rows_written(),
                result.bytes_written(), result.rows_read(), len(body), result.elapsed()))

    def insert(self, statement: str, fmt: str, chunks: Iterable[bytes], *,
               settings: Mapping[str, str] | None = None, database: str | None = None) -> Outcome:
        """Stream ``chunks`` (data in ``fmt``) into ``statement`` (``INSERT INTO t (cols)``, no FORMAT)."""
        with self._session(settings, database) as conn, _engine_errors():
            inserter = conn.send_insert(statement, fmt)
            try:
                for chunk in chunks:
                    inserter.append(chunk)
                result = inserter.finish()
            except BaseException:
                try:
                    inserter.cancel()
                except Exception:  # the insert's own error is the one to report
                    log.debug("cancelling a failed insert also failed", exc_info=True)
                raise
            return Outcome(b"", _summary(0, 0, result.rows_written, result.bytes_written, 0, 0, result.elapsed))

    @contextmanager
    def _session(self, settings: Mapping[str, str] | None, database: str | None) -> Iterator[Any]:
        if not self._slots.acquire(timeout=self._queue_timeout_s):
            raise errors.QueryError(
                errors.TOO_MANY_SIMULTANEOUS_QUERIES,
                f"{self._max} queries have been running for over {self._queue_timeout_s:g}s "
                "(store option --max-concurrent-queries); retry later",
            )
        try:
            with self._state:
                if self._closed:
                    raise errors.QueryError(errors.ABORTED, "touchline store is shutting down")
                self._active += 1
            try:
                with _engine_errors():
                    conn = self._chdb.connect(self._path)
                try:
                    with _engine_errors():
                        if database:
                            conn.query(f"USE `{database.replace('`', '``')}`", "TabSeparated")
                        if settings:
                            conn.query(f"SET {_assignments(settings)}", "TabSeparated")
                    yield conn
                finally:
                    conn.close()
            finally:
                with self._state:
                    self._active -= 1
                    self._state.notify_all()
        finally:
            self._slots.release()

    def close(self, timeout: float = 15.0) -> None:
        """Refuse new requests, wait up to ``timeout`` for running ones, close the engine."""
        deadline = time.monotonic() + timeout
        with self._state:
            if self._closed and self._primary is None:
                return
            self._closed = True
            while self._active and (left := deadline - time.monotonic()) > 0:
                self._state.wait(left)
            if self._active:
                log.warning("closing chDB with %d requests still running", self._active)
        primary, self._primary = self._primary, None
        if primary is not None:
            primary.close()
            log.info("chDB closed %s", self._path)


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Re-raise chDB's exceptions (ChdbError, RuntimeError) as QueryError with its code and name."""
    try:
        yield
    except errors.QueryError:
        raise
    except Exception as exc:  # chDB raises ChdbError or bare RuntimeError
        raise errors.from_engine(exc) from None
