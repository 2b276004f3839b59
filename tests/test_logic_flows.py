"""The protocol flows in memory: hub, followers and clients as sans-IO logic, pumped
by tests/netsim.py. What every client shows, and what every party agrees on."""

from __future__ import annotations

import pytest

from mimi import content
from mimi.components import ComponentId
from mimi.errors import RemoteProtocolError
from mimi.logic import follower as follower_logic
from mimi.logic.client import MessageShown, Refused, Removed
from mimi.logic.fanout import FanoutBatcher
from mimi.logic.hub import Fanout, HubRoom
from netsim import ORDINARY_USER, ROOM, SUSPENDED, Net, suspending_roles

USERS = {
    "A": "mimi://x.example/d/alice/phone",
    "B": "mimi://x.example/d/bob/phone",
    "C": "mimi://y.example/d/charlie/phone",
    "D": "mimi://y.example/d/charlie/laptop",
    "E": "mimi://z.example/d/diana/phone",
    "F": "mimi://z.example/d/evelyn/phone",
}


def room_with_everyone(preset: str = "cooperative") -> Net:
    net = Net()
    for name, uri in USERS.items():
        net.device(name, uri)
    net.create("C", preset)
    response = net.add_users(
        "C",
        [USERS[n] for n in "ABDEF"],
        ["mimi://x.example/u/alice", "mimi://x.example/u/bob", "mimi://z.example/u/diana", "mimi://z.example/u/evelyn"],
    )
    assert response.response_code == "success", response.error_description
    return net


def assert_agree(net: Net) -> None:
    assert net.hub is not None
    active = net.active()
    assert {s.rooms[ROOM].group.epoch for s in active.values()} == {net.hub.view.epoch}
    assert len({s.rooms[ROOM].group.epoch_authenticator for s in active.values()}) == 1
    assert {s.rooms[ROOM].group.tree_hash for s in active.values()} == {net.hub.view.tree_hash}
    hub_participants = net.hub.state.participants
    for s in active.values():
        assert s.state_of(ROOM).participants == hub_participants


def test_everyone_joins_through_welcomes_routed_by_key_package() -> None:
    net = room_with_everyone()
    assert sorted(net.active()) == sorted(USERS)
    assert_agree(net)
    assert net.hub is not None and net.hub.view.epoch == 1


def test_messages_reply_reaction_edit_delete_across_providers() -> None:
    net = room_with_everyone()
    hello = content.message(content.text_part("Hi everyone!"))
    response, hello_id = net.send("A", hello)
    assert response.status == "accepted" and response.accepted_timestamp == net.now
    reply = content.reply(hello_id, content.text_part("Hello Alice!"))
    _, reply_id = net.send("E", reply)
    net.send("B", content.reaction(hello_id, "\N{HEAVY BLACK HEART}"))
    net.send("E", content.edit(reply, reply_id, content.text_part("Hello Alice, welcome!")))
    oops = content.message(content.text_part("wrong room"))
    _, oops_id = net.send("C", oops)
    net.send("C", content.delete(oops, oops_id))
    for name, session in net.sessions.items():
        shown = session.shown(ROOM, net.now)
        texts = [e.content.nested_part.content.decode() for e in shown]  # type: ignore[union-attr]
        assert texts == ["Hi everyone!", "Hello Alice, welcome!"], name
        assert [len(e.reactions) for e in shown] == [1, 0]
    # Every recipient saw each message once, with the sender's user URI.
    shown_events = [e for _, e in net.events if isinstance(e, MessageShown) and e.change != "sequenced"]
    assert len(shown_events) == 6 * 5  # 6 messages, 5 recipients each
    # Each sender learns its own message's room sequence when the hub fans it back.
    assert len([e for _, e in net.events if isinstance(e, MessageShown) and e.change == "sequenced"]) == 6


