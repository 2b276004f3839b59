"""The runtime on a local Ray cluster: actors killed and restarted resume from
SQLite, and the room goes on; bad input at the endpoints changes no state."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content
from mimi.actors.client import ClientHost, hub_call
from mimi.actors.deploy import Deployment
from mimi.components import ComponentId
from mimi.logic.client import ClientSession, commit_bundle
from mimi.logic.follower import Notify
from mimi.logic.room_changes import key_material_request
from mimi.transport.ray import RayTransport
from netsim import ORDINARY_USER, SUSPENDED, suspending_roles

ROOM = "mimi://h.example/r/restart"
HUB = "mimi://h.example"
CLIENTS = {
    "hal": "mimi://h.example/d/hal/phone",
    "fay": "mimi://f.example/d/fay/phone",
    "gus": "mimi://f.example/d/gus/phone",
}


def call(ray: Any, d: Deployment, name: str, method: str, *args: Any) -> Any:
    """Calls a client's host, again while it restarts (bounded)."""
    from ray.exceptions import ActorUnavailableError

    uri = CLIENTS[name]
    for _ in range(600):  # up to a minute: a restart is slow on a loaded 2-core machine
        try:
            return ray.get(getattr(d.host(uri), method).remote(uri, *args))
        except ActorUnavailableError:
            time.sleep(0.1)
    raise AssertionError(f"{name}'s host did not come back")


def deploy(ray: Any, tmp_path: Path, preset: str, hal_host: type[ClientHost] = ClientHost) -> Deployment:
    """Hal's room of `preset` on his provider, the hub's; fay and gus on f.example."""
    d = Deployment(str(tmp_path))
    d.provider(HUB)
    d.provider("mimi://f.example")
    d.room_hub(ROOM, HUB)
    d.clients("hal", [CLIENTS["hal"]], hal_host)
    d.clients("fleet", [CLIENTS["fay"], CLIENTS["gus"]])  # one ClientHost, two devices
    for name in CLIENTS:
        call(ray, d, name, "publish_key_packages", 2)
    call(ray, d, "hal", "create_room", ROOM, preset)
    assert call(ray, d, "hal", "add_users", ROOM, ["mimi://f.example/u/fay", "mimi://f.example/u/gus"])["code"] == "success"
    d.settle(ROOM)
    return d


