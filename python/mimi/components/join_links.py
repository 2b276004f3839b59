"""Join links: the policy for new ones and the active ones
(draft-ietf-mimi-room-policy §Join Link policies component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class JoinLinkPolicy(Struct):
    """`join_link_policy` component data and its update (the same format)."""

    on_request: bool = False
    join_link: str = ""
    multiuser: bool = False
    expiration: int = 0

    def write(self, w: Writer) -> None:
        w.bool(self.on_request)
        w.string(self.join_link)
        w.bool(self.multiuser)
        w.uint32(self.expiration)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.bool("on_request"), r.string("join_link"), r.bool("multiuser"), r.uint32("expiration"))


@dataclass(frozen=True, slots=True)
class JoinLinks(Struct):
    """`join_links` component data: `JoinLink JoinLinksData<V>`, each `opaque join_link<V>`."""

    join_links: tuple[bytes, ...] = ()

    def write(self, w: Writer) -> None:
        w.vector_of(self.join_links, Writer.opaque)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("join_links", Reader.opaque))


@dataclass(frozen=True, slots=True)
class JoinLinksUpdate(Struct):
    removed_indices: tuple[int, ...] = ()
    added_links: tuple[bytes, ...] = ()

    def write(self, w: Writer) -> None:
        w.vector_of(self.removed_indices, Writer.uint32)
        w.vector_of(self.added_links, Writer.opaque)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("removedIndices", Reader.uint32), r.vector("added_links", Reader.opaque))
