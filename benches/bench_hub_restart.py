"""Hub restart: how long a `RoomHub` takes to open its database and be ready, with
40,000 and with 400,000 events in a room's log (docs/guarantees.md, "Servers").

Each database is built once per run, as a hub writes it: one room, 1 KiB messages
through `RoomHub.submit_many` in this process (no Ray) in batches of 500, so the
log rows, the followers' cursors and the index of answers are those of a running
hub (its followers acknowledged everything). A round is one restart: opening the
file, the room's saved state, and the answers of the epoch not indexed yet, read
back from the log's tail (`RoomHub._restore`). `extra_info.replayed` is that tail.

Before and after, one run (`docs/results.md`, "Hub restart"): this file against
another checkout's code, ``PYTHONPATH=<checkout>/python``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mimi import content
from mimi.actors.hub import RoomHub
from netsim import HUB, Wire, hosted_room

ROOM = f"{HUB}/r/restart"
PROVIDER = "mimi://x.example"
BATCH = 500


def build(directory: Path, events: int) -> Path:
    """A hub's data directory whose room has `events` events logged (and 2 more: the
    commit that added the sender and its Welcome)."""
    hub, sender, wire = hosted_room(directory, ROOM)
    text = content.message(content.text_part("x" * 1000))
    while hub.rooms[ROOM].sequence < events:
        hub.submit_many(ROOM, PROVIDER, [sender.send(ROOM, text)[0] for _ in range(BATCH)], 1)
        wire.sent.clear()
    while hub.flush():  # every /notify answered: the followers are at the log's end
        time.sleep(0.01)
    with hub.lock:
        hub.store.save_cursors(hub.outbox.changed())
    hub.store.close()
    return directory


# 49,000: the tail at its longest, just before the answers go to the index (every
# UNINDEXED, here 16,500 in batches of 500; at 40,000 the tail is 7,000, at 400,000 4,000).
@pytest.fixture(scope="module", params=[40_000, 400_000, 49_000], ids=lambda n: f"{n}-events")
def data_dir(request: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    events: int = request.param
    return events, build(tmp_path_factory.mktemp(f"hub-{events}"), events)


@pytest.mark.benchmark(group="hub restart (RoomHub opened on its database)")
def test_hub_restart(benchmark: Any, data_dir: tuple[int, Path]) -> None:
    events, directory = data_dir
    restarted: list[RoomHub] = []

    def restart() -> None:
        restarted.append(RoomHub(HUB, str(directory), Wire()))

    benchmark.pedantic(restart, rounds=10, iterations=1, warmup_rounds=1)
    hub = restarted[-1]
    assert hub.rooms[ROOM].sequence >= events
    benchmark.extra_info["events"] = hub.rooms[ROOM].sequence
    benchmark.extra_info["replayed"] = hub.rooms[ROOM].sequence - hub.store.answers_indexed(ROOM)[0]
    benchmark.extra_info["database_mb"] = round(sum(p.stat().st_size for p in directory.rglob("*.sqlite3*")) / 2**20)
    for each in restarted:
        each.store.close()
