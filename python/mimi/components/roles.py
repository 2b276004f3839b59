"""Roles (draft-ietf-mimi-room-policy §Role-Based Access Control)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.components.capabilities import Capability
from mimi.tls_codec import Reader, Struct, Writer

# draft-ietf-mimi-room-policy §Role-Based Access Control: reserved indexes.
NO_ROLE = 0
BANNED = 1
BANNED_ROLE_NAME = "banned"


@dataclass(frozen=True, slots=True)
class SingleSourceRoleChangeTargets(Struct):
    from_role_index: int
    target_role_indexes: tuple[int, ...]

    def write(self, w: Writer) -> None:
        w.uint32(self.from_role_index)
        w.vector_of(self.target_role_indexes, Writer.uint32)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.uint32("from_role_index"), r.vector("target_role_indexes", Reader.uint32))


@dataclass(frozen=True, slots=True)
class Role(Struct):
    """One role. Capabilities are kept as registered values (reserved and
    private-use values included) so that a decoded role re-encodes exactly."""

    role_index: int
    role_name: str
    role_description: str = ""
    role_capabilities: tuple[int, ...] = ()
    minimum_participants_constraint: int = 0
    maximum_participants_constraint: int | None = None
    minimum_active_participants_constraint: int = 0
    maximum_active_participants_constraint: int | None = None
    authorized_role_changes: tuple[SingleSourceRoleChangeTargets, ...] = ()

    def has(self, capability: int) -> bool:
        return capability in self.role_capabilities

    def may_change(self, from_role_index: int, to_role_index: int) -> bool:
        """Whether `authorized_role_changes` allows from -> to."""
        return any(
            e.from_role_index == from_role_index and to_role_index in e.target_role_indexes
            for e in self.authorized_role_changes
        )

    def write(self, w: Writer) -> None:
        w.uint32(self.role_index)
        w.string(self.role_name)
        w.string(self.role_description)
        w.vector_of(self.role_capabilities, Writer.uint16)
        w.uint32(self.minimum_participants_constraint)
        w.optional(self.maximum_participants_constraint, Writer.uint32)
        w.uint32(self.minimum_active_participants_constraint)
        w.optional(self.maximum_active_participants_constraint, Writer.uint32)
        w.structs(self.authorized_role_changes)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            role_index=r.uint32("role_index"),
            role_name=r.string("role_name"),
            role_description=r.string("role_description"),
            role_capabilities=r.vector("role_capabilities", Reader.uint16),
            minimum_participants_constraint=r.uint32("minimum_participants_constraint"),
            maximum_participants_constraint=r.optional("maximum_participants_constraint", Reader.uint32),
            minimum_active_participants_constraint=r.uint32("minimum_active_participants_constraint"),
            maximum_active_participants_constraint=r.optional(
                "maximum_active_participants_constraint", Reader.uint32
            ),
            authorized_role_changes=r.vector("authorized_role_changes", SingleSourceRoleChangeTargets.read),
        )


@dataclass(frozen=True, slots=True)
class RoleData(Struct):
    """`roles_list` component data and `RoleUpdate` (the same format)."""

    roles: tuple[Role, ...]

    def role(self, role_index: int) -> Role | None:
        for role in self.roles:
            if role.role_index == role_index:
                return role
        return None

    def banned_role_exists(self) -> bool:
        """§canBan: role 1 must exist and be named "banned" for canBan/canUnban to work."""
        banned = self.role(BANNED)
        return banned is not None and banned.role_name == BANNED_ROLE_NAME

    def problem(self) -> str | None:
        """Why this role list is invalid as room policy, or None."""
        indexes = [role.role_index for role in self.roles]
        if len(set(indexes)) != len(indexes):
            return "duplicate role_index in roles_list"
        for role in self.roles:
            # §canOpenJoin: MUST NOT appear in any non-zero role.
            if role.role_index != NO_ROLE and role.has(Capability.canOpenJoin):
                return f"canOpenJoin on non-zero role {role.role_index}"
            for low, high in (
                (role.minimum_participants_constraint, role.maximum_participants_constraint),
                (role.minimum_active_participants_constraint, role.maximum_active_participants_constraint),
            ):
                if high is not None and low > high:
                    return f"role {role.role_index}: minimum constraint above maximum"
            for entry in role.authorized_role_changes:
                for index in (entry.from_role_index, *entry.target_role_indexes):
                    if index != NO_ROLE and index not in indexes:
                        return f"role {role.role_index}: authorized_role_changes names undefined role {index}"
        return None

    def write(self, w: Writer) -> None:
        w.structs(self.roles)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("roles", Role.read))
