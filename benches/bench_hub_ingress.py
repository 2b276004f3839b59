"""Hub ingress: `/submitMessage` bodies validated, sequenced and durably logged.

The hub's part of the 50,000 messages/s target, in one process (no Ray): per
round, 500 bodies of 1 KiB messages through `HubRoom.submit` and one
`HubStore.append_events` group commit (SQLite WAL, synchronous=FULL).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import msgpack
import pytest

from mimi import _core, content
from mimi.logic.client import ClientSession, commit_bundle
from mimi.logic.hub import HubRoom
from mimi.policy import ComponentId
from mimi.policy.presets import PRESETS
from mimi.room import ParticipantListUpdate, UserRolePair
from mimi.storage import HubStore, LogEvent

ROOM = "mimi://y.example/r/ingress"
BATCH = 500


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> tuple[HubRoom, HubStore, list[bytes]]:
    creator = ClientSession(_core.Client("mimi://y.example/d/carol/phone"))
    sender = ClientSession(_core.Client("mimi://x.example/d/alice/phone"))
    state = PRESETS["cooperative"].new_room(creator.user, ROOM, hub="mimi://y.example", members=[creator.uri])
    group = creator.create_room(ROOM, b"ingress", _core.SignatureKeyPair.generate().public, "mimi://y.example", state)
    hub = HubRoom.create(ROOM, "mimi://y.example", group.export_group_info(), group.export_ratchet_tree())
    update = ParticipantListUpdate(added_participants=(UserRolePair(sender.user, 2),))
    out = creator.commit(ROOM, sender.client.key_packages(1), app_data=[(ComponentId.participant_list, update.encode())])
    response, _ = hub.update("mimi://y.example", commit_bundle(out), 1)
    assert _core.UpdateResponse.decode(response).response_code == "success"
    creator.update_accepted(ROOM)
    assert out.welcome is not None
    sender.rooms[ROOM] = type(creator.rooms[ROOM])(sender.client.join_welcome(out.welcome, out.ratchet_tree), content.RoomHistory(ROOM))
    bodies = [sender.send(ROOM, content.message(content.text_part("x" * 1000)))[0] for _ in range(BATCH * 12)]
    store = HubStore(Path(tmp_path_factory.mktemp("hub")) / "hub.sqlite3")
    store.save_state(ROOM, hub.export())
    hub.sequence = 0
    return hub, store, bodies


def test_hub_ingress_submit_and_log(benchmark, room) -> None:  # type: ignore[no-untyped-def]
    hub, store, bodies = room
    batches = itertools.cycle([bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)])

    def one_batch() -> None:
        batch = next(batches)
        hub.answered.clear()  # the cycle repeats bodies: measure acceptance, not the retry cache
        events = []
        for body in batch:
            events += hub.submit("mimi://x.example", body, 1)[1]
        store.append_events(
            ROOM,
            [LogEvent(e.sequence, e.timestamp, bytes(msgpack.packb({"d": sorted(e.destinations), "m": e.message}))) for e in events],
        )

    benchmark.pedantic(one_batch, rounds=12, iterations=1, warmup_rounds=1)
    benchmark.extra_info["messages_per_round"] = BATCH
    benchmark.extra_info["submissions_per_second"] = BATCH / benchmark.stats.stats.mean
