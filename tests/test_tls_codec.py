"""The TLS presentation-language reader/writer (RFC 8446 §3, RFC 9420 §2.1.2)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimi.errors import DecodeError
from mimi.tls_codec import Reader, Writer, encode_varint


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (37, "25"),
        (63, "3f"),
        (64, "4040"),
        (15293, "7bbd"),
        (16383, "7fff"),
        (16384, "80004000"),
        (494878333, "9d7f3e7d"),
        ((1 << 30) - 1, "bfffffff"),
    ],
)
def test_varint_known_encodings(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).varint() == value


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        ("4025", "non-minimal"),  # 37 in two bytes
        ("80000040", "non-minimal"),  # 64 in four bytes
        ("c0", "reserved"),
        ("40", "truncated"),
        ("", "truncated"),
    ],
)
def test_varint_rejects(encoded: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        Reader(bytes.fromhex(encoded), "S").varint("len")


def test_varint_too_large_to_encode() -> None:
    with pytest.raises(ValueError):
        encode_varint(1 << 30)


def test_struct_writes_the_expected_bytes() -> None:
    w = Writer()
    w.uint8(1)
    w.uint16(0x0203)
    w.uint32(0x04050607)
    w.uint64(8)
    w.bool(True)
    w.opaque(b"hi")
    w.vector_of((1, 2), Writer.uint16)
    w.optional(None, Writer.uint32)
    w.optional(9, Writer.uint32)
    assert w.getvalue().hex() == "01" "0203" "04050607" "0000000000000008" "01" "026869" "0400010002" "00" "0100000009"


def test_reader_reads_back_what_writer_wrote() -> None:
    w = Writer()
    w.uint16(7)
    w.string("héllo")
    with w.vector():
        w.opaque(b"a")
        w.opaque(b"bc")
    w.optional(5, Writer.uint64)
    r = Reader(w.getvalue(), "T")
    assert r.uint16() == 7
    assert r.string() == "héllo"
    assert r.vector("v", Reader.opaque) == (b"a", b"bc")
    assert r.optional("o", Reader.uint64) == 5
    r.finish()


@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        ("02", lambda r: r.bool("flag"), "S.flag: bool must be 0 or 1"),
        ("02", lambda r: r.optional("opt", Reader.uint8), "S.opt: optional presence flag"),
        ("0361", lambda r: r.opaque("name"), "S.name: truncated"),
        ("03000100", lambda r: r.vector("items", Reader.uint16), "S.items.uint16: truncated"),
        ("01ff", lambda r: r.string("text"), "S.text: invalid UTF-8"),
    ],
)
def test_reader_errors_name_the_field(data: str, read: object, message: str) -> None:
    r = Reader(bytes.fromhex(data), "S")
    with pytest.raises(DecodeError, match=message.replace(".", r"\.")):
        read(r)  # type: ignore[operator]


def test_trailing_bytes_are_an_error() -> None:
    r = Reader(b"\x00\x01\x02", "S")
    r.uint16()
    with pytest.raises(DecodeError, match="1 trailing bytes"):
        r.finish()


@given(st.integers(min_value=0, max_value=(1 << 30) - 1))
def test_varint_round_trip(n: int) -> None:
    r = Reader(encode_varint(n))
    assert r.varint() == n
    r.finish()


@given(st.binary(max_size=64))
def test_random_bytes_as_a_vector_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        Reader(data).vector("v", Reader.opaque)
