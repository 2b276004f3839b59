"""RoomHub: the hub logic for a shard of one provider's rooms. Validates, orders,
logs durably, fans out in batches. The actor is threaded: concurrent
`/submitMessage` calls are logged together, one SQLite commit per batch
(`GroupCommit`); everything else is serialized by one lock.

A background thread keeps `/notify` flowing: whenever a call to a follower is
answered, what queued meanwhile goes out as one batch (adaptive flushing), and a
call that failed (the follower is down or restarting) is sent again after a
backoff. The log is the queue: memory holds a bounded window per follower, the
rest is read back from the log as the follower catches up, and each follower's
cursor in the log is saved, so a restarted hub resumes where it was
(docs/guarantees.md, "Servers")."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple, cast

import msgpack

from mimi import _core, ids
from mimi.actors.group_commit import GroupCommit
from mimi.errors import MimiError, StorageError
from mimi.logic.fanout import LOG_PAGE, Backoff, Cursor, FanoutBatcher, Lag, Outbox
from mimi.logic.group_info import answer_group_info_request, may_join_externally
from mimi.logic.hub import Fanout, HubRoom, Lookup
from mimi.logic.key_material import KeyMaterialAnswer, hub_refusal
from mimi.storage import SERVER_CHECKPOINT_EVERY, DataDir, HubStore, LogEvent
from mimi.transport import Transport
from mimi.transport.ray import RayTransport


class Submission(NamedTuple):
    room: str
    provider: str
    body: bytes
    now: int


# Seconds between saves of the followers' cursors moved by acknowledgements alone (a
# cursor moved by new events is saved with them): a hub that restarts resends at most
# what was acknowledged since, and followers process a repeated event once.
CURSOR_SAVE_EVERY = 1.0


class RoomHub:
    CLAIMS_IN_FLIGHT = 8
    CLAIM_TIMEOUT_S = 10.0

    def __init__(
        self, hub: str, data_dir: str, transport: Transport | None = None, window: int = 2, backoff: Backoff | None = None
    ) -> None:
        self.hub = hub
        self.transport: Transport = transport or RayTransport(hub)
        self.path = DataDir(Path(data_dir)).server(hub)
        self.store = HubStore(self.path, checkpoint_every=SERVER_CHECKPOINT_EVERY)
        self.rooms: dict[str, HubRoom] = {}
        self.indexed: set[str] = set()  # rooms whose answers of this epoch are partly in the index
        self.outbox = Outbox(FanoutBatcher(), window, backoff)
        self.cursors_saved = time.monotonic()
        self.accepted = 0
        self.lock = threading.RLock()
        self.claims_in_flight = threading.BoundedSemaphore(self.CLAIMS_IN_FLIGHT)
        self.sending = threading.Event()  # set when a /notify call goes out: wakes the pump
        self.ingress: GroupCommit[Submission, bytes | MimiError] = GroupCommit(self._submit_batch)
        self._hub_key()  # made with the database; one missing later is damage
        for room in self.store.rooms():
            self.rooms[room] = self._restore(room)
        self._resume()
        # The pump starts by reading back what followers had not acknowledged.
        self.pump = threading.Thread(target=self._pump, name="notify-pump", daemon=True)
        self.pump.start()

    def _resume(self) -> None:
        """Each follower from its saved cursor: what it had not acknowledged is sent
        again from the log (followers process a repeated event once), so nothing
        logged is lost with the old process."""
        cursors = [Cursor(*row) for row in self.store.cursors()]
        with_cursors = {c.room for c in cursors}
        for room in self.rooms:
            if room not in with_cursors and self.store.last_sequence(room) > 0:
                cursors += self._first_cursors(room)
        for cursor in cursors:
            self.outbox.resume(cursor)

    def _first_cursors(self, room: str) -> list[Cursor]:
        """A room logged before cursors were saved (schema 2): every destination of its
        log from the start, once; saved, so this runs once."""
        pending: dict[str, int] = {}
        last: dict[str, int] = {}
        for page in self.store.pages(room, 0, LOG_PAGE):
            for event in page:
                for destination in self._record(room, event)[0]:
                    pending[destination] = pending.get(destination, 0) + 1
                    last[destination] = event.sequence
        cursors = [Cursor(room, d, 0, pending[d], last[d]) for d in sorted(pending)]
        self.store.save_cursors(cursors)
        return cursors

    def _restore(self, room: str) -> HubRoom:
        """The room's hub logic as the database has it: saved state, log position and
        clock, and the answers of this epoch's messages logged after those indexed
        (at most UNINDEXED: the restart reads that much of the log, not all of it).

        The saved state is the room's snapshot, written in the transaction of every
        handshake it logs; a commit moves the answers indexed to its own sequence. So
        the log after the answers indexed holds no commit and no Welcome, and no
        proposal after the snapshot: one there is damage, refused, never replayed over."""
        saved = self.store.load_state(room)
        assert saved is not None
        hub_room = self.store.decoded("hub_rooms", room, HubRoom.restore, saved)
        logged = self.store.last_sequence(room)
        saved_at = hub_room.sequence
        if saved_at > logged:
            self.store.damaged("hub_events", f"room {room!r} was saved at {saved_at}, its log ends at {logged}")
        hub_room.sequence = logged
        if logged:  # accepted_timestamp only moves forward: on from the last one given
            (last,) = self.store.events_since(room, logged - 1, 1)
            hub_room.last_timestamp = max(hub_room.last_timestamp, last.accepted_timestamp)
        after, indexed = self.store.answers_indexed(room)
        if indexed:
            self.indexed.add(room)
        else:
            self.indexed.discard(room)
        for page in self.store.pages(room, after, LOG_PAGE):
            for event in page:
                kind = self.store.decoded(
                    "hub_events", (room, event.sequence), lambda body: hub_room.answered_in_log(read_log_record(body)[1]), event.body
                )
                if kind in ("commit", "welcome"):
                    self.store.damaged(
                        "hub_rooms", f"room {room!r}: a {kind} logged at {event.sequence}, after the answers indexed up to {after}"
                    )
                if kind == "proposal" and event.sequence > saved_at:
                    self.store.damaged(
                        "hub_rooms", f"room {room!r}: the state saved at {saved_at} is older than the proposal logged at {event.sequence}"
                    )
        return hub_room

    def _record(self, room: str, event: LogEvent) -> tuple[list[str], bytes, frozenset[str]]:
        return self.store.decoded("hub_events", (room, event.sequence), read_log_record, event.body)

    def _logged_event(self, room: str, event: LogEvent) -> Fanout:
        """The accepted event a log row of `room` records."""
        destinations, message, withheld = self._record(room, event)
        return Fanout(room, event.sequence, event.accepted_timestamp, frozenset(destinations), message, withheld)

    def ping(self) -> str:
        return self.hub

    def database(self) -> str:
        return str(self.path)

    # -- endpoints (bodies of draft-ietf-mimi-protocol) ---------------------------------
    # `provider`: the caller, as the transport authenticated it (never a body's claim);
    # each endpoint checks the body's claims against it (docs/guarantees.md, "Callers").

    def reserve(self, room: str) -> tuple[bytes, str]:
        """The hub's external-sender key and identity for a room about to be created."""
        with self.lock:
            key = self._hub_key()
            return key.public, self.hub

    def _hub_key(self) -> _core.SignatureKeyPair:
        saved = self.store.load_secret("external-sender-key")
        if saved is None:
            if self.store.rooms():  # they name the lost key as their external sender
                self.store.damaged("hub_secrets", "the external-sender key is missing")
            key = _core.SignatureKeyPair.generate()
            self.store.save_secret("external-sender-key", key.private)
            return key
        return self.store.decoded("hub_secrets", "external-sender-key", _core.SignatureKeyPair.from_private, saved)

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> None:
        with self.lock:
            if room in self.rooms:
                raise MimiError(f"{room} already exists")
            hub_room = HubRoom.create(room, self.hub, group_info, ratchet_tree)
            self.store.save_state(room, hub_room.export())
            self.rooms[room] = hub_room

    def hub_sender(self, room: str) -> tuple[bytes, str]:
        """The room's external sender (the hub): its signature key and identity."""
        with self.lock:
            self._room(room)
            return self._hub_key().public, self.hub

    def group_info(self, room: str, provider: str, body: bytes) -> bytes:
        """POST /groupInfo: the GroupInfo, ratchet tree and pending proposals, encrypted
        to the requester, signed by the hub (draft-ietf-mimi-protocol §Claim group key
        information). The room policy decides as for the external commit that follows."""
        with self.lock:
            hub_room = self.rooms.get(room)
            state = hub_room.state if hub_room is not None else None

            return answer_group_info_request(
                body, room, None if hub_room is None else hub_room.view, self._hub_key(), self.hub, [],
                partial(may_join_externally, state),
                provider=provider,
            )

    def key_material(self, room: str, provider: str, body: bytes) -> KeyMaterialAnswer:
        """/keyMaterial through the hub, from `provider`. If the room's policy lets the requester
        add the target's clients (`hub_refusal`), forwards the KeyMaterialRequest to the
        target user's provider and remembers where each KeyPackage came from, so its
        Welcome goes there (draft-ietf-mimi-protocol §Fetch Key Material)."""
        request = _core.KeyMaterialRequest.decode(body)
        with self.lock:
            hub_room = self._room(room)
            refusal = hub_refusal(request, room, provider, hub_room.state, hub_room.view.members())
        if refusal is not None:
            return refusal
        target = ids.provider_of(request.target_user)
        # A target provider that answers slowly holds this thread: at most CLAIMS_IN_FLIGHT
        # threads wait on one, each at most CLAIM_TIMEOUT_S, so the room's /update and
        # /submitMessage keep the rest (HUB_CONCURRENCY).
        if not self.claims_in_flight.acquire(blocking=False):
            raise MimiError(f"{self.CLAIMS_IN_FLIGHT} /keyMaterial claims are in flight at this hub; try again later")
        try:
            answer = self.transport.claim_key_material(target, body).result(timeout=self.CLAIM_TIMEOUT_S)
        except FutureTimeout:
            raise MimiError(f"{target} did not answer /keyMaterial in {self.CLAIM_TIMEOUT_S:g} s") from None
        finally:
            self.claims_in_flight.release()
        response = _core.KeyMaterialResponse.decode(answer.response)
        refs = [_core.key_package_ref(c.key_package) for c in response.clients if c.key_package is not None]
        with self.lock:
            hub_room = self._room(room)
            with self._durable([room]):
                hub_room.record_key_packages(target, refs)
                self.store.save_state(room, hub_room.export())
        return answer

    def update(self, room: str, provider: str, body: bytes, now: int) -> bytes:
        with self.lock:
            hub_room = self._room(room)
            epoch = hub_room.view.epoch
            with self._durable([room]):
                response, events = hub_room.update(provider, body, now, self._lookup(room), self._hub_key())
                if events:
                    with self.store.transaction():
                        self.store.save_state(room, hub_room.export())
                        self._log(room, events)
                        if hub_room.view.epoch != epoch:
                            self.store.drop_answers(room, hub_room.sequence)
                            self.indexed.discard(room)
            if events:
                self._fan_out(events)
            return response

    def submit(self, room: str, provider: str, body: bytes, now: int) -> bytes:
        """POST /submitMessage: answered once the message is durably logged, in a
        batch with whatever other calls arrived meanwhile."""
        answer = self.ingress.call(Submission(room, provider, body, now))
        if isinstance(answer, MimiError):
            raise answer
        return answer

    def submit_many(self, room: str, provider: str, bodies: list[bytes], now: int) -> list[bytes]:
        """Many `/submitMessage` bodies from one provider in one call: validated in
        order, logged in one transaction (group commit), fanned out in batches."""
        answers = self._submit_batch([Submission(room, provider, body, now) for body in bodies])
        for answer in answers:
            if isinstance(answer, MimiError):
                raise answer
        return answers  # type: ignore[return-value]

    def _submit_batch(self, batch: Sequence[Submission]) -> list[bytes | MimiError]:
        """Validates and sequences `batch` in order, logs what was accepted in one
        commit, then fans it out. A failed commit restores the rooms as logged
        (nothing of the batch is acknowledged) and raises."""
        with self.lock:
            answers: list[bytes | MimiError] = []
            accepted: dict[str, list[Fanout]] = {}
            for (room, provider), run in groupby(batch, key=lambda s: (s.room, s.provider)):
                submissions = list(run)
                try:
                    hub_room = self._room(room)
                except MimiError as err:
                    answers += [err] * len(submissions)
                    continue
                # The hub's clock only moves forward: the run is stamped from its latest `now`.
                responses, events = hub_room.submit_many(
                    provider, [s.body for s in submissions], max(s.now for s in submissions), self._lookup(room)
                )
                answers += responses
                if events:
                    accepted.setdefault(room, []).extend(events)
            if accepted:
                with self._durable(accepted), self.store.transaction():
                    for room, events in accepted.items():
                        self._log(room, events)
            for events in accepted.values():
                self._fan_out(events)
            return answers

    # The most events one `events` call returns: a caller reads a long log page by page.
    EVENTS_PAGE = 4096

    def events(self, room: str, after: int, limit: int) -> list[tuple[int, list[str], bytes]]:
        """A page of the room's durable log: up to `limit` (at most EVENTS_PAGE) events
        after `after`, as (sequence, destinations, FanoutMessage); an empty page is the end."""
        if type(limit) is not int or not 0 < limit <= self.EVENTS_PAGE:
            raise MimiError(f"limit must be 1 to {self.EVENTS_PAGE} events a page, got {limit!r}")
        return [(e.sequence, *self._record(room, e)[:2]) for e in self.store.events_since(room, after, limit)]

    def progress(self, room: str) -> dict[str, int]:
        """Per destination provider, the last sequence of the room bound for it."""
        with self.lock:
            return self.outbox.progress(room)

    def lag(self) -> dict[str, Lag]:
        """Per follower: the last sequence it acknowledged in each room, the events
        logged for it and not acknowledged, its consecutive failed calls and the
        seconds until it is tried again."""
        with self.lock:
            return self.outbox.lag(time.monotonic())

    def members(self, room: str) -> tuple[int, list[str]]:
        """(the room's last sequence, the group's members then): the clients owed
        the events that come after it."""
        with self.lock:
            hub_room = self._room(room)
            return hub_room.sequence, sorted(m.identity for m in hub_room.view.members())

    def flush(self) -> int:
        """Sends what can go now; returns the `/notify` calls still unanswered."""
        with self.lock:
            self._send_ready()
            return len(self.outbox.in_flight)

    def stats(self) -> dict[str, Any]:
        return {
            "hub": self.hub,
            "accepted": self.accepted,
            "database": str(self.path),
            "submit_batches": self.ingress.batches,
            "submit_calls": self.ingress.items,
            "cpu_seconds": time.process_time(),  # the whole process, every thread
        }

    # -- helpers -----------------------------------------------------------------------------

    def _room(self, room: str) -> HubRoom:
        hub_room = self.rooms.get(room)
        if hub_room is None:
            raise MimiError(f"no such room on {self.hub}: {room}")
        return hub_room

    def _lookup(self, room: str) -> Lookup | None:
        """Where answers the room's memory no longer holds are found (only rooms that
        indexed some in this epoch look)."""
        return partial(self.store.answers, room) if room in self.indexed else None

    @contextmanager
    def _durable(self, rooms: Iterable[str]) -> Iterator[None]:
        """If the database refuses what the block writes, the rooms' logic goes back
        to what the database has: nothing unlogged is kept (or acknowledged)."""
        try:
            yield
        except StorageError:
            for room in rooms:
                self.rooms[room] = self._restore(room)
            raise

    # The answers of a room's epoch it keeps in memory, at most (`HubRoom.unindexed`);
    # beyond, they go to the database's index in one batch.
    UNINDEXED = 16_384

    def _log(self, room: str, events: list[Fanout]) -> None:
        """Logs the events and the cursors they move in the caller's transaction. If its
        block fails, `_durable` restores the room: memory then holds again what the index
        does not."""
        if log(self.store, self.rooms[room], events, self.UNINDEXED):
            self.indexed.add(room)
        self.store.save_cursors(self.outbox.cursors_after(events))

    def _fan_out(self, events: list[Fanout]) -> None:
        """Queues logged events for their destinations."""
        self.accepted += len(events)
        self.outbox.add(events)
        self._send_ready()

    def _send_ready(self) -> None:
        """Sends what is due; a follower that cannot be called is tried again later."""
        now = time.monotonic()
        for destination, notify in self.outbox.sendable(now):
            try:
                handle = self.transport.notify(destination, notify)
            except Exception:  # no such follower now (it is down): as a failed call
                self.outbox.send_failed(destination, notify, now)
                continue
            self.outbox.sent(handle, destination, notify)
            self.sending.set()

    def _save_cursors(self) -> None:
        """The cursors acknowledgements moved, at most every CURSOR_SAVE_EVERY seconds."""
        now = time.monotonic()
        if now - self.cursors_saved >= CURSOR_SAVE_EVERY:
            self.cursors_saved = now
            moved = self.outbox.changed()
            if moved:
                self.store.save_cursors(moved)

    def _read_log(self) -> None:
        """Pages of the log for followers that fell behind, as many as their windows
        take, read outside the lock (ingress goes on meanwhile), one page per room
        for all of them."""
        while True:
            with self.lock:
                wanted = self.outbox.reads(time.monotonic())
            pages = {
                room: [self._logged_event(room, e) for e in self.store.events_since(room, after, LOG_PAGE)]
                for room, after in wanted.items()
            }
            if not any(pages.values()):
                return
            with self.lock:
                for room, events in pages.items():
                    self.outbox.refill(room, events, time.monotonic())

    def _pump(self) -> None:
        """Waits for answers to `/notify` calls; each frees a slot for what queued,
        and room for what waits in the log. With none in flight it sleeps until a
        call is sent or a follower that is backing off is due, so a hub whose
        follower is down stays idle."""
        while True:  # a daemon thread: it ends with the actor
            try:
                self.sending.clear()
                self._read_log()
                with self.lock:
                    self._send_ready()
                    self._save_cursors()
                    handles = cast("list[Future[int]]", list(self.outbox.in_flight))
                    now = time.monotonic()
                    wake = self.outbox.wake_at(now)
                idle = 1.0 if wake is None else min(1.0, wake - now)
                if not handles:
                    self.sending.wait(idle)
                    continue
                # A call that failed (the follower died, restarted or refused) is sent again.
                done, _ = wait(handles, min(0.05, idle), return_when=FIRST_COMPLETED)
                if done:
                    with self.lock:
                        now = time.monotonic()
                        for handle in done:
                            self.outbox.answered(handle, handle.exception() is None, now)
            except Exception:  # the pump must outlive any one failure
                time.sleep(0.05)


