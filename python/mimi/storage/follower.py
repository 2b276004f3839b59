"""The follower's side of rooms: events received from hubs and local inboxes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple, Protocol

from mimi.storage._base import (
    SqliteStore,
    check_bytes,
    check_int,
    check_limit,
    check_many,
    check_text,
    check_tuple,
    fail,
    paged,
)
from mimi.storage.schema import SERVER


class Delivery(NamedTuple):
    """An event from the hub and the local clients it is for."""

    sequence: int
    body: bytes
    recipients: Sequence[str]


class InboxEvent(NamedTuple):
    """An event in a client's inbox."""

    sequence: int
    body: bytes


_PAGE = 1_000  # rows a read of the events in `_deliver` and `last_in_inbox`


def _clients(clients: object) -> list[str]:
    if not isinstance(clients, list) or not all(isinstance(c, str) for c in clients):
        raise TypeError("clients must be a list of str")
    return clients


def _pending(pending: str) -> list[str]:
    """The recipients of an event stored beyond a gap (JSON)."""
    return _clients(json.loads(pending))


def _audience(audience: str) -> tuple[str, frozenset[str]]:
    """Who of the room's receiving clients an event went to: ["only", clients] or ["skip", clients] (JSON)."""
    kind, clients = json.loads(audience)
    if kind not in ("only", "skip"):
        raise ValueError(f"audience kind {kind!r}")
    return kind, frozenset(_clients(clients))


class FollowerRows(Protocol):
    """The follower logic's state as rows (`mimi.logic.follower.Rows`): those to store,
    and the keys of those gone."""

    @property
    def rooms(self) -> Sequence[tuple[str, int, int]]: ...  # (room, delivered_upto, common)
    @property
    def members(self) -> Sequence[tuple[str, str, int, int | None]]: ...  # (room, client, since, behind)
    @property
    def waiting(self) -> Sequence[tuple[str, int, bytes]]: ...  # (room, previous, batch)
    @property
    def routes(self) -> Sequence[tuple[bytes, str]]: ...  # (KeyPackageRef, client)
    @property
    def gone_members(self) -> Sequence[tuple[str, str]]: ...
    @property
    def gone_waiting(self) -> Sequence[tuple[str, int]]: ...
    @property
    def gone_routes(self) -> Sequence[bytes]: ...


class FollowerState(NamedTuple):
    """Every row of the follower logic's state and the local clients' hosts, as
    stored (`FollowerStore.load_logic_state`)."""

    record: bytes  # the follower's own record (its provider)
    rooms: list[tuple[str, int, int]]
    members: list[tuple[str, str, int, int | None]]
    waiting: list[tuple[str, int, bytes]]
    routes: list[tuple[bytes, str]]
    hosts: list[tuple[str, str]]


