"""MLS at 10,000 members: the operations of bench_core.py (sizes 2-1,000) at 10,000,
in the same groups so the report shows how cost grows with group size (named
`<bench_core's name>_at_scale`, so each row says which room it ran in), plus the
hub's whole commit path (`HubRoom.update`: MLS, room state, policy) at 100 and
1,000 members of a MIMI room.

The 10,000-member group is built once per module (`test_build_room_10000` times
it). It is built in commits of 1,000 adds: one commit of 9,998 adds takes ~40 s in
openmls (its cost grows about quadratically with the adds in one commit), ten
commits of 1,000 take ~12 s. The group has the same shape as bench_core's rooms:
a creator, a reader (the member that processes commits) and members that exist
only as KeyPackages; the hub's view follows every commit.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from bench_core import KIB
from bench_fanout import HUB, BenchRoom, commit_bundle
from mimi import _core
from mimi.logic.hub import HubRoom

SIZE = 10_000
CHUNK = 1000


class ScaleRoom:
    """bench_core.Room's shape at `size` members, added `chunk` per commit."""

    def __init__(self, size: int, chunk: int = CHUNK) -> None:
        started = time.perf_counter()
        self.hub_key = _core.SignatureKeyPair.generate()
        self.creator = _core.Client("mimi://a.example/d/creator/bench")
        self.group = self.creator.create_group(f"bench-{size}".encode(), self.hub_key.public, "mimi://a.example")
        self.hub = _core.HubView.from_group_info(self.group.export_group_info(), self.group.export_ratchet_tree())
        reader = _core.Client("mimi://b.example/d/reader/bench")
        kps = [_core.Client(f"mimi://b.example/d/u{i}/bench").key_packages(1)[0] for i in range(size - 2)]
        kps += reader.key_packages(1)  # last: the reader joins once, with the final tree
        out = None
        for start in range(0, len(kps), chunk):
            out = self.group.commit(adds=kps[start : start + chunk])
            self.hub.process(out.commit, out.group_info)
            self.hub.merge()
            self.group.merge_pending_commit()
        assert out is not None and out.welcome is not None
        self.reader = reader.join_welcome(out.welcome, out.ratchet_tree)
        self.joiner = _core.Client("mimi://c.example/d/joiner/bench")
        assert len(self.hub.members()) == size
        self.build_seconds = time.perf_counter() - started


_built: dict[int, ScaleRoom] = {}


def scale_room(size: int) -> ScaleRoom:
    if size not in _built:
        _built[size] = ScaleRoom(size)
    return _built[size]


def info(benchmark: Any, size: int) -> None:
    benchmark.extra_info.update(
        {"members": size, "room_build_s": scale_room(size).build_seconds, "loadavg_1m": os.getloadavg()[0]}
    )


@pytest.mark.benchmark(group="mls-build-room")
def test_build_room_10000(benchmark) -> None:  # type: ignore[no-untyped-def]
    room = benchmark.pedantic(ScaleRoom, args=(SIZE,), rounds=1, warmup_rounds=0)
    _built.setdefault(SIZE, room)
    info(benchmark, SIZE)
    benchmark.extra_info["commits"] = -(-(SIZE - 1) // CHUNK)


@pytest.mark.parametrize("size", [SIZE])
@pytest.mark.benchmark(group="mls-hub-validate-commit")
def test_hub_view_validates_add_commit_at_scale(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    r = scale_room(size)
    out = r.group.commit(adds=r.joiner.key_packages(1))
    r.group.clear_pending_commit()

    def validate() -> None:
        r.hub.process(out.commit, out.group_info)
        r.hub.discard()

    benchmark.pedantic(validate, rounds=20, warmup_rounds=1)
    info(benchmark, size)


@pytest.mark.parametrize("size", [SIZE])
@pytest.mark.benchmark(group="mls-member-process-commit")
def test_member_processes_commit_at_scale(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    r = scale_room(size)
    out = r.group.commit(adds=r.joiner.key_packages(1))
    r.group.clear_pending_commit()
    reader = r.reader

    def process() -> None:
        reader.process(out.commit)
        reader.discard()

    benchmark.pedantic(process, rounds=20, warmup_rounds=1)
    info(benchmark, size)


@pytest.mark.parametrize("size", [SIZE])
@pytest.mark.benchmark(group="mls-1kib")
def test_encrypt_1kib_at_scale(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    r = scale_room(size)
    benchmark.pedantic(r.group.encrypt, args=(KIB,), rounds=200, warmup_rounds=1)
    info(benchmark, size)


@pytest.mark.parametrize("size", [SIZE])
@pytest.mark.benchmark(group="mls-1kib")
def test_decrypt_1kib_at_scale(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    # The creator's ratchet moved on in test_encrypt_1kib_at_scale beyond what the reader
    # accepts to skip: a fresh commit starts a new epoch for both.
    r = scale_room(size)
    reader = r.reader
    out = r.group.commit()
    r.group.merge_pending_commit()
    reader.process(out.commit)
    reader.merge()

    def fresh() -> tuple[tuple[bytes], dict[str, object]]:
        return (r.group.encrypt(KIB),), {}

    result = benchmark.pedantic(reader.process, setup=fresh, rounds=200, warmup_rounds=1)
    assert result.plaintext == KIB
    info(benchmark, size)


# ---------------------------------------------------------------- the hub's whole commit path


@pytest.mark.parametrize("size", [100, 1000])
@pytest.mark.benchmark(group="hub-room-update-commit")
def test_hub_room_update(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    """`HubRoom.update` of a commit adding one user (MLS validation, the room state of
    the epoch, policy, merge) in a MIMI room with `size` participants; the hub is
    restored to the epoch before the commit outside the timing of each round."""
    room = BenchRoom(followers=2, sample=1, size=size)
    joiner = _core.Client("mimi://p1.example/d/joiner/phone")
    from mimi.components import ComponentId, ParticipantListUpdate, UserRolePair
    from mimi.policy.presets import ORDINARY_USER

    update = ParticipantListUpdate(added_participants=(UserRolePair("mimi://p1.example/u/joiner", ORDINARY_USER),))
    out = room.creator.commit("mimi://p0.example/r/bench", joiner.key_packages(1),
                              app_data=[(ComponentId.participant_list, update.encode())])
    body = commit_bundle(out)
    saved = room.hub.export()

    def fresh() -> tuple[tuple[HubRoom], dict[str, object]]:
        return (HubRoom.restore(saved),), {}

    def validate(hub: HubRoom) -> bytes:
        return hub.update(HUB, body, room.tick())[0]

    response = benchmark.pedantic(validate, setup=fresh, rounds=30 if size <= 100 else 10, warmup_rounds=1)
    assert _core.UpdateResponse.decode(response).response_code == "success"
    benchmark.extra_info.update({"members": size, "room_build_s": room.build_seconds, "loadavg_1m": os.getloadavg()[0]})
