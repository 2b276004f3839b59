"""Room state: the MIMI components of the MLS app_data_dictionary plus the
clients in the MLS group, and the one pure function that moves it forward."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from mimi.components import (
    AssetPolicy,
    BaseRoomPolicy,
    BotPolicy,
    ComponentId,
    HistoryPolicy,
    JoinLinkPolicy,
    JoinLinks,
    JoinLinksUpdate,
    LinkPreviewPolicy,
    LoggingPolicy,
    MessageExpiration,
    ParticipantListData,
    ParticipantListUpdate,
    PreAuthData,
    RoleData,
    RoomMetaData,
    StatusNotificationPolicy,
)
from mimi.errors import DecodeError, PolicyError
from mimi.ids import user_of
from mimi.room.change import AddClient, AppDataUpdate, AppDataUpdateOperation, ProposedChange, RemoveClient
from mimi.tls_codec import Struct

# Components whose update replaces the data, by the type both are decoded with.
# mls_operational_policy is carried as opaque bytes (its syntax is unfinished).
REPLACED: Mapping[int, type[Struct] | None] = {
    ComponentId.franking_signature_key: None,
    ComponentId.room_metadata: RoomMetaData,
    ComponentId.mls_operational_policy: None,
    ComponentId.roles_list: RoleData,
    ComponentId.preauth_list: PreAuthData,
    ComponentId.base_room_policy: BaseRoomPolicy,
    ComponentId.status_notification_policy: StatusNotificationPolicy,
    ComponentId.join_link_policy: JoinLinkPolicy,
    ComponentId.link_preview_policy: LinkPreviewPolicy,
    ComponentId.asset_policy: AssetPolicy,
    ComponentId.logging_policy: LoggingPolicy,
    ComponentId.chat_history_policy: HistoryPolicy,
    ComponentId.bot_policy: BotPolicy,
    ComponentId.message_expiration_policy: MessageExpiration,
}
# Components a room cannot be without (removal is invalid).
REQUIRED = frozenset({ComponentId.participant_list, ComponentId.roles_list, ComponentId.base_room_policy})
KNOWN = frozenset({*REPLACED, ComponentId.participant_list, ComponentId.join_links})

S = TypeVar("S", bound=Struct)


class _Decoded:
    """Decoded components by (kind, bytes), the least recently used dropped first.
    The hub and clients rebuild the room state for every commit, and its
    components (the roles above all) rarely change. The decoded structs are
    frozen, so sharing them is safe; a DecodeError is not remembered."""

    SIZE = 1024

    def __init__(self) -> None:
        self.items: OrderedDict[tuple[type[Struct], bytes], Struct] = OrderedDict()
        self.lock = threading.Lock()  # actors may decode on several threads

    def get(self, kind: type[S], data: bytes) -> S:
        key = (kind, data)
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
                return cast(S, value)
        value = kind.decode(data)
        self.remember(kind, data, value)
        return value

    def remember(self, kind: type[Struct], data: bytes, value: Struct) -> None:
        """`value` is what `data` decodes to (it was just encoded from it)."""
        with self.lock:
            self.items[(kind, data)] = value
            while len(self.items) > self.SIZE:
                self.items.popitem(last=False)


_DECODED = _Decoded()
_decode = _DECODED.get


@dataclass(frozen=True, slots=True)
class RoomState:
    """What hub and clients agree on in an epoch. `components` holds the
    app_data_dictionary (component ID -> data); the typed views decode it."""

    participants: ParticipantListData
    roles: RoleData
    base: BaseRoomPolicy
    preauth: PreAuthData
    metadata: RoomMetaData | None
    members: tuple[str, ...]  # client URIs in the MLS group
    components: Mapping[int, bytes]

    @classmethod
    def from_app_data(cls, components: Mapping[int, bytes], members: Iterable[str] = ()) -> RoomState:
        """Decode the app_data_dictionary; raises DecodeError on any malformed component."""
        for component_id, data in components.items():
            if component_id not in KNOWN:
                raise DecodeError(f"unknown component {component_id:#06x} in app_data_dictionary")
            kind = REPLACED.get(component_id)
            if kind is not None:
                _decode(kind, data)
        if ComponentId.join_links in components:
            _decode(JoinLinks, components[ComponentId.join_links])
        metadata = components.get(ComponentId.room_metadata)
        return cls(
            participants=_decode(ParticipantListData, components.get(ComponentId.participant_list, b"\x00")),
            roles=_decode(RoleData, components.get(ComponentId.roles_list, b"\x00")),
            base=_decode(BaseRoomPolicy, components[ComponentId.base_room_policy])
            if ComponentId.base_room_policy in components
            else BaseRoomPolicy(),
            preauth=_decode(PreAuthData, components.get(ComponentId.preauth_list, b"\x00")),
            metadata=None if metadata is None else _decode(RoomMetaData, metadata),
            members=tuple(members),
            components=dict(sorted(components.items())),
        )

    @classmethod
    def create(
        cls,
        participants: ParticipantListData,
        roles: RoleData,
        base: BaseRoomPolicy,
        preauth: PreAuthData = PreAuthData(),
        metadata: RoomMetaData | None = None,
        members: Iterable[str] = (),
        other: Mapping[int, Struct] | None = None,
    ) -> RoomState:
        components: dict[int, bytes] = {
            ComponentId.participant_list: participants.encode(),
            ComponentId.roles_list: roles.encode(),
            ComponentId.base_room_policy: base.encode(),
            ComponentId.preauth_list: preauth.encode(),
        }
        if metadata is not None:
            components[ComponentId.room_metadata] = metadata.encode()
        for component_id, value in (other or {}).items():
            components[component_id] = value.encode()
        return cls.from_app_data(components, members)

    def to_app_data(self) -> dict[int, bytes]:
        """Component ID -> data, sorted by component ID as the dictionary requires."""
        return dict(self.components)

    def role_of(self, user: str) -> int:
        return self.participants.role_of(user)

    def clients_of(self, user: str) -> tuple[str, ...]:
        return tuple(c for c in self.members if user_of(c) == user)

    def active_users(self) -> frozenset[str]:
        """Users with at least one client in the MLS group."""
        return frozenset(user_of(c) for c in self.members)

    def apply(self, change: ProposedChange) -> RoomState:
        """The state after `change` (no authorization: see mimi.policy.authorize).

        draft-ietf-mls-extensions §AppDataUpdate: MLS Removes, then Adds, then the
        AppDataUpdates per component in proposal order. Raises PolicyError for an
        invalid proposal list and DecodeError for malformed component bytes."""
        members = list(self.members)
        for p in change.proposals:
            if isinstance(p, RemoveClient):
                if p.client not in members:
                    raise PolicyError(f"Remove of {p.client}, which is not in the group")
                members.remove(p.client)
        joiners = [p.client for p in change.proposals if isinstance(p, AddClient)]
        if change.external_joiner is not None:
            joiners.append(change.external_joiner)
        for client in joiners:
            user_of(client)
            if client in members:
                raise PolicyError(f"Add of {client}, which is already in the group")
            members.append(client)

        components = dict(self.components)
        updates: dict[int, list[AppDataUpdate]] = {}
        for p in change.proposals:
            if isinstance(p, AppDataUpdate):
                updates.setdefault(p.component_id, []).append(p)
        for component_id, proposals in updates.items():
            _apply_component(components, component_id, proposals)
        return replace(RoomState.from_app_data(components), members=tuple(members))


def _apply_component(components: dict[int, bytes], component_id: int, proposals: list[AppDataUpdate]) -> None:
    """draft-ietf-mls-extensions §AppDataUpdate: one remove, or one or more updates."""
    if component_id not in KNOWN:
        raise PolicyError(f"AppDataUpdate for unknown component {component_id:#06x}")
    ops = {p.op for p in proposals}
    if ops == {AppDataUpdateOperation.remove} and len(proposals) == 1:
        if component_id not in components:
            raise PolicyError(f"remove of component {component_id:#06x}, which has no state")
        if component_id in REQUIRED:
            raise PolicyError(f"component {component_id:#06x} cannot be removed")
        del components[component_id]
        return
    if ops != {AppDataUpdateOperation.update}:
        raise PolicyError(f"component {component_id:#06x}: a single remove or only updates")
    for p in proposals:
        if component_id == ComponentId.participant_list:
            current = _decode(ParticipantListData, components.get(component_id, b"\x00"))
            updated = current.apply(ParticipantListUpdate.decode(p.update))
            data = updated.encode()
            _DECODED.remember(ParticipantListData, data, updated)  # the new epoch decodes it next
        elif component_id == ComponentId.join_links:
            links = JoinLinks.decode(components.get(component_id, b"\x00"))
            data = _apply_join_links(links, JoinLinksUpdate.decode(p.update)).encode()
        else:
            kind = REPLACED[component_id]
            data = p.update if kind is None else kind.decode(p.update).encode()
        components[component_id] = data


def _apply_join_links(links: JoinLinks, update: JoinLinksUpdate) -> JoinLinks:
    """§Join Link policies: removals by index, then additions appended."""
    removed = set(update.removed_indices)
    if len(removed) != len(update.removed_indices) or any(i >= len(links.join_links) for i in removed):
        raise PolicyError("JoinLinksUpdate: removedIndices repeated or out of range")
    kept = tuple(link for i, link in enumerate(links.join_links) if i not in removed)
    return JoinLinks(kept + update.added_links)
