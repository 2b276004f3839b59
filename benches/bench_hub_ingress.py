"""Hub ingress: `/submitMessage` bodies validated, sequenced and durably logged.

The hub's part of the 50,000 messages/s target, in one process (no Ray): per
round, 500 bodies of 1 KiB messages through `HubRoom.submit_many` and one
`HubStore.append_events` group commit (SQLite WAL, synchronous=FULL), as
`RoomHub.submit_many` does (`mimi.actors.hub.log`): the answers stay in memory
until a room's epoch has UNINDEXED of them, then go to the index, which later
batches look up. Side by side: the hub logic alone, one `submit` call per body
against one `submit_many` call for the batch.
"""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import pytest

from mimi import _core, content
from mimi.actors.hub import RoomHub, log
from mimi.logic.client import ClientSession, commit_bundle
from mimi.logic.hub import Fanout, HubRoom
from mimi.logic.room_changes import add_users
from mimi.policy.presets import PRESETS
from mimi.storage import SERVER_CHECKPOINT_EVERY, HubStore

ROOM = "mimi://y.example/r/ingress"
PROVIDER = "mimi://x.example"
BATCH = 500
ROUNDS = 48


@pytest.fixture(scope="module")
def room() -> tuple[HubRoom, list[bytes]]:
    creator = ClientSession(_core.Client("mimi://y.example/d/carol/phone"))
    sender = ClientSession(_core.Client("mimi://x.example/d/alice/phone"))
    state = PRESETS["cooperative"].new_room(creator.user, ROOM, hub="mimi://y.example", members=[creator.uri])
    group = creator.create_room(ROOM, b"ingress", _core.SignatureKeyPair.generate().public, "mimi://y.example", state)
    hub = HubRoom.create(ROOM, "mimi://y.example", group.export_group_info(), group.export_ratchet_tree())
    out = add_users(creator, ROOM, [sender.user], sender.client.key_packages(1))
    response, _ = hub.update("mimi://y.example", commit_bundle(out), 1)
    assert _core.UpdateResponse.decode(response).response_code == "success"
    creator.update_accepted(ROOM)
    assert out.welcome is not None
    sender.rooms[ROOM] = type(creator.rooms[ROOM])(sender.client.join_welcome(out.welcome, out.ratchet_tree), content.RoomHistory(ROOM))
    # A body sent twice in an epoch is a replay: every round has its own.
    bodies = [sender.send(ROOM, content.message(content.text_part("x" * 1000)))[0] for _ in range(BATCH * (ROUNDS + 1))]
    hub.sequence = 0
    return hub, bodies


def store_for(hub: HubRoom, directory: Path, checkpoint_every: float | None) -> HubStore:
    store = HubStore(directory / "hub.sqlite3", checkpoint_every=checkpoint_every)
    store.save_state(ROOM, hub.export())
    return store


def _batches(bodies: list[bytes]) -> itertools.cycle[list[bytes]]:
    return itertools.cycle([bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)])


@pytest.mark.benchmark(group="hub ingress: logic + durable log (WAL checkpoints in the commit vs in the background)")
@pytest.mark.parametrize("checkpoints", ["in-commit", "background"])
def test_hub_ingress_submit_and_log(benchmark, room, tmp_path: Path, checkpoints: str) -> None:  # type: ignore[no-untyped-def]
    """`RoomHub` checkpoints in the background (SERVER_CHECKPOINT_EVERY); SQLite's
    default runs the checkpoint in the commit that fills ~4 MB of WAL."""
    hub, bodies = room
    hub.sequence = 0  # a fresh log per variant, answers given in none of them
    hub.unindexed.clear()
    hub.answered.clear()
    store = store_for(hub, tmp_path, SERVER_CHECKPOINT_EVERY if checkpoints == "background" else None)
    batches = _batches(bodies)
    indexed = False

    def one_batch() -> None:
        nonlocal indexed
        _responses, events = hub.submit_many(PROVIDER, next(batches), 1, partial(store.answers, ROOM) if indexed else None)
        assert len(events) == BATCH
        with store.transaction():
            indexed = log(store, hub, events, RoomHub.UNINDEXED) or indexed

    # Enough rounds to take in WAL checkpoints (one every ~4 MB, i.e. every ~6 rounds)
    # and the move of a room's answers to the index (one every UNINDEXED answers).
    benchmark.pedantic(one_batch, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["messages_per_round"] = BATCH
    benchmark.extra_info["submissions_per_second"] = BATCH / benchmark.stats.stats.mean
    benchmark.extra_info["submissions_per_second_median"] = BATCH / benchmark.stats.stats.median
    benchmark.extra_info["background_checkpoints"] = store.checkpoints
    benchmark.extra_info["answers_indexed"] = indexed
    store.close()


@pytest.mark.benchmark(group="hub ingress: submit one by one vs submit_many (logic only)")
@pytest.mark.parametrize("path", ["submit", "submit_many"])
def test_hub_ingress_logic(benchmark, room, path: str) -> None:  # type: ignore[no-untyped-def]
    hub, bodies = room
    batches = _batches(bodies)

    def one_by_one(batch: list[bytes]) -> list[Fanout]:
        events = []
        for body in batch:
            events += hub.submit(PROVIDER, body, 1)[1]
        return events

    def batched(batch: list[bytes]) -> list[Fanout]:
        return hub.submit_many(PROVIDER, batch, 1)[1]

    submit = {"submit": one_by_one, "submit_many": batched}[path]

    def one_batch() -> None:
        hub.unindexed.clear()  # the cycle repeats bodies: measure acceptance, not answers given
        assert len(submit(next(batches))) == BATCH

    benchmark.pedantic(one_batch, rounds=24, iterations=1, warmup_rounds=2)
    benchmark.extra_info["messages_per_round"] = BATCH
    benchmark.extra_info["submissions_per_second"] = BATCH / benchmark.stats.stats.mean
