"""Folding MIMI content into a room history: edits, deletes, reactions, unlikes, expiry."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mimi.content import Expiration, decode, encode, message_id
from mimi.content.builders import delete, edit, markdown_part, message, reaction, text_part, unlike
from mimi.content.history import Change, RoomHistory

ALICE = "mimi://example.com/u/alice-smith"
BOB = "mimi://example.com/u/bob-jones"
CATHY = "mimi://example.com/u/cathy-washington"
ROOM = "mimi://example.com/r/engineering_team"
T0 = 1644387225019  # the draft's hub accepted timestamp, ms


@pytest.fixture
def draft(vectors: Path) -> dict[str, tuple[bytes, str]]:
    entries = json.loads((vectors / "mimi-content" / "inputs.json").read_text())
    return {e["name"]: ((vectors / "mimi-content" / e["file"]).read_bytes(), e["sender_uri"]) for e in entries}


def fold(history: RoomHistory, draft: dict[str, tuple[bytes, str]], *names: str) -> list[Change]:
    changes = []
    for step, name in enumerate(names):
        data, sender = draft[name]
        changes.append(history.receive_bytes(data, sender_uri=sender, accepted_at=T0 + step).change)
    return changes


def ids(history: RoomHistory, now: int = 0) -> list[bytes]:
    return [entry.message_id for entry in history.messages(now)]


def test_the_draft_conversation(draft: dict[str, tuple[bytes, str]]) -> None:
    history = RoomHistory(ROOM)
    original_id = message_id(draft["original"][0], ALICE, ROOM)
    reply_id = message_id(draft["reply"][0], BOB, ROOM)
    assert fold(history, draft, "original", "reply", "reaction", "mention") == [
        Change.ADDED, Change.ADDED, Change.REACTED, Change.ADDED
    ]  # fmt: skip
    original = history.get(original_id)
    assert original is not None
    assert original.reactions_by_sender() == {CATHY: (decode(draft["reaction"][0]).nested_part,)}
    assert len(ids(history)) == 3  # the reaction is not a message of its own

    assert fold(history, draft, "edit") == [Change.EDITED]
    edited = history.get(reply_id)
    assert edited is not None and edited.edited
    assert edited.content.nested_part == markdown_part("Right on! _Congratulations_ y'all!")
    assert edited.content.salt == decode(draft["reply"][0]).salt  # only the body changes

    assert fold(history, draft, "unlike") == [Change.UNREACTED]
    assert history.get(original_id) == replace(original, reactions=())

    assert fold(history, draft, "delete") == [Change.DELETED]
    assert history.get(reply_id) is None
    assert reply_id not in ids(history)
    assert ids(history)[0] == original_id


def test_only_the_sender_may_edit_or_delete(draft: dict[str, tuple[bytes, str]]) -> None:
    history = RoomHistory(ROOM)
    fold(history, draft, "original", "reply")
    reply_id = message_id(draft["reply"][0], BOB, ROOM)
    data, _ = draft["edit"]
    applied = history.receive_bytes(data, sender_uri=CATHY, accepted_at=T0 + 5)
    assert applied.change is Change.IGNORED and "original sender" in applied.reason
    entry = history.get(reply_id)
    assert entry is not None and not entry.edited
    assert history.receive_bytes(draft["delete"][0], sender_uri=ALICE, accepted_at=T0 + 6).change is Change.IGNORED
    assert history.get(reply_id) is not None


def test_reactions_aggregate_per_sender_and_unlike_removes_one() -> None:
    history = RoomHistory(ROOM)
    post = message(text_part("lunch?"), salt=bytes(16))
    post_id = message_id(encode(post), ALICE, ROOM)
    history.receive(post, post_id, ALICE, T0)
    reactions = []
    for step, (sender, emoji) in enumerate([(CATHY, "\u2764"), (CATHY, "\u2764"), (CATHY, "\U0001f389"), (BOB, "\u2764")]):
        content = reaction(post_id, emoji, salt=bytes([step + 1]) * 16)
        reactions.append((content, message_id(encode(content), sender, ROOM)))
        assert history.receive(content, reactions[-1][1], sender, T0 + step + 1).change is Change.REACTED
    entry = history.get(post_id)
    assert entry is not None
    heart, party = text_part("\u2764", disposition=2), text_part("\U0001f389", disposition=2)
    assert entry.reactions_by_sender() == {CATHY: (heart, party), BOB: (heart,)}
    # Bob cannot take back Cathy's reaction; Cathy can.
    cathy_party, party_id = reactions[2]
    undo = unlike(cathy_party, party_id, salt=bytes([9]) * 16)
    assert history.receive(undo, b"\x01" + bytes(31), BOB, T0 + 9).change is Change.IGNORED
    assert history.receive(undo, b"\x01" + b"\x02" * 31, CATHY, T0 + 9).change is Change.UNREACTED
    entry = history.get(post_id)
    assert entry is not None and entry.reactions_by_sender() == {CATHY: (heart,), BOB: (heart,)}


def test_expiry_absolute_and_relative() -> None:
    history = RoomHistory(ROOM)
    at = message(text_part("gone at noon"), salt=bytes(16), expires=Expiration.at(1_700_000_000))
    after = message(text_part("gone 30 s after reading"), salt=b"\x01" * 16, expires=Expiration.after_read(30))
    kept = message(text_part("stays"), salt=b"\x02" * 16)
    at_id, after_id, kept_id = (message_id(encode(c), ALICE, ROOM) for c in (at, after, kept))
    for step, (content, mid) in enumerate([(at, at_id), (after, after_id), (kept, kept_id)]):
        history.receive(content, mid, ALICE, T0 + step)
    assert set(ids(history, 1_699_999_999)) == {at_id, after_id, kept_id}
    assert set(ids(history, 1_700_000_000)) == {after_id, kept_id}
    # Unread, a relative expiry never starts.
    assert set(ids(history, 2_000_000_000)) == {after_id, kept_id}
    history.mark_read(after_id, 1_700_000_100)
    assert set(ids(history, 1_700_000_129)) == {after_id, kept_id}
    assert set(ids(history, 1_700_000_130)) == {kept_id}
    assert sorted(history.expire(1_700_000_130)) == sorted([at_id, after_id])
    assert [e.message_id for e in history] == [kept_id]


def test_edits_chain_to_the_first_instance_and_duplicates_are_ignored() -> None:
    history = RoomHistory(ROOM)
    first = message(text_part("v1"), salt=bytes(16))
    first_id = message_id(encode(first), BOB, ROOM)
    second = edit(first, first_id, text_part("v2"), salt=b"\x01" * 16)
    second_id = message_id(encode(second), BOB, ROOM)
    third = edit(second, second_id, text_part("v3"), salt=b"\x02" * 16)
    third_id = message_id(encode(third), BOB, ROOM)
    assert second.replaces == third.replaces == first_id
    history.receive(first, first_id, BOB, T0)
    assert history.receive(second, second_id, BOB, T0 + 1).change is Change.EDITED
    assert history.receive(second, second_id, BOB, T0 + 1).reason == "duplicate message ID"
    assert history.receive(third, third_id, BOB, T0 + 2).change is Change.EDITED
    entry = history.get(second_id)
    assert entry is not None and entry.content.nested_part == text_part("v3")
    gone = delete(third, third_id, salt=b"\x03" * 16)
    assert history.receive(gone, message_id(encode(gone), BOB, ROOM), BOB, T0 + 3).change is Change.DELETED
    assert list(history) == []
    # A late edit of a deleted message does not bring it back.
    late = edit(third, third_id, text_part("v4"), salt=b"\x04" * 16)
    assert history.receive(late, message_id(encode(late), BOB, ROOM), BOB, T0 + 4).change is Change.IGNORED


def test_order_is_accepted_time_then_lowest_id() -> None:
    history = RoomHistory(ROOM)
    contents = [message(text_part(str(i)), salt=bytes([i]) * 16) for i in range(3)]
    mids = [message_id(encode(c), ALICE, ROOM) for c in contents]
    history.receive(contents[0], mids[0], ALICE, T0 + 10)
    history.receive(contents[1], mids[1], ALICE, T0)
    history.receive(contents[2], mids[2], ALICE, T0)
    assert ids(history) == [*sorted(mids[1:]), mids[0]]