# -- the log ------------------------------------------------------------------------------
# A row of the room's log: msgpack {"d": destination providers (sorted), "m": FanoutMessage,
# "w": users not owed it (sorted; only when there are any)}.


def log(store: HubStore, hub_room: HubRoom, events: Sequence[Fanout], unindexed: int) -> bool:
    """Appends the room's accepted events to its log; if memory then holds more than
    `unindexed` answers of its epoch, they go to the index too (in the caller's
    transaction). Returns whether they did."""
    store.append_events(hub_room.room, log_records(events))
    if len(hub_room.unindexed) <= unindexed:
        return False
    store.index_answers(hub_room.room, list(hub_room.unindexed.items()), hub_room.sequence)
    hub_room.settle_answers()
    return True


def log_records(events: Sequence[Fanout]) -> list[LogEvent]:
    """The log rows of accepted events. A batch's events mostly share one destination
    set: it is sorted once, and one packer packs them all."""
    packer = msgpack.Packer()
    sorted_sets: dict[frozenset[str], list[str]] = {}
    rows = []
    for e in events:
        destinations = sorted_sets.get(e.destinations)
        if destinations is None:
            destinations = sorted_sets[e.destinations] = sorted(e.destinations)
        record = {"d": destinations, "m": e.message}
        if e.withheld:
            record["w"] = sorted(e.withheld)
        rows.append(LogEvent(e.sequence, e.timestamp, packer.pack(record)))
    return rows


def read_log_record(body: bytes) -> tuple[list[str], bytes, frozenset[str]]:
    """(destinations, FanoutMessage, users not owed it) of a log row."""
    record = msgpack.unpackb(body)
    return list(record["d"]), bytes(record["m"]), frozenset(record.get("w", ()))

