"""The vocabulary of ClickHouse's HTTP interface: URL parameters, credentials, content types.

Also what the store refuses outright (``check_supported``) and the optional
user/password check (``authenticate``).

Every URL parameter is one of: a control parameter of the interface (used or
deliberately ignored, listed here), a transport-only setting (ignored), a
query parameter (``param_<name>``), or a ClickHouse setting, which is applied
to that request only.
"""

from __future__ import annotations

import hmac
from base64 import b64decode
from collections.abc import Mapping

from infra.store import errors

# Used: query, database (the request's current database), default_format (output
# format when the query names none), user/password (credentials), query_id (echoed).
# Ignored: sessions (each request is its own session), ClickHouse's native
# compression (rejected by the server when enabled), and client bookkeeping;
# client_protocol_version is safe to ignore: clickhouse-connect probes it and falls back.
CONTROL_PARAMS = frozenset({
    "query", "database", "default_format", "user", "password", "query_id",
    "session_id", "session_timeout", "session_check", "close_session",
    "compress", "decompress",
    "wait_end_of_query", "buffer_size", "client_protocol_version", "quota_key", "role", "stacktrace",
})

# Real ClickHouse settings that only steer its HTTP transport (response compression,
# progress headers, buffering); meaningless for this server, so not applied.
TRANSPORT_SETTINGS = frozenset({
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
    "http_response_buffer_size", "http_wait_end_of_query",
})

BIND_PREFIX = "param_"


def split_params(params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(settings to apply to this request, query parameters by name) from the URL parameters."""
    settings: dict[str, str] = {}
    bind: dict[str, str] = {}
    for name, value in params.items():
        if name.startswith(BIND_PREFIX):
            bind[name[len(BIND_PREFIX):]] = value
        elif name not in CONTROL_PARAMS and name not in TRANSPORT_SETTINGS:
            settings[name] = value
    return settings, bind


def check_supported(path: str, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
    """Refuse, with a clear NOT_IMPLEMENTED, what the store does not do but a client might rely on."""
    if path != "/":
        raise errors.QueryError(errors.NOT_IMPLEMENTED, f"no handler for {path}; touchline store answers / and /ping")
    if headers.get("Content-Type", "").startswith("multipart/"):
        raise errors.QueryError(errors.NOT_IMPLEMENTED,
                                "multipart requests (external tables, form-encoded queries) are not supported")
    for name in ("compress", "decompress"):
        if params.get(name, "0") not in ("", "0", "false"):
            raise errors.QueryError(errors.NOT_IMPLEMENTED, f"{name}=1 (ClickHouse's native compression) is not "
                                    "supported; send Content-Encoding lz4, zstd or gzip instead")


def authenticate(headers: Mapping[str, str], params: Mapping[str, str], user: str, password: str) -> None:
    given_user, given_password = credentials(headers, params)
    if not (hmac.compare_digest(given_user.encode(), user.encode())
            and hmac.compare_digest(given_password.encode(), password.encode())):
        raise errors.QueryError(errors.AUTHENTICATION_FAILED, f"{given_user}: Authentication failed: password "
                                "is incorrect, or there is no user with such name")


def credentials(headers: Mapping[str, str], params: Mapping[str, str]) -> tuple[str, str]:
    """(user, password) as ClickHouse reads them: Basic auth, X-ClickHouse-User/-Key, or URL parameters."""
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            user, _, password = b64decode(auth[6:], validate=True).decode().partition(":")
        except ValueError:
            return "", ""
        return user, password
    if headers.get("X-ClickHouse-User") is not None:
        return headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
    return params.get("user", "default"), params.get("password", "")


def content_type(fmt: str | None) -> str:
    lower = (fmt or "").lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8"
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith(("native", "rowbinary", "arrow", "parquet", "orc", "avro", "msgpack", "protobuf")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"
