"""ProviderServer: one per provider. Follower role (ordered local delivery of every
room's events), KeyPackage directory, and the local clients' hosts."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import msgpack

from mimi import _core, ids
from mimi.actors.client import now_ms
from mimi.actors.group_commit import GroupCommit
from mimi.errors import InternalError, MimiError, RemoteProtocolError
from mimi.logic.access import check_device
from mimi.logic.fanout import Attempts, Backoff
from mimi.logic.follower import (
    INBOX_PAGE,
    SEQUENCE_END,
    Delivery,
    Follower,
    Notify,
    Pushed,
    Unnumbered,
    notifier_refusal,
    unpack_waiting,
)
from mimi.logic.key_material import (
    CLAIM_LIMIT,
    ClaimLimit,
    ClaimLimiter,
    KeyMaterialAnswer,
    key_material_response,
    provider_refusal,
)
from mimi.storage import SERVER_CHECKPOINT_EVERY, DataDir, FollowerStore, KeyPackageStore, StoredKeyPackage
from mimi.storage.follower import Delivery as StoredDelivery
from mimi.storage.follower import FollowerState
from mimi.transport import Transport, names
from mimi.transport.ray import RayTransport

# What a local client may ask of a room's hub through its provider (`hub_call`): the
# transport's methods that go to a hub, which sees this provider as their caller.
HUB_ENDPOINTS = frozenset({"update", "submit_messages", "group_info", "key_material", "reserve", "create_room", "hub_sender"})


class ProviderServer:
    def __init__(
        self, provider: str, data_dir: str, claim_limit: ClaimLimit = CLAIM_LIMIT, *,
        secret: bytes | None = None, transport: Transport | None = None,
    ) -> None:
        self.provider = provider
        # Its local clients' tokens derive from it (`mimi.logic.access`); the deployment
        # gives it (a provider without one is reachable by no client).
        self.secret = secret if secret is not None else os.urandom(32)
        self.transport: Transport = transport or RayTransport(provider)
        # Per room, the `/submitMessage` bodies of concurrent local calls go to the hub in
        # one call, in the order they came: the hub logs them in one commit.
        self.submits: dict[str, GroupCommit[list[bytes], list[bytes]]] = {}
        self.path = DataDir(Path(data_dir)).server(provider)
        self.inbox = FollowerStore(self.path, checkpoint_every=SERVER_CHECKPOINT_EVERY)
        self.key_packages = KeyPackageStore(self.path)
        # Per requesting and target user; stored with each claim, so a restart keeps the window.
        self.claims = ClaimLimiter(claim_limit)
        for requester, target, at, count in self.key_packages.claims_since(max(0, now_ms() - claim_limit.window_ms)):
            self.claims.record(requester, target, count, at)
        self.hosts: dict[str, str] = {}  # local client -> name of the actor hosting it
        self.follower = Follower(provider)
        self._load()
        self.delivered = 0
        self.pushed: dict[str, dict[str, int]] = {}  # room -> client -> last sequence pushed to its host
        # A threaded actor: one lock for the logic; concurrent /notify calls share a commit.
        self.lock = threading.RLock()
        self.notifies: GroupCommit[Notify | Unnumbered, int | MimiError] = GroupCommit(self._notify_batch)
        # Pushes are fire-and-forget; one that fails (its host died or was restarting)
        # is pushed again, so a device behind learns of it without waiting for the
        # room's next event: per host the newest event of each (client, room) of the
        # failed pushes (bounded), with backoff. The device fetches the rest from the
        # inbox (`previous` names the gap).
        self.unconfirmed: dict[Any, tuple[str, list[Pushed]]] = {}  # push call -> (host, batch)
        self.repush: dict[str, dict[tuple[str, str], Pushed]] = {}  # host -> (client, room) -> newest failed
        self.repush_at: dict[str, Attempts] = {}  # host -> its failed pushes and when to push again
        self.backoff, self.rng = Backoff(base=0.05, cap=5.0), random.Random()
        self.confirming: threading.Thread | None = None

    def _load(self) -> None:
        """The follower logic and the hosts as stored (fresh if nothing is)."""
        saved = self.inbox.load_logic_state()
        self.follower, self.hosts = Follower(self.provider), {}
        if saved is None:
            return
        record = self.inbox.decoded("follower_logic", 1, _read_record, saved.record)
        if isinstance(record, tuple):  # schema 5 and before: the state in one record, now written as rows, once
            self.follower, self.hosts = record
            with self.inbox.transaction():
                self.inbox.save_logic_state(self._record(), self.follower.changes())
                for client, host in self.hosts.items():
                    self.inbox.save_host(client, host)
                for room, state in self.follower.rooms.items():  # their inboxes, closed by the migration
                    self.inbox.reopen(room, sorted(state.members))
            self.follower.saved()
            return
        self.inbox.check_logic_rows()
        waiting = [
            self.inbox.decoded("follower_waiting", (room, previous), partial(unpack_waiting, room, previous), batch)
            for room, previous, batch in saved.waiting
        ]
        self.follower = Follower.load(record, saved.rooms, saved.members, waiting, saved.routes)
        self.hosts = dict(saved.hosts)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """The block changes the follower logic or the hosts, whose changed rows are
        then stored; if anything fails (the database refuses, a bug), both go back to
        what is stored, so later calls find memory and storage equal."""
        with self.lock:
            try:
                with self.inbox.transaction():
                    yield
                    self.inbox.save_logic_state(self._record(), self.follower.changes())
            except BaseException:
                self._load()
                raise
            self.follower.saved()

    def _record(self) -> bytes:
        return bytes(msgpack.packb({"provider": self.follower.provider}))

    def _state(self) -> FollowerState:
        """Every row of the follower logic and the hosts, as they are to be stored."""
        rows = self.follower.rows()
        return FollowerState(self._record(), rows.rooms, rows.members, rows.waiting, rows.routes, sorted(self.hosts.items()))

    def ping(self) -> str:
        return self.provider

    def database(self) -> str:
        return str(self.path)

    # -- local clients -----------------------------------------------------------

    # Every call for a local client carries its token (`mimi.logic.access`): a host
    # acts only for the clients the deployment gave it.

    def register(self, client: str, token: bytes, host: str) -> None:
        """The client's events are pushed to `host` from now on."""
        check_device(self.secret, self.provider, client, token)
        with self._changing():
            self.hosts[client] = host
            self.inbox.save_host(client, host)

    def publish_key_packages(self, client: str, token: bytes, key_packages: list[bytes], last_resort: bytes | None = None) -> int:
        """Stores the client's single-use KeyPackages and, if given, its last-resort one
        (replacing the one before), handed out once the single-use ones are gone.
        Returns how many single-use ones are left."""
        check_device(self.secret, self.provider, client, token)
        with self.key_packages.transaction():
            self.key_packages.publish(client, [(_core.key_package_ref(kp), kp) for kp in key_packages])
            if last_resort is not None:
                self.key_packages.publish(client, [(_core.key_package_ref(last_resort), last_resort)], last_resort=True)
        return self.key_packages.remaining(client)

    def subscribe(self, room: str, client: str, token: bytes) -> int:
        """`client` gets the room's events from now on; returns the sequence of the
        last one delivered before (`Follower.subscribe`)."""
        check_device(self.secret, self.provider, client, token)
        with self._changing():
            return self.follower.subscribe(room, client)

    def unsubscribe(self, room: str, client: str, token: bytes, at: int) -> None:
        """`client` processed the commit at sequence `at` that removed it (or its join
        was refused) and takes no more of the room's events, unless it was subscribed
        again since (`Follower.unsubscribe`): what was pushed to it after that commit,
        it drops unprocessed, so it is no longer counted as owing them (`progress`,
        `Deployment.settle`)."""
        check_device(self.secret, self.provider, client, token)
        with self._changing():
            if self.follower.unsubscribe(room, client, at):
                self.inbox.leave(room, client)
                self.pushed.get(room, {}).pop(client, None)

    def hub_call(self, client: str, token: bytes, endpoint: str, room: str, *args: Any) -> Any:
        """A local client's call to the room's hub (`HUB_ENDPOINTS`), forwarded through
        the transport as this provider: the hub sees this provider as the caller and
        checks every claim of the body against it."""
        check_device(self.secret, self.provider, client, token)
        if endpoint not in HUB_ENDPOINTS:
            raise MimiError(f"{endpoint!r} is not an endpoint of a hub")
        if endpoint == "submit_messages":
            (bodies,) = args
            return self._submits(room).call(bodies)
        return getattr(self.transport, endpoint)(room, *args).result()

    def _submits(self, room: str) -> GroupCommit[list[bytes], list[bytes]]:
        with self.lock:
            forwarder = self.submits.get(room)
            if forwarder is None:
                forwarder = self.submits[room] = GroupCommit(partial(self._forward_submits, room))
            return forwarder

    def _forward_submits(self, room: str, calls: Sequence[list[bytes]]) -> list[list[bytes]]:
        """The bodies of concurrent local calls, in one `/submitMessage` call to the
        room's hub; each call's answers."""
        answers = self.transport.submit_messages(room, [body for bodies in calls for body in bodies]).result()
        out, start = [], 0
        for bodies in calls:
            out.append(answers[start : start + len(bodies)])
            start += len(bodies)
        return out

    # -- /keyMaterial (target side) ------------------------------------------------

    def key_material(self, provider: str, body: bytes) -> KeyMaterialAnswer:
        """POST /keyMaterial from the hub of `provider`, as the transport authenticated
        it: one KeyPackage of each client of the
        target user, single-use while any is left (never handed out twice), else the
        client's last-resort one; a Welcome encrypted to one of them will be routed to
        that client (draft-ietf-mimi-protocol §Fetch Key Material). `provider_refusal`
        decides first; a refusal claims nothing."""
        request = _core.KeyMaterialRequest.decode(body)
        user = request.target_user
        now = now_ms()
        with self.lock:
            clients = sorted(c for c in self.hosts if ids.user_of(c) == user)
            refusal = provider_refusal(request, provider, len(clients), self.claims, now)
            if refusal is not None:
                return refusal
            with self.key_packages.transaction():
                claimed = [(client, self.key_packages.claim(client)) for client in clients]
                for _, kp in claimed:
                    if kp is not None:  # single-use or last-resort, each must still match its ref
                        self.key_packages.decoded("key_packages", kp.ref, _check_ref, kp)
                served = sum(1 for _, kp in claimed if kp is not None)
                forget = max(0, now - self.claims.limit.window_ms)
                for requester in (request.requesting_user, provider):
                    self.key_packages.record_claim(requester, user, served, now, forget)
            with self._changing():
                for client, kp in claimed:
                    if kp is not None:
                        self.follower.expect_welcome(kp.ref, client, request.room_id)
            for requester in (request.requesting_user, provider):
                self.claims.record(requester, user, served, now)
        return key_material_response(user, [(client, kp.key_package if kp else None) for client, kp in claimed])

    # -- /notify (follower side) ---------------------------------------------------

    def notify(
        self, room: str, provider: str, previous: int | None, sequences: list[int] | None, body: bytes, withheld: Sequence[str] = ()
    ) -> int:
        """One `/notify` batch from `provider`, as the transport authenticated it, which
        must be the room's hub; with its ordering envelope (None and None: a peer hub
        that sends none, numbered here in arrival order, `Follower.number`) and the users
        not owed its application messages. Returns how many deliveries it made.

        Answered once its events are in the inbox (SQLite) with the follower's
        ordering state: concurrent calls (from several hubs, or a hub's window of
        calls in flight) share one commit. Then the deliveries go to the clients'
        hosts, one call per host."""
        refusal = notifier_refusal(room, provider)
        if refusal is not None:
            raise refusal
        if previous is None and sequences is None:
            batch: Notify | Unnumbered = Unnumbered(room, body, tuple(withheld))
        elif previous is None or sequences is None:
            raise RemoteProtocolError(f"notify for {room}: an envelope needs both previous and sequences", "badRequest")
        else:
            batch = Notify(room, previous, tuple(sequences), body, tuple(withheld))
        answer = self.notifies.call(batch)
        if isinstance(answer, MimiError):
            raise answer
        return answer

    def _notify_batch(self, batch: Sequence[Notify | Unnumbered]) -> list[int | MimiError]:
        """Each `/notify` of `batch` in order, in one commit. One that fails (a
        refused envelope, a malformed body, a sequence stored with other bytes, or
        a bug: an InternalError) is answered with its error and leaves no trace;
        the others go on. If the commit fails, the follower goes back to its stored
        state and every caller gets the error."""
        answers: list[int | MimiError] = []
        deliveries: list[Delivery] = []
        with self.lock:  # held until pushed: hosts get the batches in commit order
            with self._changing():
                for notify in batch:
                    before = self.follower.checkpoint(notify.room)
                    try:
                        with self.inbox.transaction():  # a savepoint: this notify's rows
                            numbered = self.follower.number(notify) if isinstance(notify, Unnumbered) else notify
                            delivered = self.follower.notify(numbered)
                            self._store(notify.room, delivered)
                    except Exception as err:  # of any kind: the follower as before this notify
                        self.follower.rollback(before)
                        answers.append(err if isinstance(err, MimiError) else InternalError(f"notify for {notify.room}: {err!r}"))
                        continue
                    answers.append(len(delivered))
                    deliveries += delivered
            self._push(deliveries)
        return answers

    def _store(self, room: str, deliveries: list[Delivery]) -> None:
        """Deliveries in the room's inbox; this server numbers its events of the room
        contiguously (a Welcome for another provider leaves no gap here)."""
        by_sequence: dict[int, tuple[bytes, list[str]]] = {}
        for d in deliveries:
            by_sequence.setdefault(d.sequence, (d.message, []))[1].append(d.client)
        self.inbox.follow_room(room)
        local = self.inbox.delivered_upto(room)
        events = [
            StoredDelivery(local + i, bytes(msgpack.packb([sequence, body])), clients)
            for i, (sequence, (body, clients)) in enumerate(sorted(by_sequence.items()), 1)
        ]
        if events:
            self.inbox.receive(room, events)

    def _push(self, deliveries: list[Delivery]) -> None:
        """Stored deliveries to the local clients' hosts, one call per host."""
        per_host: dict[str, list[Pushed]] = defaultdict(list)
        for d in deliveries:
            host = self.hosts.get(d.client)
            if host is not None:
                per_host[host].append((d.client, d.room, d.sequence, d.previous, d.message))
        for host, batch in per_host.items():
            self._send(host, batch)
            for client, room, sequence, _, _ in batch:
                self.pushed.setdefault(room, {})[client] = sequence
        self.delivered += len(deliveries)

    def _send(self, host: str, batch: list[Pushed]) -> None:
        """One push to a host; a push that cannot even be sent fails like one that
        was lost (called with the lock held)."""
        import ray

        try:
            ref = names.handle(host).deliver.remote(batch)
        except Exception:  # the host is not there (restarting, or gone): push again later
            self._failed(host, batch)
            return
        if isinstance(ref, ray.ObjectRef):
            self.unconfirmed[ref] = (host, batch)
            if self.confirming is None:
                self.confirming = threading.Thread(target=self._confirm_pushes, name="confirm-pushes", daemon=True)
                self.confirming.start()

    def _failed(self, host: str, batch: list[Pushed]) -> None:
        newest = self.repush.setdefault(host, {})
        for pushed in batch:
            newest[(pushed[0], pushed[1])] = pushed
        self.repush_at.setdefault(host, Attempts()).failed(time.monotonic(), self.backoff, self.rng)

    PUSH_CHECK_S = 0.05

    def _confirm_pushes(self) -> None:
        """Background: which pushes failed, and pushing again what they carried."""
        import ray

        while True:
            time.sleep(self.PUSH_CHECK_S)
            with self.lock:
                refs = list(self.unconfirmed)
            ready = ray.wait(refs, num_returns=len(refs), timeout=0)[0] if refs else []
            outcomes = []
            for ref in ready:
                try:
                    ray.get(ref)
                    outcomes.append((ref, True))
                except Exception:  # the host died or restarted with the push: push again
                    outcomes.append((ref, False))
            with self.lock:
                for ref, ok in outcomes:
                    host, batch = self.unconfirmed.pop(ref)
                    if ok:
                        if host not in self.repush:
                            self.repush_at.pop(host, None)
                    else:
                        self._failed(host, batch)
                now = time.monotonic()
                for host in [h for h, a in self.repush_at.items() if a.next_attempt <= now and h in self.repush]:
                    self._send(host, list(self.repush.pop(host).values()))

    def rooms(self, client: str, token: bytes) -> list[str]:
        """The rooms whose events go to `client` (a restarted host may not have saved
        its newest)."""
        check_device(self.secret, self.provider, client, token)
        with self.lock:
            return self.follower.rooms_of(client)

    def missed(self, client: str, token: bytes, room: str, after: int, limit: int = INBOX_PAGE) -> list[Pushed]:
        """Up to `limit` of the room's events in `client`'s inbox after room sequence
        `after`, as they were pushed, for a client host that lost pushes (it restarted
        meanwhile) or must catch up with the room before it sends again; it asks again
        after the last one until it gets fewer. Read a page at a time, from where
        `after` is (found in O(log n) reads), not from the inbox's start."""
        check_device(self.secret, self.provider, client, token)
        upto = self._stored_upto(client, room, after)
        last = self.inbox.last_in_inbox(client, room, upto)
        previous = self._stored(room, last)[0] if last else 0
        out: list[Pushed] = []
        for event in self.inbox.inbox(client, room, upto, INBOX_PAGE):
            sequence, message = self._stored(room, event.sequence, event.body)
            out.append((client, room, sequence, previous, message))
            if len(out) == limit:
                break
            previous = sequence
        return out

    def _stored_upto(self, client: str, room: str, after: int) -> int:
        """The last of the room's stored events (numbered contiguously, `_store`) up to
        the client's last whose room sequence is at most `after`: a binary search, as
        room sequences increase with the numbers."""
        low, high = 0, self.inbox.last_in_inbox(client, room, SEQUENCE_END - 1)
        while low < high:
            middle = (low + high + 1) // 2
            if self._stored(room, middle)[0] <= after:
                low = middle
            else:
                high = middle - 1
        return low

    def _stored(self, room: str, stored: int, body: bytes | None = None) -> tuple[int, bytes]:
        """(room sequence, FanoutMessage) of the room's stored event number `stored`."""
        record = self.inbox.event(room, stored) if body is None else body
        return self.inbox.decoded("follower_events", (room, stored), _read_event, record)

    def progress(self, room: str) -> tuple[int, dict[str, int]]:
        """(room sequence delivered in order, last sequence pushed to each local client
        still subscribed to the room)."""
        with self.lock:
            return self.follower.delivered_upto(room), dict(self.pushed.get(room, {}))

    def stats(self) -> dict[str, Any]:
        return {"provider": self.provider, "delivered": self.delivered, "database": str(self.path)}


