"""A strict reader and writer for the TLS presentation language (RFC 8446 §3),
the encoding of the drafts' structs (the Rust core uses the `tls_codec` crate for
the same). Not transport TLS.

Vectors (`T items<V>`) carry the variable-length prefix of RFC 9420 §2.1.2:
the two high bits of the first byte give the prefix length (1, 2 or 4 bytes),
and the shortest prefix that fits is required. `optional<T>` is a uint8
presence flag (RFC 9420 §2.1.3), `bool` a uint8 that is 0 or 1.

Decoding raises `DecodeError` naming the field on truncation, trailing bytes,
non-minimal or reserved length prefixes and bad flags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Self, TypeVar

from mimi.errors import DecodeError

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)

# RFC 9420 §2.1.2: 30-bit lengths at most.
MAX_VARINT = (1 << 30) - 1


def encode_varint(n: int) -> bytes:
    """RFC 9420 §2.1.2 variable-length integer, minimal encoding."""
    if n < 0x40:
        return bytes((n,))
    if n < 0x4000:
        return (0x4000 | n).to_bytes(2, "big")
    if n <= MAX_VARINT:
        return (0x8000_0000 | n).to_bytes(4, "big")
    raise ValueError(f"length {n} exceeds the RFC 9420 varint range")


class Writer:
    """Appends TLS-encoded values to one buffer."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def uint8(self, v: int) -> None:
        self.buf += v.to_bytes(1, "big")

    def uint16(self, v: int) -> None:
        self.buf += v.to_bytes(2, "big")

    def uint32(self, v: int) -> None:
        self.buf += v.to_bytes(4, "big")

    def uint64(self, v: int) -> None:
        self.buf += v.to_bytes(8, "big")

    def bool(self, v: bool) -> None:
        self.buf.append(1 if v else 0)

    def opaque(self, v: bytes) -> None:
        """`opaque data<V>`."""
        self.buf += encode_varint(len(v))
        self.buf += v

    def string(self, v: str) -> None:
        """A UTF-8 string carried as `opaque<V>`."""
        self.opaque(v.encode())

    def raw(self, v: bytes) -> None:
        """Bytes already encoded (a nested struct)."""
        self.buf += v

    @contextmanager
    def vector(self) -> Iterator[None]:
        """`T items<V>`: what is written inside the block gets a length prefix."""
        start = len(self.buf)
        yield
        self.buf[start:start] = encode_varint(len(self.buf) - start)

    def vector_of(self, items: Iterable[T], write: Callable[[Writer, T], None]) -> None:
        with self.vector():
            for item in items:
                write(self, item)

    def structs(self, items: Iterable[Struct]) -> None:
        """`S items<V>` for a struct type S."""
        with self.vector():
            for item in items:
                item.write(self)

    def optional(self, v: T | None, write: Callable[[Writer, T], None]) -> None:
        """`optional<T>`."""
        if v is None:
            self.buf.append(0)
        else:
            self.buf.append(1)
            write(self, v)

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class Reader:
    """Reads TLS-encoded values from `data[pos:end]`; `path` names the enclosing field."""

    __slots__ = ("data", "end", "path", "pos")

    def __init__(self, data: bytes, path: str = "", pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.path = path

    def _fail(self, field: str, problem: str) -> DecodeError:
        name = f"{self.path}.{field}" if self.path else field
        return DecodeError(f"{name}: {problem}")

    def _take(self, n: int, field: str) -> int:
        start = self.pos
        if self.end - start < n:
            raise self._fail(field, f"truncated (need {n} bytes, have {self.end - start})")
        self.pos = start + n
        return start

    def _uint(self, n: int, field: str) -> int:
        start = self._take(n, field)
        return int.from_bytes(self.data[start : start + n], "big")

    def uint8(self, field: str = "uint8") -> int:
        return self._uint(1, field)

    def uint16(self, field: str = "uint16") -> int:
        return self._uint(2, field)

    def uint32(self, field: str = "uint32") -> int:
        return self._uint(4, field)

    def uint64(self, field: str = "uint64") -> int:
        return self._uint(8, field)

    def bool(self, field: str = "bool") -> bool:
        v = self.uint8(field)
        if v > 1:
            raise self._fail(field, f"bool must be 0 or 1, got {v}")
        return v == 1

    def varint(self, field: str = "length") -> int:
        """RFC 9420 §2.1.2 length prefix; rejects the reserved form and non-minimal ones."""
        first = self.uint8(field)
        prefix = first >> 6
        if prefix == 0:
            return first
        if prefix == 3:
            raise self._fail(field, "reserved varint prefix 0b11")
        size = 2 if prefix == 1 else 4
        rest = self._uint(size - 1, field)
        value = ((first & 0x3F) << (8 * (size - 1))) | rest
        if value < (0x40 if size == 2 else 0x4000):
            raise self._fail(field, f"non-minimal length encoding of {value}")
        return value

    def opaque(self, field: str = "opaque") -> bytes:
        """`opaque data<V>`."""
        n = self.varint(field)
        start = self._take(n, field)
        return self.data[start : start + n]

    def string(self, field: str = "string") -> str:
        """A UTF-8 string carried as `opaque<V>`."""
        raw = self.opaque(field)
        try:
            return raw.decode()
        except UnicodeDecodeError as e:
            raise self._fail(field, f"invalid UTF-8 ({e.reason})") from None

    def vector(self, field: str, read: Callable[[Reader], T]) -> tuple[T, ...]:
        """`T items<V>`: items read until the prefixed length is used up, exactly."""
        n = self.varint(field)
        start = self._take(n, field)
        sub = Reader(self.data, f"{self.path}.{field}" if self.path else field, start, start + n)
        items = []
        while sub.pos < sub.end:
            items.append(read(sub))
        return tuple(items)

    def optional(self, field: str, read: Callable[[Reader], T]) -> T | None:
        """`optional<T>`."""
        flag = self.uint8(field)
        if flag == 0:
            return None
        if flag != 1:
            raise self._fail(field, f"optional presence flag must be 0 or 1, got {flag}")
        return read(self)

    def enum(self, kind: type[E], field: str, size: int = 1) -> E:
        """A `size`-byte enum value of `kind`; unknown values are a decode error."""
        v = self._uint(size, field)
        try:
            return kind(v)
        except ValueError:
            raise self._fail(field, f"unknown {kind.__name__} value {v}") from None

    def finish(self) -> None:
        if self.pos != self.end:
            raise self._fail("end", f"{self.end - self.pos} trailing bytes")


class Struct:
    """Mixin for a TLS struct: `write` and `read` given, `encode`/`decode` follow."""

    __slots__ = ()

    def write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def read(cls, r: Reader) -> Self:
        raise NotImplementedError

    def encode(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Strict: the whole of `data` is one value, or `DecodeError`."""
        r = Reader(bytes(data), cls.__name__)
        value = cls.read(r)
        r.finish()
        return value
