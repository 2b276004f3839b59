"""The participant list (draft-ietf-mimi-protocol §Participant List)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.errors import DecodeError, PolicyError
from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class UserRolePair(Struct):
    user: str
    role_index: int

    def write(self, w: Writer) -> None:
        w.string(self.user)
        w.uint32(self.role_index)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.string("user"), r.uint32("role_index"))


@dataclass(frozen=True, slots=True)
class ParticipantListData(Struct):
    """`participant_list` component data. A user appears at most once."""

    participants: tuple[UserRolePair, ...] = ()

    def __post_init__(self) -> None:
        users = [p.user for p in self.participants]
        if len(set(users)) != len(users):
            raise DecodeError("ParticipantListData: a user appears more than once")

    def role_of(self, user: str) -> int:
        """The user's role_index; 0 (no role) if the user is not in the list."""
        for p in self.participants:
            if p.user == user:
                return p.role_index
        return 0

    def roles(self) -> dict[str, int]:
        return {p.user: p.role_index for p in self.participants}

    def apply(self, update: ParticipantListUpdate) -> ParticipantListData:
        """draft-ietf-mimi-protocol §Participant List: role changes, then removals by
        (pre-update) index, then additions appended. Raises PolicyError on a bad index,
        a user touched twice, or an added user already present."""
        participants = list(self.participants)
        touched: set[int] = set()
        if any(c.role_index == 0 for c in update.changed_role_participants) or any(
            a.role_index == 0 for a in update.added_participants
        ):
            raise PolicyError("role_index 0 means not in the list: remove the user instead")
        for change in update.changed_role_participants:
            if change.user_index >= len(participants):
                raise PolicyError(f"changedRoleParticipants: user_index {change.user_index} out of range")
            if change.user_index in touched:
                raise PolicyError(f"user_index {change.user_index} changed more than once")
            touched.add(change.user_index)
            participants[change.user_index] = UserRolePair(participants[change.user_index].user, change.role_index)
        for index in update.removed_indices:
            if index >= len(participants):
                raise PolicyError(f"removedIndices: index {index} out of range")
            if index in touched:
                raise PolicyError(f"user_index {index} changed or removed more than once")
            touched.add(index)
        removed = set(update.removed_indices)
        kept = [p for i, p in enumerate(participants) if i not in removed]
        present = {p.user for p in participants}
        for added in update.added_participants:
            if added.user in present:
                raise PolicyError(f"addedParticipants: {added.user} is already in the participant list")
            present.add(added.user)
            kept.append(added)
        return ParticipantListData(tuple(kept))

    def write(self, w: Writer) -> None:
        w.structs(self.participants)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("participants", UserRolePair.read))


@dataclass(frozen=True, slots=True)
class UserindexRolePair(Struct):
    user_index: int
    role_index: int

    def write(self, w: Writer) -> None:
        w.uint32(self.user_index)
        w.uint32(self.role_index)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.uint32("user_index"), r.uint32("role_index"))


@dataclass(frozen=True, slots=True)
class ParticipantListUpdate(Struct):
    """The `update` of an AppDataUpdate for participant_list."""

    changed_role_participants: tuple[UserindexRolePair, ...] = ()
    removed_indices: tuple[int, ...] = ()
    added_participants: tuple[UserRolePair, ...] = ()

    def write(self, w: Writer) -> None:
        w.structs(self.changed_role_participants)
        w.vector_of(self.removed_indices, Writer.uint32)
        w.structs(self.added_participants)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.vector("changedRoleParticipants", UserindexRolePair.read),
            r.vector("removedIndices", Reader.uint32),
            r.vector("addedParticipants", UserRolePair.read),
        )