def test_forbidden_action_is_refused_and_changes_nothing() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    before = {n: (s.rooms[ROOM].group.epoch, s.rooms[ROOM].group.epoch_authenticator) for n, s in net.sessions.items()}
    sequence = net.hub.sequence
    response = net.ban("B", "mimi://z.example/u/diana")
    assert response.response_code == "notAllowed"
    assert "canBan" in response.error_description
    assert net.hub.sequence == sequence  # nothing fanned out
    assert before == {n: (s.rooms[ROOM].group.epoch, s.rooms[ROOM].group.epoch_authenticator) for n, s in net.sessions.items()}
    # Bob's pending commit is gone; he can still take part.
    assert ROOM not in net.sessions["B"].pending
    assert net.send("B", content.message(content.text_part("ok, sorry")))[0].status == "accepted"


def test_new_device_joins_by_external_commit() -> None:
    net = room_with_everyone()
    net.device("A2", "mimi://x.example/d/alice/tablet")
    assert net.join_external("A2").response_code == "success"
    assert_agree(net)
    net.send("A2", content.message(content.text_part("from the tablet")))
    assert net.sessions["E"].shown(ROOM, net.now)[-1].sender_uri == "mimi://x.example/u/alice"


def test_external_join_of_a_stranger_is_refused() -> None:
    net = room_with_everyone()
    net.device("M", "mimi://x.example/d/mallory/phone")
    response = net.join_external("M")
    assert response.response_code == "notAllowed"
    assert ROOM not in net.sessions["M"].rooms
    assert_agree(net)


def test_leave_is_cached_and_must_be_covered() -> None:
    net = room_with_everyone()
    net.hold.add("mimi://y.example")  # Charlie has not seen Evelyn's proposal yet
    assert net.leave("F").response_code == "success"
    assert net.hub is not None and net.hub.pending_removals
    # A commit that does not cover Evelyn's leave is refused...
    refused = net.commit("C", app_data=[])
    assert refused.response_code == "notAllowed" and "pending Remove" in refused.error_description
    # ...once Charlie has it, his commit covers it (and takes her off the participant list).
    net.hold.clear()
    net.release()
    ok = net.remove_user("C", "mimi://z.example/u/evelyn", [])
    assert ok.response_code == "success", ok.error_description
    assert not net.sessions["F"].rooms[ROOM].group.is_active
    assert ("mimi://z.example/d/evelyn/phone", Removed(ROOM)) in net.events
    assert_agree(net)


def test_remove_bob_then_he_reads_nothing_more() -> None:
    net = room_with_everyone()
    bob_leaf = net.sessions["B"].rooms[ROOM].group.own_leaf_index
    assert net.remove_user("C", "mimi://x.example/u/bob", [bob_leaf]).response_code == "success"
    assert_agree(net)
    net.send("A", content.message(content.text_part("bob is gone")))
    assert [e.content.nested_part.content for e in net.sessions["B"].shown(ROOM, net.now)] == []  # type: ignore[union-attr]
    assert "mimi://x.example/d/bob/phone" not in net.followers["mimi://x.example"].rooms[ROOM].members


def test_commit_race_first_wins_second_gets_wrong_epoch() -> None:
    net = room_with_everyone()
    first = net.sessions["A"].commit(ROOM, force_path=True)
    second = net.sessions["E"].commit(ROOM, force_path=True)
    from mimi.logic.client import commit_bundle

    assert net.update("A", commit_bundle(first)).response_code == "success"
    late = net.update("E", commit_bundle(second))
    assert late.response_code == "wrongEpoch" and late.current_epoch == 2
    assert_agree(net)


def test_followers_reorder_and_deduplicate() -> None:
    net = room_with_everyone()
    net.hold.add("mimi://z.example")
    for i in range(3):
        net.send("A", content.message(content.text_part(f"m{i}")))
    held = list(net.held)
    net.release(reverse=True)  # out of order: buffered, then delivered in order
    texts = [e.content.nested_part.content.decode() for e in net.sessions["E"].shown(ROOM, net.now)]  # type: ignore[union-attr]
    assert texts == ["m0", "m1", "m2"]
    for destination, notify in held:  # replayed notify: acknowledged, processed once
        assert net.notify(destination, notify) == []
    assert len(net.sessions["E"].shown(ROOM, net.now)) == 3


def texts_of(net: Net, name: str) -> list[str]:
    return [e.content.nested_part.content.decode() for e in net.sessions[name].shown(ROOM, net.now)]  # type: ignore[union-attr]


