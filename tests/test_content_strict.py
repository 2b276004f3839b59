"""Strict decoding of MIMI content: every malformed input is a DecodeError naming its field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import cbor2
import pytest

from mimi.content import Disposition, MimiContent, NullPart, SinglePart, decode, encode
from mimi.content.codec import Extensions
from mimi.errors import DecodeError, MimiError

SALT = bytes(range(16))
ID = b"\x01" + bytes(31)
TEXT = [1, "", 1, "text/plain;charset=utf-8", b"hi"]
EXTERNAL = [6, "en", 2, "video/mp4", "https://a.example/f", 0, 10, 1, b"k" * 16, b"n" * 12, b"", 1, b"h" * 32, "", "f"]


def base() -> list[Any]:
    return [SALT, None, b"", None, None, {1: "mimi://a.example/u/alice", 2: "mimi://a.example/r/r"}, list(TEXT)]


def nest(depth: int) -> list[Any]:
    """A body whose deepest part is at level ``depth`` (the body is level 1)."""
    part: list[Any] = list(TEXT)
    for _ in range(depth - 1):
        part = [1, "", 3, 0, [part, list(TEXT)]]
    return part


def with_field(index: int, value: Any) -> bytes:
    raw = base()
    raw[index] = value
    return cbor2.dumps(raw)


def with_body(change: Callable[[list[Any]], object]) -> bytes:
    raw = base()
    change(raw[6])
    return cbor2.dumps(raw)


def with_extension(key: Any, value: Any) -> bytes:
    raw = base()
    raw[5] = {**raw[5], key: value}
    # canonical: shortest floats; its map order agrees with RFC 8949's for these keys.
    return cbor2.dumps(raw, canonical=True)


def set_item(index: int, value: Any) -> Callable[[list[Any]], object]:
    return lambda part: part.__setitem__(index, value)


def external(index: int, value: Any) -> bytes:
    part = copy.deepcopy(EXTERNAL)
    part[index] = value
    return with_field(6, part)


def with_raw(index: int, encoded: bytes) -> bytes:
    """The base message with one field replaced by hand-made bytes."""
    pieces = [cbor2.dumps(item) for item in base()]
    pieces[index] = encoded
    return b"\x87" + b"".join(pieces)


CASES: list[tuple[str, bytes, str]] = [
    # wrong overall shape
    ("empty input", b"", "mimiContent: not well-formed"),
    ("truncated", cbor2.dumps(base())[:-1], "mimiContent: not well-formed"),
    ("top-level map", cbor2.dumps({0: SALT}), "mimiContent: expected an array of 7"),
    ("6 items", cbor2.dumps(base()[:6]), "mimiContent: expected an array of 7"),
    ("8 items", cbor2.dumps([*base(), None]), "mimiContent: expected an array of 7"),
    ("trailing bytes", cbor2.dumps(base()) + b"\x00", "mimiContent: 1 trailing bytes"),
    # salt
    ("salt is text", with_field(0, "0123456789abcdef"), "salt: expected bstr, got str"),
    ("salt of 15", with_field(0, SALT[:15]), "salt: expected 16 bytes, got 15"),
    ("salt of 17", with_field(0, SALT + b"x"), "salt: expected 16 bytes, got 17"),
    ("salt tagged", with_field(0, cbor2.CBORTag(24, SALT)), "salt: expected bstr, got CBORTag"),
    # message IDs
    ("replaces of 31", with_field(1, ID[:31]), "replaces: expected 32 bytes, got 31"),
    ("replaces of 33", with_field(1, ID + b"x"), "replaces: expected 32 bytes, got 33"),
    ("replaces is text", with_field(1, "id"), "replaces: expected bstr"),
    ("inReplyTo of 0", with_field(4, b""), "inReplyTo: expected 32 bytes, got 0"),
    ("inReplyTo is false", with_field(4, False), "inReplyTo: expected bstr, got bool"),
    # topicId
    ("topicId is null", with_field(2, None), "topicId: expected bstr, got NoneType"),
    ("topicId over 4096", with_field(2, b"t" * 4097), "topicId: 4097 octets"),
    # expires
    ("expires is int", with_field(3, 5), "expires: expected null or"),
    ("expires of 3", with_field(3, [True, 1, 2]), "expires: expected null or"),
    ("relative not bool", with_field(3, [1, 60]), "expires.relative: expected bool"),
    ("time over 32 bits", with_field(3, [False, 2**32]), "expires.time: 4294967296 does not fit uint .size 4"),
    ("time negative", with_field(3, [False, -1]), "expires.time: -1 does not fit"),
    # extensions
    ("extensions array", with_field(5, []), "mimiExtensions: expected map"),
    ("senderUri bytes", with_extension(1, b"mimi://x"), "mimiExtensions.senderUri: expected tstr"),
    ("roomUri int", with_extension(2, 7), "mimiExtensions.roomUri: expected tstr"),
    ("key is bstr", with_extension(b"k", 1), "mimiExtensions: map key of type bytes"),
    ("key is empty text", with_extension("", 1), "mimiExtensions: text key must be 1 to 255"),
    ("key of 256 octets", with_extension("k" * 256, 1), "mimiExtensions: text key must be 1 to 255"),
    ("key over 2^53", with_extension(2**53, 1), "mimiExtensions: integer key 9007199254740992"),
    ("key is float", with_extension(1.5, 1), "mimiExtensions: map key of type float"),
    ("extension 5 deep", with_extension(300, [[[[1]]]]), "mimiExtensions[300]: nested deeper than 4"),
    ("tag 5 deep", with_extension(300, [[cbor2.CBORTag(32, [1])]]), "mimiExtensions[300]: nested deeper"),
    ("nested float key", with_extension(300, {1.5: 0}), "mimiExtensions[300]: map key of type float"),
    ("small bignum", with_extension(300, cbor2.CBORTag(2, b"\x01")), "mimiExtensions[300]: bignum"),
    # nestedPart shape and kinds
    ("body is bytes", with_field(6, b"x"), "nestedPart: expected a NestedPart array"),
    ("body of 2", with_field(6, [1, ""]), "nestedPart: expected a NestedPart array"),
    ("unknown part kind", with_body(set_item(2, 4)), "nestedPart.cardinality: unknown part kind 4"),
    ("part kind text", with_body(set_item(2, "single")), "nestedPart.cardinality: expected uint"),
    ("single of 4", with_field(6, TEXT[:4]), "nestedPart: SINGLE part has 4 items"),
    ("null of 4", with_field(6, [1, "", 0, b""]), "nestedPart: NULLPART part has 4 items"),
    ("external of 14", with_field(6, EXTERNAL[:14]), "nestedPart: EXTERNAL part has 14 items"),
    ("disposition 256", with_body(set_item(0, 256)), "nestedPart.disposition: 256 does not fit uint .size 1"),
    ("disposition -1", with_body(set_item(0, -1)), "nestedPart.disposition: -1 does not fit"),
    ("disposition true", with_body(set_item(0, True)), "nestedPart.disposition: expected uint .size 1, got bool"),
    ("language bytes", with_body(set_item(1, b"en")), "nestedPart.language: expected tstr"),
    ("contentType bytes", with_body(set_item(3, b"text/plain")), "nestedPart.contentType: expected tstr"),
    ("content text", with_body(set_item(4, "hi")), "nestedPart.content: expected bstr"),
    # ExternalPart fields
    ("url bytes", external(4, b"https://x"), "nestedPart.url: expected tstr"),
    ("expires over 32 bits", external(5, 2**32), "nestedPart.expires: 4294967296 does not fit uint .size 4"),
    ("size is bignum", external(6, 2**64), "nestedPart.size: expected uint .size 8, got CBORTag"),
    ("encAlg over 16 bits", external(7, 65536), "nestedPart.encAlg: 65536 does not fit uint .size 2"),
    ("key text", external(8, "k"), "nestedPart.key: expected bstr"),
    ("nonce null", external(9, None), "nestedPart.nonce: expected bstr"),
    ("aad int", external(10, 0), "nestedPart.aad: expected bstr"),
    ("hashAlg over 8 bits", external(11, 256), "nestedPart.hashAlg: 256 does not fit uint .size 1"),
    ("contentHash text", external(12, "h"), "nestedPart.contentHash: expected bstr"),
    ("description bytes", external(13, b""), "nestedPart.description: expected tstr"),
    ("filename null", external(14, None), "nestedPart.filename: expected tstr"),
    # MultiPart
    ("one part", with_field(6, [1, "", 3, 0, [TEXT]]), "nestedPart.parts: a MultiPart needs 2 or more parts, got 1"),
    ("no parts", with_field(6, [1, "", 3, 2, []]), "nestedPart.parts: a MultiPart needs 2 or more"),
    ("parts not array", with_field(6, [1, "", 3, 0, b""]), "nestedPart.parts: expected array"),
    ("unknown semantics", with_field(6, [1, "", 3, 3, [TEXT, TEXT]]), "nestedPart.partSemantics: unknown value 3"),
    ("bad child", with_field(6, [1, "", 3, 0, [TEXT, [1, "", 1, 0, b""]]]), "nestedPart.parts[1].contentType"),
    ("nested 5 deep", with_field(6, nest(5)), "nestedPart.parts[0].parts[0].parts[0].parts[0]: NestedPart nested more"),
    ("1025 parts", with_field(6, [1, "", 3, 2, [TEXT] * 1024]), "nestedPart: more than 1024 parts"),
    # non-deterministic encodings (RFC 8949 §4.2.1) and other encodings, named by field
    ("salt length not shortest", with_raw(0, b"\x58\x10" + SALT), "salt: not deterministically encoded"),
    ("topicId indefinite", with_raw(2, b"\x5f\x41a\xff"), "topicId: not deterministically encoded"),
    ("expires indefinite", with_raw(3, b"\x9f\xf4\x01\xff"), "expires: not deterministically encoded"),
    ("time not shortest", with_raw(3, b"\x82\xf4\x1a\x00\x00\x00\x01"), "expires: not deterministically"),
    ("map in RFC 7049 order", with_raw(5, cbor2.dumps({-1: 0, 24: 0}, canonical=True)), "mimiExtensions: not det"),
    ("map unsorted", with_raw(5, b"\xa2\x02\x61r\x01\x61s"), "mimiExtensions: not deterministically"),
    ("float not shortest", with_raw(5, b"\xa1\x19\x01\x2c\xfb\x3f\xf0" + bytes(6)), "mimiExtensions: not deterministically"),
    ("NaN not F97E00", with_raw(5, b"\xa1\x19\x01\x2c\xfb\x7f\xf8" + bytes(6)), "mimiExtensions: not det"),
    ("int not shortest", with_raw(6, b"\x85\x18\x01" + cbor2.dumps(TEXT)[2:]), "nestedPart: not deterministically"),
    ("invalid UTF-8", with_raw(6, b"\x85\x01\x62\xff\xfe" + cbor2.dumps(TEXT)[3:]), "nestedPart: text string is not valid UTF-8"),
    ("indefinite top", b"\x9f" + with_raw(0, cbor2.dumps(SALT))[1:] + b"\xff", "mimiContent: not deterministically"),
    ("self-described", b"\xd9\xd9\xf7" + cbor2.dumps(base()), "mimiContent: expected an array of 7"),
    ("undefined", with_raw(1, b"\xf7"), "replaces: expected bstr, got UndefinedType"),
    ("simple value", with_raw(4, b"\xf0"), "inReplyTo: expected bstr, got CBORSimpleValue"),
    ("duplicate key", with_raw(5, b"\xa2\x01\x61s\x01\x61s"), "mimiContent: not well-formed CBOR"),
]


@pytest.mark.parametrize(("data", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_malformed_content_is_a_decode_error_naming_the_field(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode(data)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, MimiError)


def test_the_base_of_the_table_decodes() -> None:
    # Each case above differs from this valid message in one place.
    content = decode(cbor2.dumps(base()))
    assert content.nested_part == SinglePart(Disposition.RENDER, "", "text/plain;charset=utf-8", b"hi")
    assert decode(with_field(6, EXTERNAL)).nested_part.disposition == Disposition.ATTACHMENT


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("nested 4 deep", with_field(6, nest(4))),
        ("1024 parts", with_field(6, [1, "", 3, 2, [TEXT] * 1023])),
        ("extension 4 deep", with_extension(300, [[[1]]])),
        ("tag at level 4", with_extension(256, [[b"\x12\x34", cbor2.CBORTag(32, "http://example.com")]])),
        ("unknown disposition", with_body(set_item(0, 255))),
        ("topicId of 4096", with_field(2, b"t" * 4096)),
        ("text key of 255", with_extension("k" * 255, None)),
        ("negative key", with_extension(-(2**53) + 1, {b"k": 1})),
        ("big bignum", with_extension(300, cbor2.CBORTag(2, b"\x01" + bytes(8)))),
        ("the one NaN", with_raw(5, b"\xa1\x19\x01\x2c\xf9\x7e\x00")),
        ("relative expiry", with_field(3, [True, 2**32 - 1])),
    ],
)
def test_limits_of_the_grammar_are_accepted_byte_for_byte(name: str, data: bytes) -> None:
    assert encode(decode(data)) == data


def test_unknown_extensions_are_kept_in_deterministic_order() -> None:
    data = with_raw(5, b"\xa4\x01\x61s\x02\x61r\x18\x18\x00\x20\x00")
    content = decode(data)
    assert content.mimi_extensions.others == ((24, 0), (-1, 0))
    assert encode(content) == data


def test_constructors_apply_the_same_rules() -> None:
    with pytest.raises(DecodeError, match=r"^salt: expected 16 bytes, got 8$"):
        MimiContent(SALT[:8], None, b"", None, None, Extensions(), NullPart())
    with pytest.raises(DecodeError, match=r"^mimiExtensions: more than one extension with the same key$"):
        Extensions(others=((5, 1), (5, 2)))
    with pytest.raises(DecodeError, match=r"^mimiExtensions: key 1 belongs in sender_uri"):
        Extensions(others=((1, "mimi://a.example/u/x"),))


def test_message_id_needs_a_salt_first() -> None:
    from mimi.content import message_id

    with pytest.raises(DecodeError, match=r"^salt:"):
        message_id(b"\x87\x40", "mimi://a.example/u/a", "mimi://a.example/r/r")
