"""The follower role of a provider (sans-IO): takes `/notify` batches from hubs,
delivers each room's events to the provider's local clients in the hub's
sequence order, buffers gaps, and processes a repeated batch once.

Sequence on the wire: the draft's FanoutMessage has no sequence number, so the
transport envelope of each `/notify` carries the sequences of its messages and
the sequence of the last event this destination got before them (`previous`).
A follower delivers a batch when `previous` is what it has delivered so far,
buffers it when it is ahead, and acknowledges and drops it when it is behind
(a duplicate). docs/interop.md, "Fanout ordering".

The envelope also names the provider's users whose clients the hub withholds the
batch's application messages from (draft-ietf-mimi-room-policy §Message
Capabilities: no canReceiveMessage); their clients still get every handshake
and Welcome, so their groups stay in step. docs/interop.md, "Who gets what".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import msgpack

from mimi import _core, ids
from mimi.codes import MlsMessageKind
from mimi.errors import DecodeError, RemoteProtocolError

# Bounds on what one `/notify` may ask of a follower; beyond them it is refused and
# changes nothing. docs/interop.md, "Fanout ordering".
SEQUENCE_END = 2**63  # room sequences are stored as SQLite integers
MAX_NOTIFY_MESSAGES = 4_096  # a hub's batch is at most 90 KiB (fanout.MAX_BATCH_BYTES) of FanoutMessages
MAX_AHEAD = 65_536  # how far past what was delivered a batch may reach
# Batches buffered ahead of delivery, per room: beyond either, a batch is refused as
# "busy" and the hub sends it again later from its log.
MAX_WAITING = 1_024
MAX_WAITING_BYTES = 16 * 1024 * 1024
# Events of a client's inbox a provider answers per call (its host asks for the next page).
INBOX_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class Unnumbered:
    """A `/notify` without our ordering envelope, from a peer hub that does not send
    one: the follower numbers it in arrival order (`Follower.number`)."""

    room: str
    body: bytes
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notify:
    """One `/notify` call: the body of the draft and its ordering envelope."""

    room: str
    previous: int  # sequence of the last event sent to this destination before this batch; 0 if none
    sequences: tuple[int, ...]  # one per FanoutMessage in `body`, increasing
    body: bytes  # the /notify body: FanoutMessages concatenated
    withheld: tuple[str, ...] = ()  # users whose clients get none of the batch's application messages

    def __post_init__(self) -> None:
        seqs = self.sequences
        for name, ok in (
            ("room", type(self.room) is str),
            ("body", type(self.body) is bytes),
            ("withheld", all(type(u) is str for u in self.withheld)),
        ):
            if not ok:
                raise RemoteProtocolError(f"notify: {name} has the wrong type", "badRequest")
        if not 0 < len(seqs) <= MAX_NOTIFY_MESSAGES:
            raise RemoteProtocolError(
                f"notify for {self.room}: sequences: {len(seqs)} messages, 1 to {MAX_NOTIFY_MESSAGES} per call", "badRequest"
            )
        for name, values in (("previous", (self.previous,)), ("sequences", seqs)):
            if not all(type(v) is int and 0 <= v < SEQUENCE_END for v in values):
                raise RemoteProtocolError(f"notify for {self.room}: {name} must be integers in [0, 2**63)", "badRequest")
        if seqs[0] <= self.previous or any(b <= a for a, b in itertools.pairwise(seqs)):
            raise RemoteProtocolError(
                f"notify for {self.room}: sequences must increase after previous={self.previous}", "badRequest"
            )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one local client: the FanoutMessage bytes and its room sequence.

    A client gets only some of the room's sequences (not the application messages
    withheld from its user, Welcomes only if they are for it, nothing before it
    joined), so each delivery names the one before it: a client that has not
    processed `previous` lost a delivery, and fetches it from the inbox."""

    client: str
    room: str
    sequence: int
    previous: int  # sequence of the last event of the room delivered to this client before; 0 if none
    message: bytes


# A Delivery as its client's host gets it: (client, room, sequence, previous, FanoutMessage).
Pushed = tuple[str, str, int, int, bytes]