def room_that_suspends() -> Net:
    """Everyone in a strictly administered room whose roles include "suspended"."""
    net = room_with_everyone("strictly_administered")
    response = net.commit("C", app_data=[(ComponentId.roles_list, suspending_roles().encode())])
    assert response.response_code == "success", response.error_description
    return net


def test_a_suspended_participant_gets_no_messages_but_every_handshake() -> None:
    # draft-ietf-mimi-room-policy §Message Capabilities: without canReceiveMessage, no application messages.
    net = room_that_suspends()
    bob = "mimi://x.example/u/bob"
    net.send("A", content.message(content.text_part("before")))
    assert net.set_roles("C", {bob: SUSPENDED}).response_code == "success"
    net.send("A", content.message(content.text_part("while bob is suspended")))  # alice shares bob's provider
    net.send("E", content.message(content.text_part("from another provider")))
    assert net.set_roles("C", {bob: ORDINARY_USER}).response_code == "success"
    net.send("A", content.message(content.text_part("welcome back")))
    everything = ["before", "while bob is suspended", "from another provider", "welcome back"]
    for name in "ACDEF":
        assert texts_of(net, name) == everything, name
    assert texts_of(net, "B") == ["before", "welcome back"]
    assert_agree(net)  # bob took every commit, his role changes too


def test_a_suspended_participants_removal_still_reaches_it() -> None:
    net = room_that_suspends()
    bob = "mimi://x.example/u/bob"
    assert net.set_roles("C", {bob: SUSPENDED}).response_code == "success"
    bob_leaf = net.sessions["B"].rooms[ROOM].group.own_leaf_index
    assert net.remove_user("C", bob, [bob_leaf]).response_code == "success"
    assert ("mimi://x.example/d/bob/phone", Removed(ROOM)) in net.events
    assert not net.sessions["B"].rooms[ROOM].group.is_active
    assert_agree(net)


def test_a_provider_whose_users_are_all_suspended_gets_handshakes_only() -> None:
    net = room_that_suspends()
    z = net.followers["mimi://z.example"]
    suspended = net.set_roles("C", {"mimi://z.example/u/diana": SUSPENDED, "mimi://z.example/u/evelyn": SUSPENDED})
    assert suspended.response_code == "success"
    before = z.delivered_upto(ROOM)
    net.send("A", content.message(content.text_part("not for z")))
    assert z.delivered_upto(ROOM) == before  # nothing was sent to z.example
    net.commit("C", app_data=[])
    assert z.delivered_upto(ROOM) == before + 2  # the commit, after the message z never got: no gap to wait on
    assert texts_of(net, "E") == texts_of(net, "F") == []
    assert_agree(net)


@pytest.mark.parametrize("keep_alive", [True, False])
def test_a_provider_skipped_for_long_is_kept_alive(monkeypatch: pytest.MonkeyPatch, keep_alive: bool) -> None:
    """A follower refuses a /notify reaching more than MAX_AHEAD past what it delivered;
    the hub sends a provider it skipped for KEEP_ALIVE events in a row (every user
    of it withheld) the next one anyway, so its next handshake is taken. Small bounds stand in for 65,536."""
    monkeypatch.setattr(follower_logic, "MAX_AHEAD", 4)
    monkeypatch.setattr(HubRoom, "KEEP_ALIVE", 3 if keep_alive else 10**9)
    net = room_that_suspends()
    z = net.followers["mimi://z.example"]
    assert net.set_roles("C", {"mimi://z.example/u/diana": SUSPENDED, "mimi://z.example/u/evelyn": SUSPENDED}).response_code == "success"
    start = z.delivered_upto(ROOM)
    for i in range(7):
        net.send("A", content.message(content.text_part(f"not for z {i}")))
    if not keep_alive:
        assert z.delivered_upto(ROOM) == start
        with pytest.raises(RemoteProtocolError, match=r"sequences: .* is over 4 past the"):
            net.commit("C", app_data=[])
        return
    assert z.delivered_upto(ROOM) == start + 4  # after 3 skipped in a row, the 4th message reached z
    assert net.commit("C", app_data=[]).response_code == "success"
    assert z.delivered_upto(ROOM) == start + 8
    assert texts_of(net, "E") == texts_of(net, "F") == []  # z's users read none of them
    assert_agree(net)


