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
        if not seqs or seqs[0] <= self.previous or any(b <= a for a, b in itertools.pairwise(seqs)):
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

    def join(self, client: str, since: int) -> None:
        if client not in self.members:
            self.behind[client] = 0
        self.members[client] = since

    def advance(self, to: list[str], sequence: int) -> int | list[int]:
        """Event `sequence` goes to the members `to`: the previous event of each, or
        of all (most events: no list per event)."""
        behind, common = self.behind, self.common
        self.common = sequence
        if len(to) < len(self.members):
            getting = set(to)
            for client in self.members:
                if client not in getting:
                    behind.setdefault(client, common)
        return [behind.pop(c, common) for c in to] if behind else common


class Follower:
    """The follower role of one provider, for every room it takes part in."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.rooms: dict[str, _Room] = {}
        self.welcome_routes: dict[bytes, str] = {}  # KeyPackageRef -> local client

    def expect_welcome(self, key_package_ref: bytes, client: str) -> None:
        """A KeyPackage of `client` was handed out: a Welcome to it goes to that client."""
        self.welcome_routes[key_package_ref] = client

    def subscribe(self, room: str, client: str) -> int:
        """`client` gets the room's events from now on; returns the sequence of the
        last one delivered before (none of them is for it)."""
        state = self.rooms.setdefault(room, _Room())
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
        del state.members[client]
        state.behind.pop(client, None)
        return True

    def export(self) -> bytes:
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
            return follower
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as err:
            raise DecodeError(f"follower record: {err}") from err

    def rooms_of(self, client: str) -> list[str]:
        """The rooms whose events go to `client`, sorted."""
        return sorted(room for room, state in self.rooms.items() if client in state.members)

    def delivered_upto(self, room: str) -> int:
        state = self.rooms.get(room)
        return 0 if state is None else state.delivered_upto

    def notify(self, batch: Notify) -> list[Delivery]:
        """Accepts one `/notify` batch; returns what to deliver now, in order.

        A malformed body raises RemoteProtocolError and changes nothing."""
        try:
            messages = _core.split_notify(batch.body)
        except DecodeError as err:
            raise RemoteProtocolError(f"notify for {batch.room}: {err}", "badRequest") from err
        if len(messages) != len(batch.sequences):
            raise RemoteProtocolError(
                f"notify for {batch.room}: {len(messages)} messages but {len(batch.sequences)} sequences", "badRequest"
            )
        state = self.rooms.setdefault(batch.room, _Room())
        if batch.sequences[-1] <= state.delivered_upto or batch.previous in state.waiting:
            return []  # a duplicate: acknowledged, processed once
        if batch.previous > state.delivered_upto:
            state.waiting[batch.previous] = batch
            return []
        deliveries = self._deliver(batch.room, state, batch, messages)
        while state.delivered_upto in state.waiting:
            ready = state.waiting.pop(state.delivered_upto)
            deliveries += self._deliver(batch.room, state, ready, _core.split_notify(ready.body))
        return deliveries

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
