"""The SQLite stores: group commit against one transaction per event, FULL against NORMAL.

Each benchmark records `events_per_s` in its extra_info (a round of a batch
benchmark is 1,000 events; a round of a per-event benchmark is 100 single-event
commits). The ratio batch / per-event is what group commit buys; FULL / NORMAL
is what an fsync per commit costs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mimi.storage import Delivery, FollowerStore, HubStore, LogEvent, Synchronous

ROOM = "mimi://a.example/r/clubhouse"
BODY = os.urandom(1024)
BATCH = 1_000
SINGLES = 100  # single-event commits per round of a per-event benchmark
RECIPIENTS = tuple(f"mimi://b.example/d/user{i}/phone" for i in range(10))
MODES: list[Synchronous] = ["FULL", "NORMAL"]


def measure(benchmark: Any, round_: Callable[[], object], events: int) -> None:
    benchmark.pedantic(round_, rounds=20, warmup_rounds=2, iterations=1)
    benchmark.extra_info["events_per_s"] = round(events / benchmark.stats.stats.mean)


@pytest.fixture(params=MODES)
def hub(request: Any, tmp_path: Path) -> Iterator[HubStore]:
    with HubStore(tmp_path / "hub.sqlite3", synchronous=request.param) as store:
        store.save_state(ROOM, b"state")
        yield store


@pytest.fixture(params=MODES)
def follower(request: Any, tmp_path: Path) -> Iterator[FollowerStore]:
    with FollowerStore(tmp_path / "follower.sqlite3", synchronous=request.param) as store:
        store.follow_room(ROOM)
        yield store


@pytest.mark.benchmark(group="hub-append")
def test_append_events_batch(benchmark: Any, hub: HubStore) -> None:
    sequence = itertools.count(1)

    def round_() -> None:
        hub.append_events(ROOM, [LogEvent(next(sequence), 1_700_000_000_000, BODY) for _ in range(BATCH)])

    measure(benchmark, round_, BATCH)


@pytest.mark.benchmark(group="hub-append")
def test_append_events_one_per_transaction(benchmark: Any, hub: HubStore) -> None:
    sequence = itertools.count(1)

    def round_() -> None:
        for _ in range(SINGLES):
            hub.append_events(ROOM, [LogEvent(next(sequence), 1_700_000_000_000, BODY)])

    measure(benchmark, round_, SINGLES)


@pytest.mark.benchmark(group="follower-receive")
def test_follower_receive_batch(benchmark: Any, follower: FollowerStore) -> None:
    """1,000 events of 1 KiB, each for 10 local clients (10,000 inbox entries) a commit."""
    sequence = itertools.count(1)

    def round_() -> None:
        follower.receive(ROOM, [Delivery(next(sequence), BODY, RECIPIENTS) for _ in range(BATCH)])

    measure(benchmark, round_, BATCH)


@pytest.mark.benchmark(group="follower-receive")
def test_follower_receive_one_per_transaction(benchmark: Any, follower: FollowerStore) -> None:
    sequence = itertools.count(1)

    def round_() -> None:
        for _ in range(SINGLES):
            follower.receive(ROOM, [Delivery(next(sequence), BODY, RECIPIENTS)])

    measure(benchmark, round_, SINGLES)
