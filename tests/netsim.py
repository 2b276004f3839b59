"""An in-memory network of providers for protocol tests: the hub logic, followers
and client sessions wired together, bytes pumped between them. No Ray, no sockets.

By default every `/notify` and every push to a device happens at once. With a
seeded `rng`, they wait on the wire until `step` takes one at random: `/notify`
calls in any order, the pushes of one provider to one device in order (as Ray
delivers one caller's calls), and `lose_pushes` drops what was pushed to a device
(its host restarted)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mimi import _core, content
from mimi.actors.hub import RoomHub
from mimi.components import (
    NO_ROLE,
    Capability,
    ParticipantListUpdate,
    Role,
    RoleData,
    SingleSourceRoleChangeTargets,
    UserindexRolePair,
    UserRolePair,
)
from mimi.ids import provider_of
from mimi.logic.client import ClientSession, EpochTooOld, Removed, RoomView, commit_bundle, proposal_bundle
from mimi.logic.fanout import FanoutBatcher
from mimi.logic.follower import Delivery, Follower, Notify
from mimi.logic.hub import Fanout, HubRoom
from mimi.logic.key_material import KeyMaterialAnswer
from mimi.logic.room_changes import add_users, participants
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
    rng: random.Random | None = None  # set: notifies and pushes wait in `wire` and `pushes` for `step`
    wire: list[tuple[str, Notify]] = field(default_factory=list)
    inbox: dict[str, list[Delivery]] = field(default_factory=dict)  # client -> every delivery its provider made
    pushes: dict[str, list[Delivery]] = field(default_factory=dict)  # client -> pushed, not yet processed

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
        self.followers[provider_of(client)].expect_welcome(ref, client, ROOM)
        return kp

    def update(self, name: str, body: bytes) -> _core.UpdateResponse:
        assert self.hub is not None
        session = self.sessions[name]
        raw, fanout = self.hub.update(provider_of(session.uri), body, self.tick(), hub_key=self.hub_key)
        response = _core.UpdateResponse.decode(raw)
        if ROOM in session.pending:
            if response.response_code == "success":
                session.update_accepted(ROOM, response.accepted_timestamp)
            else:
                session.update_refused(ROOM)
        self.fan(fanout)
        return response

    def commit(self, name: str, adds: list[str] = (), removes: list[int] = (), app_data: list[tuple[int, bytes | None]] = ()) -> _core.UpdateResponse:  # type: ignore[assignment]
        kps = [self.claim(c) for c in adds]
        out = self.sessions[name].commit(ROOM, kps, removes, app_data)
        return self.update(name, commit_bundle(out))

    def add_users(self, name: str, clients: list[str], users: list[str]) -> _core.UpdateResponse:
        update = ParticipantListUpdate(added_participants=tuple(UserRolePair(u, ORDINARY_USER) for u in users))
        return self.commit(name, adds=clients, app_data=[participants(update)])

    def index_of(self, user: str) -> int:
        assert self.hub is not None
        return [p.user for p in self.hub.state.participants.participants].index(user)

    def set_roles(self, name: str, roles: dict[str, int]) -> _core.UpdateResponse:
        pairs = tuple(UserindexRolePair(self.index_of(user), role) for user, role in roles.items())
        return self.commit(name, app_data=[participants(ParticipantListUpdate(changed_role_participants=pairs))])

    def ban(self, name: str, user: str) -> _core.UpdateResponse:
        return self.set_roles(name, {user: 1})

    def remove_user(self, name: str, user: str, leaves: list[int]) -> _core.UpdateResponse:
        update = ParticipantListUpdate(removed_indices=(self.index_of(user),))
        return self.commit(name, removes=leaves, app_data=[participants(update)])

    def leave(self, name: str) -> _core.UpdateResponse:
        return self.update(name, proposal_bundle(self.sessions[name].propose_leave(ROOM)))

    def join_external(self, name: str, meanwhile: Callable[[], object] = lambda: None) -> _core.UpdateResponse:
        """Joins by external commit as a ClientHost does; `meanwhile` runs between the
        subscription and the commit (the room goes on while the commit travels)."""
        assert self.hub is not None
        s = self.sessions[name]
        out = s.join_external(ROOM, self.hub.view.group_info(), self.hub.view.export_ratchet_tree())
        follower = self.followers[provider_of(s.uri)]
        since = follower.subscribe(ROOM, s.uri)  # before the commit leaves
        meanwhile()
        response = self.update(name, commit_bundle(out))
        if response.response_code != "success":
            follower.unsubscribe(ROOM, s.uri, since + 1)
        return response

    def rejoin_diverged(self) -> list[str]:
        """Every device whose group diverged rejoins as a ClientHost does (subscribed
        already), one after the other, until none is left; returns their names in order."""
        assert self.hub is not None
        rejoined = []
        while diverged := [n for n, s in self.sessions.items() if s.diverged]:
            name = diverged[0]
            out = self.sessions[name].join_external(ROOM, self.hub.view.group_info(), self.hub.view.export_ratchet_tree())
            assert self.update(name, commit_bundle(out)).response_code == "success"
            rejoined.append(name)
        return rejoined

    def send(self, name: str, message: content.MimiContent) -> tuple[_core.SubmitMessageResponse, bytes]:
        """Sends as a ClientHost does: a message refused as of a past epoch is sent
        again, encrypted anew, once the device has caught up with the room."""
        assert self.hub is not None
        s = self.sessions[name]
        _, message_id = s.send(ROOM, message)
        while True:
            raw, fanout = self.hub.submit(provider_of(s.uri), s.body(message_id), self.tick())
            outcome = s.submit_answered(message_id, raw)
            self.fan(fanout)
            if not isinstance(outcome, EpochTooOld):
                return _core.SubmitMessageResponse.decode(raw), message_id
            self.catch_up(name, outcome.current_epoch)
            if s.resend(outcome) is not None:  # not caught up, or no longer a member
                return _core.SubmitMessageResponse.decode(raw), message_id

    def catch_up(self, name: str, epoch: int) -> None:
        """The device waits for its provider to get the room's events up to `epoch`
        and takes them from its inbox."""
        s = self.sessions[name]
        destination = provider_of(s.uri)
        self.repair(s, ROOM, s.rooms[ROOM].last_sequence)  # its provider may have it already
        while s.behind(ROOM, epoch) and any(d == destination for d, _ in self.wire):
            self.notify(*self.wire.pop(next(i for i, (d, _) in enumerate(self.wire) if d == destination)))
            self.repair(s, ROOM, s.rooms[ROOM].last_sequence)

    # -- fanout ------------------------------------------------------------------------

    def fan(self, fanout: list[Fanout]) -> None:
        self.batcher.add(fanout)
        for destination in self.batcher.destinations():
            for notify in self.batcher.take(destination):
                if destination in self.hold:
                    self.held.append((destination, notify))
                elif self.rng is not None:
                    self.wire.append((destination, notify))
                else:
                    self.notify(destination, notify)

    def release(self, reverse: bool = False) -> None:
        held, self.held = self.held, []
        for destination, notify in reversed(held) if reverse else held:
            self.notify(destination, notify)

    def notify(self, destination: str, notify: Notify) -> list[Delivery]:
        """The follower takes a `/notify`; its deliveries go to the inbox and are pushed."""
        deliveries = self.followers[destination].notify(notify)
        for d in deliveries:
            self.inbox.setdefault(d.client, []).append(d)
            self.pushes.setdefault(d.client, []).append(d)
        if self.rng is None:
            for d in deliveries:
                self.take_push(d.client)
        return deliveries

    def session_of(self, client: str) -> ClientSession:
        return next(s for s in self.sessions.values() if s.uri == client)

    def take_push(self, client: str) -> None:
        """The device takes its next push, after what it missed before it (gap repair)."""
        d = self.pushes[client].pop(0)
        session = self.session_of(client)
        gap = session.gap(d.room, d.previous)
        if gap is not None:
            self.repair(session, d.room, gap.after)
        self.take(session, d)

    def repair(self, session: ClientSession, room: str, after: int) -> None:
        for d in [d for d in self.inbox.get(session.uri, []) if d.room == room and d.sequence > after]:
            self.take(session, d)

    def take(self, session: ClientSession, d: Delivery) -> None:
        for event in session.deliver(d.room, d.sequence, d.message):
            self.events.append((session.uri, event))
            if isinstance(event, Removed):
                self.followers[provider_of(session.uri)].unsubscribe(d.room, d.client, d.sequence)

    def step(self) -> bool:
        """One `/notify` or one push, drawn by `rng`; False when nothing waits."""
        assert self.rng is not None
        waiting = [c for c, queue in self.pushes.items() if queue]
        if not self.wire and not waiting:
            return False
        if self.wire and (not waiting or self.rng.random() < 0.5):
            self.notify(*self.wire.pop(self.rng.randrange(len(self.wire))))
        else:
            self.take_push(self.rng.choice(sorted(waiting)))
        return True

    def drain(self) -> None:
        while self.step():
            pass

    def lose_pushes(self, name: str) -> None:
        """The device's host restarted: what was pushed to it and not processed is lost."""
        self.pushes[self.sessions[name].uri] = []

    def active(self) -> dict[str, ClientSession]:
        return {n: s for n, s in self.sessions.items() if ROOM in s.rooms and s.rooms[ROOM].group.is_active}


