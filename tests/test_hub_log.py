"""The hub actor's durable log without Ray: what `RoomHub.submit_many` logs is what
`events` reads back, and after a restart retries get the same answers and every
destination is sent the log's tail again."""

from __future__ import annotations

from pathlib import Path

import msgpack

from mimi import _core, content
from mimi.actors.hub import RoomHub, log_records, read_log_record
from mimi.logic.hub import Fanout
from netsim import HUB, ROOM, Net, Wire

ALICE = "mimi://x.example/d/alice/phone"


def test_logged_submissions_read_back_and_survive_a_restart(tmp_path: Path) -> None:
    net = Net()
    net.device("A", ALICE)
    net.device("C", "mimi://y.example/d/charlie/phone")
    net.create("C")
    assert net.add_users("C", [ALICE], ["mimi://x.example/u/alice"]).response_code == "success"
    assert net.hub is not None
    hub = RoomHub(HUB, str(tmp_path), Wire(answers=False))
    hub.create_room(ROOM, net.hub.view.group_info(), net.hub.view.export_ratchet_tree())
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
