"""A device's send rate: `ClientHost.send_many` of 32 messages of 1 KiB, as a client
sends a burst. Each call encrypts the batch, saves the device (MLS state and the
outbox, one SQLite transaction) before anything leaves, submits the batch to the
hub in one call (the hub validates, logs durably and fans out) and takes the
answers. docs/guarantees.md, "Crash after the hub's answer".

The actors run in this process (tests/netsim.py, `Cluster`: no Ray, the data root
is pytest's tmp_path as for the other benches); between rounds, untimed, the room's
events are delivered, so the sender has its own messages back as it would.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from mimi import content
from netsim import Cluster

ROOM = "mimi://h.example/r/send"
SENDER, READER = "mimi://h.example/d/hal/phone", "mimi://f.example/d/fay/phone"
BATCH = 32


@pytest.mark.benchmark(group="client send_many (32 × 1 KiB, saved before it leaves)")
def test_client_send_many(benchmark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    c = Cluster(str(tmp_path), random.Random(0))
    c.install(monkeypatch)
    for provider in ("mimi://h.example", "mimi://f.example"):
        c.provider(provider)
    c.room_hub(ROOM, "mimi://h.example")
    c.clients("hal", [SENDER])
    c.clients("fay", [READER])
    c.host(READER).publish_key_packages(READER, 1)
    host = c.host(SENDER)
    host.create_room(SENDER, ROOM, "cooperative")
    assert host.add_users(SENDER, ROOM, ["mimi://f.example/u/fay"])["code"] == "success"
    c.drain()
    texts = (content.encode(content.message(content.text_part(os.urandom(384).hex()[:1000]))) for _ in itertools.count())

    def fresh() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        c.drain()
        return ([next(texts) for _ in range(BATCH)],), {}

    def send(batch: list[bytes]) -> None:
        assert host.send_many(SENDER, ROOM, batch) == ["accepted"] * BATCH

    benchmark.pedantic(send, setup=fresh, rounds=200, warmup_rounds=5)
    benchmark.extra_info.update(
        {
            "messages_per_call": BATCH,
            "messages_per_s": BATCH / benchmark.stats.stats.mean,
            "messages_per_s_median": BATCH / benchmark.stats.stats.median,
            "loadavg_1m": os.getloadavg()[0],
        }
    )
