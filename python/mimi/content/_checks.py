"""Checks of one CBOR field's type and size; each error names the field (CDDL types)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

from mimi.errors import DecodeError

if TYPE_CHECKING:
    from typing_extensions import TypeIs

_UINT_BITS: Final = {"uint .size 1": 8, "uint .size 2": 16, "uint .size 4": 32, "uint .size 8": 64}


def bstr(value: object, name: str, size: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError(f"{name}: expected bstr, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise DecodeError(f"{name}: expected {size} bytes, got {len(value)}")
    return value


def tstr(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise DecodeError(f"{name}: expected tstr, got {type(value).__name__}")


def uint(value: object, name: str, size: str) -> int:
    # bool is an int in Python but a simple value in CBOR.
    if type(value) is not int and not isinstance(value, IntEnum):
        raise DecodeError(f"{name}: expected {size}, got {type(value).__name__}")
    if not 0 <= value < 1 << _UINT_BITS[size]:
        raise DecodeError(f"{name}: {value} does not fit {size}")
    return int(value)


def is_array(value: object) -> TypeIs[Sequence[Any]]:
    """A decoded CBOR array (cbor2 gives tuples; builders may pass lists)."""
    if type(value) is tuple or type(value) is list:
        return True
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))
