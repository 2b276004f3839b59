"""Media types as MLS carries them (draft-ietf-mls-extensions §MediaType)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class Parameter(Struct):
    parameter_name: bytes
    parameter_value: bytes

    def write(self, w: Writer) -> None:
        w.opaque(self.parameter_name)
        w.opaque(self.parameter_value)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.opaque("parameter_name"), r.opaque("parameter_value"))


@dataclass(frozen=True, slots=True)
class MediaType(Struct):
    """A media type: "type/subtype" and its parameters."""

    type: bytes
    parameters: tuple[Parameter, ...] = ()

    def write(self, w: Writer) -> None:
        w.opaque(self.type)
        w.structs(self.parameters)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.opaque("type"), r.vector("parameters", Parameter.read))
