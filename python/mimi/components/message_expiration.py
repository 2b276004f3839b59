"""Message expiration policy (draft-ietf-mimi-room-policy §Message expiration policy component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mimi.components.optionality import Optionality, OptionalitySelect
from mimi.tls_codec import Reader, Writer


@dataclass(frozen=True, slots=True)
class MessageExpiration(OptionalitySelect):
    """`message_expiration_policy` component data and its update (the same format)."""

    SELECTOR: ClassVar[str] = "expiring_messages"

    expiring_messages: Optionality = Optionality.forbidden
    min_expiration_duration: int = 0
    max_expiration_duration: int = 0
    default_expiration_duration: int | None = None

    def write_case(self, w: Writer) -> None:
        w.uint32(self.min_expiration_duration)
        w.uint32(self.max_expiration_duration)
        w.optional(self.default_expiration_duration, Writer.uint32)

    @classmethod
    def read_case(cls, r: Reader) -> tuple[Any, ...]:
        return (
            r.uint32("min_expiration_duration"),
            r.uint32("max_expiration_duration"),
            r.optional("default_expiration_duration", Reader.uint32),
        )
