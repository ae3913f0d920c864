"""Request bodies: chunked framing, content encodings (concatenated frames), the size limit."""

from __future__ import annotations

import gzip
import io
import zlib

import lz4.frame
import pytest

from infra.store import errors
from infra.store.body import RequestBody

DATA = b"".join(b"%d,some row text %d\n" % (i, i) for i in range(50_000))


def chunked(data: bytes, size: int = 7_000) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size))
    return out + b"0\r\n\r\n"


def read(raw: bytes, headers: dict[str, str], limit: int = 10**9) -> tuple[RequestBody, io.BytesIO]:
    rfile = io.BytesIO(raw + b"NEXT REQUEST")
    body = RequestBody(rfile, headers, limit)
    return body, rfile


ENCODERS = {
    "identity": lambda b: b,
    "gzip": lambda b: gzip.compress(b[:1000]) + gzip.compress(b[1000:]),  # two gzip members
    "deflate": zlib.compress,
    "lz4": lambda b: b"".join(lz4.frame.compress(b[i:i + 100_000]) for i in range(0, len(b), 100_000)),
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_decodes_every_encoding_and_framing(encoding, framing):
    encoded = ENCODERS[encoding](DATA)
    if framing == "chunked":
        raw, headers = chunked(encoded), {"Transfer-Encoding": "chunked"}
    else:
        raw, headers = encoded, {"Content-Length": str(len(encoded))}
    headers["Content-Encoding"] = encoding
    body, rfile = read(raw, headers)
    assert body.complete and body.read(10) == DATA[:10] and body.read() == DATA[10:]
    assert rfile.read() == b"NEXT REQUEST"  # exactly the body was consumed (keep-alive safe)


def test_over_limit_is_refused_after_draining_the_body():
    encoded = lz4.frame.compress(DATA)  # compresses well: the decoded size is what counts
    with pytest.raises(errors.QueryError) as info:
        read(chunked(encoded), {"Transfer-Encoding": "chunked", "Content-Encoding": "lz4"}, limit=len(DATA) // 2)
    assert info.value.name == "QUERY_IS_TOO_LARGE" and info.value.http_status == 413
    assert f"limit of {len(DATA) // 2} bytes" in str(info.value)


def test_truncated_and_unknown_encodings_are_errors():
    encoded = lz4.frame.compress(DATA)[:-100]
    with pytest.raises(errors.QueryError) as info:
        read(encoded, {"Content-Length": str(len(encoded)), "Content-Encoding": "lz4"})
    assert info.value.name == "CANNOT_DECOMPRESS"
    with pytest.raises(errors.QueryError) as info:
        read(b"x", {"Content-Length": "1", "Content-Encoding": "br"})
    assert info.value.name == "UNKNOWN_COMPRESSION_METHOD"
    with pytest.raises(errors.QueryError) as info:
        read(b"zz\r\n", {"Transfer-Encoding": "chunked"})
    assert info.value.name == "BAD_ARGUMENTS"

