"""Logging policy (draft-ietf-mimi-room-policy §Logging policy component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mimi.components.optionality import Optionality, OptionalitySelect
from mimi.tls_codec import Reader, Writer


@dataclass(frozen=True, slots=True)
class LoggingPolicy(OptionalitySelect):
    """`logging_policy` component data and its update (the same format); an
    empty policy URI means none is given."""

    SELECTOR: ClassVar[str] = "logging"

    logging: Optionality = Optionality.forbidden
    logging_clients: tuple[str, ...] = ()
    machine_readable_policy: str = ""
    human_readable_policy: str = ""

    def write_case(self, w: Writer) -> None:
        w.vector_of(self.logging_clients, Writer.string)
        w.string(self.machine_readable_policy)
        w.string(self.human_readable_policy)

    @classmethod
    def read_case(cls, r: Reader) -> tuple[Any, ...]:
        return (
            r.vector("logging_clients", Reader.string),
            r.string("machine_readable_policy"),
            r.string("human_readable_policy"),
        )
