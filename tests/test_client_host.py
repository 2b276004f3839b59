"""ClientHost crashes and restarts, without Ray: the runtime's actors in one process
(tests/netsim.py, `Cluster`), a host killed in the middle of a send, pushes lost,
bad events in a batch. Every message the hub acknowledged is shown exactly once,
in hub order, by every member (the sender's own devices too), also after the
hosts restart from their files (docs/guarantees.md)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content
from mimi.transport import names
from netsim import Cluster, Crash, hub_log

ROOM = "mimi://h.example/r/crash"
HUB = "mimi://h.example"
CLIENTS = {
    "hal": "mimi://h.example/d/hal/phone",
    "hal2": "mimi://h.example/d/hal/laptop",
    "fay": "mimi://f.example/d/fay/phone",
    "gus": "mimi://f.example/d/gus/phone",
}
HOSTS = {"hal": ["hal"], "hal2": ["hal2"], "fleet": ["fay", "gus"]}  # fay and gus share one host


def message(text: str) -> bytes:
    return content.encode(content.message(content.text_part(text)))


def deploy(tmp_path: Path, monkeypatch: Any, seed: int = 0) -> Cluster:
    c = Cluster(str(tmp_path), random.Random(seed))
    c.install(monkeypatch)
    c.provider(HUB)
    c.provider("mimi://f.example")
    c.room_hub(ROOM, HUB)
    for host, names_ in HOSTS.items():
        c.clients(host, [CLIENTS[n] for n in names_])
    for uri in CLIENTS.values():
        c.host(uri).publish_key_packages(uri, 2)
    hal = c.host(CLIENTS["hal"])
    hal.create_room(CLIENTS["hal"], ROOM, "cooperative")
    users = ["mimi://h.example/u/hal", "mimi://f.example/u/fay", "mimi://f.example/u/gus"]
    assert hal.add_users(CLIENTS["hal"], ROOM, users)["code"] == "success"  # hal's laptop too
    c.drain()
    return c


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: Any) -> Iterator[Cluster]:
    yield deploy(tmp_path, monkeypatch)


def view(c: Cluster, name: str) -> dict[str, Any]:
    return c.host(CLIENTS[name]).view(CLIENTS[name], ROOM)  # type: ignore[no-any-return]


def texts(c: Cluster, name: str) -> list[str]:
    return [m["text"] for m in view(c, name)["messages"]]


def logged(c: Cluster) -> int:
    """Application messages in the hub's log: what it acknowledged."""
    hub = c.actors[names.hub(ROOM)]
    return sum(1 for _, _, m in hub_log(hub, ROOM) if _core.FanoutMessage.decode(m).kind == "application")


def assert_everyone_shows(c: Cluster, expected: list[str], but: dict[str, list[str]] | None = None) -> None:
    """Every member shows `expected` (those in `but`: theirs), after everything is
    delivered, and again after every host restarted from its files."""
    c.drain()
    assert logged(c) == len(expected)
    for restarted in (False, True):
        if restarted:
            for host in HOSTS:
                c.restart(host)
            c.drain()
        for name in CLIENTS:
            assert texts(c, name) == (but or {}).get(name, expected), (name, restarted)
            assert view(c, name)["refused"] == 0 and view(c, name)["member"], name
        assert len({(view(c, n)["epoch"], view(c, n)["epoch_authenticator"]) for n in CLIENTS}) == 1


def test_hal_joins_with_his_second_device(cluster: Cluster) -> None:
    c = cluster
    assert texts(c, "hal2") == []  # a member: hal's user has both devices


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_sender_killed_around_the_hubs_answer_loses_and_repeats_nothing(cluster: Cluster, when: str) -> None:
    # "before": the hub never got the batch; "after": it accepted it and fanned it out,
    # and the answer died with the host. Either way the restarted host submits the
    # saved bytes again, and the hub answers as it did (or takes them now).
    c = cluster
    fay = c.host(CLIENTS["fay"])
    fay.send_many(CLIENTS["fay"], ROOM, [message("one"), message("two")])
    c.crash = ("submit_many", when)
    with pytest.raises(Crash):
        fay.send_many(CLIENTS["fay"], ROOM, [message("three"), message("four")])
    c.restart("fleet")
    assert c.host(CLIENTS["fay"]).send_many(CLIENTS["fay"], ROOM, [message("five")]) == ["accepted"]
    assert_everyone_shows(c, ["one", "two", "three", "four", "five"])


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_committer_killed_around_the_hubs_answer_keeps_the_room(cluster: Cluster, when: str) -> None:
    # "after": the hub accepted hal's commit and the answer died with his host. His saved
    # state holds the pending commit (saved before the /update left), so he merges it when
    # it comes back at its sequence; "before": the hub never got it, and the pending commit
    # is dropped when the next one is made.
    c = cluster
    hal = c.host(CLIENTS["hal"])
    c.crash = ("update", when)
    with pytest.raises(Crash):
        hal.remove_user(CLIENTS["hal"], ROOM, "mimi://f.example/u/gus")
    c.restart("hal")
    c.drain()
    hal = c.host(CLIENTS["hal"])
    if when == "before":
        assert hal.remove_user(CLIENTS["hal"], ROOM, "mimi://f.example/u/gus")["code"] == "success"
        c.drain()
    assert hal.send(CLIENTS["hal"], ROOM, message("after the removal"))["status"] == "accepted"
    c.drain()
    for name in ("hal", "hal2", "fay"):
        shown = view(c, name)
        assert [m["text"] for m in shown["messages"]] == ["after the removal"], name
        assert shown["refused"] == 0, name
    assert len({view(c, name)["epoch_authenticator"] for name in ("hal", "hal2", "fay")}) == 1
    assert not view(c, "gus")["member"]


