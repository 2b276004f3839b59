"""Base room policy (draft-ietf-mimi-room-policy §Base Room policy component syntax)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.errors import DecodeError
from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class BaseRoomPolicy(Struct):
    """`base_room_policy` component data and `BaseRoomUpdate` (the same format).

    `parent_room` is `Uri parent_room<V>`: a vector of Uri, read as zero or one
    room URI ("" when absent). `policy_component_ids` are ComponentIDs (uint16).
    """

    fixed_membership: bool = False
    parent_dependent: bool = False
    parent_room: str = ""
    multi_device: bool = True
    max_clients: int | None = None
    max_users: int | None = None
    pseudonyms_allowed: bool = False
    persistent_room: bool = False
    discoverable: bool = False
    policy_component_ids: tuple[int, ...] = ()

    def problem(self) -> str | None:
        """Why this policy is invalid, or None."""
        # §Base Room policy: parent_room is set iff parent_dependent.
        if self.parent_dependent != bool(self.parent_room):
            return "parent_room must be set exactly when parent_dependent is true"
        return None

    def write(self, w: Writer) -> None:
        w.bool(self.fixed_membership)
        w.bool(self.parent_dependent)
        w.vector_of((self.parent_room,) if self.parent_room else (), Writer.string)
        w.bool(self.multi_device)
        w.optional(self.max_clients, Writer.uint32)
        w.optional(self.max_users, Writer.uint32)
        w.bool(self.pseudonyms_allowed)
        w.bool(self.persistent_room)
        w.bool(self.discoverable)
        w.vector_of(self.policy_component_ids, Writer.uint16)

    @classmethod
    def read(cls, r: Reader) -> Self:
        fixed_membership = r.bool("fixed_membership")
        parent_dependent = r.bool("parent_dependant")
        parents = r.vector("parent_room", Reader.string)
        if len(parents) > 1 or parents == ("",):
            raise DecodeError(f"{r.path}.parent_room: zero or one non-empty room URI expected")
        return cls(
            fixed_membership=fixed_membership,
            parent_dependent=parent_dependent,
            parent_room=parents[0] if parents else "",
            multi_device=r.bool("multi_device"),
            max_clients=r.optional("max_clients", Reader.uint32),
            max_users=r.optional("max_users", Reader.uint32),
            pseudonyms_allowed=r.bool("pseudonyms_allowed"),
            persistent_room=r.bool("persistent_room"),
            discoverable=r.bool("discoverable"),
            policy_component_ids=r.vector("policy_component_ids", Reader.uint16),
        )
