"""The HTTP side of the store: the part of ClickHouse's HTTP interface that clients use.

Handled: ``GET /ping``, ``GET /`` ("Ok."); ``GET /?query=`` (read-only, as in
ClickHouse); ``POST /`` with the query in the ``query`` URL parameter and/or
the body (param + newline + body, as ClickHouse joins them), answered in the
query's FORMAT or ``default_format`` (TabSeparated); ``INSERT ... FORMAT x``
plus data, sized or chunked, plain or ``Content-Encoding`` lz4
(clickhouse-connect's default), zstd, gzip, deflate; settings as URL
parameters, for that request only; ``param_<name>`` query parameters;
ClickHouse-shaped errors and the headers clickhouse-connect reads
(``X-ClickHouse-Summary``, ``-Query-Id``, ``-Format``, ``-Timezone``).

Not supported (an explicit error where a client could rely on it):
- sessions: ``session_id`` is ignored; each request is a fresh session, so
  ``SET``, ``USE`` and temporary tables do not outlive it;
- ClickHouse's native compression (``compress=1``/``decompress=1``) and
  multipart requests (external tables, form-encoded queries): NOT_IMPLEMENTED;
- compressed responses (``Accept-Encoding`` is ignored, clients accept that);
- progress headers and streaming: a result is built in memory and sent when
  the query has finished (as with ``wait_end_of_query=1``);
- users, roles, quotas: with ``user`` configured, requests must carry it
  and its password (Basic auth, X-ClickHouse-User/-Key or URL parameters);
  otherwise any credentials are accepted. Meant for 127.0.0.1.

HTTPS: with ``tls_cert``/``tls_key`` (PEM) the listening socket is TLS
(like ClickHouse's ``https_port``); each connection's handshake runs in its
own thread, bounded by ``socket_timeout_s``, so a stalled client cannot
block the accept loop.
"""

from __future__ import annotations

import itertools
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra.store import errors, protocol, sql
from infra.store.body import RequestBody, too_large
from infra.store.engine import Engine, Outcome

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024
HEAD_BYTES = 1024 * 1024  # an INSERT's FORMAT clause must be within this much of the request


@dataclass(frozen=True)
class ServerConfig:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_connections: int = 64
    socket_timeout_s: float = 60.0
    user: str | None = None
    password: str | None = None
    tls_cert: str | None = None  # PEM certificate chain; with tls_key: serve HTTPS
    tls_key: str | None = None

    def __repr__(self) -> str:  # never the password
        return (f"ServerConfig(max_body_bytes={self.max_body_bytes}, max_connections={self.max_connections}, "
                f"user={self.user!r}, tls={self.tls_cert is not None})")


class StoreServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections``; the engine bounds running queries."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, config: ServerConfig):
        self.engine = engine
        self.config = config
        self._connections = threading.BoundedSemaphore(config.max_connections)
        self._busy = 0
        self._idle = threading.Condition()
        super().__init__(address, StoreHandler)
        if config.tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(config.tls_cert, config.tls_key)
            # The handshake happens in the connection's thread (StoreHandler.setup), not in accept().
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert is not None else "http"

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._connections.acquire(blocking=False):
            super().process_request(request, client_address)
            return
        log.warning("refusing a connection from %s: %d already open (--max-connections)",
                    client_address[0], self.config.max_connections)
        exc = errors.QueryError(errors.TOO_MANY_SIMULTANEOUS_QUERIES,
                                f"too many connections ({self.config.max_connections}, --max-connections)")
        body = exc.body(self.engine.version)
        head = (f"HTTP/1.1 503 Service Unavailable\r\nX-ClickHouse-Exception-Code: {exc.code}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(2.0)  # this runs in the accept loop: a TLS handshake here must not stall it
            request.sendall(head + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("connection from %s ended with an error", client_address[0], exc_info=True)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Count a request as in flight (``wait_idle`` waits for none)."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled (after ``shutdown``); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class StoreHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "touchline-store"
    server: StoreServer

    def setup(self) -> None:
        self.timeout = self.server.config.socket_timeout_s
        super().setup()
        self._tls_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()  # bounded by the socket timeout set above
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                log.warning("TLS handshake with %s failed: %s", self.client_address[0], exc)
                self._tls_failed = True

    def handle(self) -> None:
        if not self._tls_failed:
            super().handle()

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/ping" or (url.path == "/" and "query" not in params):
            self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        else:
            with self.server.working():
                self._query(url.path, params)

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        with self.server.working():
            self._query(url.path, dict(parse_qsl(url.query, keep_blank_values=True)))

    def handle_expect_100(self) -> bool:
        limit = self.server.config.max_body_bytes
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) > limit:
            self.close_connection = True
            log.warning("refused a %s-byte body before reading it: over --max-body-bytes %d",
                        self.headers["Content-Length"], limit)
            self._send_error(too_large(limit), str(uuid.uuid4()))
            return False
        return super().handle_expect_100()

    def _query(self, path: str, params: dict[str, str]) -> None:
        started = time.monotonic()
        query_id = params.get("query_id") or str(uuid.uuid4())
        body: RequestBody | None = None
        what = f"{self.command} {path}"
        try:
            protocol.check_supported(path, self.headers, params)
            config = self.server.config
            if config.user is not None:
                protocol.authenticate(self.headers, params, config.user, config.password or "")
            if self.command == "POST":
                body = RequestBody(self.rfile, self.headers, self.server.config.max_body_bytes)
            what, outcome, fmt, settings = self._execute(params, body)
        except errors.QueryError as exc:
            if self.command == "POST" and not (body is not None and body.complete):
                self.close_connection = True  # unread request bytes are still on the socket
            log.warning("%s failed (query_id %s): %s", what, query_id, exc)
            self._send_error(exc, query_id)
            return
        except (ConnectionError, TimeoutError) as exc:  # client gone, or stalled past --socket-timeout
            log.warning("%s: connection from %s failed: %r", what, self.client_address[0], exc)
            self.close_connection = True
            return
        except Exception as exc:  # a bug here: answer like ClickHouse, keep serving
            log.exception("%s failed (query_id %s)", what, query_id)
            self.close_connection = True
            self._send_error(errors.QueryError(errors.UNKNOWN_EXCEPTION, f"touchline store: {exc!r}"), query_id)
            return
        finally:
            if body is not None:
                body.close()
        headers = {
            "Content-Type": protocol.content_type(fmt),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": json.dumps(outcome.summary, separators=(",", ":")),
            "X-ClickHouse-Timezone": settings.get("session_timezone") or self.server.engine.timezone,
        }
        if fmt is not None:
            headers["X-ClickHouse-Format"] = fmt
        self._send(200, outcome.body, headers)
        log.debug("%s -> %d bytes in %.1f ms", what, len(outcome.body), (time.monotonic() - started) * 1000)

    def _execute(self, params: dict[str, str],
                 body: RequestBody | None) -> tuple[str, Outcome, str | None, dict[str, str]]:
        """Run the request's statement: (log label, outcome, result format or None, settings)."""
        settings, bind = protocol.split_params(params)
        if self.command == "GET":
            settings.setdefault("readonly", "2")  # ClickHouse runs GET queries read-only
        engine = self.server.engine
        database = params.get("database") or None
        prefix = (params["query"] + "\n").encode() if params.get("query") else b""
        head = prefix + (body.read(HEAD_BYTES) if body is not None else b"")
        insert = sql.find_insert_data(head)
        if insert is not None:
            chunks = itertools.chain([head[insert.data_offset:]], body.chunks() if body is not None else [])
            outcome = engine.insert(insert.statement, insert.fmt, chunks, settings=settings, database=database)
            return f"{insert.statement[:120]} FORMAT {insert.fmt}", outcome, None, settings
        text = head + (body.read() if body is not None else b"")
        try:
            query = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.QueryError(errors.SYNTAX_ERROR,
                                    f"the query is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        default_format = params.get("default_format") or "TabSeparated"
        outcome = engine.query(query, default_format, settings=settings, params=bind, database=database)
        fmt = sql.output_format(text, default_format) if sql.first_keyword(text) in sql.RESULT_KEYWORDS else None
        return " ".join(query.split())[:120], outcome, fmt, settings

    def _send_error(self, exc: errors.QueryError, query_id: str) -> None:
        self._send(exc.http_status, exc.body(self.server.engine.version), {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(exc.code),
            "X-ClickHouse-Query-Id": query_id,
        })

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", f"timeout={int(self.server.config.socket_timeout_s)}")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _query logs one line per request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.warning("%s: %s", self.address_string(), format % args)