def test_a_restarted_sender_keeps_its_own_messages_in_its_history(cluster: Cluster) -> None:
    # The hub answered; the fan-back of hal's own message is still on its way when his
    # host restarts: it comes from the inbox and is stored with its sequence, once.
    c = cluster
    hal = c.host(CLIENTS["hal"])
    assert hal.send(CLIENTS["hal"], ROOM, message("mine"))["status"] == "accepted"
    c.restart("hal")
    c.drain()
    store = c.host(CLIENTS["hal"]).devices[CLIENTS["hal"]].store
    c.host(CLIENTS["hal"]).flush()
    assert [e.sender for e in store.messages(ROOM, 0, 100)] == ["mimi://h.example/u/hal"]
    assert_everyone_shows(c, ["mine"])


def test_pushes_lost_in_transit_are_fetched_from_the_inbox(cluster: Cluster) -> None:
    c = cluster
    hal = c.host(CLIENTS["hal"])
    hal.send(CLIENTS["hal"], ROOM, message("one"))
    c.deliver_wire()
    c.lose_pushes("fleet")  # pushed to the fleet's host, which restarted meanwhile
    hal.send(CLIENTS["hal"], ROOM, message("two"))
    c.drain()
    assert texts(c, "fay") == texts(c, "gus") == ["one", "two"]
    assert_everyone_shows(c, ["one", "two"])


def test_a_committer_shows_what_was_sequenced_before_its_commit(cluster: Cluster) -> None:
    c = cluster
    fay = c.host(CLIENTS["fay"])
    fay.send_many(CLIENTS["fay"], ROOM, [message(f"m{i}") for i in range(5)])  # on their way to hal
    hal = c.host(CLIENTS["hal"])
    assert hal.commit_pending(CLIENTS["hal"], ROOM)["code"] == "success"
    fay.send(CLIENTS["fay"], ROOM, message("after"))  # fay is behind: epochTooOld, caught up, sent again
    assert_everyone_shows(c, [*(f"m{i}" for i in range(5)), "after"])


def test_one_bad_event_fails_alone(cluster: Cluster, caplog: Any) -> None:
    c = cluster
    fleet = c.host(CLIENTS["fay"])
    seen: list[tuple[str, int, list[Any]]] = []
    fleet.on_events = lambda client, room, sequence, events: seen.append((client, sequence, events))
    hal = c.host(CLIENTS["hal"])
    hal.send(CLIENTS["hal"], ROOM, message("good"))
    c.deliver_wire()
    [push] = [call for call in c.calls if call.target == names.clients("fleet")]
    c.calls.remove(push)
    batch = push.args[0]
    fay, gus = CLIENTS["fay"], CLIENTS["gus"]
    good = {client: entry for entry in batch for client in [entry[0]]}
    truncated = (fay, ROOM, good[fay][2], good[fay][3], good[fay][4][:-9])
    welcome = next(
        m for _, _, m in c.actors[names.hub(ROOM)].events(ROOM, 0, 100) if _core.FanoutMessage.decode(m).kind == "welcome"
    )
    unopenable = (gus, "mimi://h.example/r/other", 1, 0, welcome)  # not for this KeyPackage any more
    sessions = {n: fleet.devices[CLIENTS[n]].session for n in ("fay", "gus")}

    def broken(room: str, sequence: int, fanout: bytes) -> list[Any]:
        raise RuntimeError("a bug")

    with pytest.MonkeyPatch.context() as m, caplog.at_level(logging.ERROR):
        m.setattr(sessions["gus"], "deliver", broken)
        fleet.deliver([unopenable, truncated, good[gus]])  # gus's own event hits the bug
    fleet.deliver([unopenable, good[fay], good[gus]])
    assert "a bug" in caplog.text
    kinds = [(client, [type(e).__name__ for e in events]) for client, _, events in seen]
    assert kinds == [
        (gus, ["Refused"]), (fay, ["Refused"]), (gus, ["Refused"]),
        (gus, ["Refused"]), (fay, []), (gus, ["MessageShown"]),  # fay's sequence was taken by the damaged copy
    ]
    assert (view(c, "fay")["refused"], view(c, "fay")["failures"]) == (1, 0)
    assert (view(c, "gus")["refused"], view(c, "gus")["failures"]) == (3, 2)
    assert texts(c, "gus") == ["good"]


