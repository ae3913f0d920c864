"""Just enough SQL lexing to route a request: what kind of statement, and where INSERT data starts.

ClickHouse parses ``INSERT INTO t (cols) [SETTINGS ...] FORMAT <fmt>`` and
reads the data right after the format name: blanks, then at most one line
break, are skipped. The lexer here skips quoted strings, quoted identifiers
and comments, so a ``FORMAT`` inside them is not taken for the clause. It
works on bytes because the data after the clause is binary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")

# Statements whose answer is a result set; ClickHouse names its format in X-ClickHouse-Format.
RESULT_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "CHECK"})


@dataclass(frozen=True)
class InsertData:
    """An ``INSERT ... FORMAT fmt`` statement followed by data in that format."""

    statement: str  # everything before FORMAT, e.g. "INSERT INTO db.t (`a`, `b`)"
    fmt: str
    data_offset: int  # where the data starts in the scanned bytes


def _tokens(text: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Yield (token, start, end) for words and punctuation; stop at an unterminated quote/comment."""
    i, n = 0, len(text)
    while i < n:
        c = text[i : i + 1]
        if c.isspace():
            i += 1
        elif text.startswith(b"--", i) or text.startswith(b"# ", i) or text.startswith(b"#!", i):
            end = text.find(b"\n", i)
            if end < 0:
                return
            i = end + 1
        elif text.startswith(b"/*", i):
            end = text.find(b"*/", i + 2)
            if end < 0:
                return
            i = end + 2
        elif c in (b"'", b'"', b"`"):
            j = i + 1
            while j < n:
                if text[j : j + 1] == b"\\":
                    j += 2
                elif text[j : j + 1] == c:
                    if text[j + 1 : j + 2] != c:  # a doubled quote is an escaped quote
                        break
                    j += 2
                else:
                    j += 1
            if j >= n:
                return
            yield text[i : j + 1], i, j + 1
            i = j + 1
        else:
            match = _WORD.match(text, i)
            end = match.end() if match else i + 1
            yield text[i:end], i, end
            i = end


def first_keyword(text: bytes) -> str:
    """The statement's first keyword in upper case ('' if none), skipping comments and '('."""
    for token, _, _ in _tokens(text):
        if token == b"(":
            continue
        return token.decode("ascii", "replace").upper() if _WORD.fullmatch(token) else ""
    return ""


def find_insert_data(head: bytes) -> InsertData | None:
    """Locate ``FORMAT <fmt>`` of an INSERT in ``head``; None if not an INSERT with inline data.

    ``INSERT ... VALUES (...)`` and ``INSERT ... SELECT`` without a FORMAT
    clause are plain SQL and also give None.
    """
    tokens = _tokens(head)
    first = next(tokens, None)
    if first is None or first[0].upper() != b"INSERT":
        return None
    depth = 0
    previous: tuple[bytes, int, int] | None = None
    for token in tokens:
        word = token[0].upper()
        if word == b"(":
            depth += 1
        elif word == b")":
            depth -= 1
        elif depth == 0 and word == b"VALUES":
            return None
        if (
            previous is not None
            and previous[0].upper() == b"FORMAT"
            and depth == 0
            and _WORD.fullmatch(token[0])
            and token[1] > previous[2]
        ):
            return InsertData(
                statement=head[: previous[1]].decode("utf-8").rstrip(),
                fmt=token[0].decode("ascii"),
                data_offset=_data_start(head, token[2]),
            )
        previous = token
    return None


def _data_start(head: bytes, pos: int) -> int:
    while pos < len(head) and head[pos : pos + 1] in (b" ", b"\t", b"\f"):
        pos += 1
    if head.startswith(b"\r", pos):
        pos += 1
    if head.startswith(b"\n", pos):
        pos += 1
    return pos


def output_format(query: bytes, default: str) -> str:
    """The format a query answers in: its own trailing ``FORMAT x`` clause, else ``default``."""
    found = default
    previous = b""
    depth = 0
    for token, _, _ in _tokens(query):
        if token == b"(":
            depth += 1
        elif token == b")":
            depth -= 1
        elif depth == 0 and previous.upper() == b"FORMAT" and _WORD.fullmatch(token):
            found = token.decode("ascii")
        previous = token
    return found
