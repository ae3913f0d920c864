"""``python -m infra.store --data-dir D [--host 127.0.0.1] [--port 8123]``: run the store in the foreground.

With ``--tls-cert``/``--tls-key`` it serves HTTPS; with ``--user`` it requires that user and the
password from ``$CLICKHOUSE_PASSWORD`` (never a command-line argument: others can read those).

Port 0 picks a free port; the address is written to ``D/store.json``.
SIGTERM or Ctrl-C stops it: running queries finish (up to --drain-timeout),
chDB is closed cleanly, the state file is removed. Exit code 2 means the
data directory is already in use by another store.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import ssl
import sys
import threading
import time
from pathlib import Path

from infra.exceptions import StackError
from infra.store.engine import Engine
from infra.store.server import DEFAULT_MAX_BODY_BYTES, ServerConfig, StoreServer
from infra.store.state import ENGINE_DIR, DataDirLock, clear_state, write_state

log = logging.getLogger("infra.store")

PASSWORD_ENV = "CLICKHOUSE_PASSWORD"  # same variable as ClickHouse's own container image


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8123,
    *,
    config: ServerConfig | None = None,
    max_concurrent_queries: int = 8,
    queue_timeout_s: float = 30.0,
    drain_timeout_s: float = 15.0,
    parent_pid: int | None = None,
) -> None:
    """Own ``data_dir`` and serve it over HTTP until SIGTERM/SIGINT; raises StackError if it is in use."""
    data_dir = Path(data_dir).resolve()
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        engine = Engine(data_dir / ENGINE_DIR, max_concurrent_queries, queue_timeout_s)
        try:
            _serve_until_stopped(engine, data_dir, host, port, config or ServerConfig(), drain_timeout_s, parent_pid)
        finally:
            engine.close(drain_timeout_s)
    finally:
        lock.release()
    log.info("touchline store stopped")


def _serve_until_stopped(engine: Engine, data_dir: Path, host: str, port: int, config: ServerConfig,
                         drain_timeout_s: float, parent_pid: int | None) -> None:
    try:
        server = StoreServer((host, port), engine, config)
    except ssl.SSLError as exc:
        raise StackError(f"touchline store cannot use --tls-cert {config.tls_cert} / --tls-key {config.tls_key}: "
                         f"{exc}") from None
    except OSError as exc:
        raise StackError(f"touchline store cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        state = write_state(data_dir, host, server.server_address[1], server.scheme)
        if config.user is None and host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("listening on %s without --user: anyone who can reach it has full access", host)

        def stop(signum: int, _frame: object) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            threading.Thread(target=server.shutdown, name="store-shutdown", daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if parent_pid is not None:
            _watch_parent(parent_pid, server)
        log.info("touchline store serving %s at %s (pid %d)", data_dir, state["url"], os.getpid())
        server.serve_forever(poll_interval=0.5)
        if not server.wait_idle(drain_timeout_s):
            log.warning("requests still running after %gs (--drain-timeout); closing anyway", drain_timeout_s)
    finally:
        server.server_close()
        clear_state(data_dir, os.getpid())


def _watch_parent(parent_pid: int, server: StoreServer) -> None:
    """Stop the server once ``parent_pid`` is gone (we get re-parented)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)  # a watchdog's polling interval, not synchronization
        log.warning("parent process %d is gone, stopping", parent_pid)
        server.shutdown()

    threading.Thread(target=watch, name="store-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.store", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="store directory (chDB data in DIR/chdb)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="0 = a free port (see DIR/store.json)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="largest request body, decoded (default 256 MiB)")
    parser.add_argument("--max-concurrent-queries", type=int, default=8)
    parser.add_argument("--queue-timeout", type=float, default=30.0,
                        help="seconds a query waits for a free slot before TOO_MANY_SIMULTANEOUS_QUERIES")
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--socket-timeout", type=float, default=60.0, help="idle/read timeout per connection")
    parser.add_argument("--drain-timeout", type=float, default=15.0, help="on stop, wait this long for queries")
    parser.add_argument("--user", default=None,
                        help=f"require this user; its password comes from ${PASSWORD_ENV} (default: no check)")
    parser.add_argument("--tls-cert", default=None,
                        help="PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key)")
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process exits")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServerConfig(
        max_body_bytes=args.max_body_bytes,
        max_connections=args.max_connections,
        socket_timeout_s=args.socket_timeout,
        user=args.user,
        password=os.environ.get(PASSWORD_ENV, "") if args.user is not None else None,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    try:
        serve(args.data_dir, args.host, args.port, config=config,
              max_concurrent_queries=args.max_concurrent_queries, queue_timeout_s=args.queue_timeout,
              drain_timeout_s=args.drain_timeout, parent_pid=args.parent_pid)
    except StackError as exc:
        print(f"touchline store: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