class FollowerStore(SqliteStore):
    """Durable state of the rooms this server follows.

    Each event a hub sends is stored once per room (dedupe by sequence: a
    byte-identical repeat is accepted and ignored, another body for a stored
    sequence is refused) with who got it, and each client has a cursor per
    room (`receive`), not a row per event. Events
    may arrive out of order; `delivered_upto(room)` is the highest sequence up
    to which every event is stored, and only those reach `fetch_inbox`. Events
    beyond a gap are kept (`buffered_sequences`) and become visible when the
    gap fills, across restarts too.
    """

    schema = SERVER
    # Loaded whole when a provider starts: the follower logic's state, a row per room,
    # per subscribed client of a room, per buffered batch and per Welcome route.
    checked = (
        "follower_rooms", "follower_logic", "follower_logic_rooms", "follower_members",
        "follower_waiting", "follower_routes", "follower_hosts",
    )
    # Rows of a room, each table keyed by room first, that need the room's own row.
    ROOM_ROWS = ("follower_members", "follower_waiting", "follower_rooms", "follower_cursors")

    def save_logic_state(self, record: bytes, rows: FollowerRows) -> None:
        """The follower logic's own record and its changed rows (ordering, local members,
        buffered batches, Welcome routes): a write per row changed, none per room
        unchanged. The record is written with the first room followed."""
        check_bytes("record", record)
        rooms = [(check_text("room_id", r), check_int("delivered_upto", u), check_int("common", c)) for r, u, c in rows.rooms]
        members = [
            (check_text("room_id", r), check_text("client", c), check_int("since", s), None if b is None else check_int("behind", b))
            for r, c, s, b in rows.members
        ]
        waiting = [(check_text("room_id", r), check_int("previous", p), check_bytes("batch", b)) for r, p, b in rows.waiting]
        routes = [(check_bytes("ref", ref), check_text("client", c)) for ref, c in rows.routes]
        with self.transaction():
            db = self._db
            db.execute("INSERT OR REPLACE INTO follower_logic (id, state) VALUES (1, ?)", (record,))
            db.executemany("INSERT OR REPLACE INTO follower_logic_rooms VALUES (?, ?, ?)", rooms)
            db.executemany("INSERT OR REPLACE INTO follower_members VALUES (?, ?, ?, ?)", members)
            db.executemany("DELETE FROM follower_members WHERE room_id = ? AND client = ?", rows.gone_members)
            db.executemany("INSERT OR REPLACE INTO follower_waiting VALUES (?, ?, ?)", waiting)
            db.executemany("DELETE FROM follower_waiting WHERE room_id = ? AND previous = ?", rows.gone_waiting)
            db.executemany("INSERT OR REPLACE INTO follower_routes VALUES (?, ?)", routes)
            db.executemany("DELETE FROM follower_routes WHERE ref = ?", [(r,) for r in rows.gone_routes])

    def save_host(self, client: str, host: str) -> None:
        """The name of the actor hosting a local client."""
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO follower_hosts VALUES (?, ?)", (check_text("client", client), check_text("host", host))
            )

    def check_logic_rows(self) -> None:
        """Refuse rows of the follower's state (members, buffered batches) or of an inbox
        for a room that has no row: its row was lost. (A record of schema 5 and before, which held
        the state whole, has no rows until its owner writes them.)"""
        for table in self.ROOM_ROWS:
            self._orphans(table, "follower_logic_rooms")

    def load_logic_state(self) -> FollowerState | None:
        """Every row of the follower logic's state and the hosts; None before the first
        `save_logic_state`, which comes with the first room followed (a record missing
        beside rooms is damage, refused; rows lost, see `check_logic_rows`)."""
        (record, following), = self._read(
            "SELECT (SELECT state FROM follower_logic WHERE id = 1), "
            "EXISTS (SELECT 1 FROM follower_rooms) OR EXISTS (SELECT 1 FROM follower_logic_rooms)"
        )
        if record is None and following:
            self.damaged("follower_logic", "the follower's state is missing, and it follows rooms")
        if record is None:
            return None
        return FollowerState(
            self._blob("follower_logic", 1, record),
            self._read("SELECT room_id, delivered_upto, common FROM follower_logic_rooms ORDER BY room_id"),
            self._read("SELECT room_id, client, since, behind FROM follower_members ORDER BY room_id, client"),
            [(r, p, self._blob("follower_waiting", (r, p), b)) for r, p, b in self._read(
                "SELECT room_id, previous, batch FROM follower_waiting ORDER BY room_id, previous")],
            [(self._blob("follower_routes", ref, ref), c) for ref, c in self._read(
                "SELECT ref, client FROM follower_routes ORDER BY ref")],
            self._read("SELECT client, host FROM follower_hosts ORDER BY client"),
        )

    def follow_room(self, room_id: str, after: int = 0) -> int:
        """Start following a room whose events after sequence `after` will come.

        A server that joins a running room starts after the hub's current
        sequence, not at 0. Following a room again changes nothing. Returns
        the room's `delivered_upto`.
        """
        check_text("room_id", room_id)
        check_int("after", after)
        with self.transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO follower_rooms (room_id, start, delivered_upto) "
                "VALUES (?, ?, ?)",
                (room_id, after, after),
            )
            return self._upto(room_id)[1]

    def rooms(self) -> list[str]:
        """Every room this server follows, sorted (refused if events of another are stored)."""
        self._orphans("follower_events", "follower_rooms")
        return [r[0] for r in self._read("SELECT room_id FROM follower_rooms ORDER BY room_id")]

    def delivered_upto(self, room_id: str) -> int:
        """The highest sequence up to which the room's events are all stored."""
        check_text("room_id", room_id)
        with self._reading():
            return self._upto(room_id)[1]

    def receive(self, room_id: str, events: Sequence[Delivery]) -> int:
        """Store events of one room from its hub in one commit; returns `delivered_upto`.

        Each event is stored once, with who of the room's clients got it: nothing
        when every client receiving the room's events did (most events), else
        those skipped or those it went to, whichever is fewer; and each client
        has a cursor row in the room, where its inbox began (and ended, if it
        left; one more each time it is added again). A repeat of a stored event is accepted and changes nothing (its
        recipients are those stored); a different body for a stored sequence
        refuses the whole batch. Events beyond a gap keep their recipients until
        the gap fills.
        """
        check_text("room_id", room_id)
        check_many("events", events)
        with self.transaction():
            start, upto = self._upto(room_id)
            rows = []
            for event in events:
                sequence, body, recipients = check_tuple("event", event, 3)
                if type(sequence) is not int or sequence <= start:
                    fail(f"room {room_id!r}: sequence {sequence!r} is not after the start {start}")
                check_many("recipients", recipients)
                clients = sorted({check_text("recipient", c) for c in recipients})
                rows.append((room_id, sequence, check_bytes("body", body), json.dumps(clients)))
            self._insert_once("follower_events", ("room_id", "sequence"), ("body",), rows, extra=("pending",))
            # The end of the run of consecutive sequences that starts at upto + 1.
            found = self._db.execute(
                "SELECT min(sequence) FROM follower_events AS e "
                "WHERE room_id = ?1 AND sequence > ?2 AND NOT EXISTS ("
                " SELECT 1 FROM follower_events WHERE room_id = ?1 AND sequence = e.sequence + 1)"
                " AND EXISTS (SELECT 1 FROM follower_events WHERE room_id = ?1 AND sequence = ?2 + 1)",
                (room_id, upto),
            ).fetchone()[0]
            if found is not None:
                self._deliver(room_id, upto, found)
                upto = found
                self._db.execute(
                    "UPDATE follower_rooms SET delivered_upto = ? WHERE room_id = ?", (upto, room_id)
                )
        return upto

    def _deliver(self, room_id: str, upto: int, to: int) -> None:
        """Events upto+1..to, now consecutive, into the inboxes: each event's audience
        against the clients whose inbox is open, and the cursors of those new to it."""
        receiving = {c for (c,) in self._db.execute(
            "SELECT client FROM follower_cursors WHERE room_id = ? AND closed IS NULL", (room_id,))}
        while upto < to:
            page = self._db.execute(
                "SELECT sequence, pending FROM follower_events WHERE room_id = ? AND sequence > ? AND sequence <= ? "
                "ORDER BY sequence LIMIT ?", (room_id, upto, to, _PAGE),
            ).fetchall()
            audiences, joined = [], []
            for sequence, pending in page:
                clients = set(self.decoded("follower_events", (room_id, sequence), _pending, pending))
                joined += [(room_id, c, sequence - 1) for c in sorted(clients - receiving)]
                receiving |= clients
                skipped = receiving - clients
                audience = None if not skipped else json.dumps(
                    ["skip", sorted(skipped)] if len(skipped) <= len(clients) else ["only", sorted(clients)]
                )
                audiences.append((audience, room_id, sequence))
            self._db.executemany(
                "INSERT INTO follower_cursors (room_id, client, opened, closed) VALUES (?, ?, ?, NULL)", joined
            )
            self._db.executemany(
                "UPDATE follower_events SET audience = ?, pending = NULL WHERE room_id = ? AND sequence = ?", audiences
            )
            upto = page[-1][0]

    def leave(self, room_id: str, client: str) -> None:
        """The client's inbox of the room closes after what was delivered so far (a
        later event for it opens another cursor, from that event on)."""
        check_text("room_id", room_id)
        check_text("client", client)
        with self.transaction():
            self._db.execute(
                "UPDATE follower_cursors SET closed = (SELECT delivered_upto FROM follower_rooms WHERE room_id = ?1) "
                "WHERE room_id = ?1 AND client = ?2 AND closed IS NULL",
                (room_id, client),
            )

    def reopen(self, room_id: str, clients: Sequence[str]) -> None:
        """The clients still receive the room's events: their inboxes, closed by the
        migration to schema 5 at their last event (one cursor each), are open again."""
        check_text("room_id", room_id)
        check_many("clients", clients)
        with self.transaction():
            self._db.executemany(
                "UPDATE follower_cursors SET closed = NULL WHERE room_id = ? AND client = ?",
                [(room_id, check_text("client", c)) for c in clients],
            )

    def buffered_sequences(self, room_id: str) -> list[int]:
        """Sequences stored beyond the first gap, waiting for the missing events."""
        check_text("room_id", room_id)
        rows = self._read(
            "SELECT e.sequence FROM follower_events AS e JOIN follower_rooms AS r USING (room_id) "
            "WHERE e.room_id = ? AND e.sequence > r.delivered_upto ORDER BY e.sequence",
            (room_id,),
        )
        return [r[0] for r in rows]

    def fetch_inbox(self, client: str, room_id: str, after: int, limit: int) -> list[InboxEvent]:
        """Up to `limit` of the client's events in the room with sequence > `after`, in
        order: the room's events within the client's cursors whose audience holds it,
        read `limit` rows at a time."""
        check_text("client", client)
        check_int("after", after)
        check_limit(limit)
        out: list[InboxEvent] = []
        for opened, last in self._spans(client, room_id):
            after = max(after, opened)
            while len(out) < limit and after < last:
                for sequence, body, audience in self._events(room_id, client, after, last + 1, limit, False):
                    if self._for(client, room_id, sequence, audience):
                        out.append(InboxEvent(sequence, self._blob("follower_events", (room_id, sequence), body)))
                        if len(out) == limit:
                            return out
                    after = sequence
        return out

    def event(self, room_id: str, sequence: int) -> bytes:
        """The body of a stored event up to `delivered_upto` (a missing one is damage)."""
        check_text("room_id", room_id)
        check_int("sequence", sequence, 1)
        found = self._read(
            "SELECT e.body FROM follower_rooms AS r LEFT JOIN follower_events AS e "
            "ON e.room_id = r.room_id AND e.sequence = ? WHERE r.room_id = ? AND ? <= r.delivered_upto",
            (sequence, room_id, sequence),
        )
        if not found:
            fail(f"{self.path}: room {room_id!r}: no event {sequence} delivered")
        if found[0][0] is None:
            self.damaged("follower_events", f"room {room_id!r}: event {sequence}, delivered, is missing")
        return self._blob("follower_events", (room_id, sequence), found[0][0])

    def last_in_inbox(self, client: str, room_id: str, upto: int) -> int:
        """The sequence of the client's last event in the room at or before `upto` (0:
        none), read backwards a page at a time."""
        check_text("client", client)
        check_int("upto", upto)
        for opened, last in reversed(self._spans(client, room_id)):
            before = min(upto, last) + 1
            while before > opened + 1:
                page = self._events(room_id, client, opened, before, _PAGE, True)
                for sequence, _, audience in page:
                    if self._for(client, room_id, sequence, audience):
                        return int(sequence)
                before = page[-1][0]
        return 0

    def _spans(self, client: str, room_id: str) -> list[tuple[int, int]]:
        """The client's cursors in the room, in order: (after which its inbox opened,
        where it closed or what is delivered). A few: one per time it was added."""
        check_text("room_id", room_id)
        return self._read(
            "SELECT c.opened, min(coalesce(c.closed, r.delivered_upto), r.delivered_upto) FROM follower_cursors AS c "
            "JOIN follower_rooms AS r USING (room_id) WHERE c.room_id = ? AND c.client = ? ORDER BY c.opened",
            (room_id, client),
        )

    def _events(self, room_id: str, client: str, low: int, high: int, limit: int, descending: bool) -> list[Any]:
        """Up to `limit` of the room's events with low < sequence < high, going up or
        down: they are consecutive, so a missing one is found (damage)."""
        rows = self._read(
            "SELECT sequence, body, audience FROM follower_events WHERE room_id = ? AND sequence > ? AND sequence < ? "
            f"ORDER BY sequence {'DESC' if descending else 'ASC'} LIMIT ?",
            (room_id, low, high, limit),
        )
        first, step = (high - 1, -1) if descending else (low + 1, 1)
        for i in range(min(limit, high - low - 1)):
            if i >= len(rows) or rows[i][0] != first + i * step:
                self.damaged("follower_events", f"room {room_id!r}: event {first + i * step} of {client}'s inbox is missing")
        return rows

    def _for(self, client: str, room_id: str, sequence: int, audience: str | None) -> bool:
        """Whether the event went to `client`, one of the room's clients receiving then."""
        if audience is None:
            return True
        kind, clients = self.decoded("follower_events", (room_id, sequence), _audience, audience)
        return (client in clients) == (kind == "only")

    def inbox(self, client: str, room_id: str, after: int, page: int = 1_000) -> Iterator[InboxEvent]:
        """Every one of the client's events in the room with sequence > `after`, in
        order, read `page` at a time (memory bounded by a page, not by the inbox)."""
        return paged(partial(self.fetch_inbox, client, room_id), after, page)

    def _upto(self, room_id: str) -> tuple[int, int]:
        """(start, delivered_upto) of a followed room, whose events up to delivered_upto
        are stored: the last of them must be there (else the log lost its tail)."""
        row = self._db.execute(
            "SELECT start, delivered_upto, delivered_upto = start OR EXISTS ("
            " SELECT 1 FROM follower_events AS e WHERE e.room_id = r.room_id AND e.sequence = r.delivered_upto)"
            " FROM follower_rooms AS r WHERE room_id = ?",
            (room_id,),
        ).fetchone()
        if row is None:
            fail(f"{self.path}: room {room_id!r} is not followed; follow_room first")
        start, upto, stored = row
        if not stored:
            self.damaged("follower_events", f"room {room_id!r}: event {upto}, delivered, is missing")
        return start, upto