# -- stored records (decoded through `SqliteStore.decoded`: damage is a StorageError) --


def _read_record(data: bytes) -> str | tuple[Follower, dict[str, str]]:
    """The follower's provider, as `ProviderServer._record` stores it; or, from schema 5 and before,
    the follower logic and the hosts whole."""
    record = msgpack.unpackb(data)
    if "follower" in record:
        return Follower.restore(record["follower"]), dict(record["hosts"])
    provider = record["provider"]
    if type(provider) is not str:
        raise TypeError(f"provider must be a str, got {type(provider).__name__}")
    return provider


def _read_event(body: bytes) -> tuple[int, bytes]:
    """(room sequence, FanoutMessage) of an inbox event, as `ProviderServer._store` stores it."""
    sequence, message = msgpack.unpackb(body)
    if type(sequence) is not int or type(message) is not bytes:
        raise TypeError(f"an inbox event is [int, bytes], got [{type(sequence).__name__}, {type(message).__name__}]")
    return sequence, message


def _check_ref(claimed: StoredKeyPackage) -> None:
    """A stored KeyPackage must still be the one its ref names (RFC 9420 §5.2)."""
    if _core.key_package_ref(claimed.key_package) != claimed.ref:
        raise ValueError("the KeyPackage does not match its KeyPackageRef")