def token(server: Any, client: str) -> bytes:
    """`client`'s token at its provider `server` (a ProviderServer), as the deployment gives it."""
    from mimi.logic.access import device_token

    return device_token(server.secret, client)


def answered(value: Any) -> Future[Any]:
    """A transport's answer that is already in."""
    future: Future[Any] = Future()
    future.set_result(value)
    return future


class Wire:
    """A RoomHub transport for tests without Ray: records every `/notify` call and
    answers it at once as delivered (`answers=True`), or never."""

    domain = HUB

    def __init__(self, answers: bool = True) -> None:
        self.answers = answers
        self.sent: list[tuple[str, Notify]] = []

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        raise AssertionError("not used")

    def notify(self, follower: str, batch: Notify) -> Future[int]:
        self.sent.append((follower, batch))
        return answered(0) if self.answers else Future()


def hub_log(hub: RoomHub, room: str) -> list[tuple[int, list[str], bytes]]:
    """The room's whole log at the hub, read page by page (`RoomHub.events`)."""
    log: list[tuple[int, list[str], bytes]] = []
    while page := hub.events(room, log[-1][0] if log else 0, RoomHub.EVENTS_PAGE):
        log += page
    return log


def hosted_room(directory: Path, room: str) -> tuple[RoomHub, ClientSession, Wire]:
    """A `RoomHub` (without Ray, its data in `directory`) hosting `room`, created by
    carol@y; alice@x is added and joined, so she can submit. Returns (hub, alice, wire)."""
    creator = ClientSession(_core.Client(f"{HUB}/d/carol/phone"))
    sender = ClientSession(_core.Client("mimi://x.example/d/alice/phone"))
    transport = Wire()
    hub = RoomHub(HUB, str(directory), transport=transport)
    key, _ = hub.reserve(room)
    state = PRESETS["cooperative"].new_room(creator.user, room, hub=HUB, members=[creator.uri])
    group = creator.create_room(room, room.encode(), key, HUB, state)
    hub.create_room(room, group.export_group_info(), group.export_ratchet_tree())
    out = add_users(creator, room, [sender.user], sender.client.key_packages(1))
    assert _core.UpdateResponse.decode(hub.update(room, HUB, commit_bundle(out), 1)).response_code == "success"
    assert out.welcome is not None
    sender.rooms[room] = RoomView(sender.client.join_welcome(out.welcome, out.ratchet_tree), content.RoomHistory(room))
    return hub, sender, transport


