"""The hub actor's durable log without Ray: what `RoomHub.submit_many` logs is what
`events` reads back, and after a restart retries get the same answers and every
follower is sent again what it had not acknowledged, from its saved cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgpack

from mimi import _core, content
from mimi.actors.hub import RoomHub, log_records, read_log_record
from mimi.logic.fanout import Backoff, Lag
from mimi.logic.hub import Fanout
from netsim import HUB, ROOM, Net, Wire

ALICE = "mimi://x.example/d/alice/phone"
X = "mimi://x.example"
QUICK = Backoff(base=0.01, cap=0.1)


class Links(Wire):
    """Calls to followers in `down` fail; to followers in `gone`, cannot be made (no
    such actor); the others are answered at once as delivered."""

    def __init__(self, down: set[str] | None = None, gone: set[str] | None = None) -> None:
        super().__init__()
        self.down, self.gone = down or set(), gone or set()

    def notify(self, follower: str, batch: Any) -> Future[int]:
        if follower in self.gone:
            raise ValueError(f"Failed to look up actor {follower}")
        if follower not in self.down:
            return super().notify(follower, batch)
        self.sent.append((follower, batch))
        failed: Future[int] = Future()
        failed.set_exception(ConnectionError(f"{follower} is down"))
        return failed


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Waits for the hub's pump thread (bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the hub's pump did not get there"
        time.sleep(0.01)


def room_with_alice(tmp_path: Path, transport: Wire) -> tuple[Net, RoomHub]:
    """Charlie's room on y.example, the hub, with alice of x.example: two followers."""
    net = Net()
    net.device("A", ALICE)
    net.device("C", "mimi://y.example/d/charlie/phone")
    net.create("C")
    assert net.add_users("C", [ALICE], ["mimi://x.example/u/alice"]).response_code == "success"
    assert net.hub is not None
    hub = RoomHub(HUB, str(tmp_path), transport, backoff=QUICK)
    hub.create_room(ROOM, net.hub.view.group_info(), net.hub.view.export_ratchet_tree())
    return net, hub


def say(net: Net, hub: RoomHub, count: int) -> None:
    bodies = [net.sessions["A"].send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(count)]
    responses = hub.submit_many(ROOM, X, bodies, net.tick())
    assert {_core.SubmitMessageResponse.decode(r).status for r in responses} == {"accepted"}


def test_logged_submissions_read_back_and_survive_a_restart(tmp_path: Path) -> None:
    net, hub = room_with_alice(tmp_path, Wire(answers=False))
    bodies = [net.sessions["A"].send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(3)]

    responses = hub.submit_many(ROOM, "mimi://x.example", [*bodies, b"junk"], net.tick())
    assert [_core.SubmitMessageResponse.decode(r).status for r in responses] == ["accepted"] * 3 + ["notAllowed"]
    destinations = sorted(hub.rooms[ROOM].providers())
    logged = hub.events(ROOM, 0, 100)
    assert [(sequence, d) for sequence, d, _ in logged] == [(s, destinations) for s in (1, 2, 3)]
    assert [_core.FanoutMessage.decode(m).message for _, _, m in logged] == [
        _core.SubmitMessageRequest.decode(b).app_message for b in bodies
    ]

    wire = Wire(answers=False)
    restarted = RoomHub(HUB, str(tmp_path), wire)
    assert restarted.events(ROOM, 0, 100) == logged
    assert restarted.submit(ROOM, "mimi://x.example", bodies[1], net.tick()) == responses[1]  # a retry
    assert restarted.events(ROOM, 0, 100) == logged
    until(lambda: len(wire.sent) >= len(destinations))  # the pump reads the log back
    resent = {(d, n.sequences) for d, n in wire.sent}
    assert resent == {(d, (1, 2, 3)) for d in destinations}


