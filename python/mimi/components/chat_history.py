"""Chat history policy (draft-ietf-mimi-room-policy §Chat history policy component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mimi.components.optionality import Optionality, OptionalitySelect
from mimi.tls_codec import Reader, Writer


@dataclass(frozen=True, slots=True)
class HistoryPolicy(OptionalitySelect):
    """`chat_history_policy` component data and its update (the same format)."""

    SELECTOR: ClassVar[str] = "history_sharing"

    history_sharing: Optionality = Optionality.forbidden
    roles_that_can_share: tuple[int, ...] = ()
    automatically_share: bool = False
    max_time_period: int = 0

    def write_case(self, w: Writer) -> None:
        w.vector_of(self.roles_that_can_share, Writer.uint32)
        w.bool(self.automatically_share)
        w.uint32(self.max_time_period)

    @classmethod
    def read_case(cls, r: Reader) -> tuple[Any, ...]:
        return (r.vector("roles_that_can_share", Reader.uint32), r.bool("automatically_share"), r.uint32("max_time_period"))