class Crash(Exception):
    """A client host died in the middle of a call (`Cluster.crash`)."""


@dataclass
class _Call:
    target: str
    method: str
    args: tuple[Any, ...]

    def run(self, cluster: Cluster) -> Any:
        return getattr(cluster.actors[self.target], self.method)(*self.args)


class _Method:
    def __init__(self, cluster: Cluster, target: str, method: str) -> None:
        self.cluster, self.target, self.method = cluster, target, method

    def remote(self, *args: Any) -> _Call:
        call = _Call(self.target, self.method, args)
        self.cluster.calls.append(call)
        return call

    def options(self, **_: Any) -> _Method:
        return self


class _Handle:
    def __init__(self, cluster: Cluster, target: str) -> None:
        self.cluster, self.target = cluster, target

    def __getattr__(self, method: str) -> _Method:
        return _Method(self.cluster, self.target, method)


class SimTransport:
    """The transport of one server of a `Cluster`, speaking as `domain`: each call
    goes through the cluster's hooks (`call_hub`, `key_material`, `notify`), which
    tests patch to record or reorder them."""

    def __init__(self, cluster: Cluster, domain: str) -> None:
        self.cluster, self.domain = cluster, domain

    def update(self, room: str, body: bytes) -> Future[bytes]:
        return answered(self.cluster.call_hub(room, "update", self.domain, body, time.time_ns() // 1_000_000))

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        return answered(self.cluster.call_hub(room, "submit_many", self.domain, bodies, time.time_ns() // 1_000_000))

    def group_info(self, room: str, body: bytes) -> Future[bytes]:
        return answered(self.cluster.call_hub(room, "group_info", self.domain, body))

    def key_material(self, room: str, body: bytes) -> Future[KeyMaterialAnswer]:
        return answered(self.cluster.call_hub(room, "key_material", self.domain, body))

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        return answered(self.cluster.key_material(self.domain, target_provider, body))

    def notify(self, follower: str, batch: Notify) -> Future[int]:
        return self.cluster.notify(self.domain, follower, batch)

    def reserve(self, room: str) -> Future[tuple[bytes, str]]:
        return answered(self.cluster.call_hub(room, "reserve"))

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> Future[None]:
        return answered(self.cluster.call_hub(room, "create_room", group_info, ratchet_tree))

    def hub_sender(self, room: str) -> Future[tuple[bytes, str]]:
        return answered(self.cluster.call_hub(room, "hub_sender"))


class Cluster:
    """The runtime's actors (RoomHub, ProviderServer, ClientHost) in this process,
    found by name as `mimi.transport.names` finds them (`install` patches it); the
    servers call each other through their `SimTransport`s. A call
    whose answer is awaited (`ray_get`) runs at once; a call nobody waits for (a
    provider's push to a client host) waits in `calls` until `step` runs it, in order
    per actor, and is lost if that actor restarts. `/notify` calls wait in `wire`
    and go in any order. `crash` makes a client host die on its next call to the hub,
    before the hub gets it or after the hub answered."""

    def __init__(self, data_dir: str, rng: random.Random) -> None:
        self.data_dir = data_dir
        self.rng = rng
        self.actors: dict[str, Any] = {}
        self.calls: list[_Call] = []
        self.wire: list[tuple[str, str, Notify]] = []  # (calling hub, follower, batch)
        self.hosted: dict[str, list[str]] = {}  # host name -> its clients
        self.crash: tuple[str, str] | None = None  # (hub method, "before" or "after")

    def install(self, monkeypatch: Any) -> None:
        from mimi.transport import names

        monkeypatch.setattr(names, "handle", self.handle)
        monkeypatch.setattr(names, "ray_get", self.ray_get)
        # While a host waits, the network goes on: the /notify calls on the wire arrive.
        clock = SimpleNamespace(sleep=lambda _: self.deliver_wire(), monotonic=time.monotonic, time_ns=time.time_ns)
        monkeypatch.setattr("mimi.actors.client.time", clock)

    # -- names ---------------------------------------------------------------------

    def handle(self, name: str) -> _Handle:
        """An actor by name, as `names.handle` finds it; never a hub: clients reach
        hubs only through their provider's transport (tests/test_boundary.py)."""
        from mimi.transport import names

        if name.startswith(names.hub("")):
            raise AssertionError(f"{name} was looked up by name: a hub is reached only through a transport")
        return _Handle(self, name)

    def ray_get(self, call: _Call) -> Any:
        self.calls.remove(call)
        return call.run(self)

    # -- the servers' transports ------------------------------------------------------

    def call_hub(self, room: str, method: str, *args: Any) -> Any:
        """A provider's call to the room's hub (after the room, the caller if the
        endpoint takes one)."""
        from mimi.transport import names

        crash = self.crash if self.crash is not None and self.crash[0] == method else None
        if crash is not None:
            self.crash = None
            if crash[1] == "before":
                raise Crash(f"before {method}")
        answer = getattr(self.actors[names.hub(room)], method)(room, *args)
        if crash is not None:
            raise Crash(f"after {method}")
        return answer

    def key_material(self, caller: str, target_provider: str, body: bytes) -> KeyMaterialAnswer:
        from mimi.transport import names

        return self.actors[names.provider(target_provider)].key_material(caller, body)  # type: ignore[no-any-return]

    def notify(self, caller: str, follower: str, batch: Notify) -> Future[int]:
        self.wire.append((caller, follower, batch))
        return answered(0)

    # -- deployment --------------------------------------------------------------------

    def provider(self, uri: str) -> None:
        from mimi.actors.provider import ProviderServer
        from mimi.transport import names

        self.actors[names.provider(uri)] = ProviderServer(uri, self.data_dir, transport=SimTransport(self, uri))

    def room_hub(self, room: str, hub: str) -> Any:
        from mimi.actors.hub import RoomHub
        from mimi.transport import names

        # A window no test fills: every /notify goes on the wire when the hub fans out.
        self.actors[names.hub(room)] = actor = RoomHub(hub, self.data_dir, SimTransport(self, hub), window=1_000_000)
        return actor

    def clients(self, host: str, clients: list[str]) -> None:
        from mimi.actors.client import ClientHost
        from mimi.transport import names

        self.hosted[host] = clients
        tokens = {c: token(self.actors[names.provider(provider_of(c))], c) for c in clients}
        self.actors[names.clients(host)] = ClientHost(names.clients(host), tokens, self.data_dir)

    def host(self, client: str) -> Any:
        from mimi.transport import names

        return self.actors[names.clients(next(h for h, cs in self.hosted.items() if client in cs))]

    def restart(self, host: str) -> None:
        """The host's process dies (what it did not save is gone, so are the calls
        waiting for it) and starts again from its files."""
        from mimi.transport import names

        self.calls = [c for c in self.calls if c.target != names.clients(host)]
        self.clients(host, self.hosted[host])

    def lose_pushes(self, host: str) -> None:
        from mimi.transport import names

        self.calls = [c for c in self.calls if c.target != names.clients(host)]

    # -- running -----------------------------------------------------------------------

    def notify_one(self) -> None:
        from mimi.transport import names

        caller, follower, n = self.wire.pop(self.rng.randrange(len(self.wire)))
        self.actors[names.provider(follower)].notify(n.room, caller, n.previous, list(n.sequences), n.body, list(n.withheld))

    def deliver_wire(self) -> None:
        while self.wire:
            self.notify_one()

    def step(self) -> bool:
        """One `/notify` or one waiting call, drawn by `rng`; False when nothing waits."""
        targets = sorted({c.target for c in self.calls})
        if not self.wire and not targets:
            return False
        if self.wire and (not targets or self.rng.random() < 0.5):
            self.notify_one()
        else:
            target = self.rng.choice(targets)
            call = next(c for c in self.calls if c.target == target)
            self.calls.remove(call)
            call.run(self)
        return True

    def drain(self) -> None:
        while self.step():
            pass
