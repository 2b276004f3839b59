"""The follower's side of rooms: events received from hubs and local inboxes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import NamedTuple, Protocol

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
    sequence is refused) with one inbox entry per recipient client. Events
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
    LOGIC_TABLES = ("follower_members", "follower_waiting", "follower_rooms")  # each keyed by room first

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

    def load_logic_state(self) -> FollowerState | None:
        """Every row of the follower logic's state and the hosts; None before the first
        `save_logic_state`, which comes with the first room followed (a record missing
        beside rooms, or rows of a room without its own row, is damage, refused)."""
        (record, following), = self._read(
            "SELECT (SELECT state FROM follower_logic WHERE id = 1), "
            "EXISTS (SELECT 1 FROM follower_rooms) OR EXISTS (SELECT 1 FROM follower_logic_rooms)"
        )
        if record is None and following:
            self.damaged("follower_logic", "the follower's state is missing, and it follows rooms")
        for table in self.LOGIC_TABLES:
            self._orphans(table, "follower_logic_rooms")
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

        Repeats of stored events are accepted (their recipients are added); a
        different body for a stored sequence refuses the whole batch.
        """
        check_text("room_id", room_id)
        check_many("events", events)
        with self.transaction():
            start, upto = self._upto(room_id)
            rows = []
            inbox: list[tuple[str, str, int]] = []
            for event in events:
                sequence, body, recipients = check_tuple("event", event, 3)
                if type(sequence) is not int or sequence <= start:
                    fail(f"room {room_id!r}: sequence {sequence!r} is not after the start {start}")
                rows.append((room_id, sequence, check_bytes("body", body)))
                check_many("recipients", recipients)
                inbox.extend((check_text("recipient", c), room_id, sequence) for c in recipients)
            self._insert_once("follower_events", ("room_id", "sequence"), ("body",), rows)
            self._db.executemany(
                "INSERT OR IGNORE INTO follower_inbox (client, room_id, sequence) VALUES (?, ?, ?)",
                inbox,
            )
            # The end of the run of consecutive sequences that starts at upto + 1.
            found = self._db.execute(
                "SELECT min(sequence) FROM follower_events AS e "
                "WHERE room_id = ?1 AND sequence > ?2 AND NOT EXISTS ("
                " SELECT 1 FROM follower_events WHERE room_id = ?1 AND sequence = e.sequence + 1)"
                " AND EXISTS (SELECT 1 FROM follower_events WHERE room_id = ?1 AND sequence = ?2 + 1)",
                (room_id, upto),
            ).fetchone()[0]
            if found is not None:
                upto = found
                self._db.execute(
                    "UPDATE follower_rooms SET delivered_upto = ? WHERE room_id = ?", (upto, room_id)
                )
        return upto

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
        """Up to `limit` of the client's events in the room with sequence > `after`, in order."""
        check_text("client", client)
        check_text("room_id", room_id)
        check_int("after", after)
        rows = self._read(
            "SELECT i.sequence, e.body FROM follower_inbox AS i "
            "JOIN follower_rooms AS r ON r.room_id = i.room_id "
            "LEFT JOIN follower_events AS e ON e.room_id = i.room_id AND e.sequence = i.sequence "
            "WHERE i.client = ? AND i.room_id = ? AND i.sequence > ? "
            "AND i.sequence <= r.delivered_upto ORDER BY i.sequence LIMIT ?",
            (client, room_id, after, check_limit(limit)),
        )
        for sequence, body in rows:
            if body is None:
                self.damaged("follower_events", f"room {room_id!r}: event {sequence} of {client}'s inbox is missing")
        return [InboxEvent(*row) for row in rows]

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
        """The sequence of the client's last event in the room at or before `upto` (0: none)."""
        check_text("client", client)
        check_text("room_id", room_id)
        check_int("upto", upto)
        (found,), = self._read(
            "SELECT max(sequence) FROM follower_inbox WHERE client = ? AND room_id = ? AND sequence <= ?",
            (client, room_id, upto),
        )
        return found or 0

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