def test_a_restored_hub_room_sends_its_next_skipping_event_everywhere() -> None:
    net = room_that_suspends()
    z = net.followers["mimi://z.example"]
    assert net.set_roles("C", {"mimi://z.example/u/diana": SUSPENDED, "mimi://z.example/u/evelyn": SUSPENDED}).response_code == "success"
    assert net.hub is not None
    net.hub = HubRoom.restore(net.hub.export())  # the runs of skipped events are not saved
    before = z.delivered_upto(ROOM)
    net.send("A", content.message(content.text_part("first after the restart")))
    net.send("A", content.message(content.text_part("second")))
    assert z.delivered_upto(ROOM) == before + 1
    assert texts_of(net, "E") == []


def test_batches_split_where_the_withheld_users_change() -> None:
    bob, diana = "mimi://x.example/u/bob", "mimi://z.example/u/diana"
    x, z = "mimi://x.example", "mimi://z.example"
    batcher = FanoutBatcher()
    batcher.add([
        Fanout(ROOM, 1, 1, frozenset({x, z}), b"a", frozenset({bob, diana})),
        Fanout(ROOM, 2, 2, frozenset({x, z}), b"b", frozenset({bob, diana})),
        Fanout(ROOM, 3, 3, frozenset({x, z}), b"commit"),
        Fanout(ROOM, 4, 4, frozenset({x, z}), b"c", frozenset({diana})),
    ])
    got = {d: [(n.previous, n.sequences, n.withheld) for n in batcher.take(d)] for d in (x, z)}
    assert got[x] == [(0, (1, 2), (bob,)), (2, (3,), ()), (3, (4,), ())]  # each provider hears only of its own users
    assert got[z] == [(0, (1, 2), (diana,)), (2, (3,), ()), (3, (4,), (diana,))]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_bad_update_bodies_get_invalid_proposal_and_change_nothing(damage: str) -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi.logic.client import commit_bundle

    body = commit_bundle(net.sessions["A"].commit(ROOM, force_path=True))
    net.sessions["A"].update_refused(ROOM)
    bad = {"truncate": body[:-5], "flip": body[:200] + bytes([body[200] ^ 1]) + body[201:], "empty": b""}[damage]
    epoch, sequence = net.hub.view.epoch, net.hub.sequence
    raw, fanout = net.hub.update("mimi://x.example", bad, net.tick())
    from mimi import _core

    assert _core.UpdateResponse.decode(raw).response_code == "invalidProposal"
    assert fanout == [] and (net.hub.view.epoch, net.hub.sequence) == (epoch, sequence)


def test_submit_for_another_provider_or_stale_epoch_is_refused() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi import _core

    body, _ = net.sessions["A"].send(ROOM, content.message(content.text_part("x")))
    raw, fanout = net.hub.submit("mimi://z.example", body, net.tick())  # z cannot speak for alice@x
    assert _core.SubmitMessageResponse.decode(raw).status == "notAllowed" and fanout == []
    raw, _ = net.hub.submit("mimi://x.example", body[:-3], net.tick())
    assert _core.SubmitMessageResponse.decode(raw).status == "notAllowed"
    net.commit("C", app_data=[])  # epoch moves on
    raw, fanout = net.hub.submit("mimi://x.example", body, net.tick())
    response = _core.SubmitMessageResponse.decode(raw)
    assert response.status == "epochTooOld" and response.current_epoch == 2 and fanout == []


def test_hub_room_survives_export_and_restore() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi.logic.hub import HubRoom

    net.hub = HubRoom.restore(net.hub.export())
    assert net.send("A", content.message(content.text_part("after restart")))[0].status == "accepted"
    assert net.remove_user("C", "mimi://x.example/u/bob", [net.sessions["B"].rooms[ROOM].group.own_leaf_index]).response_code == "success"
    assert_agree(net)
    assert not [e for _, e in net.events if isinstance(e, Refused)]