def test_log_rows_keep_the_format_of_earlier_logs() -> None:
    """A hub restarted on a log written before must read it: {"d": sorted destinations, "m": FanoutMessage}."""
    events = [Fanout(ROOM, s, 10 + s, frozenset({"mimi://b", "mimi://a"} if s % 3 else {"mimi://c"}), bytes([s]) * 300) for s in range(1, 8)]
    rows = log_records(events)
    assert [(r.sequence, r.accepted_timestamp) for r in rows] == [(e.sequence, e.timestamp) for e in events]
    assert [r.body for r in rows] == [msgpack.packb({"d": sorted(e.destinations), "m": e.message}) for e in events]
    assert [read_log_record(r.body) for r in rows] == [(sorted(e.destinations), e.message, frozenset()) for e in events]


def test_log_rows_keep_whom_an_application_message_is_withheld_from() -> None:
    event = Fanout(ROOM, 1, 11, frozenset({"mimi://a"}), b"m", frozenset({"mimi://a/u/zed", "mimi://a/u/amy"}))
    (row,) = log_records([event])
    assert row.body == msgpack.packb({"d": ["mimi://a"], "m": b"m", "w": ["mimi://a/u/amy", "mimi://a/u/zed"]})
    assert read_log_record(row.body) == (["mimi://a"], b"m", event.withheld)


def test_a_restarted_hub_resends_each_follower_what_it_had_not_acknowledged(tmp_path: Path) -> None:
    net, hub = room_with_alice(tmp_path, Links(down={X}))
    say(net, hub, 3)
    until(lambda: hub.lag()[HUB].pending == 0 and hub.lag()[X].failures >= 2)
    assert hub.lag()[HUB] == Lag({ROOM: 3}, 0, 0, 0.0)
    assert (hub.lag()[X].acknowledged, hub.lag()[X].pending) == ({ROOM: 0}, 3)
    until(lambda: (ROOM, HUB, 3, 0, 3) in hub.store.cursors())  # saved within CURSOR_SAVE_EVERY

    links = Links(down={X})
    restarted = RoomHub(HUB, str(tmp_path), links, backoff=QUICK)
    until(lambda: len(links.sent) >= 2)  # x.example tried again, and again
    assert {(d, n.previous, n.sequences) for d, n in links.sent} == {(X, 0, (1, 2, 3))}
    assert (restarted.lag()[X].pending, restarted.lag()[HUB]) == (3, Lag({ROOM: 3}, 0, 0, 0.0))
    links.down.clear()
    until(lambda: restarted.lag()[X].pending == 0)
    assert restarted.lag()[X] == Lag({ROOM: 3}, 0, 0, 0.0)


def test_a_hub_logged_before_cursors_resends_every_follower_the_whole_log_once(tmp_path: Path) -> None:
    net, hub = room_with_alice(tmp_path, Wire(answers=False))
    say(net, hub, 3)
    with hub.store.transaction():
        hub.store._db.execute("DELETE FROM hub_cursors")  # as a file of schema 2 is after its migration
    wire = Wire(answers=False)
    restarted = RoomHub(HUB, str(tmp_path), wire)
    until(lambda: len(wire.sent) == 2)
    assert {(d, n.previous, n.sequences) for d, n in wire.sent} == {(X, 0, (1, 2, 3)), (HUB, 0, (1, 2, 3))}
    assert {d: (lag.acknowledged, lag.pending) for d, lag in restarted.lag().items()} == {
        X: ({ROOM: 0}, 3), HUB: ({ROOM: 0}, 3)
    }
    assert sorted(restarted.store.cursors()) == [(ROOM, X, 0, 3, 3), (ROOM, HUB, 0, 3, 3)]


def test_a_follower_that_is_gone_fails_no_submission_and_catches_up_when_back(tmp_path: Path) -> None:
    """Before: the call to a follower with no actor raised out of `/submitMessage`,
    after the message was logged."""
    links = Links(gone={X})
    net, hub = room_with_alice(tmp_path, links)
    say(net, hub, 2)
    until(lambda: hub.lag()[X].failures >= 3)
    assert hub.lag()[X].pending == 2 and not any(d == X for d, _ in links.sent)
    links.gone.clear()
    until(lambda: hub.lag()[X].pending == 0)
    assert [n.sequences for d, n in links.sent if d == X] == [(1, 2)]
