"""The benchmarks' room builder (benches/bench_fanout.py): a small room whose hub,
followers and real clients agree, so the benchmarks measure a working fanout."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

from bench_fanout import ROOM, BenchRoom, followers_of, provider
from mimi.logic.client import MessageShown
from mimi.logic.fanout import FanoutBatcher


def test_bench_room_fans_out_to_every_follower_and_real_client() -> None:
    room = BenchRoom(followers=2, sample=2, size=8)  # creator, sender, 4 real, 2 KeyPackage-only
    assert room.hub.providers() == {provider(0), provider(1)}
    assert all(ROOM in s.rooms for s in room.sessions)
    followers = followers_of((2, 3), room)
    batcher = FanoutBatcher()
    events = room.submit(room.submissions(room.sender, 2))
    batcher.add(events)
    delivered = [d for dest in batcher.destinations() for n in batcher.take(dest) for d in followers[dest].notify(n)]
    assert len(delivered) == 2 * 2 * 3  # messages × followers × clients per follower
    shown = [e for s in room.sessions for f in events for e in s.deliver(ROOM, f.sequence, f.message)]
    assert len(shown) == 2 * len(room.sessions)
    assert all(isinstance(e, MessageShown) and e.sender == room.sender.user for e in shown)
