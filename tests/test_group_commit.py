"""Group commit: concurrent `/submitMessage` calls share one durable commit, each
caller gets its own answer, and a failed commit acknowledges nothing and leaves
the hub as it was logged."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content
from mimi.actors.group_commit import GroupCommit
from mimi.actors.hub import RoomHub
from mimi.errors import MimiError, StorageError
from mimi.logic.client import ClientSession, commit_bundle
from netsim import Wire, hosted_room

# -- GroupCommit alone -------------------------------------------------------------------


class Gate:
    """A `process` that holds its first batch until released, so the calls made
    meanwhile queue up behind it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if any(i < 0 for i in items):
            raise ValueError(f"negative item in {list(items)}")
        return [i * 10 for i in items]


def run_queued(commit: GroupCommit[int, int], gate: Gate, first: int, others: list[int]) -> list[Any]:
    """`first` leads a batch that is held; `others` queue meanwhile; then release."""
    with ThreadPoolExecutor(len(others) + 1) as pool:
        lead = pool.submit(commit.call, first)
        assert gate.entered.wait(10)
        queued = [pool.submit(commit.call, i) for i in others]
        while len(commit._queue) < len(others):  # bounded by the futures' own progress
            threading.Event().wait(0.001)
        gate.release.set()
        results: list[Any] = []
        for f in [lead, *queued]:
            try:
                results.append(f.result(timeout=10))
            except ValueError as err:
                results.append(err)
        return results


def test_calls_made_during_a_commit_share_the_next_one() -> None:
    gate = Gate()
    commit = GroupCommit(gate)
    assert run_queued(commit, gate, 1, [2, 3, 4, 5]) == [10, 20, 30, 40, 50]
    assert gate.batches[0] == [1]
    assert sorted(gate.batches[1]) == [2, 3, 4, 5]  # one batch for the four that waited
    assert (commit.batches, commit.items) == (2, 5)
    assert commit.call(6) == 60  # alone: a batch of one, nothing to wait for
    assert gate.batches[-1] == [6]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_works() -> None:
    gate = Gate()
    commit = GroupCommit(gate)
    results = run_queued(commit, gate, 1, [2, -3])
    assert results[0] == 10
    assert all(isinstance(r, ValueError) and "negative item" in str(r) for r in results[1:])
    assert commit.call(7) == 70


def test_an_answer_count_mismatch_is_an_error_not_a_wrong_answer() -> None:
    commit: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 answers for 1 items"):
        commit.call(1)


# -- in a RoomHub ------------------------------------------------------------------------

HUB = "mimi://y.example"
ROOM = f"{HUB}/r/group-commit"
SENDER_PROVIDER = "mimi://x.example"


@pytest.fixture
def hub(tmp_path: Path) -> tuple[RoomHub, ClientSession, Wire]:
    return hosted_room(tmp_path, ROOM)


def bodies(sender: ClientSession, n: int) -> list[bytes]:
    return [sender.send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(n)]


def logged(hub: RoomHub) -> list[int]:
    return [sequence for sequence, _, _ in hub.events(ROOM, 0, 1000)]


def test_concurrent_submits_are_all_logged_in_order_and_answered(hub) -> None:  # type: ignore[no-untyped-def]
    hub, sender, _transport = hub
    sent = bodies(sender, 40)
    before = logged(hub)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: hub.submit(ROOM, SENDER_PROVIDER, b, 2), sent))
    assert {_core.SubmitMessageResponse.decode(a).status for a in answers} == {"accepted"}
    after = logged(hub)
    assert after[: len(before)] == before
    assert after[len(before):] == list(range(before[-1] + 1, before[-1] + 41))
    # Every accepted message reaches the sender's provider exactly once.
    fanned = [m for sequence, _, m in hub.events(ROOM, before[-1], 1000)]
    assert sorted(_core.FanoutMessage.decode(m).message for m in fanned) == sorted(
        _core.SubmitMessageRequest.decode(b).app_message for b in sent
    )
    stats = hub.stats()
    assert stats["submit_calls"] == 40 and 1 <= stats["submit_batches"] <= 40


def test_a_bad_room_in_a_batch_fails_only_its_caller(hub) -> None:  # type: ignore[no-untyped-def]
    hub, sender, _ = hub
    good = bodies(sender, 2)
    answers = hub._submit_batch(
        [
            hub_submission(good[0]),
            hub_submission(b"", room=f"{HUB}/r/elsewhere"),
            hub_submission(good[1]),
        ]
    )
    assert isinstance(answers[1], MimiError) and "no such room" in str(answers[1])
    assert [_core.SubmitMessageResponse.decode(a).status for a in (answers[0], answers[2])] == ["accepted", "accepted"]
    with pytest.raises(MimiError, match="no such room"):
        hub.submit(f"{HUB}/r/elsewhere", SENDER_PROVIDER, good[0], 3)


def hub_submission(body: bytes, room: str = ROOM) -> Any:
    from mimi.actors.hub import Submission

    return Submission(room, SENDER_PROVIDER, body, 3)


@contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, hub: RoomHub) -> Iterator[None]:
    """The block's writes to the hub's log fail as on a full disk; it must raise that."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise StorageError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(hub.store, "append_events", refuse)
        with pytest.raises(StorageError, match="disk is full"):
            yield


def test_a_failed_commit_acknowledges_nothing_and_changes_nothing(hub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hub, sender, transport = hub
    before_log, before_notified = logged(hub), len(transport.sent)
    first, second = bodies(sender, 2)

    with disk_full(monkeypatch, hub):
        hub.submit(ROOM, SENDER_PROVIDER, first, 4)
    assert logged(hub) == before_log
    assert len(transport.sent) == before_notified
    # The retry of the unacknowledged message is accepted (not answered from a
    # cache of a commit that never happened) and takes the next sequence.
    assert _core.SubmitMessageResponse.decode(hub.submit(ROOM, SENDER_PROVIDER, first, 5)).status == "accepted"
    assert _core.SubmitMessageResponse.decode(hub.submit(ROOM, SENDER_PROVIDER, second, 5)).status == "accepted"
    assert logged(hub) == [*before_log, before_log[-1] + 1, before_log[-1] + 2]


def test_a_commit_the_database_refuses_leaves_the_hub_in_its_epoch(hub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hub, sender, _transport = hub
    epoch, before_log = hub.rooms[ROOM].view.epoch, logged(hub)
    body = commit_bundle(sender.commit(ROOM, force_path=True))

    with disk_full(monkeypatch, hub):
        hub.update(ROOM, SENDER_PROVIDER, body, 6)
    assert hub.rooms[ROOM].view.epoch == epoch
    assert logged(hub) == before_log
    # Not acknowledged, so the committer sends it again; now it is taken.
    assert _core.UpdateResponse.decode(hub.update(ROOM, SENDER_PROVIDER, body, 7)).response_code == "success"
    assert hub.rooms[ROOM].view.epoch == epoch + 1
    assert logged(hub) == [*before_log, before_log[-1] + 1]
