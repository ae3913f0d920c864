"""Reading a request body: Content-Length or chunked, then Content-Encoding, under a size limit.

clickhouse-connect sends inserts chunked, each block its own lz4 frame
(``Content-Encoding: lz4``); curl users send plain, gzip or zstd bodies.
The decoded body is spooled (memory first, a temp file past
``SPOOL_MEMORY_BYTES``) before anything reaches the engine, so a body over
the limit inserts nothing. Decompression runs in bounded pieces so a small
compressed body cannot balloon past the limit in one step.
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from infra.store import errors

READ_BYTES = 256 * 1024
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
# Past the limit the rest of the body is read and dropped (so the client gets the
# answer instead of a broken pipe), up to this many times the limit; then the
# connection is closed.
DRAIN_FACTOR = 4

try:  # Python 3.14+ has compression.zstd; clickhouse-connect pulls backports.zstd before that.
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:
    try:
        from backports import zstd as _zstd  # type: ignore[no-redef]
    except ImportError:
        _zstd = None


class _Frames:
    """Decodes concatenated frames (lz4, zstd, gzip members) in bounded output pieces."""

    def __init__(self, factory: Callable[[], Any], tail_attr: str | None = None):
        self._factory = factory
        self._tail_attr = tail_attr  # zlib keeps unread input in `unconsumed_tail`
        self._decoder = factory()
        self._mid_frame = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data or self._mid_frame:
            out = self._decoder.decompress(data, READ_BYTES)
            self._mid_frame = True
            if out:
                yield out
            if self._decoder.eof:
                data = self._decoder.unused_data or b""
                self._decoder = self._factory()
                self._mid_frame = False
            elif self._tail_attr is not None:
                data = getattr(self._decoder, self._tail_attr)
                if not data and len(out) < READ_BYTES:
                    return
            elif self._decoder.needs_input:
                return
            else:
                data = b""

    def check_complete(self) -> None:
        if self._mid_frame:
            raise errors.QueryError(errors.CANNOT_DECOMPRESS, "the request body ends inside a compressed frame")


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def check_complete(self) -> None:
        pass


def _decoder(encoding: str) -> _Frames | _Identity:
    if encoding in ("", "identity"):
        return _Identity()
    if encoding == "lz4":
        import lz4.frame

        return _Frames(lz4.frame.LZ4FrameDecompressor)
    if encoding == "zstd" and _zstd is not None:
        return _Frames(_zstd.ZstdDecompressor)
    if encoding in ("gzip", "x-gzip"):
        return _Frames(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "unconsumed_tail")
    if encoding == "deflate":
        return _Frames(zlib.decompressobj, "unconsumed_tail")
    raise errors.QueryError(
        errors.UNKNOWN_COMPRESSION_METHOD,
        f"Content-Encoding {encoding!r} is not supported by touchline store; use lz4, zstd, gzip, deflate or none",
    )


def _raw_pieces(rfile: BinaryIO, headers: Any) -> Iterator[bytes]:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        while True:
            line = rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise errors.QueryError(errors.BAD_ARGUMENTS, "malformed chunked request body") from None
            if size == 0:
                while rfile.readline(1024).strip():  # trailers, then the blank line
                    pass
                return
            yield from _exactly(rfile, size)
            rfile.readline(1024)
        return
    try:
        remaining = int(headers.get("Content-Length") or 0)
    except ValueError:
        raise errors.QueryError(errors.BAD_ARGUMENTS, "malformed Content-Length header") from None
    yield from _exactly(rfile, remaining)


def _exactly(rfile, size: int):  # noqa: ANN001, ANN202
    """``size`` bytes from the socket, in pieces; a body that ends early is an error."""
    while size > 0:
        piece = rfile.read(min(size, READ_BYTES))
        if not piece:
            raise errors.QueryError(errors.BAD_ARGUMENTS, "the request body ended early")
        size -= len(piece)
        yield piece


def too_large(limit: int) -> errors.QueryError:
    return errors.QueryError(
        errors.QUERY_IS_TOO_LARGE,
        f"the request body exceeds touchline store's limit of {limit} bytes "
        "(store option --max-body-bytes); send smaller insert batches",
    )


class RequestBody:
    """The decoded body of one request; ``complete`` says whether the socket was read to its end."""

    def __init__(self, rfile: BinaryIO, headers: Any, limit: int):
        self.complete = False
        self.size = 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES)
        decoder = _decoder(headers.get("Content-Encoding", "").strip().lower())
        pieces = _raw_pieces(rfile, headers)
        raw = 0
        for piece in pieces:
            raw += len(piece)
            if raw <= limit:
                for out in decoder.decode(piece):
                    self.size += len(out)
                    if self.size > limit:
                        break
                    self.file.write(out)
            if raw > limit or self.size > limit:
                self.file.close()
                self.complete = _drain(pieces, raw, DRAIN_FACTOR * limit)
                raise too_large(limit)
        decoder.check_complete()
        self.complete = True
        self.file.seek(0)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def chunks(self, size: int = 1024 * 1024) -> Iterator[bytes]:
        while piece := self.file.read(size):
            yield piece

    def close(self) -> None:
        self.file.close()


def _drain(pieces: Iterator[bytes], raw: int, bound: int) -> bool:
    for piece in pieces:
        raw += len(piece)
        if raw > bound:
            return False
    return True