@pytest.fixture
def room(ray_cluster: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    d = deploy(ray_cluster, tmp_path, "cooperative")
    yield ray_cluster, d
    d.shutdown()


def say(ray: Any, d: Deployment, name: str, text: str) -> None:
    result = call(ray, d, name, "send", ROOM, content.encode(content.message(content.text_part(text))))
    assert result["status"] == "accepted"


def texts(ray: Any, d: Deployment, name: str) -> list[str]:
    return [m["text"] for m in call(ray, d, name, "view", ROOM)["messages"]]


def agree(ray: Any, d: Deployment) -> None:
    views = [call(ray, d, n, "view", ROOM) for n in CLIENTS]
    assert len({(v["epoch"], v["epoch_authenticator"], tuple(v["participants"])) for v in views}) == 1


@pytest.mark.parametrize("victim", ["provider", "hub", "clients"])
def test_killed_actor_restarts_from_sqlite_and_the_room_goes_on(room, victim: str) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    say(ray, d, "hal", "before")
    d.settle(ROOM)
    handle = {"provider": d.providers["mimi://f.example"], "hub": d.hubs[ROOM], "clients": d.hosts["fleet"]}[victim]
    ray.kill(handle, no_restart=False)
    say(ray, d, "hal", "after")  # to the restarted actor, or while it restarts
    say(ray, d, "fay", "fay is back")
    d.settle(ROOM)
    for name in CLIENTS:
        assert texts(ray, d, name) == ["before", "after", "fay is back"], (victim, name)
    assert call(ray, d, "hal", "remove_user", ROOM, "mimi://f.example/u/gus")["code"] == "success"
    d.settle(ROOM)
    assert not call(ray, d, "gus", "view", ROOM)["member"]
    views = [call(ray, d, n, "view", ROOM) for n in ("hal", "fay")]
    assert len({(v["epoch"], v["epoch_authenticator"]) for v in views}) == 1


def test_a_follower_killed_twice_comes_back_each_time_and_gets_every_event(room) -> None:  # type: ignore[no-untyped-def]
    """Actors restart without a cap (a second kill left the follower dead when the cap
    was 1); the hub backs off while the follower is down and, once it is back, sends
    it every event from its log."""
    ray, d = room
    follower, hub, said = d.providers["mimi://f.example"], d.hubs[ROOM], []
    for kill in (1, 2):
        ray.kill(follower, no_restart=False)
        for i in range(3):  # logged at once, delivered when the follower is back
            said.append(f"kill {kill}, message {i}")
            say(ray, d, "hal", said[-1])
        d.settle(ROOM, timeout=45)
    for name in CLIENTS:
        assert texts(ray, d, name) == said, name
    last = ray.get(hub.progress.remote(ROOM))["mimi://f.example"]
    lag = ray.get(hub.lag.remote())["mimi://f.example"]
    assert (lag.acknowledged[ROOM], lag.pending, lag.failures) == (last, 0, 0)


def test_bad_bodies_at_the_hub_change_nothing(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    hub, f = d.hubs[ROOM], RayTransport("mimi://f.example")  # f.example's transport
    before = ray.get(hub.progress.remote(ROOM))
    raw = f.update(ROOM, b"\x00\x01").result()
    assert _core.UpdateResponse.decode(raw).response_code == "invalidProposal"
    [raw] = f.submit_messages(ROOM, [b"\xff" * 40]).result()
    assert _core.SubmitMessageResponse.decode(raw).status == "notAllowed"
    with pytest.raises(Exception, match="no such room"):
        f.submit_messages("mimi://h.example/r/other", [b""]).result()
    assert ray.get(hub.progress.remote(ROOM)) == before
    agree(ray, d)


def test_a_provider_that_lies_about_its_clients_is_refused(room) -> None:  # type: ignore[no-untyped-def]
    # docs/guarantees.md, "Callers": x.example's transport (wired as x.example)
    # forwards bodies of h.example's and f.example's clients; each is refused as not
    # x.example's to send, and nothing changes. The same bodies from their own
    # providers are taken.
    ray, d = room
    liar = RayTransport("mimi://x.example")
    hub, follower = d.hubs[ROOM], d.providers["mimi://f.example"]
    say(ray, d, "hal", "before")
    d.settle(ROOM)
    before, delivered = ray.get(hub.progress.remote(ROOM)), ray.get(follower.progress.remote(ROOM))
    hal_session = ClientSession(_core.Client("mimi://h.example/d/hal/liar"))
    request = key_material_request(hal_session, "mimi://f.example/u/fay", ROOM)
    refused = liar.key_material(ROOM, request).result()
    assert refused.reason == "mimi://x.example cannot request key material for mimi://h.example/d/hal/liar"
    # Fay's host sends, as her provider forwards it; the hub's copy on its way to f.example,
    # taken from the log, is /notify-ed again by the liar.
    mine = [e for e in ray.get(hub.events.remote(ROOM, 0, 1000)) if "mimi://f.example" in e[1]]
    (previous, _, _), (sequence, _, message) = mine[-2], mine[-1]
    body = _core.encode_notify([_core.FanoutMessage.decode(message)])
    with pytest.raises(Exception, match=r"mimi://x\.example is not the hub of the room"):
        liar.notify("mimi://f.example", Notify(ROOM, previous, (sequence,), body)).result()
    assert ray.get(hub.progress.remote(ROOM)) == before
    assert ray.get(follower.progress.remote(ROOM)) == delivered
    # Through the provider a device must present its token: a bare claim is refused.
    with pytest.raises(Exception, match="not its token"):
        ray.get(hub_call(follower, CLIENTS["fay"], b"claimed", "submit_messages", ROOM, [b""]))
    with pytest.raises(Exception, match=r"is not a client of mimi://f\.example"):
        ray.get(hub_call(follower, CLIENTS["hal"], d.token(CLIENTS["hal"]), "submit_messages", ROOM, [b""]))
    agree(ray, d)


def test_replayed_notify_is_acknowledged_and_processed_once(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    say(ray, d, "hal", "once")
    d.settle(ROOM)
    provider = d.providers["mimi://f.example"]
    mine = [e for e in ray.get(d.hubs[ROOM].events.remote(ROOM, 0, 1000)) if "mimi://f.example" in e[1]]
    (previous, _, _), (sequence, _, message) = mine[-2], mine[-1]
    body = _core.encode_notify([_core.FanoutMessage.decode(message)])
    before = ray.get(provider.progress.remote(ROOM))
    assert ray.get(provider.notify.remote(ROOM, HUB, previous, [sequence], body)) == 0  # acknowledged, not redelivered
    assert ray.get(provider.progress.remote(ROOM)) == before
    assert texts(ray, d, "fay") == ["once"]
    with pytest.raises(Exception, match=r"badRequest|notify"):
        ray.get(provider.notify.remote(ROOM, HUB, sequence, [sequence + 1], body[:-2]))
    assert ray.get(provider.progress.remote(ROOM)) == before


def test_submit_many_is_one_call_and_keeps_order(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    # Bodies as fay's client makes them, submitted by her provider in one call.
    bodies = []
    for i in range(3):
        message = content.encode(content.message(content.text_part(f"batched {i}")))
        bodies.append(message)
    results = call(ray, d, "fay", "send_many", ROOM, bodies)
    assert results == ["accepted"] * 3
    d.settle(ROOM)
    assert texts(ray, d, "hal") == ["batched 0", "batched 1", "batched 2"]


def test_group_info_is_refused_to_a_stranger_and_given_to_a_participants_device(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    stranger, tablet = "mimi://f.example/d/mallory/phone", "mimi://f.example/d/fay/tablet"
    d.clients("late", [stranger, tablet])
    with pytest.raises(Exception, match="notAuthorized"):
        ray.get(d.host(stranger).join_external.remote(stranger, ROOM))
    assert ray.get(d.host(tablet).join_external.remote(tablet, ROOM))["code"] == "success"
    d.settle(ROOM)
    say(ray, d, "hal", "hello tablet")
    d.settle(ROOM)
    assert ray.get(d.host(tablet).view.remote(tablet, ROOM))["messages"][-1]["text"] == "hello tablet"
    agree(ray, d)


def test_a_suspended_participant_reads_nothing_until_restored(ray_cluster: Any, tmp_path: Path) -> None:
    # draft-ietf-mimi-room-policy §Message Capabilities: the hub withholds application
    # messages from a user without canReceiveMessage; gus, on fay's provider and host, gets them.
    ray, fay = ray_cluster, "mimi://f.example/u/fay"
    d = deploy(ray, tmp_path, "strictly_administered")
    try:
        roles = suspending_roles().encode()
        assert call(ray, d, "hal", "change_component", ROOM, int(ComponentId.roles_list), roles)["code"] == "success"
        say(ray, d, "hal", "one")
        assert call(ray, d, "hal", "set_role", ROOM, fay, SUSPENDED)["code"] == "success"
        say(ray, d, "hal", "two")
        assert call(ray, d, "hal", "set_role", ROOM, fay, ORDINARY_USER)["code"] == "success"
        say(ray, d, "hal", "three")
        d.settle(ROOM)
        assert texts(ray, d, "fay") == ["one", "three"]
        assert texts(ray, d, "gus") == texts(ray, d, "hal") == ["one", "two", "three"]
        agree(ray, d)  # fay took every commit, her own suspension too
    finally:
        d.shutdown()


def test_a_non_participants_drain_through_the_hub_is_refused(room) -> None:  # type: ignore[no-untyped-def]
    # draft-ietf-mimi-protocol §Fetch Key Material, under the room's policy: mallory is in no room.
    ray, d = room
    mallory, ivy, ivy_user = "mimi://f.example/d/mallory/phone", "mimi://f.example/d/ivy/phone", "mimi://f.example/u/ivy"
    d.clients("late", [mallory, ivy])
    provider = d.providers["mimi://f.example"]
    assert ray.get(d.host(ivy).publish_key_packages.remote(ivy, 3)) == 3
    for _ in range(4):
        refused = ray.get(d.host(mallory).add_users.remote(mallory, ROOM, [ivy_user]))
        assert refused["code"] == "noConsentForThisRoom"
        assert refused["reason"].endswith(f"{mallory} is not in the group with that signature key")
    assert ray.get(provider.publish_key_packages.remote(ivy, d.token(ivy), [])) == 3  # all still there
    assert call(ray, d, "hal", "add_users", ROOM, [ivy_user])["code"] == "success"
    assert ray.get(provider.publish_key_packages.remote(ivy, d.token(ivy), [])) == 2


def test_an_add_after_exhaustion_uses_the_last_resort_key_package(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    ivy, ivy_user, other = "mimi://f.example/d/ivy/phone", "mimi://f.example/u/ivy", f"{HUB}/r/other"
    d.clients("ivy", [ivy])
    provider = d.providers["mimi://f.example"]
    assert ray.get(d.host(ivy).publish_key_packages.remote(ivy, 1)) == 1  # and a last-resort one
    d.room_hub(other, HUB)
    call(ray, d, "hal", "create_room", other, "cooperative")
    assert call(ray, d, "hal", "add_users", other, [ivy_user])["code"] == "success"  # the single-use one
    assert ray.get(provider.publish_key_packages.remote(ivy, d.token(ivy), [])) == 0
    assert call(ray, d, "hal", "add_users", ROOM, [ivy_user])["code"] == "success"  # the last-resort one
    say(ray, d, "hal", "welcome ivy")
    d.settle(ROOM)
    d.settle(other)
    view = ray.get(d.host(ivy).view.remote(ivy, ROOM))
    assert view["member"] and [m["text"] for m in view["messages"]] == ["welcome ivy"]
    assert ray.get(d.host(ivy).view.remote(ivy, other))["member"]


def test_a_committer_shows_what_was_sequenced_before_its_commits(room) -> None:  # type: ignore[no-untyped-def]
    # Fay's host sends a stream while hal commits: hal merges his commit when the hub
    # answers, before fay's messages sequenced ahead of it have reached his host (their
    # pushes wait while his host is busy committing); fay's messages that the hub refuses
    # as of the epoch before are caught up and sent again.
    ray, d = room
    fay = CLIENTS["fay"]
    expected = []
    for r in range(3):
        labels = [f"fay {r}.{i}" for i in range(30)]
        streaming = [d.host(fay).send.remote(fay, ROOM, content.encode(content.message(content.text_part(t)))) for t in labels]
        time.sleep(0.03)
        assert call(ray, d, "hal", "commit_pending", ROOM)["code"] == "success"
        assert [a["status"] for a in ray.get(streaming)] == ["accepted"] * 30
        expected += labels
    d.settle(ROOM)
    for name in CLIENTS:
        assert texts(ray, d, name) == expected, name
        assert call(ray, d, name, "view", ROOM)["refused"] == 0, name
    agree(ray, d)


def test_pushes_lost_around_a_host_restart_are_fetched_from_the_inbox(room) -> None:  # type: ignore[no-untyped-def]
    ray, d = room
    hal = CLIENTS["hal"]
    stream = [d.host(hal).send.remote(hal, ROOM, content.encode(content.message(content.text_part(f"m{i}")))) for i in range(40)]
    time.sleep(0.05)
    ray.kill(d.hosts["fleet"], no_restart=False)  # pushes in flight to it are lost
    assert [r["status"] for r in ray.get(stream)] == ["accepted"] * 40
    say(ray, d, "hal", "after")  # the fleet's host is back: this push names what it lost before
    d.settle(ROOM)
    expected = [f"m{i}" for i in range(40)] + ["after"]
    for name in CLIENTS:
        assert texts(ray, d, name) == expected, name
    agree(ray, d)


def test_settle_after_a_removal_is_prompt_and_the_removed_device_knows(room) -> None:  # type: ignore[no-untyped-def]
    # While gus's host is busy, his provider pushes him his removal and the message
    # after it (he unsubscribes only once he has processed the removal); he drops
    # that message unprocessed, and settling must not wait for it.
    ray, d = room
    busy = d.hosts["fleet"].__ray_call__.remote(lambda _host: time.sleep(2))
    assert call(ray, d, "hal", "remove_user", ROOM, "mimi://f.example/u/gus")["code"] == "success"
    say(ray, d, "hal", "gus is gone")
    ray.get(busy)
    started = time.monotonic()
    d.settle(ROOM, timeout=30)
    assert time.monotonic() - started < 10
    assert not call(ray, d, "gus", "view", ROOM)["member"]
    assert texts(ray, d, "fay") == texts(ray, d, "hal") == ["gus is gone"]
    assert texts(ray, d, "gus") == []
    views = [call(ray, d, n, "view", ROOM) for n in ("hal", "fay")]
    assert len({(v["epoch"], v["epoch_authenticator"]) for v in views}) == 1


class MistaggingHost(ClientHost):
    """A host whose device can send a commit with its membership_tag altered after it
    was signed (a bug, or bytes changed on the way): the hub cannot tell."""

    def commit_with_a_bad_membership_tag(self, client: str, room: str) -> dict[str, Any]:
        device = self._device(client)
        bundle = _core.HandshakeBundle.decode(commit_bundle(device.session.commit(room, force_path=True)))
        commit = bytearray(bundle.proposal_or_commit)
        commit[-1] ^= 0x01  # the last byte of membership_tag, which ends a member's PublicMessage
        bad = _core.HandshakeBundle(
            bytes(commit), welcome=bundle.welcome, group_info_option=bundle.group_info_option,
            ratchet_tree_option=bundle.ratchet_tree_option,
        )
        return self._update(device, room, bad.encode())


def test_a_commit_members_cannot_take_heals_without_an_operator(ray_cluster: Any, tmp_path: Path) -> None:
    """Fay and gus refuse hal's commit and rejoin from the hub's GroupInfo, each when
    the delivery fails: every device ends on one epoch authenticator, and what is
    acknowledged after is shown by all, each message once."""
    ray = ray_cluster
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    d = deploy(ray, tmp_path, "cooperative", MistaggingHost)
    try:
        say(ray, d, "fay", "before")
        d.settle(ROOM)
        epoch = call(ray, d, "hal", "view", ROOM)["epoch"]
        assert call(ray, d, "hal", "commit_with_a_bad_membership_tag", ROOM)["code"] == "success"
        # The rejoins are commits the fleet's host sends while it takes the bad one: the
        # first settle ends once they are in the hub's log, the second once all took them.
        d.settle(ROOM)
        d.settle(ROOM)
        agree(ray, d)
        assert call(ray, d, "hal", "view", ROOM)["epoch"] == epoch + 1 + 2  # the commit, fay's and gus's rejoins
        said = [f"after, from {name}" for name in CLIENTS]
        for name, text in zip(CLIENTS, said):
            say(ray, d, name, text)
        d.settle(ROOM)
        for name in CLIENTS:
            assert texts(ray, d, name) == ["before", *said], name
        assert call(ray, d, "gus", "commit_pending", ROOM)["code"] == "success"
        d.settle(ROOM)
        agree(ray, d)
    finally:
        d.shutdown()
