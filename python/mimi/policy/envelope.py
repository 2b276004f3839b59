"""The hub's policy envelope (draft-ietf-mimi-room-policy §Introduction;
draft-ietf-mimi-arch §4.4): the range of policies a room on this hub may adopt.
A room's creation and every later policy change must stay inside it."""

from __future__ import annotations

from dataclasses import dataclass

from mimi.components import Capability
from mimi.room.state import RoomState


@dataclass(frozen=True, slots=True)
class PolicyEnvelope:
    """None means "no bound". A bound on max_users / max_clients requires the
    room to set its own value, at most the bound."""

    allowed_capabilities: frozenset[int] | None = None
    allowed_components: frozenset[int] | None = None
    max_users: int | None = None
    max_clients: int | None = None
    allow_fixed_membership: bool = True
    allow_parent_dependent: bool = True
    allow_single_device: bool = True
    allow_pseudonyms: bool = True
    allow_discoverable: bool = True
    allow_persistent: bool = True
    allow_open_join: bool = True

    def problem(self, state: RoomState) -> str | None:
        """Why `state`'s policy is outside the envelope, or None."""
        base = state.base
        for allowed, used, what in (
            (self.allow_fixed_membership, base.fixed_membership, "fixed membership"),
            (self.allow_parent_dependent, base.parent_dependent, "parent-dependent rooms"),
            (self.allow_single_device, not base.multi_device, "single-device rooms"),
            (self.allow_pseudonyms, base.pseudonyms_allowed, "pseudonyms"),
            (self.allow_discoverable, base.discoverable, "discoverable rooms"),
            (self.allow_persistent, base.persistent_room, "persistent rooms"),
        ):
            if used and not allowed:
                return f"{what} not allowed"
        for bound, value, name in ((self.max_users, base.max_users, "max_users"), (self.max_clients, base.max_clients, "max_clients")):
            if bound is not None and (value is None or value > bound):
                return f"{name} must be set to at most {bound}"
        if self.allowed_components is not None:
            extra = set(state.components) - self.allowed_components
            if extra:
                return f"components {sorted(extra)} not allowed"
        for role in state.roles.roles:
            if not self.allow_open_join and role.has(Capability.canOpenJoin):
                return "open join not allowed"
            if self.allowed_capabilities is not None:
                extra = set(role.role_capabilities) - self.allowed_capabilities
                if extra:
                    return f"role {role.role_index} holds capabilities {sorted(extra)} not allowed"
        return None
