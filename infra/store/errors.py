"""Query errors in ClickHouse's own shape, so every ClickHouse client understands them.

ClickHouse answers a failed HTTP query with a status from its code->status
table, the header ``X-ClickHouse-Exception-Code: <n>`` and the body
``Code: <n>. DB::Exception: <message>. (<NAME>) (version <v>)``;
clickhouse-connect turns that into ``DatabaseError`` with ``code`` and
``name`` set. chDB raises the same text (sometimes behind a prefix such as
"Streaming insert finish failed: "), so its errors are passed on unchanged.
"""

from __future__ import annotations

import re

from infra.exceptions import TouchlineError

# The codes the store raises itself (numbers as chDB's errorCodeToName() reports them).
BAD_ARGUMENTS = 36
NOT_IMPLEMENTED = 48
SYNTAX_ERROR = 62
UNKNOWN_FORMAT = 73
UNKNOWN_COMPRESSION_METHOD = 89
UNKNOWN_SETTING = 115
TOO_MANY_SIMULTANEOUS_QUERIES = 202
QUERY_IS_TOO_LARGE = 229
ABORTED = 236
CANNOT_DECOMPRESS = 271
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

_NAMES = {
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_FORMAT: "UNKNOWN_FORMAT",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    UNKNOWN_SETTING: "UNKNOWN_SETTING",
    TOO_MANY_SIMULTANEOUS_QUERIES: "TOO_MANY_SIMULTANEOUS_QUERIES",
    QUERY_IS_TOO_LARGE: "QUERY_IS_TOO_LARGE",
    ABORTED: "ABORTED",
    CANNOT_DECOMPRESS: "CANNOT_DECOMPRESS",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    UNKNOWN_EXCEPTION: "UNKNOWN_EXCEPTION",
}

# ClickHouse's exceptionCodeToHTTPStatus, by error name; everything else is 500.
_HTTP_STATUS = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED".split(), 403),
    **dict.fromkeys(
        "BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE "
        "CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER "
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 "
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN "
        "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST "
        "UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH "
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE".split(), 400),
    **dict.fromkeys(
        "UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE "
        "UNKNOWN_DATABASE UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION "
        "UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE".split(), 404),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

_CODE_RE = re.compile(r"Code: (\d+)\. (?:DB::Exception: )?")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
_VERSION_TRAILER_RE = re.compile(r"\s*\(version\s+(?:[^()]|\([^()]*\))*\)\s*$")


class QueryError(TouchlineError):
    """A request the store refuses or the engine failed, carrying ClickHouse's code and name."""

    def __init__(self, code: int, message: str, name: str | None = None):
        self.code = code
        self.name = name or _NAMES.get(code, "UNKNOWN_EXCEPTION")
        self.message = message.rstrip().rstrip(".")
        super().__init__(f"Code: {code}. DB::Exception: {self.message}. ({self.name})")

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.name, 500)

    def body(self, version: str) -> bytes:
        """The response body exactly as a ClickHouse server would write it."""
        return f"{self} (version {version})\n".encode()


def from_engine(exc: BaseException) -> QueryError:
    """Turn a chDB exception (``Code: 60. DB::Exception: ... (UNKNOWN_TABLE)``) into a QueryError."""
    text = _VERSION_TRAILER_RE.sub("", str(exc)).strip()
    match = _CODE_RE.search(text)
    if match is None:
        return QueryError(UNKNOWN_EXCEPTION, f"{type(exc).__name__}: {text or 'no message'}")
    rest = text[match.end():]
    name_match = _NAME_RE.search(rest)
    if name_match is not None:
        rest = rest[: name_match.start()]
    return QueryError(int(match.group(1)), rest, name_match.group(1) if name_match else None)
