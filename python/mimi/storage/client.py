"""A client device's MLS state and the message history of its rooms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from mimi.storage._base import (
    SqliteStore,
    check_bytes,
    check_int,
    check_many,
    check_text,
    check_tuple,
)
from mimi.storage.schema import CLIENT


class HistoryEntry(NamedTuple):
    """A message the client received and decrypted, for reloading its view of a room."""

    sequence: int
    accepted_timestamp: int
    sender: str
    content: bytes


class ClientStore(SqliteStore):
    """Durable state of one client device.

    The MLS state (`mimi._core.Client.export_state()`) and the history it
    decrypted must agree after a restart, so save both in one commit::

        with store.transaction():
            store.add_messages(room, entries)
            store.save_state(client.export_state())
    """

    schema = CLIENT
    checked = ("client_state", "client_history")  # a device reads all its history at start anyway

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
        first history comes with: a state missing beside history is damage, refused)."""
        (state, history), = self._read(
            "SELECT (SELECT state FROM client_state WHERE id = 1), EXISTS (SELECT 1 FROM client_history)"
        )
        if state is None and history:
            self.damaged("client_state", "the MLS state is missing, and the history is not")
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

    def rooms(self) -> list[str]:
        """Every room with history, sorted."""
        return [r[0] for r in self._read("SELECT DISTINCT room_id FROM client_history ORDER BY room_id")]
