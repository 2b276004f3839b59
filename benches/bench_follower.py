"""A follower's `/notify` commit against the number of rooms it follows.

`test_follower_notify[R]`: a provider (`ProviderServer`, in process, its SQLite file
FULL as in production) follows R rooms, each with 3 local clients subscribed; a
round is one `/notify` of one application message to one of them, answered once
its events and the follower's state are committed. The cost must not grow with R.
`test_follower_notify_with_buffered_batches`: the same with 1,000 batches of another
room buffered ahead of a missing event (what a restarted hub resends out of order).

The setup uses only what the follower had before its state was stored in rows
(`Follower.export`/`restore`, `ProviderServer._changing`), so this file runs
unchanged against a checkout of before, side by side (docs/results.md, "Follower
notify").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimi import _core
from mimi.actors.provider import ProviderServer
from mimi.logic.follower import Follower, Notify

PROVIDER = "mimi://f.example"
CLIENTS = [f"{PROVIDER}/d/c{i}/phone" for i in range(3)]
ROOMS = [1, 1_000, 20_000]
BUFFERED = 1_000


def room(i: int) -> str:
    return f"mimi://h.example/r/room{i}"


@pytest.fixture(scope="module")
def body() -> bytes:
    """The /notify body of one FanoutMessage of a real MLS application message."""
    client = _core.Client("mimi://h.example/d/hal/phone")
    group = client.create_group(b"bench", _core.SignatureKeyPair.generate().public, "mimi://h.example")
    return _core.encode_notify([_core.FanoutMessage(1_700_000_000_000, group.encrypt(b"m" * 100))])


def provider_following(tmp_path: Path, rooms: int, buffered: int, body: bytes) -> ProviderServer:
    """A provider following `rooms` rooms (and `buffered` batches waiting in the
    last), set up in memory and stored in one commit."""
    follower = Follower(PROVIDER)
    for i in range(rooms):
        for client in CLIENTS:
            follower.subscribe(room(i), client)
    for previous in range(1, buffered + 1):
        follower.notify(Notify(room(rooms - 1), previous, (previous + 1,), body))
    server = ProviderServer(PROVIDER, str(tmp_path))
    with server._changing():
        server.follower = Follower.restore(follower.export())
    return server


@pytest.fixture
def stopped() -> Iterator[list[ProviderServer]]:
    servers: list[ProviderServer] = []
    yield servers
    for server in servers:
        server.inbox.close()
        server.key_packages.close()


def measure(benchmark: Any, server: ProviderServer, body: bytes, rooms: int) -> None:
    sequence = itertools.count(1)

    def round_() -> None:
        s = next(sequence)
        assert server.notify(room(0), s - 1, [s], body) == len(CLIENTS)

    benchmark.pedantic(round_, rounds=30, warmup_rounds=2, iterations=1)
    benchmark.extra_info["rooms_followed"] = rooms


@pytest.mark.benchmark(group="follower-notify")
@pytest.mark.parametrize("rooms", ROOMS)
def test_follower_notify(benchmark: Any, tmp_path: Path, body: bytes, stopped: list[ProviderServer], rooms: int) -> None:
    server = provider_following(tmp_path, rooms, 0, body)
    stopped.append(server)
    measure(benchmark, server, body, rooms)


@pytest.mark.benchmark(group="follower-notify")
def test_follower_notify_with_buffered_batches(
    benchmark: Any, tmp_path: Path, body: bytes, stopped: list[ProviderServer]
) -> None:
    server = provider_following(tmp_path, 2, BUFFERED, body)
    stopped.append(server)
    benchmark.extra_info["buffered_batches"] = BUFFERED
    measure(benchmark, server, body, 2)
