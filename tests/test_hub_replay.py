"""Replays at the hub, however late: a `/submitMessage` or `/update` body accepted
before is answered as it was then and is neither sequenced nor fanned out again,
after 10,000 other messages and after a restart. The answers of a room's epoch
stay in memory up to `RoomHub.UNINDEXED`, then go to the database's index; a
restart reads back only those not indexed; a commit drops them all (no message
of an ended epoch can be accepted again)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from mimi import _core, content
from mimi.actors.hub import RoomHub
from mimi.logic.client import ClientSession, commit_bundle, proposal_bundle
from mimi.logic.hub import HubRoom
from mimi.storage import HubStore
from netsim import HUB, Wire, hosted_room, hub_log

ROOM = f"{HUB}/r/replays"
PROVIDER = "mimi://x.example"


def send(sender: ClientSession, count: int, text: str = "m") -> list[bytes]:
    return [sender.send(ROOM, content.message(content.text_part(f"{text}{i}")))[0] for i in range(count)]


def logged(hub: RoomHub) -> list[int]:
    return [sequence for sequence, _, _ in hub_log(hub, ROOM)]


def settled(hub: RoomHub) -> None:
    """Waits until the followers acknowledged every event (the hub's pump thread sends
    what its window held back from the log meanwhile)."""
    for _ in range(1_000):
        if all(lag.pending == 0 for lag in hub.lag().values()):
            return
        time.sleep(0.01)
    raise AssertionError(f"the followers are still behind: {hub.lag()}")


def indexed(hub: RoomHub) -> int:
    """How many answers the hub's database keeps for the room."""
    with sqlite3.connect(hub.path) as db:
        (count,) = db.execute("SELECT count(*) FROM hub_answers WHERE room_id = ?", (ROOM,)).fetchone()
    db.close()
    return int(count)


def status(answer: bytes) -> str:
    return str(_core.SubmitMessageResponse.decode(answer).status)


@pytest.mark.parametrize("unindexed", [RoomHub.UNINDEXED, 1_000], ids=["in memory", "in the index"])
def test_a_replay_after_10000_submissions_and_a_restart_is_answered_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unindexed: int
) -> None:
    monkeypatch.setattr(RoomHub, "UNINDEXED", unindexed)
    hub, sender, wire = hosted_room(tmp_path, ROOM)
    (first,) = send(sender, 1, "first")
    answer = hub.submit(ROOM, PROVIDER, first, 10)
    assert status(answer) == "accepted"
    others = send(sender, 10_000)
    for i in range(0, len(others), 500):
        others_answers = hub.submit_many(ROOM, PROVIDER, others[i : i + 500], 11)
        assert {status(a) for a in others_answers} == {"accepted"}
    memory = hub.rooms[ROOM]
    assert len(memory.unindexed) <= unindexed and len(memory.answered) <= HubRoom.REMEMBERED  # bounded
    assert (indexed(hub) > 0) == (unindexed < 10_000) == (ROOM in hub.indexed)
    settled(hub)
    log, notified, accepted = logged(hub), len(wire.sent), hub.accepted

    assert hub.submit(ROOM, PROVIDER, first, 12) == answer
    assert (logged(hub), len(wire.sent), hub.accepted) == (log, notified, accepted)
    # In a batch with new messages: those are sequenced, the replay is not.
    new = send(sender, 2, "new")
    answers = hub.submit_many(ROOM, PROVIDER, [new[0], first, new[1]], 13)
    assert answers[1] == answer and [status(a) for a in (answers[0], answers[2])] == ["accepted"] * 2
    assert [_core.FanoutMessage.decode(m).message for _, _, m in hub.events(ROOM, log[-1], 10)] == [
        _core.SubmitMessageRequest.decode(b).app_message for b in new
    ]
    log = logged(hub)

    restarted_wire = Wire()
    restarted = RoomHub(HUB, str(tmp_path), restarted_wire)
    assert len(restarted.rooms[ROOM].unindexed) <= unindexed  # the log read back: the answers not indexed
    assert restarted.submit(ROOM, PROVIDER, first, 14) == answer
    assert restarted.submit_many(ROOM, PROVIDER, [*new, *others[-3:]], 14) == [answers[0], answers[2], *others_answers[-3:]]
    assert logged(restarted) == log and restarted.accepted == 0
    # A restarted hub resends what its followers had not acknowledged (from their saved
    # cursors, on its pump thread), and nothing past the log: no replay is fanned out.
    assert all(max(n.sequences) <= log[-1] for _, n in restarted_wire.sent)


