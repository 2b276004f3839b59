"""A room's message history, as a client folds received MIMI content into it.

Sans-IO: the caller passes the hub's accepted timestamp of each message and
``now`` when asking what is visible; nothing here reads a clock. Timestamps
are milliseconds (hub accepted time, §Accepted Timestamp); expiry and ``now``
are seconds since the UNIX epoch, the unit of ``expires`` (§Message Behavior
Fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum

from mimi.content.codec import Disposition, MimiContent, NestedPart, NullPart, decode, message_id


class Change(Enum):
    ADDED = "added"
    EDITED = "edited"
    DELETED = "deleted"
    REACTED = "reacted"
    UNREACTED = "unreacted"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Applied:
    """What receiving one message did; ``message_id`` is the entry it changed."""

    change: Change
    message_id: bytes
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reaction:
    message_id: bytes
    sender_uri: str
    body: NestedPart


@dataclass(frozen=True, slots=True)
class Entry:
    """One message as shown: its latest body, its reactions, when it was read."""

    message_id: bytes  # of the first instance, which edits and deletes name
    sender_uri: str
    accepted_at: int
    content: MimiContent
    edited: bool = False
    reactions: tuple[Reaction, ...] = ()
    read_at: int | None = None

    def reactions_by_sender(self) -> dict[str, tuple[NestedPart, ...]]:
        """Each sender's distinct reactions, in the order they came."""
        by_sender: dict[str, tuple[NestedPart, ...]] = {}
        for reaction in self.reactions:
            mine = by_sender.get(reaction.sender_uri, ())
            if reaction.body not in mine:
                by_sender[reaction.sender_uri] = (*mine, reaction.body)
        return by_sender

    def expired(self, now: int) -> bool:
        expires = self.content.expires
        if expires is None:
            return False
        if not expires.relative:
            return now >= expires.time
        # Relative expiry counts from when the receiver read the message.
        return self.read_at is not None and now >= self.read_at + expires.time


class RoomHistory:
    """The messages of one room, with edits, deletes, reactions and expiry applied."""

    __slots__ = ("_aliases", "_entries", "_reactions", "_seen", "room_uri")

    def __init__(self, room_uri: str) -> None:
        self.room_uri = room_uri
        self._entries: dict[bytes, Entry] = {}
        self._aliases: dict[bytes, bytes] = {}  # any version's ID -> first instance's ID
        self._reactions: dict[bytes, bytes] = {}  # reaction message ID -> reacted-to entry
        self._seen: set[bytes] = set()

    def receive_bytes(self, data: bytes, *, sender_uri: str, accepted_at: int) -> Applied:
        """Decode and fold in one ``application/mimi-content`` message."""
        content = decode(data)
        return self.receive(content, message_id(data, sender_uri, self.room_uri), sender_uri, accepted_at)

    def receive(self, content: MimiContent, message_id: bytes, sender_uri: str, accepted_at: int) -> Applied:
        # §Security Considerations: a duplicate message ID is discarded.
        if message_id in self._seen:
            return Applied(Change.IGNORED, message_id, "duplicate message ID")
        self._seen.add(message_id)
        if content.replaces is not None:
            return self._replace(content, message_id, sender_uri)
        if content.nested_part.disposition == Disposition.REACTION and content.in_reply_to is not None:
            return self._react(content, message_id, sender_uri)
        self._entries[message_id] = Entry(message_id, sender_uri, accepted_at, content)
        self._aliases[message_id] = message_id
        return Applied(Change.ADDED, message_id)

    def _react(self, content: MimiContent, reaction_id: bytes, sender_uri: str) -> Applied:
        assert content.in_reply_to is not None
        target = self._aliases.get(content.in_reply_to)
        if target is None:
            return Applied(Change.IGNORED, content.in_reply_to, "reaction to an unknown message")
        entry = self._entries[target]
        reaction = Reaction(reaction_id, sender_uri, content.nested_part)
        self._entries[target] = replace(entry, reactions=(*entry.reactions, reaction))
        self._reactions[reaction_id] = target
        return Applied(Change.REACTED, target)

    def _replace(self, content: MimiContent, new_id: bytes, sender_uri: str) -> Applied:
        assert content.replaces is not None
        deleting = isinstance(content.nested_part, NullPart)
        if content.replaces in self._reactions:
            return self._replace_reaction(content, new_id, sender_uri, deleting)
        target = self._aliases.get(content.replaces)
        if target is None:
            return Applied(Change.IGNORED, content.replaces, "replaces an unknown or removed message")
        entry = self._entries[target]
        # §Rendering and authorization of edits and deletes: only the sender.
        if entry.sender_uri != sender_uri:
            return Applied(Change.IGNORED, target, "only the original sender may edit or delete")
        if deleting:
            self._forget(target)
            return Applied(Change.DELETED, target)
        # Only the NestedPart may change; the other fields stay the original's.
        self._entries[target] = replace(entry, content=replace(entry.content, nested_part=content.nested_part), edited=True)
        self._aliases[new_id] = target
        return Applied(Change.EDITED, target)

    def _replace_reaction(self, content: MimiContent, new_id: bytes, sender_uri: str, deleting: bool) -> Applied:
        assert content.replaces is not None
        target = self._reactions[content.replaces]
        entry = self._entries[target]
        mine = [r for r in entry.reactions if r.message_id == content.replaces and r.sender_uri == sender_uri]
        if not mine:
            return Applied(Change.IGNORED, target, "only the reacting sender may change a reaction")
        kept = tuple(r for r in entry.reactions if r.message_id != content.replaces)
        del self._reactions[content.replaces]
        if deleting:
            self._entries[target] = replace(entry, reactions=kept)
            return Applied(Change.UNREACTED, target)
        self._entries[target] = replace(entry, reactions=(*kept, Reaction(new_id, sender_uri, content.nested_part)))
        self._reactions[new_id] = target
        return Applied(Change.REACTED, target)

    def _forget(self, target: bytes) -> None:
        entry = self._entries.pop(target)
        for reaction in entry.reactions:
            self._reactions.pop(reaction.message_id, None)
        self._aliases = {alias: first for alias, first in self._aliases.items() if first != target}

    def mark_read(self, message_id: bytes, now: int) -> None:
        """The local user read the message: relative expiry starts counting."""
        target = self._aliases.get(message_id)
        if target is not None and self._entries[target].read_at is None:
            self._entries[target] = replace(self._entries[target], read_at=now)

    def get(self, message_id: bytes) -> Entry | None:
        """The entry for any version's message ID, if it is still there."""
        target = self._aliases.get(message_id)
        return None if target is None else self._entries[target]

    def messages(self, now: int, topic_id: bytes | None = None) -> list[Entry]:
        """Visible messages at ``now``, by accepted time, then lowest message ID (§Topics)."""
        return sorted(
            (e for e in self._entries.values() if not e.expired(now) and topic_id in (None, e.content.topic_id)),
            key=lambda e: (e.accepted_at, e.message_id),
        )

    def expire(self, now: int) -> list[bytes]:
        """Drop the messages expired at ``now``; their IDs, e.g. for an expired status."""
        gone = [e.message_id for e in self._entries.values() if e.expired(now)]
        for target in gone:
            self._forget(target)
        return gone

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())
