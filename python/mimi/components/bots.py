"""Chat bot policy (draft-ietf-mimi-room-policy §Chat bot policy component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class Bot(Struct):
    name: bytes
    description: bytes = b""
    homepage: str = ""
    local_client_bot: bool = False
    bot_role_index: int = 0
    can_target_message_in_group: bool = False
    per_user_content: bool = False

    def write(self, w: Writer) -> None:
        w.opaque(self.name)
        w.opaque(self.description)
        w.string(self.homepage)
        w.bool(self.local_client_bot)
        w.uint32(self.bot_role_index)
        w.bool(self.can_target_message_in_group)
        w.bool(self.per_user_content)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.opaque("name"),
            r.opaque("description"),
            r.string("homepage"),
            r.bool("local_client_bot"),
            r.uint32("bot_role_index"),
            r.bool("can_target_message_in_group"),
            r.bool("per_user_content"),
        )


@dataclass(frozen=True, slots=True)
class BotPolicy(Struct):
    """`bot_policy` component data and its update (the same format)."""

    allowed_bots: tuple[Bot, ...] = ()

    def write(self, w: Writer) -> None:
        w.structs(self.allowed_bots)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("allowed_bots", Bot.read))
