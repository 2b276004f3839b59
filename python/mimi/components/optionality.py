"""`Optionality`, and the `select` on it that four policy components end with
(draft-ietf-mimi-room-policy §Other MIMI policy components):

    Optionality x;
    select (x) { case mandatory: F; case optional: F; case forbidden: struct {}; }

The fields F are carried unless x is `forbidden`. The selects' `case mandatory`
names no value of Optionality; it is read as `required` (docs/interop.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, Self

from mimi.errors import PolicyError
from mimi.tls_codec import Reader, Struct, Writer


class Optionality(IntEnum):
    """§Status Notifications component."""

    optional = 0
    required = 1
    forbidden = 2


@dataclass(frozen=True, slots=True)
class OptionalitySelect(Struct):
    """A component struct that ends with `select (x)`. `SELECTOR` names the
    Optionality field x; the dataclass fields after it are F, and their defaults
    are the empty values. A forbidden x with non-empty F cannot be built, so every
    value re-encodes to the bytes it came from.

    Subclasses give `write_case` and `read_case` (F alone); `write` and `read`
    are given for a struct that begins with x, and are extended by one with
    fields before x through `write_select` and `read_select`."""

    SELECTOR: ClassVar[str]

    def __post_init__(self) -> None:
        if getattr(self, self.SELECTOR) is not Optionality.forbidden:
            return
        names = [f.name for f in fields(self)]
        case = fields(self)[names.index(self.SELECTOR) + 1 :]
        carried = [f.name for f in case if getattr(self, f.name) != f.default]
        if carried:
            raise PolicyError(f"{type(self).__name__}.{self.SELECTOR} is forbidden: {', '.join(carried)} must be empty")

    def write_case(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def read_case(cls, r: Reader) -> tuple[Any, ...]:
        """The values of F, in order."""
        raise NotImplementedError

    def write_select(self, w: Writer) -> None:
        selector = getattr(self, self.SELECTOR)
        w.uint8(selector)
        if selector is not Optionality.forbidden:
            self.write_case(w)

    @classmethod
    def read_select(cls, r: Reader) -> tuple[Any, ...]:
        """x, then F unless x is forbidden (F then keeps its defaults)."""
        selector = r.enum(Optionality, cls.SELECTOR)
        return (selector,) if selector is Optionality.forbidden else (selector, *cls.read_case(r))

    def write(self, w: Writer) -> None:
        self.write_select(w)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(*cls.read_select(r))
