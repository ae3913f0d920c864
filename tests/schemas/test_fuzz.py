"""Hostile bytes: the decoder raises DecodeError and nothing else, quickly, in bounded memory."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.catalog import default_catalog
from schemas.exceptions import DecodeError
from schemas.models import TouchpointEvent
from schemas.reasons import RejectReason
from schemas.wire import AvroDecoder, AvroEncoder
from tests.schemas.samples import mock_registry, page_view, purchase, touchpoints

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
_REGISTRY = mock_registry()
_REGISTRY_ID = AvroEncoder(registry=_REGISTRY, subject="raw-value").encode(
    TouchpointEvent.model_validate(page_view()).to_avro())[1:5]
DECODERS = [AvroDecoder(name, version, registry=_REGISTRY)
            for name, version in [("touchpoint", 2), ("touchpoint", 1), ("enriched_touchpoint", None),
                                  ("rejected_event", None)]]
HEADERS = [b"\xc3\x01" + entry.fingerprint for entry in default_catalog()] + [b"\x00" + _REGISTRY_ID]


def zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def must_only_raise_decode_error(payload: Any) -> list[RejectReason | None]:
    """Each decoder's reason (None: decoded), in DECODERS order: touchpoint v2, v1, enriched, rejected."""
    reasons = []
    for decoder in DECODERS:
        started = time.monotonic()
        try:
            record, writer = decoder.decode(payload)
            assert isinstance(record, dict) and isinstance(writer, str)
        except DecodeError as exc:
            assert isinstance(exc.reason, RejectReason) and exc.detail
            reason = exc.reason
        else:
            reason = None
        assert time.monotonic() - started < 2, f"decoding {len(payload)} bytes took too long"
        reasons.append(reason)
    return reasons


_messages = st.builds(
    lambda record, fmt: AvroEncoder(registry=_REGISTRY if fmt else None, subject="raw-value").encode(
        TouchpointEvent.model_validate(record).to_avro()),
    touchpoints(), st.booleans())


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\xc3")
@example(b"\x00")
@example(b"\xc3\x01" + b"\xff" * 20)
def test_random_bytes(payload: bytes) -> None:
    must_only_raise_decode_error(payload)


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=2048))
def test_known_header_with_random_body(header: bytes, body: bytes) -> None:
    must_only_raise_decode_error(header + body)


@FUZZ
@given(_messages, st.data())
def test_every_truncation_is_rejected(message: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(message) - 1))
    touchpoint_v2, touchpoint_v1, *_ = must_only_raise_decode_error(message[:cut])
    assert touchpoint_v2 == touchpoint_v1
    assert touchpoint_v2 in (RejectReason.empty_payload, RejectReason.avro_decode_error)


@FUZZ
@given(_messages, st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_bit_flips(message: bytes, positions: list[int]) -> None:
    flipped = bytearray(message)
    for position in positions:
        bit = position % (len(message) * 8)
        flipped[bit // 8] ^= 1 << (bit % 8)
    must_only_raise_decode_error(bytes(flipped))


@FUZZ
@given(_messages, st.data(), st.integers(-(2**63), 2**63 - 1) | st.sampled_from([2**31, 2**62, -(2**63)]))
def test_huge_length_prefixes(message: bytes, data: st.DataObject, length: int) -> None:
    position = data.draw(st.integers(10, len(message)))
    must_only_raise_decode_error(message[:position] + zigzag(length) + message[position:])


@FUZZ
@given(_messages, st.binary(min_size=1, max_size=64))
def test_appended_bytes_are_trailing(message: bytes, extra: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        DECODERS[0].decode(message + extra)
    assert caught.value.reason is RejectReason.trailing_bytes


def test_overlong_varint_is_rejected() -> None:
    header = b"\xc3\x01" + default_catalog().get("touchpoint").fingerprint
    assert must_only_raise_decode_error(header + b"\xff" * 64)[0] is RejectReason.avro_decode_error


@pytest.mark.parametrize("length", [2**31, 2**40, 2**62, 2**63 - 1])
@pytest.mark.parametrize("where", ["event_id", "experiments", "items", "properties", "revenue"])
def test_huge_prefix_allocates_nothing_big(length: int, where: str) -> None:
    """A corrupt length or count must not make the decoder reserve memory for it."""
    event = TouchpointEvent.model_validate(purchase(properties={"k": "v"})).to_avro()
    encoder = AvroEncoder()
    original = encoder.encode(event)
    emptied = {"event_id": "", "experiments": [], "items": [], "properties": {}, "revenue": None}[where]
    shorter = encoder.encode({**event, where: emptied})
    at = next(i for i in range(len(shorter)) if shorter[i] != original[i])  # where the field's value starts
    if where == "revenue":
        at += 1  # after the union branch byte
    payload = original[:at] + zigzag(length) + original[at + 1:]
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError) as caught:
            AvroDecoder().decode(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.reason in (RejectReason.avro_decode_error, RejectReason.trailing_bytes)
    assert peak < 1_000_000, f"{peak} bytes allocated for a {len(payload)}-byte payload"


def test_memory_stays_proportional_to_the_size_cap() -> None:
    """The worst case: a payload of tiny repeated items. The size cap bounds it (measured ~100 B/byte)."""
    event = TouchpointEvent.model_validate(page_view(experiments=[])).to_avro()
    encoder = AvroEncoder()
    without = encoder.encode(event)
    with_one = encoder.encode({**event, "experiments": [{"experiment_id": "", "variant_id": ""}]})
    at = next(i for i in range(len(without)) if without[i] != with_one[i])
    count = 50_000
    payload = without[:at] + zigzag(count) + b"\x00\x00" * count + without[at:]
    tracemalloc.start()
    try:
        record, _ = AvroDecoder(max_payload_bytes=len(payload)).decode(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(record["experiments"]) == count
    assert peak < 250 * len(payload)
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(max_payload_bytes=len(payload) - 1).decode(payload)
    assert caught.value.reason is RejectReason.oversized_payload