def test_a_replayed_leave_after_a_restart_is_answered_as_before(tmp_path: Path) -> None:
    hub, sender, _ = hosted_room(tmp_path, ROOM)
    leave = proposal_bundle(sender.propose_leave(ROOM))
    answer = hub.update(ROOM, PROVIDER, leave, 20)
    assert _core.UpdateResponse.decode(answer).response_code == "success"
    log = logged(hub)

    restarted = RoomHub(HUB, str(tmp_path), Wire())
    assert restarted.update(ROOM, PROVIDER, leave, 21) == answer
    assert logged(restarted) == log and restarted.accepted == 0


def test_a_commit_drops_the_answers_of_the_epoch_it_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded by epoch: a message of an ended epoch cannot be accepted again, so its
    answer stops nothing; a late replay of it gets its first answer while memory keeps
    it (`HubRoom.REMEMBERED`), else epochTooOld, and is never sequenced."""
    monkeypatch.setattr(RoomHub, "UNINDEXED", 2)
    hub, sender, _ = hosted_room(tmp_path, ROOM)
    old = send(sender, 3, "old")
    old_answers = hub.submit_many(ROOM, PROVIDER, old, 30)
    assert indexed(hub) == 3 and ROOM in hub.indexed

    commit = sender.commit(ROOM, force_path=True)
    assert _core.UpdateResponse.decode(hub.update(ROOM, PROVIDER, commit_bundle(commit), 31)).response_code == "success"
    sender.update_accepted(ROOM)
    assert indexed(hub) == 0 and ROOM not in hub.indexed and hub.rooms[ROOM].unindexed == {}
    new = send(sender, 2, "new")
    new_answers = hub.submit_many(ROOM, PROVIDER, new, 32)
    assert indexed(hub) == 0 and len(hub.rooms[ROOM].unindexed) == 2
    assert hub.submit(ROOM, PROVIDER, old[0], 33) == old_answers[0]
    log = logged(hub)

    restarted = RoomHub(HUB, str(tmp_path), Wire())
    assert status(restarted.submit(ROOM, PROVIDER, old[0], 34)) == "epochTooOld"
    assert restarted.submit_many(ROOM, PROVIDER, new, 34) == new_answers
    assert logged(restarted) == log and restarted.accepted == 0


def test_a_restart_reads_the_log_in_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of the log a restart makes is a page (3 events here, LOG_PAGE): the
    answers not indexed and every event the followers had not acknowledged come back
    whole across pages, each sent once, in order."""
    monkeypatch.setattr("mimi.actors.hub.LOG_PAGE", 3)
    hub, sender, _ = hosted_room(tmp_path, ROOM)
    hub.transport = Wire(answers=False)  # from here on the followers acknowledge nothing
    bodies = send(sender, 20)
    answers = [answer for i in range(0, 20, 4) for answer in hub.submit_many(ROOM, PROVIDER, bodies[i : i + 4], 40)]
    acknowledged = {d: lag.acknowledged[ROOM] for d, lag in hub.lag().items()}
    assert set(acknowledged) == {HUB, PROVIDER} and max(acknowledged.values()) < 22 and hub.rooms[ROOM].sequence == 22
    hub.store.close()

    pages: list[int] = []
    read = HubStore.events_since
    monkeypatch.setattr(HubStore, "events_since", lambda store, *page: pages.append(page[-1]) or read(store, *page))
    wire = Wire()
    restarted = RoomHub(HUB, str(tmp_path), wire)
    settled(restarted)
    assert len(pages) > 20 // 3 and max(pages) <= 3
    log = restarted.events(ROOM, 0, 100)
    for destination, last in acknowledged.items():
        resent = [s for d, notify in wire.sent if d == destination for s in notify.sequences]
        assert resent == [s for s, destinations, _ in log if s > last and destination in destinations]
        assert resent[-1] == 22
    assert restarted.submit_many(ROOM, PROVIDER, bodies, 41) == answers
    assert logged(restarted) == list(range(1, 23)) and restarted.accepted == 0
