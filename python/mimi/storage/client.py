"""A client device's MLS state and the message history of its rooms."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import NamedTuple

from mimi.storage._base import (
    SqliteStore,
    check_bytes,
    check_int,
    check_many,
    check_text,
    check_tuple,
    fail,
    paged,
)
from mimi.storage.schema import CLIENT


class HistoryEntry(NamedTuple):
    """A message the client received and decrypted, for reloading its view of a room."""

    sequence: int
    accepted_timestamp: int
    sender: str
    content: bytes


class SentMessage(NamedTuple):
    """A message the device encrypted and has not yet seen fanned back."""

    message_id: bytes
    room_id: str
    content: bytes
    ciphertext: bytes
    attempts: int
    answered: bool  # the hub answered it


class ClientStore(SqliteStore):
    """Durable state of one client device.

    The MLS state (`mimi._core.Client.export_state()`), the history it
    decrypted and the messages it sent must agree after a restart, so save
    them in one commit::

        with store.transaction():
            store.add_messages(room, entries)
            store.save_sent(changed, gone)
            store.save_state(client.export_state())
    """

    schema = CLIENT
    checked = ("client_state", "client_history", "client_sent")  # a device reads them all at start anyway

    def save_state(self, state: bytes) -> None:
        """Replace the exported MLS state."""
        check_bytes("state", state)
        with self.transaction():
            self._db.execute(
                "INSERT INTO client_state (id, state) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                (state,),
            )

    def load_state(self) -> bytes | None:
        """The exported MLS state, or None before the first `save_state` (which the
        first history and the first sent message come with: a state missing beside
        either is damage, refused)."""
        (state, history), = self._read(
            "SELECT (SELECT state FROM client_state WHERE id = 1), "
            "EXISTS (SELECT 1 FROM client_history) OR EXISTS (SELECT 1 FROM client_sent)"
        )
        if state is None and history:
            self.damaged("client_state", "the MLS state is missing, and the history or sent messages are not")
        return None if state is None else self._blob("client_state", 1, state)

    def add_messages(self, room_id: str, messages: Sequence[HistoryEntry]) -> int:
        """Add received messages to the room's history; returns how many were new.

        A byte-identical repeat of a stored sequence is ignored; a different one
        refuses the whole batch.
        """
        check_text("room_id", room_id)
        check_many("messages", messages)
        rows = []
        for message in messages:
            sequence, accepted_timestamp, sender, content = check_tuple("message", message, 4)
            rows.append(
                (
                    room_id,
                    check_int("sequence", sequence, 1),
                    check_int("accepted_timestamp", accepted_timestamp),
                    check_text("sender", sender),
                    check_bytes("content", content),
                )
            )
        with self.transaction():
            return self._insert_once(
                "client_history",
                ("room_id", "sequence"),
                ("accepted_timestamp", "sender", "content"),
                rows,
            )

    def messages(self, room_id: str, after: int, limit: int) -> list[HistoryEntry]:
        """Up to `limit` messages of the room with sequence > `after`, in order."""
        columns = "sequence, accepted_timestamp, sender, content"
        rows = self._page(columns, "client_history", room_id, after, limit)
        return [HistoryEntry(*row) for row in rows]

    def history(self, room_id: str, page: int = 1_000) -> Iterator[HistoryEntry]:
        """Every message of the room, in order, read `page` at a time."""
        return paged(partial(self.messages, room_id), 0, page)

    def rooms(self) -> list[str]:
        """Every room with history, sorted."""
        return [r[0] for r in self._read("SELECT DISTINCT room_id FROM client_history ORDER BY room_id")]

    def save_sent(self, changed: Sequence[SentMessage], answered: Sequence[bytes], gone: Sequence[bytes]) -> None:
        """Add or update sent messages (by message ID; one keeps its place in the
        send order), mark those of the message IDs `answered`, and forget those of
        the message IDs `gone`."""
        check_many("changed", changed)
        rows = []
        for message in changed:
            message_id, room_id, content, ciphertext, attempts, is_answered = check_tuple("message", message, 6)
            if type(is_answered) is not bool:
                fail(f"answered must be a bool, got {type(is_answered).__name__}")
            rows.append(
                (
                    check_bytes("message_id", message_id),
                    check_text("room_id", room_id),
                    check_bytes("content", content),
                    check_bytes("ciphertext", ciphertext),
                    check_int("attempts", attempts, 1),
                    int(is_answered),
                )
            )
        with self.transaction():
            self._db.executemany(
                "INSERT INTO client_sent (message_id, room_id, content, ciphertext, attempts, answered) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET "
                "ciphertext = excluded.ciphertext, attempts = excluded.attempts, answered = excluded.answered",
                rows,
            )
            self._db.executemany("UPDATE client_sent SET answered = 1 WHERE message_id = ?", _ids("answered", answered))
            self._db.executemany("DELETE FROM client_sent WHERE message_id = ?", _ids("gone", gone))

    def sent(self) -> list[SentMessage]:
        """Every sent message not yet forgotten, in send order."""
        rows = self._read(
            "SELECT message_id, room_id, content, ciphertext, attempts, answered FROM client_sent ORDER BY rowid"
        )
        return [SentMessage(m, room, data, ciphertext, attempts, bool(answered)) for m, room, data, ciphertext, attempts, answered in rows]


def _ids(name: str, message_ids: Sequence[bytes]) -> list[tuple[bytes]]:
    check_many(name, message_ids)
    return [(check_bytes("message_id", m),) for m in message_ids]