def test_a_bundle_of_proposals_is_cached_all_or_none() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi import _core
    from mimi.logic.client import proposal_bundle

    leave = net.sessions["A"].propose_leave(ROOM)
    change = net.sessions["A"].rooms[ROOM].group.propose_app_data(0x0023, b"\x00")  # not a leave
    raw, fanout = net.hub.update("mimi://x.example", proposal_bundle(leave, [change]), net.tick(), hub_key=net.hub_key)
    assert _core.UpdateResponse.decode(raw).response_code == "notAllowed"
    assert fanout == [] and net.hub.pending_removals == {}
    assert len(net.hub.view.cached_proposals().removed) == 0
    # The leave alone goes through.
    raw, _ = net.hub.update("mimi://x.example", proposal_bundle(leave), net.tick(), hub_key=net.hub_key)
    assert _core.UpdateResponse.decode(raw).response_code == "success"
    assert len(net.hub.view.cached_proposals().removed) == 1


def _private_message(group_id: bytes, epoch: int) -> bytes:
    """A PrivateMessage application message (RFC 9420 §6.3) that parses; not decryptable."""
    return b"\x00\x01\x00\x02" + bytes([len(group_id)]) + group_id + epoch.to_bytes(8, "big") + b"\x01\x00\x02\xaa\xbb\x01\xcc"


def mixed_submissions(net: Net) -> list[bytes]:
    """One provider's batch (x.example) with every outcome of `/submitMessage`."""
    from mimi import _core

    stale, _ = net.sessions["A"].send(ROOM, content.message(content.text_part("stale")))
    net.commit("C", app_data=[])  # the epoch moves on: `stale` is from the last one
    alice, bob = net.sessions["A"], net.sessions["B"]
    retried, _ = alice.send(ROOM, content.message(content.text_part("retried")))
    assert net.hub is not None
    raw, fanout = net.hub.submit("mimi://x.example", retried, net.tick())
    assert _core.SubmitMessageResponse.decode(raw).status == "accepted"
    net.fan(fanout)
    fresh = [alice.send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(3)]
    twice, _ = bob.send(ROOM, content.message(content.text_part("twice")))
    stranger = _core.SubmitMessageRequest(_core.SubmitMessageRequest.decode(fresh[2]).app_message, "mimi://x.example/u/mallory")
    return [
        fresh[0],  # accepted
        _core.SubmitMessageRequest(_private_message(b"another group", 2), "mimi://x.example/u/alice").encode(),
        stale,  # epochTooOld
        fresh[1][:-3],  # malformed
        b"",
        net.sessions["E"].send(ROOM, content.message(content.text_part("from z")))[0],  # x cannot speak for diana@z
        stranger.encode(),  # not a participant
        retried,  # answered before: the same answer again
        twice,
        fresh[1],
        twice,  # a retry inside the batch
    ]


def test_submit_many_answers_as_submit_one_by_one() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi import _core
    from mimi.logic.hub import HubRoom

    bodies = mixed_submissions(net)
    one_by_one, batched = HubRoom.restore(net.hub.export()), HubRoom.restore(net.hub.export())
    for copy in (one_by_one, batched):  # the answers given are not in the state (a hub rebuilds them from its log)
        copy.unindexed = net.hub.unindexed.copy()
    now = net.tick()
    expected, expected_events = [], []
    for body in bodies:
        response, events = one_by_one.submit("mimi://x.example", body, now)
        expected.append(response)
        expected_events += events
    responses, events = batched.submit_many("mimi://x.example", bodies, now)
    assert responses == expected
    assert events == expected_events
    assert batched.export() == one_by_one.export() and batched.unindexed == one_by_one.unindexed
    decoded = [_core.SubmitMessageResponse.decode(r) for r in responses]
    assert [r.status for r in decoded] == [
        "accepted", "notAllowed", "epochTooOld", "notAllowed", "notAllowed", "notAllowed", "notAllowed",
        "accepted", "accepted", "accepted", "accepted",
    ]
    assert decoded[2].current_epoch == 2
    assert decoded[7].accepted_timestamp < now and responses[10] == responses[8]  # answers given before
    assert [decoded[i].accepted_timestamp for i in (0, 8, 9)] == [now, now + 8, now + 9]  # one tick a body
    assert [e.sequence for e in events] == [batched.sequence - 2, batched.sequence - 1, batched.sequence]
    assert [_core.FanoutMessage.decode(e.message).timestamp for e in events] == [now, now + 8, now + 9]
    assert all(e.destinations == batched.providers() for e in events)
    # Each accepted message reaches everyone once, the retries add nothing.
    net.fan(events)
    texts = [e.content.nested_part.content.decode() for e in net.sessions["E"].shown(ROOM, net.now)]  # type: ignore[union-attr]
    assert texts == ["retried", "m0", "twice", "m1"]


