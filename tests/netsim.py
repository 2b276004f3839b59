"""An in-memory network of providers for protocol tests: the hub logic, followers
and client sessions wired together, bytes pumped between them. No Ray, no sockets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from mimi import _core, content
from mimi.components import (
    NO_ROLE,
    Capability,
    ComponentId,
    ParticipantListUpdate,
    Role,
    RoleData,
    SingleSourceRoleChangeTargets,
    UserindexRolePair,
    UserRolePair,
)
from mimi.ids import provider_of
from mimi.logic.client import ClientSession, commit_bundle, proposal_bundle
from mimi.logic.fanout import FanoutBatcher
from mimi.logic.follower import Delivery, Follower, Notify
from mimi.logic.hub import Fanout, HubRoom
from mimi.logic.key_material import KeyMaterialAnswer
from mimi.policy.presets import ORDINARY_USER, PRESETS, strictly_administered

ROOM = "mimi://y.example/r/clubhouse"
HUB = "mimi://y.example"
SUPER_ADMIN = 4
SUSPENDED = 6


def suspending_roles() -> RoleData:
    """The strictly administered room's roles (the creator is super_admin, the
    users it adds ordinary users) and role 6, "suspended": a participant without
    canReceiveMessage, whom the super_admin may restore or remove."""
    roles = []
    for role in strictly_administered().roles.roles:
        if role.role_index == SUPER_ADMIN:
            moves = (
                SingleSourceRoleChangeTargets(ORDINARY_USER, (SUSPENDED,)),
                SingleSourceRoleChangeTargets(SUSPENDED, (ORDINARY_USER, NO_ROLE)),
            )
            role = replace(role, authorized_role_changes=role.authorized_role_changes + moves)
        roles.append(role)
    roles.append(Role(SUSPENDED, "suspended", role_capabilities=(Capability.canRemoveSelf,)))
    return RoleData(tuple(roles))


@dataclass
class Net:
    hub_key: _core.SignatureKeyPair = field(default_factory=_core.SignatureKeyPair.generate)
    now: int = 1_700_000_000_000
    sessions: dict[str, ClientSession] = field(default_factory=dict)
    followers: dict[str, Follower] = field(default_factory=dict)
    key_packages: dict[str, list[tuple[bytes, bytes]]] = field(default_factory=dict)  # client -> [(ref, kp)]
    batcher: FanoutBatcher = field(default_factory=FanoutBatcher)
    hub: HubRoom | None = None
    events: list[object] = field(default_factory=list)
    hold: set[str] = field(default_factory=set)  # destinations whose notifies are held back
    held: list[tuple[str, Notify]] = field(default_factory=list)

    def device(self, name: str, uri: str) -> ClientSession:
        session = ClientSession(_core.Client(uri))
        self.sessions[name] = session
        self.followers.setdefault(provider_of(uri), Follower(provider_of(uri)))
        kps = session.client.key_packages(2)
        self.key_packages[uri] = [(_core.key_package_ref(kp), kp) for kp in kps]
        return session

    def tick(self) -> int:
        self.now += 10
        return self.now

    # -- room life ---------------------------------------------------------------

    def create(self, creator: str, preset: str = "cooperative") -> None:
        s = self.sessions[creator]
        state = PRESETS[preset].new_room(s.user, ROOM, room_name="Clubhouse", hub=HUB, members=[s.uri])
        group = s.create_room(ROOM, b"clubhouse", self.hub_key.public, HUB, state)
        self.hub = HubRoom.create(ROOM, HUB, group.export_group_info(), group.export_ratchet_tree())
        self.followers[provider_of(s.uri)].subscribe(ROOM, s.uri)

    def claim(self, client: str) -> bytes:
        """/keyMaterial: the target provider hands out one KeyPackage; the hub and
        the target provider remember where its Welcome goes."""
        assert self.hub is not None
        ref, kp = self.key_packages[client].pop(0)
        self.hub.record_key_packages(provider_of(client), [ref])
        self.followers[provider_of(client)].expect_welcome(ref, client)
        return kp

    def update(self, name: str, body: bytes) -> _core.UpdateResponse:
        assert self.hub is not None
        session = self.sessions[name]
        raw, fanout = self.hub.update(provider_of(session.uri), body, self.tick())
        response = _core.UpdateResponse.decode(raw)
        if ROOM in session.pending:
            if response.response_code == "success":
                session.update_accepted(ROOM)
            else:
                session.update_refused(ROOM)
        self.fan(fanout)
        return response

    def commit(self, name: str, adds: list[str] = (), removes: list[int] = (), app_data: list[tuple[int, bytes | None]] = ()) -> _core.UpdateResponse:  # type: ignore[assignment]
        kps = [self.claim(c) for c in adds]
        out = self.sessions[name].commit(ROOM, kps, removes, app_data)
        return self.update(name, commit_bundle(out))

    def participants(self, update: ParticipantListUpdate) -> tuple[int, bytes]:
        return (ComponentId.participant_list, update.encode())

    def add_users(self, name: str, clients: list[str], users: list[str]) -> _core.UpdateResponse:
        update = ParticipantListUpdate(added_participants=tuple(UserRolePair(u, ORDINARY_USER) for u in users))
        return self.commit(name, adds=clients, app_data=[self.participants(update)])

    def index_of(self, user: str) -> int:
        assert self.hub is not None
        return [p.user for p in self.hub.state.participants.participants].index(user)

    def set_roles(self, name: str, roles: dict[str, int]) -> _core.UpdateResponse:
        pairs = tuple(UserindexRolePair(self.index_of(user), role) for user, role in roles.items())
        return self.commit(name, app_data=[self.participants(ParticipantListUpdate(changed_role_participants=pairs))])

    def ban(self, name: str, user: str) -> _core.UpdateResponse:
        return self.set_roles(name, {user: 1})

    def remove_user(self, name: str, user: str, leaves: list[int]) -> _core.UpdateResponse:
        update = ParticipantListUpdate(removed_indices=(self.index_of(user),))
        return self.commit(name, removes=leaves, app_data=[self.participants(update)])

    def leave(self, name: str) -> _core.UpdateResponse:
        return self.update(name, proposal_bundle(self.sessions[name].propose_leave(ROOM)))

    def join_external(self, name: str) -> _core.UpdateResponse:
        assert self.hub is not None
        s = self.sessions[name]
        out = s.join_external(ROOM, self.hub.view.group_info(), self.hub.view.export_ratchet_tree())
        response = self.update(name, commit_bundle(out))
        if response.response_code == "success":
            self.followers[provider_of(s.uri)].subscribe(ROOM, s.uri)
        return response

    def send(self, name: str, message: content.MimiContent) -> tuple[_core.SubmitMessageResponse, bytes]:
        assert self.hub is not None
        s = self.sessions[name]
        body, message_id = s.send(ROOM, message)
        raw, fanout = self.hub.submit(provider_of(s.uri), body, self.tick())
        s.submit_answered(message_id, raw)
        self.fan(fanout)
        return _core.SubmitMessageResponse.decode(raw), message_id

    # -- fanout ------------------------------------------------------------------------

    def fan(self, fanout: list[Fanout]) -> None:
        self.batcher.add(fanout)
        for destination in self.batcher.destinations():
            for notify in self.batcher.take(destination):
                if destination in self.hold:
                    self.held.append((destination, notify))
                else:
                    self.notify(destination, notify)

    def release(self, reverse: bool = False) -> None:
        held, self.held = self.held, []
        for destination, notify in reversed(held) if reverse else held:
            self.notify(destination, notify)

    def notify(self, destination: str, notify: Notify) -> list[Delivery]:
        deliveries = self.followers[destination].notify(notify)
        for d in deliveries:
            session = next(s for s in self.sessions.values() if s.uri == d.client)
            for event in session.deliver(d.room, d.sequence, d.message):
                self.events.append((session.uri, event))
                if type(event).__name__ == "Removed":
                    self.followers[destination].unsubscribe(d.room, d.client)
        return deliveries

    def active(self) -> dict[str, ClientSession]:
        return {n: s for n, s in self.sessions.items() if ROOM in s.rooms and s.rooms[ROOM].group.is_active}


class Wire:
    """A RoomHub transport for tests without Ray: records every `/notify` call and
    answers it at once as delivered (`answers=True`), or never."""

    def __init__(self, answers: bool = True) -> None:
        self.answers = answers
        self.sent: list[tuple[str, Notify]] = []

    def key_material(self, caller: str, target_provider: str, body: bytes) -> KeyMaterialAnswer:
        raise AssertionError("not used")

    def notify(self, follower: str, batch: Notify) -> Any:
        self.sent.append((follower, batch))
        return len(self.sent)

    def answered(self, handles: list[Any], wait: float) -> tuple[list[tuple[Any, bool]], list[Any]]:
        if self.answers:
            return [(h, True) for h in handles], []
        time.sleep(wait)
        return [], handles
