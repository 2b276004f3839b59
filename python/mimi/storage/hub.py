"""The hub's rooms: state blob and event log; the hub's own keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from mimi.storage._base import SqliteStore, check_bytes, check_int, check_many, check_text, check_tuple, fail
from mimi.storage.schema import SERVER


class LogEvent(NamedTuple):
    """One accepted event of a room's log, as the hub stamped it.

    A tuple, so a batch goes to ``executemany`` without copying into objects.
    """

    sequence: int
    accepted_timestamp: int
    body: bytes


# A follower's place in a room's log: (room_id, destination, acknowledged, pending, last).
CursorRow = tuple[str, str, int, int, int]


class HubStore(SqliteStore):
    """Durable state of the rooms this server is the hub of.

    Per room: an opaque state blob (`HubRoom.export`: the MLS hub view, Welcome
    routes, cached proposals, answers given) and the event log with its per-room
    sequence (1, 2, 3, ...). Persist a commit's state and its events atomically::

        with hub.transaction():
            hub.save_state(room, state)
            hub.append_events(room, events)

    Per room and destination follower, a cursor: the last sequence it acknowledged,
    how many events for it are logged after that one, and the last logged for it.
    """

    schema = SERVER

    def save_secret(self, name: str, value: bytes) -> None:
        """A key of the hub itself (its external-sender signature key), by name."""
        check_text("name", name)
        check_bytes("value", value)
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO hub_secrets (name, value) VALUES (?, ?)", (name, value))

    def load_secret(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM hub_secrets WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def save_state(self, room_id: str, state: bytes) -> None:
        """Replace the room's state blob (creating the room)."""
        check_text("room_id", room_id)
        check_bytes("state", state)
        with self.transaction():
            self._db.execute(
                "INSERT INTO hub_rooms (room_id, state) VALUES (?, ?) "
                "ON CONFLICT (room_id) DO UPDATE SET state = excluded.state",
                (room_id, state),
            )

    def load_state(self, room_id: str) -> bytes | None:
        """The room's state blob, or None for a room this hub does not hold."""
        check_text("room_id", room_id)
        rows = self._read("SELECT state FROM hub_rooms WHERE room_id = ?", (room_id,))
        return rows[0][0] if rows else None

    def rooms(self) -> list[str]:
        """Every room this hub holds, sorted."""
        return [r[0] for r in self._read("SELECT room_id FROM hub_rooms ORDER BY room_id")]

    def append_events(self, room_id: str, events: Sequence[LogEvent]) -> int:
        """Append `events` to the room's log in one commit; returns the last sequence.

        The sequences must continue the log without a gap (the first event of a
        room is 1): a hub never renumbers, so a mismatch is a bug or a second
        writer, refused whole. The room must have a state (`save_state`).
        """
        check_text("room_id", room_id)
        with self.transaction():
            found = self._db.execute(
                "SELECT (SELECT max(sequence) FROM hub_events WHERE room_id = ?1) "
                "FROM hub_rooms WHERE room_id = ?1",
                (room_id,),
            ).fetchone()
            if found is None:
                fail(f"{self.path}: room {room_id!r} has no state; save_state first")
            last: int = found[0] or 0
            rows = []
            for event in events:
                sequence, accepted_timestamp, body = check_tuple("event", event, 3)
                last += 1
                if type(sequence) is not int or sequence != last:
                    fail(f"room {room_id!r}: event sequence {sequence!r} where {last} is next")
                check_int("accepted_timestamp", accepted_timestamp)
                check_bytes("body", body)
                rows.append((room_id, sequence, accepted_timestamp, body))
            self._db.executemany(
                "INSERT INTO hub_events (room_id, sequence, accepted_timestamp, body) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
        return last

    def last_sequence(self, room_id: str) -> int:
        """The room's last event sequence; 0 before its first event."""
        check_text("room_id", room_id)
        rows = self._read("SELECT max(sequence) FROM hub_events WHERE room_id = ?", (room_id,))
        return rows[0][0] or 0

    def events_since(self, room_id: str, after: int, limit: int) -> list[LogEvent]:
        """Up to `limit` events of the room with sequence > `after`, in order."""
        rows = self._page("sequence, accepted_timestamp, body", "hub_events", room_id, after, limit)
        return [LogEvent(*row) for row in rows]

    def save_cursors(self, cursors: Sequence[CursorRow]) -> None:
        """Replace the cursors of these (room, destination) pairs, in one commit."""
        check_many("cursors", cursors)
        rows = []
        for cursor in cursors:
            room_id, destination, acknowledged, pending, last = check_tuple("cursor", cursor, 5)
            check_text("room_id", room_id)
            check_text("destination", destination)
            rows.append((room_id, destination, check_int("acknowledged", acknowledged),
                         check_int("pending", pending), check_int("last", last, acknowledged)))
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO hub_cursors (room_id, destination, acknowledged, pending, last) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def cursors(self) -> list[CursorRow]:
        """Every saved cursor, by room and destination: one row per pair, not per event."""
        rows = self._read("SELECT room_id, destination, acknowledged, pending, last FROM hub_cursors ORDER BY room_id, destination")
        return [tuple(row) for row in rows]