@pytest.mark.parametrize("damage", ["truncate", "trailing", "protocol", "empty"])
def test_a_malformed_body_in_a_batch_changes_nothing_for_the_others(damage: str) -> None:
    net = room_with_everyone()
    assert net.hub is not None
    from mimi import _core
    from mimi.logic.hub import HubRoom

    first, second = (net.sessions["A"].send(ROOM, content.message(content.text_part(t)))[0] for t in "ab")
    bad = {"truncate": second[:-1], "trailing": second + b"\x00", "protocol": b"\x02" + second[1:], "empty": b""}[damage]
    with_bad, without = HubRoom.restore(net.hub.export()), HubRoom.restore(net.hub.export())
    now = net.tick()
    responses, events = with_bad.submit_many("mimi://x.example", [first, bad, second], now)
    _clean, clean_events = without.submit_many("mimi://x.example", [first, second], now)
    assert _core.SubmitMessageResponse.decode(responses[1]).status == "notAllowed"
    assert [_core.SubmitMessageResponse.decode(r).status for r in (responses[0], responses[2])] == ["accepted"] * 2
    # The same events and retry answers, but for the clock tick the bad body took.
    assert [(e.sequence, e.destinations) for e in events] == [(e.sequence, e.destinations) for e in clean_events]
    assert [_core.FanoutMessage.decode(e.message).message for e in events] == [
        _core.FanoutMessage.decode(e.message).message for e in clean_events
    ]
    assert list(with_bad.unindexed) == list(without.unindexed)
    assert (with_bad.sequence, with_bad.view.epoch) == (without.sequence, without.view.epoch)
    assert with_bad.last_timestamp == without.last_timestamp + 1


def test_an_empty_batch_changes_nothing() -> None:
    net = room_with_everyone()
    assert net.hub is not None
    before = net.hub.export()
    assert net.hub.submit_many("mimi://x.example", [], net.tick()) == ([], [])
    assert net.hub.export() == before


@pytest.mark.parametrize(
    ("option", "code"),
    [
        (("httpsUri", None, "https://x.example/tree", b"sig"), "invalidProposal"),
        (("outOfBand", None, None, b"sig"), "invalidProposal"),
        (("distributionService",), "success"),
    ],
)
def test_a_commit_names_a_ratchet_tree_option_the_hub_can_use(option: tuple, code: str) -> None:  # type: ignore[type-arg]
    """draft-ietf-mimi-protocol §Update Room State: the hub builds the tree from the
    handshakes and fetches nothing, so a tree it would have to fetch is refused, with why."""
    from mimi import _core
    from mimi.logic.client import commit_bundle

    net = room_with_everyone()
    assert net.hub is not None
    body = _core.HandshakeBundle.decode(commit_bundle(net.sessions["A"].commit(ROOM, force_path=True)))
    bundle = _core.HandshakeBundle(
        body.proposal_or_commit, group_info_option=body.group_info_option, ratchet_tree_option=_core.RatchetTreeOption(*option)
    )
    epoch = net.hub.view.epoch
    response = net.update("A", bundle.encode())
    assert response.response_code == code, response.error_description
    if code == "success":
        assert net.hub.view.epoch == epoch + 1
        assert_agree(net)
    else:
        assert f"ratchetTreeOption {option[0]}" in response.error_description and net.hub.view.epoch == epoch
