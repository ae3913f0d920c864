"""Batch envelopes: what goes in comes out, per partition, in order; the plain records still read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from streams import envelopes
from streams.envelopes import MAX_BYTES, EnvelopeError, Packer, entries, position

record = st.tuples(st.integers(0, 7), st.one_of(st.none(), st.binary(max_size=40)),
                   st.binary(min_size=1, max_size=200).map(lambda v: b"\xc3" + v))


@given(st.lists(record, max_size=300))
@hsettings(max_examples=300, deadline=None)
def test_every_entry_comes_out_on_its_partition_in_order(records) -> None:  # noqa: ANN001
    packer = Packer()
    for partition, key, value in records:
        packer.add(partition, key, value)
    out: dict[int, list] = {}
    sent = packer.records()
    for partition, key, value, count in sent:
        got = entries(key, value)
        assert len(got) == count
        out.setdefault(partition, []).extend(got)
    expected: dict[int, list] = {}
    for partition, key, value in records:
        expected.setdefault(partition, []).append((key, value))
    assert out == expected
    assert len(sent) <= len(expected)  # small records: one envelope per partition
    assert packer.records() == []


def test_a_large_value_travels_alone_as_a_plain_record_and_order_is_kept() -> None:
    packer = Packer()
    big = b"\xc3" + b"x" * MAX_BYTES
    packer.add(1, b"a", b"\xc3a")
    packer.add(1, b"b", big)
    packer.add(1, b"c", b"\xc3c")
    sent = packer.records()
    assert [(p, k, v) if c == 1 and not envelopes.is_envelope(v) else (p, entries(k, v)) for p, k, v, c in sent] == [
        (1, [(b"a", b"\xc3a")]), (1, b"b", big), (1, [(b"c", b"\xc3c")])]


def test_envelopes_are_cut_at_their_byte_limit() -> None:
    packer = Packer()
    value = b"\xc3" + b"v" * 1000
    for i in range(600):
        packer.add(0, str(i).encode(), value)
    sent = packer.records()
    assert len(sent) == 3 and sum(c for *_, c in sent) == 600
    assert all(len(v) <= MAX_BYTES + 64 for _, _, v, _ in sent)


def test_a_plain_record_is_its_own_entry() -> None:
    assert entries(b"k", b"\xc3\x01payload") == [(b"k", b"\xc3\x01payload")]
    assert entries(None, b'{"op":"link"}') == [(None, b'{"op":"link"}')]


@pytest.mark.parametrize("value", [envelopes.MAGIC, envelopes.MAGIC + b"\xff\xfe", envelopes.MAGIC + b"\x92\x01\x02",
                                   envelopes.MAGIC + b"\x91\xc4\x01k"])
def test_a_corrupt_envelope_says_so(value: bytes) -> None:
    with pytest.raises(EnvelopeError, match="envelope"):
        entries(None, value)


def test_positions_increase_along_the_partition() -> None:
    assert position(7, 0) < position(7, 1) < position(7, envelopes.MAX_ENTRIES - 1) < position(8, 0)
