"""Deterministic CBOR (RFC 8949 §4.2.1) on top of cbor2: encode, and strict decode.

cbor2's ``canonical=True`` sorts map keys length-first (RFC 7049 canonical),
which draft-ietf-mimi-content §Encoding restrictions forbids, so encoding is
done here. Decoding parses with cbor2 and then requires that re-encoding the
decoded value gives back the same bytes: that one comparison rejects
non-shortest heads, indefinite lengths, unsorted maps, non-preferred floats
and NaNs, and trailing bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NoReturn

import cbor2
from cbor2 import CBORSimpleValue, CBORTag

from mimi.errors import DecodeError

# Deep enough for every legal MIMI document (8 levels of arrays), shallow
# enough that hostile nesting stops in cbor2, before any recursion here.
MAX_RAW_DEPTH = 32

_UINT64_LIMIT = 1 << 64


class _EveryTagIsPlain(dict[int, Callable[[Any, bool], CBORTag]]):
    """Tells cbor2 to keep every tag as a CBORTag (no datetimes, no bignum ints).

    A semantic conversion would lose the original encoding (tag 1 with an int
    and with a float both become a datetime), and then re-encoding could not
    prove the input deterministic.
    """

    def __contains__(self, tag: object) -> bool:
        return True

    def __getitem__(self, tag: int) -> Callable[[Any, bool], CBORTag]:
        def keep(value: Any, _immutable: bool = False) -> CBORTag:
            return CBORTag(tag, value)

        return keep

    def get(self, tag: int, default: object = None) -> Callable[[Any, bool], CBORTag]:
        return self[tag]


_PLAIN_TAGS = _EveryTagIsPlain()


def _head(major: int, argument: int) -> bytes:
    """The shortest head for a major type and argument (RFC 8949 §4.2.1)."""
    if argument < 24:
        return bytes((major << 5 | argument,))
    if argument < 0x100:
        return bytes((major << 5 | 24, argument))
    if argument < 0x10000:
        return bytes((major << 5 | 25,)) + argument.to_bytes(2, "big")
    if argument < 0x100000000:
        return bytes((major << 5 | 26,)) + argument.to_bytes(4, "big")
    return bytes((major << 5 | 27,)) + argument.to_bytes(8, "big")


def _float(value: float) -> bytes:
    """The shortest float encoding that keeps the value; the one quiet NaN."""
    if math.isnan(value):
        # draft-ietf-mimi-content §Data model restrictions: only 0xF97E00.
        return b"\xf9\x7e\x00"
    for marker, fmt in ((b"\xf9", ">e"), (b"\xfa", ">f")):
        try:
            packed = struct.pack(fmt, value)
        except OverflowError:
            continue
        if struct.unpack(fmt, packed)[0] == value:
            return marker + packed
    return b"\xfb" + struct.pack(">d", value)


def _encode_into(value: object, out: bytearray) -> None:
    # Exact types first: isinstance against the ABCs is the slow path.
    if type(value) is bytes:
        out += _head(2, len(value))
        out += value
    elif type(value) is str:
        encoded = value.encode("utf-8")
        out += _head(3, len(encoded))
        out += encoded
    elif type(value) is list or type(value) is tuple:
        out += _head(4, len(value))
        for item in value:
            _encode_into(item, out)
    elif type(value) is int:
        _encode_int(value, out)
    elif type(value) is dict or type(value) is cbor2.frozendict:
        _encode_map(value, out)
    elif value is None:
        out += b"\xf6"
    elif value is True:
        out += b"\xf5"
    elif value is False:
        out += b"\xf4"
    elif isinstance(value, int):
        _encode_int(value, out)
    elif isinstance(value, float):
        out += _float(value)
    elif isinstance(value, bytes):
        _encode_into(bytes(value), out)
    elif isinstance(value, str):
        _encode_into(str.__str__(value), out)
    elif isinstance(value, Sequence):
        _encode_into(list(value), out)
    elif isinstance(value, Mapping):
        _encode_map(value, out)
    elif isinstance(value, CBORTag):
        out += _head(6, value.tag)
        _encode_into(value.value, out)
    elif isinstance(value, CBORSimpleValue):
        out += _head(7, value.value)
    elif value is cbor2.undefined:
        out += b"\xf7"
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as MIMI CBOR")


def _encode_map(value: Mapping[Any, Any], out: bytearray) -> None:
    # Core deterministic order: bytewise lexicographic order of the encoded
    # keys (RFC 8949 §4.2.1), not RFC 7049's length-first order.
    entries = sorted(((encode(key), item) for key, item in value.items()), key=itemgetter(0))
    out += _head(5, len(entries))
    for key_bytes, item in entries:
        out += key_bytes
        _encode_into(item, out)


def _encode_int(value: int, out: bytearray) -> None:
    if 0 <= value < _UINT64_LIMIT:
        out += _head(0, value)
    elif -_UINT64_LIMIT <= value < 0:
        out += _head(1, -1 - value)
    else:
        # Preferred serialization of a bignum (RFC 8949 §3.4.3).
        tag, magnitude = (2, value) if value > 0 else (3, -1 - value)
        out += _head(6, tag)
        _encode_into(magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big"), out)


def encode(value: object) -> bytes:
    """Deterministically encoded CBOR of a plain value (RFC 8949 §4.2.1)."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def decode(data: bytes, what: str, fields: Sequence[str] = ()) -> Any:
    """Parse one deterministically encoded CBOR item that fills all of ``data``.

    ``fields`` names the items of a top-level array, so that a
    non-deterministic encoding or invalid UTF-8 is reported at its field.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        value = cbor2.loads(
            data,
            semantic_decoders=_PLAIN_TAGS,
            max_depth=MAX_RAW_DEPTH,
            # Indefinite lengths and invalid UTF-8 are let through cbor2 so
            # that re-encoding finds them and names the field (below).
            str_errors="surrogateescape",
            allow_duplicate_keys=False,
            immutable=True,
        )
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"{what}: not well-formed CBOR ({exc})") from None
    _require_deterministic(data, value, what, fields)
    return value


def _reencode(value: object, name: str) -> bytes:
    try:
        return encode(value)
    except UnicodeEncodeError:
        # RFC 8949 §3.1, draft-ietf-mimi-content §Data model restrictions.
        raise DecodeError(f"{name}: text string is not valid UTF-8") from None
    except TypeError as exc:
        raise DecodeError(f"{name}: unsupported CBOR item ({exc})") from None


def _require_deterministic(data: bytes, value: object, what: str, fields: Sequence[str]) -> None:
    try:
        if encode(value) == data:
            return
    except (UnicodeEncodeError, TypeError):
        pass
    _reject(data, value, what, fields)


def _reject(data: bytes, value: object, what: str, fields: Sequence[str]) -> NoReturn:
    """Name the first field whose bytes differ from their deterministic encoding."""
    if fields and isinstance(value, Sequence) and len(value) == len(fields):
        header = _head(4, len(value))
        offset = len(header)
        for name, item in zip(fields, value):
            piece = _reencode(item, name)
            if data.startswith(header) and data[offset : offset + len(piece)] != piece:
                raise DecodeError(f"{name}: not deterministically encoded (RFC 8949 §4.2.1)")
            offset += len(piece)
    again = _reencode(value, what)
    if data.startswith(again):
        raise DecodeError(f"{what}: {len(data) - len(again)} trailing bytes after the CBOR item")
    raise DecodeError(f"{what}: not deterministically encoded (RFC 8949 §4.2.1)")