@pytest.mark.parametrize("seed", range(6))
def test_a_removed_device_added_again_shows_its_old_and_new_messages_also_after_a_restart(
    tmp_path: Path, monkeypatch: Any, seed: int
) -> None:
    # Gus is removed and added again, twice; the Welcome may reach his provider before
    # his host processed his removal (draws of the seed). He shows what he was owed,
    # nothing of his absence, with no gap to repair, and so after his host restarted.
    c = deploy(tmp_path, monkeypatch, seed)
    gus = "mimi://f.example/u/gus"
    hal = c.host(CLIENTS["hal"])
    c.host(CLIENTS["gus"]).publish_key_packages(CLIENTS["gus"], 1)
    fetched: list[int] = []
    provider = c.actors[names.provider("mimi://f.example")]
    missed = provider.missed

    def fetching(client: str, token: bytes, room: str, after: int) -> Any:
        if client == CLIENTS["gus"]:
            fetched.append(after)
        return missed(client, token, room, after)

    monkeypatch.setattr(provider, "missed", fetching)
    shown: dict[str, list[str]] = {"gus": [], "others": []}
    for round_ in range(2):
        steps = [("before", None), ("while gus is out", "remove_user"), ("back", "add_users")]
        for text, change in ((f"{round_}: {t}", change) for t, change in steps):
            if change is not None:
                user = gus if change == "remove_user" else [gus]
                assert getattr(hal, change)(CLIENTS["hal"], ROOM, user)["code"] == "success"
                for _ in range(c.rng.randrange(8)):
                    c.step()
            assert hal.send(CLIENTS["hal"], ROOM, message(text))["status"] == "accepted"
            shown["others"].append(text)
            if change != "remove_user":
                shown["gus"].append(text)
    c.drain()
    assert fetched == []  # no false gap
    assert_everyone_shows(c, shown["others"], but={"gus": shown["gus"]})


def test_an_external_join_racing_a_stream_shows_every_message_after_its_commit_once(cluster: Cluster) -> None:
    # Fay's tablet joins by external commit while hal streams: one message is sequenced
    # just before its commit and one just after, each delivered by the provider at once
    # (before the tablet's host is back from the hub). The tablet shows every message
    # after its commit, once, skipping what came before it, also when its host restarts
    # before it processed anything (it fetches the events from the inbox).
    c = cluster
    tablet = "mimi://f.example/d/fay/tablet"
    c.clients("tablet", [tablet])
    hal = c.host(CLIENTS["hal"])
    for i in range(3):
        hal.send(CLIENTS["hal"], ROOM, message(f"early {i}"))
    call_hub = c.call_hub

    def racing(room: str, method: str, *args: Any) -> Any:
        if method != "update" or args[0] != "mimi://f.example":
            return call_hub(room, method, *args)
        for text in ("just before", "just after"):
            if text == "just after":
                answer = call_hub(room, method, *args)
            hal.send(CLIENTS["hal"], ROOM, message(text))
            c.deliver_wire()
        return answer

    with pytest.MonkeyPatch.context() as m:
        m.setattr(c, "call_hub", racing)
        assert c.host(tablet).join_external(tablet, ROOM)["code"] == "success"
    c.deliver_wire()
    c.restart("tablet")  # the pushes to it are lost: the inbox has them
    hal.send(CLIENTS["hal"], ROOM, message("later"))
    c.drain()
    everything = [*(f"early {i}" for i in range(3)), "just before", "just after", "later"]
    after_its_commit = ["just after", "later"]
    for restarted in (False, True):
        if restarted:
            for host in [*HOSTS, "tablet"]:
                c.restart(host)
            c.drain()
        shown = c.host(tablet).view(tablet, ROOM)
        assert [m["text"] for m in shown["messages"]] == after_its_commit and shown["refused"] == 0, restarted
        for name in CLIENTS:
            assert texts(c, name) == everything, name
        authenticators = {view(c, n)["epoch_authenticator"] for n in CLIENTS} | {shown["epoch_authenticator"]}
        assert len(authenticators) == 1