# The follower's state as it is stored, a row per room, per subscribed client of a
# room, per buffered batch and per Welcome route (`Follower.rows`): a `/notify` writes
# the rows it changed, so its cost does not grow with the number of rooms followed.
RoomRow = tuple[str, int, int]  # (room, delivered_upto, common)
MemberRow = tuple[str, str, int, int | None]  # (room, client, since, last delivered if not `common`)
WaitingRow = tuple[str, int, bytes]  # (room, previous, the batch as `unpack_waiting` reads it)
RouteRow = tuple[bytes, str]  # (KeyPackageRef, client)


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows of the follower's state: every one (`Follower.rows`), or those changed
    since the last save (`Follower.changes`) with the keys of those gone."""

    rooms: list[RoomRow]
    members: list[MemberRow]
    waiting: list[WaitingRow]
    routes: list[RouteRow]
    gone_members: list[tuple[str, str]] = field(default_factory=list)
    gone_waiting: list[tuple[str, int]] = field(default_factory=list)
    gone_routes: list[bytes] = field(default_factory=list)


@dataclass
class _Room:
    delivered_upto: int = 0  # sequence of the last event delivered in order
    # Local clients receiving this room's events -> where that began: the sequence of
    # the Welcome that subscribed it, or the last delivered when it subscribed.
    members: dict[str, int] = field(default_factory=dict)
    waiting: dict[int, Notify] = field(default_factory=dict)  # buffered batches by `previous`
    # The last event delivered to each member: `common` for all but those in `behind`,
    # which got less (an event went to others only) or joined since. Most events go to
    # every member: then nothing is kept per client.
    common: int = 0
    behind: dict[str, int] = field(default_factory=dict)
    # Members and buffered batches changed since the room was last saved.
    changed_members: set[str] = field(default_factory=set)
    changed_waiting: set[int] = field(default_factory=set)

    def copy(self) -> _Room:
        return _Room(
            self.delivered_upto, dict(self.members), dict(self.waiting), self.common, dict(self.behind),
            set(self.changed_members), set(self.changed_waiting),
        )

    def join(self, client: str, since: int) -> None:
        if client not in self.members:
            self.behind[client] = 0
        self.members[client] = since
        self.changed_members.add(client)

    def leave(self, client: str) -> None:
        del self.members[client]
        self.behind.pop(client, None)
        self.changed_members.add(client)

    def buffer(self, batch: Notify) -> None:
        self.waiting[batch.previous] = batch
        self.changed_waiting.add(batch.previous)

    def release(self) -> Notify:
        """The buffered batch that follows what was delivered."""
        self.changed_waiting.add(self.delivered_upto)
        return self.waiting.pop(self.delivered_upto)

    def advance(self, to: list[str], sequence: int) -> int | list[int]:
        """Event `sequence` goes to the members `to`: the previous event of each, or
        of all (most events: no list per event)."""
        behind, common = self.behind, self.common
        self.common = sequence
        if len(to) < len(self.members):
            getting = set(to)
            for client in self.members:
                if client not in getting and client not in behind:
                    behind[client] = common
                    self.changed_members.add(client)
        if not behind:
            return common
        self.changed_members.update(c for c in to if c in behind)
        return [behind.pop(c, common) for c in to]


class Follower:
    """The follower role of one provider, for every room it takes part in."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.rooms: dict[str, _Room] = {}
        self.welcome_routes: dict[bytes, str] = {}  # KeyPackageRef -> local client
        # Rooms and routes changed since the last save (`changes`, `saved`), and the
        # routes taken since, in order (`rollback` puts them back).
        self.changed: set[str] = set()
        self.changed_routes: set[bytes] = set()
        self.taken: list[RouteRow] = []

    def expect_welcome(self, key_package_ref: bytes, client: str, room: str) -> None:
        """A KeyPackage of `client` was handed out for `room`: a Welcome to it goes to
        that client, and the room's hub may notify this follower."""
        self.welcome_routes[key_package_ref] = client
        self.changed_routes.add(key_package_ref)
        self._room(room)

    def subscribe(self, room: str, client: str) -> int:
        """`client` gets the room's events from now on; returns the sequence of the
        last one delivered before (none of them is for it)."""
        state = self._room(room)
        state.join(client, state.delivered_upto)
        return state.delivered_upto

    def unsubscribe(self, room: str, client: str, at: int) -> bool:
        """`client` takes no more of the room's events from sequence `at` on: the
        commit that removed it (a refused join: the one after its subscription).
        A subscription that began at or after `at` is newer and stays: a Welcome
        that added the client again, or a join subscribed once `at` was delivered,
        may reach the follower before the removal's unsubscribe. Returns whether
        the subscription ended."""
        state = self.rooms.get(room)
        if state is None or state.members.get(client, at) >= at:
            return False
        self.changed.add(room)
        state.leave(client)
        return True

    def _room(self, room: str) -> _Room:
        """The room's state, made if new; the caller changes it."""
        self.changed.add(room)
        return self.rooms.setdefault(room, _Room())

    # -- stored as rows ---------------------------------------------------------------

    def rows(self) -> Rows:
        """Every row of the follower's state, sorted (what a full load reads back)."""
        return self._rows(sorted(self.rooms), False, sorted(self.welcome_routes))

    def changes(self) -> Rows:
        """The rows changed since the last `saved`, and the keys of those gone: what
        one `/notify` changed is its room's rows, whatever the number of rooms."""
        return self._rows(sorted(self.changed), True, sorted(self.changed_routes))

    def _rows(self, rooms: list[str], changed_only: bool, refs: list[bytes]) -> Rows:
        out = Rows([], [], [], [])
        for room in rooms:
            state = self.rooms[room]
            out.rooms.append((room, state.delivered_upto, state.common))
            clients = sorted(state.changed_members if changed_only else state.members)
            for client in clients:
                if client in state.members:
                    out.members.append((room, client, state.members[client], state.behind.get(client)))
                else:
                    out.gone_members.append((room, client))
            for previous in sorted(state.changed_waiting if changed_only else state.waiting):
                if previous in state.waiting:
                    out.waiting.append((room, previous, _pack_waiting(state.waiting[previous])))
                else:
                    out.gone_waiting.append((room, previous))
        for ref in refs:
            if ref in self.welcome_routes:
                out.routes.append((ref, self.welcome_routes[ref]))
            else:
                out.gone_routes.append(ref)
        return out

    def saved(self) -> None:
        """The `changes` are stored: nothing is changed any more."""
        for room in self.changed:
            state = self.rooms[room]
            state.changed_members.clear()
            state.changed_waiting.clear()
        self.changed.clear()
        self.changed_routes.clear()
        self.taken.clear()

    @classmethod
    def load(
        cls, provider: str, rooms: list[RoomRow], members: list[MemberRow],
        waiting: list[Notify], routes: list[RouteRow],
    ) -> Follower:
        """The follower as its rows store it (the buffered batches decoded with
        `unpack_waiting`); a row of a room without its own row is damage, refused
        by the store."""
        follower = cls(provider)
        for room, upto, common in rooms:
            follower.rooms[room] = _Room(upto, common=common)
        for room, client, since, behind in members:
            state = follower.rooms[room]
            state.members[client] = since
            if behind is not None:
                state.behind[client] = behind
        for batch in waiting:
            follower.rooms[batch.room].waiting[batch.previous] = batch
        follower.welcome_routes = dict(routes)
        return follower

    def export(self) -> bytes:
        """The whole follower as one record, as schemas 1-5 stored it (a copy, for tests)."""
        rooms = {
            room: [
                state.delivered_upto,
                state.members,
                [[n.previous, list(n.sequences), n.body, list(n.withheld)] for n in state.waiting.values()],
                state.common,
                state.behind,
            ]
            for room, state in self.rooms.items()
        }
        return bytes(msgpack.packb({"provider": self.provider, "rooms": rooms, "routes": list(self.welcome_routes.items())}))

    @classmethod
    def restore(cls, data: bytes) -> Follower:
        """A follower from its whole record (`export`; schemas 1-5 stored it so), every row changed."""
        try:
            d = msgpack.unpackb(data)
            follower = cls(d["provider"])
            for room, (upto, members, waiting, common, behind) in d["rooms"].items():
                if isinstance(members, list):  # saved before subscriptions were dated
                    members = dict.fromkeys(members, 0)
                follower.rooms[room] = _Room(
                    upto, dict(members),
                    {p: Notify(room, p, tuple(seqs), body, tuple(withheld)) for p, seqs, body, withheld in waiting},
                    common, dict(behind),
                )
            follower.welcome_routes = {bytes(ref): client for ref, client in d["routes"]}
        except (ValueError, KeyError, TypeError, RemoteProtocolError, msgpack.UnpackException) as err:
            raise DecodeError(f"follower record: {err}") from err
        for state in follower.rooms.values():
            state.changed_members.update(state.members)
            state.changed_waiting.update(state.waiting)
        follower.changed.update(follower.rooms)
        follower.changed_routes.update(follower.welcome_routes)
        return follower

    # -- one notify undone ------------------------------------------------------------

    def checkpoint(self, room: str) -> tuple[str, _Room | None, bool, int]:
        """What `rollback` needs to undo a `notify` of `room` (a copy of that room alone)."""
        state = self.rooms.get(room)
        return room, None if state is None else state.copy(), room in self.changed, len(self.taken)

    def rollback(self, checkpoint: tuple[str, _Room | None, bool, int]) -> None:
        """The follower as at `checkpoint`, before a `notify` of its room that failed
        (in the logic, or when its deliveries were stored)."""
        room, state, changed, taken = checkpoint
        if state is None:
            self.rooms.pop(room, None)
        else:
            self.rooms[room] = state
        if not changed:
            self.changed.discard(room)
        for ref, client in self.taken[taken:]:
            self.welcome_routes[ref] = client
        del self.taken[taken:]

    def rooms_of(self, client: str) -> list[str]:
        """The rooms whose events go to `client`, sorted."""
        return sorted(room for room, state in self.rooms.items() if client in state.members)

    def delivered_upto(self, room: str) -> int:
        state = self.rooms.get(room)
        return 0 if state is None else state.delivered_upto

    def number(self, batch: Unnumbered) -> Notify:
        """`batch` numbered after what this follower delivered of its room, in arrival
        order: a peer hub that ignores our envelope sends a room's batches one after
        the other (the draft's body is its FanoutMessages in hub order). A repeated
        call cannot be told from a new one, so it is delivered again (a device shows a
        message once, by its ID). A room whose batches carry the envelope, with some
        waiting for a gap, cannot place one without it."""
        state = self.rooms.get(batch.room)
        if state is not None and state.waiting:
            raise _refusal(batch.room, "envelope: missing, while batches of this room wait for a gap", "badRequest")
        try:
            count = len(_core.split_notify(batch.body))
        except DecodeError as err:
            raise _refusal(batch.room, f"body: {err}", "badRequest") from err
        previous = self.delivered_upto(batch.room)
        return Notify(batch.room, previous, tuple(range(previous + 1, previous + 1 + count)), batch.body, batch.withheld)

    def notify(self, batch: Notify) -> list[Delivery]:
        """Accepts one `/notify` batch; returns what to deliver now, in order.

        A batch this follower may not take (a room none of its users was added to,
        withheld users of another provider, a malformed body, a reach or a buffer
        beyond the bounds) raises RemoteProtocolError naming the field, and changes
        nothing."""
        state = self.rooms.get(batch.room)
        # Who calls is checked before (`notifier_refusal`): only the room's hub.
        if state is None and not self._is_own(batch.room, ids.UriKind.room):
            reason = "room: no user of this provider was added to it or holds a KeyPackage claimed for it"
            raise _refusal(batch.room, reason, "forbidden")
        if foreign := [u for u in batch.withheld if not self._is_own(u, ids.UriKind.user)]:
            raise _refusal(batch.room, f"withheld: {foreign[0]!r} is not a user of {self.provider}", "badRequest")
        delivered = 0 if state is None else state.delivered_upto
        for name, reach in (("previous", batch.previous), ("sequences", batch.sequences[-1])):
            if reach > delivered + MAX_AHEAD:
                raise _refusal(batch.room, f"{name}: {reach} is over {MAX_AHEAD} past the {delivered} delivered", "badRequest")
        try:
            messages = _core.split_notify(batch.body)
        except DecodeError as err:
            raise _refusal(batch.room, f"body: {err}", "badRequest") from err
        if len(messages) != len(batch.sequences):
            raise _refusal(batch.room, f"sequences: {len(messages)} messages but {len(batch.sequences)} sequences", "badRequest")
        if state is not None and (batch.sequences[-1] <= state.delivered_upto or batch.previous in state.waiting):
            return []  # a duplicate: acknowledged, processed once
        state = self._room(batch.room)  # the hub's own room, first notified
        if batch.previous > state.delivered_upto:
            full = len(state.waiting) >= MAX_WAITING
            if full or sum(len(n.body) for n in state.waiting.values()) + len(batch.body) > MAX_WAITING_BYTES:
                waiting = f"{len(state.waiting)} batches wait for {state.delivered_upto + 1}"
                raise _refusal(batch.room, f"previous: {waiting}, over the buffer's bound; send again later", "tooManyRequests")
            state.buffer(batch)
            return []
        deliveries = self._deliver(batch.room, state, batch, messages)
        while state.delivered_upto in state.waiting:
            ready = state.release()
            deliveries += self._deliver(batch.room, state, ready, _core.split_notify(ready.body))
        return deliveries

    def _is_own(self, uri: str, kind: ids.UriKind) -> bool:
        """`uri` is a URI of `kind` of this provider (a room: one it is the hub of)."""
        try:
            return ids.parse(uri, kind).domain == ids.domain(self.provider)
        except DecodeError:
            return False

    def _deliver(self, room: str, state: _Room, batch: Notify, messages: list[tuple[MlsMessageKind, bytes]]) -> list[Delivery]:
        out: list[Delivery] = []
        members = sorted(state.members)
        withheld = frozenset(batch.withheld)
        for sequence, (kind, encoded) in zip(batch.sequences, messages):
            if sequence <= state.delivered_upto:
                continue  # overlaps what an earlier batch delivered
            if kind == "welcome":
                to: list[str] = []
                for ref in _core.welcome_key_package_refs(_core.FanoutMessage.decode(encoded).message):
                    client = self.welcome_routes.pop(ref, None)
                    if client is not None:
                        self.taken.append((ref, client))
                        self.changed_routes.add(ref)
                        state.join(client, sequence)
                        members = sorted(state.members)
                        to.append(client)
            elif kind == "application" and withheld:
                to = [c for c in members if ids.user_of(c) not in withheld]
            else:
                to = members
            previous = state.advance(to, sequence)
            if isinstance(previous, int):
                out.extend([Delivery(c, room, sequence, previous, encoded) for c in to])
            else:
                out.extend([Delivery(c, room, sequence, p, encoded) for c, p in zip(to, previous)])
            state.delivered_upto = sequence
        return out


def notifier_refusal(room: str, caller: str) -> RemoteProtocolError | None:
    """Only the room's hub may notify a room: the provider its URI names, as the
    transport authenticated `caller` (draft-ietf-mimi-protocol §Fanout Messages and Room Events)."""
    try:
        hub = ids.domain(room)
    except DecodeError:
        return None  # not a room: `Follower.notify` refuses it
    if ids.domain(caller) != hub:
        return _refusal(room, f"{caller} is not the hub of the room", "forbidden")
    return None


def _pack_waiting(batch: Notify) -> bytes:
    return bytes(msgpack.packb([list(batch.sequences), batch.body, list(batch.withheld)]))


def unpack_waiting(room: str, previous: int, data: bytes) -> Notify:
    """A buffered batch as `Follower.rows` stores it (a malformed one raises)."""
    sequences, body, withheld = msgpack.unpackb(data)
    return Notify(room, previous, tuple(sequences), body, tuple(withheld))


def _refusal(room: str, reason: str, code: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"notify for {room}: {reason}", code)
