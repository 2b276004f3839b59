"""Handshakes the hub accepts and members cannot process (docs/guarantees.md, "No
handshake leaves a room diverged for good"), in memory through tests/netsim.py.

The hub holds no group secrets: it checks signatures, not the membership_tag (a MAC
under the epoch's membership key) nor a commit's confirmation_tag (outside the
signature, RFC 9420 §6.1). A correctly signed handshake with either altered passes
it; every member refuses it, rejoins by external commit from the hub's GroupInfo,
and the room converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest

from mimi import _core, content
from mimi.actors.client import ClientHost
from mimi.logic.client import MessageShown, Refused, commit_bundle, proposal_bundle
from mimi.logic.group_info import may_join_externally
from mimi.logic.hub import HubRoom
from netsim import ROOM, Net
from test_client_host import CLIENTS, HOSTS, deploy, message, texts
from test_client_host import ROOM as HOSTED_ROOM
from test_logic_flows import USERS, assert_agree, room_with_everyone


def flip_tag(message: bytes, tag: str) -> bytes:
    """`message` (a member's PublicMessage) with one bit of its membership_tag or
    confirmation_tag flipped. Both are SHA-256 MACs, last in the message:
    ... confirmation_tag<V> (a commit's) membership_tag<V>."""
    m = bytearray(message)
    assert m[-33] == 32  # membership_tag's length
    if tag == "membership_tag":
        m[-1] ^= 1
    else:
        assert m[-66] == 32  # confirmation_tag's length
        m[-34] ^= 1
    return bytes(m)


def with_commit(body: bytes, commit: bytes) -> bytes:
    b = _core.HandshakeBundle.decode(body)
    return _core.HandshakeBundle(
        commit, welcome=b.welcome, group_info_option=b.group_info_option, ratchet_tree_option=b.ratchet_tree_option
    ).encode()


def shown_after(net: Net, mark: int) -> dict[str, list[bytes]]:
    """Per device, the message IDs it showed from others since event `mark`."""
    shown: dict[str, list[bytes]] = {}
    for uri, event in net.events[mark:]:  # type: ignore[misc]
        if isinstance(event, MessageShown) and event.change != "sequenced":
            shown.setdefault(uri, []).append(event.message_id)
    return shown


def everyone_talks(net: Net) -> None:
    """Each active device sends a message: every other shows each exactly once."""
    mark = len(net.events)
    sent = {}
    for name in sorted(net.active()):
        response, message_id = net.send(name, content.message(content.text_part(f"from {name}")))
        assert response.status == "accepted", name
        sent[net.sessions[name].uri] = message_id
    for uri, ids in shown_after(net, mark).items():
        assert sorted(ids) == sorted(m for sender, m in sent.items() if sender != uri), uri
    assert len(shown_after(net, mark)) == len(sent)


def test_a_commit_whose_confirmation_tag_is_not_its_group_infos_is_refused() -> None:
    """The committer signs its GroupInfo, confirmation_tag included: the hub holds the
    commit's (unsigned) tag to it, so a tag altered on the way changes nothing."""
    net = room_with_everyone()
    assert net.hub is not None
    body = commit_bundle(net.sessions["A"].commit(ROOM, force_path=True))
    bad = with_commit(body, flip_tag(_core.HandshakeBundle.decode(body).proposal_or_commit, "confirmation_tag"))
    epoch, sequence = net.hub.view.epoch, net.hub.sequence
    refused = net.update("A", bad)
    assert refused.response_code == "invalidProposal" and "confirmation_tag" in refused.error_description
    assert (net.hub.view.epoch, net.hub.sequence) == (epoch, sequence)
    assert net.commit("A", app_data=[]).response_code == "success"
    assert_agree(net)


def test_a_commit_with_a_bad_membership_tag_is_refused_by_members_who_rejoin_and_converge() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    body = commit_bundle(net.sessions["A"].commit(ROOM, force_path=True))
    bad = with_commit(body, flip_tag(_core.HandshakeBundle.decode(body).proposal_or_commit, "membership_tag"))
    assert net.update("A", bad).response_code == "success"  # signed correctly: the hub cannot tell
    diverged = sorted(n for n, s in net.sessions.items() if s.diverged)
    assert diverged == sorted(set(USERS) - {"A"})  # everyone but its committer
    assert all(isinstance(e, Refused) for u, e in net.events[-len(diverged):])  # type: ignore[misc]
    # Without secrets of the new epoch the others read nothing of it...
    mark = len(net.events)
    net.send("A", content.message(content.text_part("lost in the fork")))
    assert set(shown_after(net, mark)) == set()
    # ...until each rejoins from the hub's GroupInfo (its committer's real state).
    assert net.rejoin_diverged() == diverged
    assert_agree(net)
    assert sorted(net.active()) == sorted(USERS)
    assert net.hub.view.epoch == 2 + len(diverged)
    # Messages and commits work again, and every device kept its history.
    everyone_talks(net)
    assert net.commit("E", app_data=[]).response_code == "success"
    assert_agree(net)
    everyone_talks(net)
    assert not any(s.diverged for s in net.sessions.values())


def test_a_member_that_diverges_later_rejoins_in_the_room_as_it_is_now() -> None:
    """Rejoins race commits: a GroupInfo one commit old is refused (wrongEpoch) and
    the next request gets the new one."""
    net = room_with_everyone()
    assert net.hub is not None
    body = commit_bundle(net.sessions["B"].commit(ROOM, force_path=True))
    bad = with_commit(body, flip_tag(_core.HandshakeBundle.decode(body).proposal_or_commit, "membership_tag"))
    assert net.update("B", bad).response_code == "success"
    stale = net.hub.view.group_info(), net.hub.view.export_ratchet_tree()
    late = net.sessions["C"].join_external(ROOM, *stale)
    net.rejoin_diverged()
    # C's first attempt, from the GroupInfo of before the others rejoined, is refused.
    refused = net.update("C", commit_bundle(late))
    assert refused.response_code == "wrongEpoch"
    assert_agree(net)


def test_a_false_report_rejoins_only_the_liar_and_undoes_no_commit() -> None:
    """Recovery is an external commit like any other, checked by the hub and sequenced
    after what it sequenced before: nothing a member says rolls the log back."""
    net = room_with_everyone()
    assert net.hub is not None
    assert net.commit("A", app_data=[]).response_code == "success"
    assert_agree(net)
    epoch, sequence, members = net.hub.view.epoch, net.hub.sequence, {m.identity for m in net.hub.view.members()}
    liar = net.sessions["B"]
    liar.diverged[ROOM] = sequence  # it processed A's commit, and claims it could not
    assert net.rejoin_diverged() == ["B"]
    assert (net.hub.view.epoch, net.hub.sequence) == (epoch + 1, sequence + 1)  # A's commit stays; one more
    assert {m.identity for m in net.hub.view.members()} == members  # B's old leaf only
    assert not [e for _, e in net.events if isinstance(e, Refused)]  # type: ignore[misc]
    assert_agree(net)
    everyone_talks(net)


def test_a_member_that_did_not_diverge_cannot_rejoin_over_itself() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    with pytest.raises(Exception, match="member of"):
        net.sessions["B"].join_external(ROOM, net.hub.view.group_info(), net.hub.view.export_ratchet_tree())


def test_a_leave_with_a_bad_membership_tag_cannot_block_the_room() -> None:
    """The hub honours the signed request and issues the Remove itself, as the room's
    external sender: every member verifies it whole, and the next commit covers it."""
    net = room_with_everyone()
    assert net.hub is not None
    request = flip_tag(net.sessions["F"].propose_leave(ROOM), "membership_tag")
    assert net.update("F", proposal_bundle(request)).response_code == "success"
    leaf = net.sessions["F"].rooms[ROOM].group.own_leaf_index
    assert set(net.hub.pending_removals) == {leaf}
    assert not [e for _, e in net.events if isinstance(e, Refused)]  # type: ignore[misc]
    ok = net.remove_user("C", "mimi://z.example/u/evelyn", [])
    assert ok.response_code == "success", ok.error_description
    assert not net.sessions["F"].rooms[ROOM].group.is_active
    assert_agree(net)


def test_an_external_commit_while_a_leave_is_pending_carries_the_remove_to_the_next_epoch() -> None:
    """An external commit cannot cover the hub's Remove (RFC 9420 §12.4.3.2): the hub
    takes it and issues the Remove again, so neither the join nor the leave waits."""
    net = room_with_everyone()
    assert net.hub is not None
    assert net.leave("F").response_code == "success"
    net.device("A2", "mimi://x.example/d/alice/tablet")
    assert net.join_external("A2").response_code == "success"
    leaf = net.sessions["F"].rooms[ROOM].group.own_leaf_index
    assert set(net.hub.pending_removals) == {leaf}
    assert net.sessions["C"].pending_leaves[ROOM] == {USERS["F"]}
    ok = net.remove_user("A2", "mimi://z.example/u/evelyn", [])
    assert ok.response_code == "success", ok.error_description
    assert not net.sessions["F"].rooms[ROOM].group.is_active
    assert not [e for _, e in net.events if isinstance(e, Refused)]  # type: ignore[misc]
    assert_agree(net)


def test_the_remove_fanned_out_is_the_hubs_and_a_retry_is_answered_as_before() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    request = proposal_bundle(net.sessions["F"].propose_leave(ROOM))
    raw, fanout = net.hub.update("mimi://z.example", request, net.tick(), hub_key=net.hub_key)
    message = _core.FanoutMessage.decode(fanout[0].message).message
    assert message != _core.HandshakeBundle.decode(request).proposal_or_commit
    assert net.hub.view.process(message).sender_kind == "external"
    net.hub.view.discard()
    net.hub.answered.clear()  # as after a restart: the log holds the hub's proposal, not the request
    net.hub.unindexed.clear()
    again, more = net.hub.update("mimi://z.example", request, net.tick(), hub_key=net.hub_key)
    assert (again, more) == (raw, [])


def test_a_leave_needs_the_hub_key() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    raw, fanout = net.hub.update("mimi://z.example", proposal_bundle(net.sessions["F"].propose_leave(ROOM)), net.tick())
    response = _core.UpdateResponse.decode(raw)
    assert (response.response_code, fanout, net.hub.pending_removals) == ("notAllowed", [], {})
    assert "issues no Remove" in response.error_description


# -- the runtime's actors, without Ray (tests/netsim.py, `Cluster`) -----------------------------


def test_hosts_rejoin_by_themselves_after_a_commit_with_a_bad_membership_tag(tmp_path: Path, monkeypatch: Any) -> None:
    """Every ClientHost that cannot take the commit rejoins when the delivery fails:
    no operator. The room converges, and what is acknowledged after is shown by
    every member exactly once, also after the hosts restart from their files."""
    c = deploy(tmp_path, monkeypatch)
    hal = c.host(CLIENTS["hal"])
    device = hal.devices[CLIENTS["hal"]]
    epoch = device.session.rooms[HOSTED_ROOM].group.epoch
    body = commit_bundle(device.session.commit(HOSTED_ROOM, force_path=True))
    bad = with_commit(body, flip_tag(_core.HandshakeBundle.decode(body).proposal_or_commit, "membership_tag"))
    assert hal._update(device, HOSTED_ROOM, bad)["code"] == "success"  # hal's host, as it sends any commit
    c.drain()
    views = {name: c.host(uri).view(uri, HOSTED_ROOM) for name, uri in CLIENTS.items()}
    assert len({(v["epoch"], v["epoch_authenticator"]) for v in views.values()}) == 1
    assert views["hal"]["epoch"] == epoch + 1 + 3  # the commit, then three devices rejoined
    assert all(not c.host(uri).devices[uri].session.diverged for uri in CLIENTS.values())
    before = {name: texts(c, name) for name in CLIENTS}
    said = [f"after the fork ({name})" for name in CLIENTS]
    for name, text in zip(CLIENTS, said):
        assert c.host(CLIENTS[name]).send(CLIENTS[name], HOSTED_ROOM, message(text))["status"] == "accepted"
        c.drain()
    for name in CLIENTS:
        assert texts(c, name) == before[name] + said, name
    for host in HOSTS:
        c.restart(host)
    c.drain()
    for name in CLIENTS:
        assert texts(c, name) == before[name] + said, name
    assert c.host(CLIENTS["fay"]).commit_pending(CLIENTS["fay"], HOSTED_ROOM)["code"] == "success"
    c.drain()
    assert len({(c.host(u).view(u, HOSTED_ROOM)["epoch_authenticator"]) for u in CLIENTS.values()}) == 1


def test_the_hub_gives_a_member_its_group_info_to_rejoin_and_a_stranger_nothing() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    state = net.hub.state
    assert may_join_externally(state, USERS["B"])  # a member: its external commit is a resync
    assert not may_join_externally(state, "mimi://x.example/d/mallory/phone")
    assert not may_join_externally(None, USERS["B"])


def test_a_room_saved_before_hub_issued_removes_is_restored() -> None:
    """A record of before saved its pending removals as leaf -> client (a member's
    proposal, fanned out already); it restores, the next commit must cover them alike."""
    net = room_with_everyone()
    assert net.hub is not None and net.leave("F").response_code == "success"
    record = msgpack.unpackb(net.hub.export())
    assert record["removals"]
    record["removals"] = [[leaf, client] for leaf, (client, _) in record["removals"]]
    restored = HubRoom.restore(msgpack.packb(record))
    assert restored.pending_removals == {int(leaf): (client, record["clock"]) for leaf, client in record["removals"]}


def test_a_hub_restarted_after_issuing_a_remove_restores_and_the_leave_completes(tmp_path: Path, monkeypatch: Any) -> None:
    """The hub's own Remove is logged with the room state that holds it pending: a hub
    restarted right after restores (its state agrees with its log) and the next commit
    still has to cover it."""
    c = deploy(tmp_path, monkeypatch)
    gus = CLIENTS["gus"]
    assert c.host(gus).leave(gus, HOSTED_ROOM)["code"] == "success"
    c.drain()
    c.room_hub(HOSTED_ROOM, "mimi://h.example")  # the hub process dies and starts again from its files
    hal = CLIENTS["hal"]
    assert c.host(hal).commit_pending(hal, HOSTED_ROOM)["code"] == "success"
    c.drain()
    assert c.host(gus).view(gus, HOSTED_ROOM)["member"] is False
    assert "mimi://f.example/u/gus" not in c.host(hal).view(hal, HOSTED_ROOM)["participants"]
    assert c.host(hal).view(hal, HOSTED_ROOM)["epoch_authenticator"] == c.host(CLIENTS["fay"]).view(CLIENTS["fay"], HOSTED_ROOM)["epoch_authenticator"]


def test_a_host_restarted_before_it_rejoined_rejoins_with_its_next_delivery(tmp_path: Path, monkeypatch: Any) -> None:
    """That a device diverged is saved: a host that restarts before it rejoined does so
    with the next event it is pushed, not only after the room's next handshake."""
    c = deploy(tmp_path, monkeypatch)
    rejoin = ClientHost._rejoin
    monkeypatch.setattr(ClientHost, "_rejoin", lambda self, device: None)  # the host dies before it rejoins
    hal = c.host(CLIENTS["hal"])
    device = hal.devices[CLIENTS["hal"]]
    body = commit_bundle(device.session.commit(HOSTED_ROOM, force_path=True))
    bad = with_commit(body, flip_tag(_core.HandshakeBundle.decode(body).proposal_or_commit, "membership_tag"))
    assert hal._update(device, HOSTED_ROOM, bad)["code"] == "success"
    c.drain()
    gus = CLIENTS["gus"]
    assert HOSTED_ROOM in c.host(gus).devices[gus].session.diverged
    c.host(gus).flush()
    c.restart("fleet")
    assert HOSTED_ROOM in c.host(gus).devices[gus].session.diverged  # remembered
    monkeypatch.setattr(ClientHost, "_rejoin", rejoin)
    assert c.host(CLIENTS["hal"]).send(CLIENTS["hal"], HOSTED_ROOM, message("a message, no handshake"))["status"] == "accepted"
    c.drain()
    assert not c.host(gus).devices[gus].session.diverged
    assert c.host(CLIENTS["hal"]).send(CLIENTS["hal"], HOSTED_ROOM, message("after gus rejoined"))["status"] == "accepted"
    c.drain()
    assert texts(c, "gus")[-1] == "after gus rejoined"
    assert c.host(gus).view(gus, HOSTED_ROOM)["epoch_authenticator"] == c.host(CLIENTS["hal"]).view(CLIENTS["hal"], HOSTED_ROOM)["epoch_authenticator"]
