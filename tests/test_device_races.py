"""The device side of the contract (docs/guarantees.md), in memory: every message the
hub acknowledged is shown exactly once, in hub order, by every device that is a
member at its sequence, whatever the delays and reordering of the fanout, the
pushes lost to a host's restart, and the commits racing the messages.

The races are drawn from seeded RNGs (tests/netsim.py, `Net.rng`)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from mimi import _core, content
from mimi.errors import MlsError
from mimi.logic.client import MessageShown, Refused
from mimi.logic.follower import Follower
from netsim import ORDINARY_USER, ROOM, SUSPENDED, Net
from test_logic_flows import USERS, assert_agree, room_that_suspends, room_with_everyone

SPARE = {"G": "mimi://x.example/d/gina/phone", "H": "mimi://z.example/d/hank/phone"}


def text(label: str) -> content.MimiContent:
    return content.message(content.text_part(label))


@dataclass
class Ledger:
    """What the hub acknowledged: each message, in hub order, with the clients
    that were members when it was sequenced."""

    net: Net
    accepted: list[tuple[int, bytes, frozenset[str]]] = field(default_factory=list)  # (timestamp, ID, members)

    def send(self, name: str, label: str) -> None:
        assert self.net.hub is not None
        response, message_id = self.net.send(name, text(label))
        if response.status == "accepted":
            members = frozenset(m.identity for m in self.net.hub.view.members())
            assert response.accepted_timestamp is not None
            self.accepted.append((response.accepted_timestamp, message_id, members))

    def check(self) -> None:
        """Every member shows what it is owed once, in hub order; nothing is refused."""
        net = self.net
        net.drain()
        assert [e for _, e in net.events if isinstance(e, Refused)] == []
        for name, session in net.sessions.items():
            owed = [m for _, m, members in sorted(self.accepted) if session.uri in members]
            if ROOM not in session.rooms:
                assert owed == [], name
                continue
            assert [e.message_id for e in session.shown(ROOM, net.now)] == owed, name
            first_shown = Counter(
                e.message_id for c, e in net.events
                if c == session.uri and isinstance(e, MessageShown) and e.change != "sequenced"
            )
            assert set(first_shown.values()) <= {1}, (name, first_shown)
            assert not session.outbox, name
        assert_agree(net)


def texts(net: Net, name: str) -> list[str]:
    return [e.content.nested_part.content.decode() for e in net.sessions[name].shown(ROOM, net.now)]  # type: ignore[union-attr]


def racing_room(seed: int) -> tuple[Net, Ledger]:
    net = room_with_everyone()
    for name, uri in SPARE.items():
        net.device(name, uri)
    net.rng = random.Random(seed)
    return net, Ledger(net)


def active(net: Net) -> list[str]:
    return sorted(n for n, s in net.active().items())


def test_a_committer_shows_the_messages_sequenced_before_its_commit() -> None:
    # Evelyn's message is sequenced, then Charlie's commit; Charlie merges his commit when
    # the hub answers, before her message reaches him: it decrypts in its past epoch.
    net, ledger = racing_room(0)
    ledger.send("F", "before the commit")
    assert net.commit("C", app_data=[]).response_code == "success"
    ledger.send("A", "after the commit")
    ledger.check()


def test_a_committers_own_message_fanned_back_after_its_commit_is_sequenced() -> None:
    net, ledger = racing_room(1)
    ledger.send("C", "mine, before my commit")
    assert net.commit("C", app_data=[]).response_code == "success"
    assert net.commit("C", app_data=[]).response_code == "success"
    ledger.check()
    mine = [e for c, e in net.events if c == USERS["C"] and isinstance(e, MessageShown)]
    assert [(e.change, e.sequence > 0) for e in mine] == [("sequenced", True)]


def test_past_epochs_are_kept_while_a_committer_is_ahead_and_forgotten_after() -> None:
    net, ledger = racing_room(2)
    alice = net.sessions["A"].rooms[ROOM].group
    early, late = alice.encrypt(b"early"), alice.encrypt(b"late")  # epoch 1, never submitted
    for _ in range(3):
        assert net.commit("C", app_data=[]).response_code == "success"
    charlie = net.sessions["C"].rooms[ROOM].group
    assert charlie.epoch == 4
    assert charlie.process(early).plaintext == b"early"  # epoch 1's secrets: kept while ahead
    net.drain()  # Charlie's commits come back in order: nothing of epochs 1-3 can come now
    with pytest.raises(MlsError, match="too old"):
        charlie.process(late)
    ledger.check()


def test_every_kind_of_group_keeps_past_epochs() -> None:
    # Created (Charlie), joined by Welcome (Alice), joined by external commit (Alice's
    # tablet), and each of them loaded from its saved state.
    net = room_with_everyone()
    net.device("A2", "mimi://x.example/d/alice/tablet")
    assert net.join_external("A2").response_code == "success"
    for name in ("C", "A", "A2"):
        session = net.sessions[name]
        restored = _core.Client.import_state(session.client.export_state())
        groups = {"live": session.rooms[ROOM].group, "restored": restored.load_group(session.rooms[ROOM].group.group_id)}
        for kind, group in groups.items():
            early = net.sessions["E"].rooms[ROOM].group.encrypt(b"early")
            group.commit(force_path=True)
            group.merge_pending_commit()  # ahead of the room, as a committer is
            assert group.process(early).plaintext == b"early", (name, kind)


def test_each_delivery_names_the_one_before_it_for_its_client() -> None:
    # Bob is suspended for a while (no application messages), Gina joins late (a Welcome
    # for her alone), and the followers restart from their exported state in between.
    net = room_that_suspends()
    bob = "mimi://x.example/u/bob"
    net.send("A", text("before"))
    assert net.set_roles("C", {bob: SUSPENDED}).response_code == "success"
    net.send("E", text("not for bob"))
    net.followers = {p: Follower.restore(f.export()) for p, f in net.followers.items()}
    net.device("G", SPARE["G"])
    assert net.add_users("C", [SPARE["G"]], ["mimi://x.example/u/gina"]).response_code == "success"
    assert net.set_roles("C", {bob: ORDINARY_USER}).response_code == "success"
    net.send("A", text("after"))
    for client, deliveries in net.inbox.items():
        assert [d.previous for d in deliveries] == [0] + [d.sequence for d in deliveries[:-1]], client
    assert texts(net, "B") == ["before", "after"] and texts(net, "G") == ["after"]
    assert len(net.inbox[USERS["B"]]) == len(net.inbox[USERS["A"]]) - 1  # one sequence skipped, no gap
    assert not [e for _, e in net.events if isinstance(e, Refused)]


def test_a_lost_push_is_fetched_from_the_inbox() -> None:
    net, ledger = racing_room(3)
    ledger.send("E", "one")
    net.drain()
    ledger.send("E", "two")
    while net.wire:  # delivered to the providers, pushed, not yet processed
        net.notify(*net.wire.pop(0))
    net.lose_pushes("C")
    ledger.send("E", "three")
    ledger.check()


def test_a_device_behind_the_hubs_epoch_catches_up_and_sends_again() -> None:
    net, ledger = racing_room(4)
    assert net.commit("C", app_data=[]).response_code == "success"  # Evelyn has not seen it yet
    assert net.sessions["F"].rooms[ROOM].group.epoch == 1
    ledger.send("F", "sent in epoch 1, accepted in epoch 2")
    assert ledger.accepted, "not accepted"
    refused = [e for e in net.events if isinstance(e[1], Refused)]
    assert refused == []
    ledger.check()


def test_a_device_that_cannot_catch_up_gives_up_after_a_few_attempts() -> None:
    net, _ = racing_room(5)
    net.hold.add("mimi://z.example")  # Evelyn's provider gets nothing: she stays in epoch 1
    assert net.commit("C", app_data=[]).response_code == "success"
    response, message_id = net.send("F", text("never sent"))
    assert response.status == "epochTooOld"
    evelyn = net.sessions["F"]
    assert not evelyn.outbox and not evelyn.sent
    net.hold.clear()
    net.release()
    net.drain()
    assert all(message_id not in {e.message_id for e in s.shown(ROOM, net.now)} for s in net.active().values())
    assert_agree(net)


def test_one_bad_event_fails_alone() -> None:
    net, ledger = racing_room(6)
    charlie = net.sessions["C"]
    epoch = charlie.rooms[ROOM].group.epoch
    ledger.send("A", "damaged on its way to charlie")
    while net.wire:
        net.notify(*net.wire.pop(0))
    damaged = net.pushes[charlie.uri].pop()
    [refused] = charlie.deliver(ROOM, damaged.sequence, damaged.message[:-7])
    assert isinstance(refused, Refused) and refused.sequence == damaged.sequence
    # A Welcome that cannot be opened (it is for someone else), of a room it is not in.
    welcome = next(d for d in net.inbox[USERS["B"]] if _core.FanoutMessage.decode(d.message).kind == "welcome")
    [refused] = charlie.deliver("mimi://y.example/r/other", 1, welcome.message)
    assert isinstance(refused, Refused) and "other" not in charlie.rooms
    assert charlie.rooms[ROOM].group.epoch == epoch
    ledger.send("E", "the next one")
    net.drain()
    assert texts(net, "C") == ["the next one"]
    assert texts(net, "D") == ["damaged on its way to charlie", "the next one"]
    assert_agree(net)


def race(seed: int, actions: int = 40) -> None:
    """Random sends, commits, a join and a removal, deliveries and lost pushes."""
    net, ledger = racing_room(seed)
    rng = random.Random(seed * 7919)
    joined = removed = False
    for i in range(actions):
        roll = rng.random()
        members = active(net)
        if roll < 0.6:
            ledger.send(rng.choice(members), f"{seed}/{i}")
        elif roll < 0.75:
            net.commit(rng.choice(members), app_data=[])  # may lose a commit race: refused, fine
        elif roll < 0.8 and not joined and net.key_packages[SPARE["G"]]:
            joined = net.add_users("C", [SPARE["G"]], ["mimi://x.example/u/gina"]).response_code == "success"
        elif roll < 0.85 and not removed and "B" in members and "C" in members:
            leaf = net.sessions["B"].rooms[ROOM].group.own_leaf_index
            removed = net.remove_user("C", "mimi://x.example/u/bob", [leaf]).response_code == "success"
        elif roll < 0.9:
            net.lose_pushes(rng.choice(sorted(net.sessions)))
        for _ in range(rng.randrange(4)):
            net.step()
    ledger.check()


@pytest.mark.parametrize("seeds", [range(k, k + 25) for k in range(0, 100, 25)], ids=lambda r: f"{r.start}-{r.stop - 1}")
def test_random_races_lose_and_duplicate_nothing(seeds: range) -> None:
    for seed in seeds:
        try:
            race(seed)
        except AssertionError as err:
            raise AssertionError(f"seed {seed}: {err}") from err


BOB = "mimi://x.example/u/bob"


def leaf_of(net: Net, client: str) -> int:
    assert net.hub is not None
    return next(m.leaf_index for m in net.hub.view.members() if m.identity == client)


def removed_and_added_again(seed: int) -> bool:
    """Bob is removed and added again, twice, while the others send. Returns whether
    a Welcome reached his provider before he had processed his removal (he was still
    subscribed, and unsubscribed late)."""
    net, ledger = racing_room(seed)
    rng = random.Random(seed * 31)
    bob = net.sessions["B"]
    net.key_packages[bob.uri] += [(_core.key_package_ref(kp), kp) for kp in bob.client.key_packages(1)]
    for round_ in range(2):
        ledger.send("A", f"{round_}: before")  # Alice shares Bob's provider
        assert net.remove_user("C", BOB, [leaf_of(net, bob.uri)]).response_code == "success"
        ledger.send("E", f"{round_}: while bob is out")
        if rng.random() < 0.5:
            net.drain()  # he processed his removal before he is added again
        assert net.add_users("C", [bob.uri], [BOB]).response_code == "success"
        for _ in range(rng.randrange(6)):
            net.step()
        ledger.send(rng.choice("AE"), f"{round_}: bob is back")
    ledger.check()
    assert texts(net, "B") == ["0: before", "0: bob is back", "1: before", "1: bob is back"]
    welcomes = [d for d in net.inbox[bob.uri] if _core.FanoutMessage.decode(d.message).kind == "welcome"]
    return any(d.previous for d in welcomes[1:])


def test_a_removed_device_added_again_shows_what_it_was_owed_and_nothing_of_its_absence() -> None:
    # Its history before the removal stays; nothing sequenced while it was out appears;
    # its provider subscribes it again with the Welcome, and its late unsubscribe (it
    # processes its removal after the Welcome reached the follower) does not undo that.
    late = [removed_and_added_again(seed) for seed in range(40)]
    assert any(late) and not all(late)  # both orders happened


def external_join_racing(seed: int) -> None:
    """Alice's tablet joins by external commit while the others send, before,
    between its subscription and its commit, and after."""
    net, ledger = racing_room(seed)
    tablet = net.device("A2", "mimi://x.example/d/alice/tablet")
    rng = random.Random(seed)

    def stream(n: int) -> None:
        for i in range(n):
            ledger.send(rng.choice("ACE"), f"{seed}/{len(ledger.accepted)}/{i}")
            for _ in range(rng.randrange(3)):
                net.step()

    stream(3)
    assert net.join_external("A2", meanwhile=lambda: stream(4)).response_code == "success"
    stream(4)
    ledger.send("A2", "from the tablet")
    ledger.check()
    joined_at = tablet.rooms[ROOM].joined_at
    assert any(_core.FanoutMessage.decode(d.message).timestamp < joined_at for d in net.inbox[tablet.uri])


def test_an_external_join_racing_messages_shows_what_follows_its_commit_once() -> None:
    # The joiner is subscribed before its commit leaves: what is sequenced in between
    # reaches it and is skipped (older than its epoch, not refused), what follows its
    # commit is shown once, however the fanout orders it.
    for seed in range(30):
        try:
            external_join_racing(seed)
        except AssertionError as err:
            raise AssertionError(f"seed {seed}: {err}") from err


def test_a_refused_external_join_leaves_the_device_as_it_was() -> None:
    # Bob, removed (no longer a participant), tries to join again by external commit:
    # refused, he is back to his old view and history, unsubscribed, and a Welcome
    # adds him again later. Alice's phone, removed while Alice stays, joins again by
    # external commit and keeps her history.
    net, ledger = racing_room(7)
    bob, alice = net.sessions["B"], net.sessions["A"]
    ledger.send("E", "before")
    assert net.remove_user("C", BOB, [leaf_of(net, bob.uri)]).response_code == "success"
    net.drain()
    before = bob.client.export_state()
    assert net.join_external("B", meanwhile=lambda: ledger.send("E", "not for bob")).response_code == "notAllowed"
    assert bob.client.export_state() == before and not bob.rooms[ROOM].group.is_active
    assert net.followers["mimi://x.example"].rooms_of(bob.uri) == []
    net.key_packages[bob.uri] += [(_core.key_package_ref(kp), kp) for kp in bob.client.key_packages(1)]
    assert net.add_users("C", [bob.uri], [BOB]).response_code == "success"
    assert net.commit("C", removes=[leaf_of(net, alice.uri)]).response_code == "success"
    ledger.send("E", "while alice's phone is out")
    net.drain()
    assert not alice.rooms[ROOM].group.is_active
    assert net.join_external("A").response_code == "success"
    ledger.send("C", "after")
    ledger.check()
    assert texts(net, "A") == ["before", "not for bob", "after"]
    assert texts(net, "B") == ["before", "while alice's phone is out", "after"]
    restored = _core.Client.import_state(alice.client.export_state()).load_group(alice.rooms[ROOM].group.group_id)
    assert restored.epoch_authenticator == alice.rooms[ROOM].group.epoch_authenticator
