"""The hub's rooms: state blob, event log and the answers given; the hub's own keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    routes, cached proposals), the event log with its per-room sequence (1, 2,
    3, ...; the room's row records the last, so rows lost from the log are
    refused, never read as a shorter log), and an index of the answers given
    in its current epoch (those of the messages after `indexed_upto` are only
    in the log). Persist a commit's state and its events atomically::

        with hub.transaction():
            hub.save_state(room, state)
            hub.append_events(room, events)
            hub.drop_answers(room, last)  # the commit ended the epoch

    Per room and destination follower, a cursor: the last sequence it acknowledged,
    how many events for it are logged after that one, and the last logged for it.
    """

    schema = SERVER
    checked = ("hub_rooms", "hub_secrets", "hub_cursors")

    def save_secret(self, name: str, value: bytes) -> None:
        """A key of the hub itself (its external-sender signature key), by name."""
        check_text("name", name)
        check_bytes("value", value)
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO hub_secrets (name, value) VALUES (?, ?)", (name, value))

    def load_secret(self, name: str) -> bytes | None:
        rows = self._read("SELECT value FROM hub_secrets WHERE name = ?", (check_text("name", name),))
        return self._blob("hub_secrets", name, rows[0][0]) if rows else None

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
        """Every room this hub holds, sorted (refused if the log holds a room that is not)."""
        self._orphans("hub_events", "hub_rooms")
        return [r[0] for r in self._read("SELECT room_id FROM hub_rooms ORDER BY room_id")]

    def append_events(self, room_id: str, events: Sequence[LogEvent]) -> int:
        """Append `events` to the room's log in one commit; returns the last sequence.

        The sequences must continue the log without a gap (the first event of a
        room is 1): a hub never renumbers, so a mismatch is a bug or a second
        writer, refused whole. The room must have a state (`save_state`).
        """
        check_text("room_id", room_id)
        with self.transaction():
            logged = self._logged(room_id)
            if logged is None:
                fail(f"{self.path}: room {room_id!r} has no state; save_state first")
            last = logged
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
            if last != logged:
                self._db.execute("UPDATE hub_rooms SET sequence = ? WHERE room_id = ?", (last, room_id))
        return last

    def last_sequence(self, room_id: str) -> int:
        """The room's last event sequence; 0 before its first event."""
        check_text("room_id", room_id)
        with self._reading():
            return self._logged(room_id) or 0

    def events_since(self, room_id: str, after: int, limit: int) -> list[LogEvent]:
        """Up to `limit` events of the room with sequence > `after`, in order.

        The page must continue the log without a gap up to its recorded end: a
        row lost from the log is refused (StorageError), not skipped."""
        check_text("room_id", room_id)
        with self._reading():
            logged = self._logged(room_id) or 0  # before the page: appends only raise it
        rows = self._page("sequence, accepted_timestamp, body", "hub_events", room_id, after, limit)
        if len(rows) < min(limit, logged - after) or any(row[0] != after + i for i, row in enumerate(rows, 1)):
            self.damaged("hub_events", f"room {room_id!r}: events missing after sequence {after} (logged up to {logged})")
        return [LogEvent(*row) for row in rows]

    def pages(self, room_id: str, after: int, size: int) -> Iterator[list[LogEvent]]:
        """The room's log after `after` to its end, `events_since` one page of at most
        `size` events at a time: memory holds a page, however long the log."""
        while page := self.events_since(room_id, after, size):
            yield page
            after = page[-1].sequence

    def answers(self, room_id: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The answers the room's index holds for `keys` (those it holds)."""
        check_text("room_id", room_id)
        check_many("keys", keys)
        found: dict[bytes, bytes] = {}
        for first in range(0, len(keys), 500):  # 500 parameters a query, well under SQLite's limit
            chunk = [check_bytes("key", key) for key in keys[first : first + 500]]
            for key, answer in self._read(
                f"SELECT key, answer FROM hub_answers WHERE room_id = ? AND key IN ({', '.join('?' * len(chunk))})",
                (room_id, *chunk),
            ):
                found[key] = self._blob("hub_answers", (room_id, key), answer)
        return found

    def index_answers(self, room_id: str, answers: Sequence[tuple[bytes, bytes]], upto: int) -> None:
        """Keep (key, answer) pairs of messages of the room's current epoch logged up to
        sequence `upto`, the answers given to them (a key indexed already is refused).

        Memory holds the latest answers; the caller moves them here in batches (the
        keys are random: sorted, a batch touches each page of the index once)."""
        check_text("room_id", room_id)
        check_many("answers", answers)
        check_int("upto", upto)
        try:  # checked in bulk: a batch is many thousands
            rows = sorted((room_id, key, answer) for key, answer in answers)
        except (TypeError, ValueError) as exc:
            fail(f"answers must be (key, answer) pairs: {exc}")
        if not all(type(key) is bytes and type(answer) is bytes for _, key, answer in rows):
            fail("answers must be pairs of bytes")
        with self.transaction():
            self._db.executemany("INSERT INTO hub_answers (room_id, key, answer) VALUES (?, ?, ?)", rows)
            self._indexed(room_id, upto)

    def drop_answers(self, room_id: str, upto: int) -> None:
        """The room's epoch ended at sequence `upto`: no message of it can be accepted
        again, so its answers stop nothing (this bounds the index by the epoch)."""
        check_text("room_id", room_id)
        check_int("upto", upto)
        with self.transaction():
            self._db.execute("DELETE FROM hub_answers WHERE room_id = ?", (room_id,))
            self._indexed(room_id, upto)

    def answers_indexed(self, room_id: str) -> tuple[int, bool]:
        """(the sequence up to which the room's answers are indexed or of a past epoch,
        whether the index holds any of them)."""
        check_text("room_id", room_id)
        rows = self._read(
            "SELECT indexed_upto, sequence, EXISTS (SELECT 1 FROM hub_answers WHERE room_id = ?1) "
            "FROM hub_rooms WHERE room_id = ?1",
            (room_id,),
        )
        if not rows:
            fail(f"{self.path}: room {room_id!r} has no state")
        upto, logged, indexed = rows[0]
        if upto > logged:  # written with the log rows it counts: past them is damage
            self.damaged("hub_rooms", f"room {room_id!r}: answers indexed up to {upto}, the log ends at {logged}")
        return int(upto), bool(indexed)

    def _indexed(self, room_id: str, upto: int) -> None:
        logged = self._logged(room_id)
        if logged is None or upto > logged:
            fail(f"{self.path}: room {room_id!r}: answers up to {upto}, but the log ends at {logged}")
        self._db.execute("UPDATE hub_rooms SET indexed_upto = ? WHERE room_id = ?", (upto, room_id))

    def _logged(self, room_id: str) -> int | None:
        """The room's recorded last sequence (None: no such room), checked against its log."""
        recorded, found = self._db.execute(
            "SELECT (SELECT sequence FROM hub_rooms WHERE room_id = ?1), "
            "(SELECT max(sequence) FROM hub_events WHERE room_id = ?1)",
            (room_id,),
        ).fetchone()
        if recorded is None:
            if found is not None:
                self.damaged("hub_rooms", f"room {room_id!r} has events but no row")
            return None
        if (found or 0) != recorded:
            self.damaged("hub_events", f"room {room_id!r}: the log ends at {found or 0}, {recorded} were logged")
        return int(recorded)

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
        """Every saved cursor, by room and destination: one row per pair, not per event.

        A cursor is saved with the log rows it counts, so one of a room this hub does
        not hold, past the room's recorded log end, or counting more events than it
        spans is damage (StorageError), never a place to resume from."""
        self._orphans("hub_cursors", "hub_rooms")
        rows = self._read(
            "SELECT c.room_id, c.destination, c.acknowledged, c.pending, c.last, r.sequence "
            "FROM hub_cursors AS c JOIN hub_rooms AS r USING (room_id) ORDER BY c.room_id, c.destination"
        )
        for room_id, destination, acknowledged, pending, last, logged in rows:
            if last > logged or pending > last - acknowledged:
                self.damaged(
                    "hub_cursors",
                    f"room {room_id!r} to {destination!r}: {pending} pending in ({acknowledged}, {last}], "
                    f"the log ends at {logged}",
                )
        return [tuple(row[:5]) for row in rows]
