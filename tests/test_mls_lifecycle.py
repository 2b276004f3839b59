"""A whole room lifecycle with real MLS: three clients on three providers and the hub's view.

After every step every member and the hub agree on the epoch; members agree on the
epoch authenticator, and the hub's tree hash matches theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from mimi import _core
from mimi.errors import DecodeError, InvalidSignature, MlsError, WrongEpoch

ROOM_COMPONENT = 0xF000  # a private-use component: the tests' stand-in for room state


def replace_values(old: Mapping[int, bytes], proposals: Sequence[tuple[int, bytes | None]]) -> dict[int, bytes | None]:
    """Component semantics for the test: an update replaces the value."""
    return {component: update for component, update in proposals}


class Room:
    """Three providers: a (hub), b and c; alice@a creates, bob@b and carol@c join."""

    def __init__(self) -> None:
        self.hub_key = _core.SignatureKeyPair.generate()
        self.alice = _core.Client("mimi://a.example/d/alice/phone")
        self.bob = _core.Client("mimi://b.example/d/bob/laptop")
        self.carol = _core.Client("mimi://c.example/d/carol/tablet")
        self.groups: dict[str, _core.Group] = {}
        group = self.alice.create_group(
            b"clubhouse", self.hub_key.public, "mimi://a.example", {ROOM_COMPONENT: b"v0"}
        )
        self.groups["alice"] = group
        self.hub = _core.HubView.from_group_info(group.export_group_info(), group.export_ratchet_tree())

    def submit(self, committer: str, output: _core.CommitOutput, resolve=replace_values) -> _core.Processed:
        """The hub validates and merges; the committer merges; every other member processes."""
        report = self.hub.process(output.commit, output.group_info, resolve)
        self.hub.merge()
        self.groups[committer].merge_pending_commit()
        for name, group in self.groups.items():
            if name != committer:
                seen = group.process(output.commit, resolve)
                assert seen.kind == "commit"
                group.merge()
        return report

    def assert_agree(self) -> None:
        active = {n: g for n, g in self.groups.items() if g.is_active}
        epochs = {n: g.epoch for n, g in active.items()}
        assert set(epochs.values()) == {self.hub.epoch}, (epochs, self.hub.epoch)
        assert len({g.epoch_authenticator for g in active.values()}) == 1
        assert {g.tree_hash for g in active.values()} == {self.hub.tree_hash}
        hub_members = sorted(m.identity for m in self.hub.members())
        for group in active.values():
            assert sorted(m.identity for m in group.members()) == hub_members
            assert group.app_data() == self.hub.app_data()


def test_lifecycle() -> None:
    room = Room()
    room.assert_agree()
    assert room.hub.epoch == 0

    # Alice adds Bob and Carol (KeyPackages from their providers) and updates the room state.
    kp_bob, kp_carol = room.bob.key_packages(1)[0], room.carol.key_packages(1)[0]
    out = room.groups["alice"].commit(
        adds=[kp_bob, kp_carol], app_data=[(ROOM_COMPONENT, b"v1")], resolve=replace_values
    )
    report = room.hub.process(out.commit, out.group_info, replace_values)
    assert report.kind == "commit" and report.sender_identity == "mimi://a.example/d/alice/phone"
    assert [a.identity for a in report.added] == ["mimi://b.example/d/bob/laptop", "mimi://c.example/d/carol/tablet"]
    assert all(len(a.key_package_ref) == 32 for a in report.added)
    assert report.app_data == [(ROOM_COMPONENT, b"v1")]
    assert report.new_epoch == 1
    room.hub.merge()
    room.groups["alice"].merge_pending_commit()
    assert out.welcome is not None
    room.groups["bob"] = room.bob.join_welcome(out.welcome, room.hub.export_ratchet_tree())
    room.groups["carol"] = room.carol.join_welcome(out.welcome, out.ratchet_tree)
    room.assert_agree()
    assert room.hub.app_data()[ROOM_COMPONENT] == b"v1"

    # Application messages: each member decrypts the others'; the hub cannot.
    for sender in ("alice", "bob", "carol"):
        ciphertext = room.groups[sender].encrypt(f"hello from {sender}".encode(), b"aad")
        for name, group in room.groups.items():
            if name == sender:
                continue
            got = group.process(ciphertext)
            assert got.kind == "application"
            assert got.plaintext == f"hello from {sender}".encode()
            assert got.authenticated_data == b"aad"
            assert got.sender_identity == room.groups[sender].members()[room.groups[sender].own_leaf_index].identity
        with pytest.raises(MlsError):
            room.hub.process(ciphertext)

    # Bob removes Carol; Carol is out and cannot read what follows.
    carol_leaf = next(m.leaf_index for m in room.hub.members() if m.identity.endswith("carol/tablet"))
    out = room.groups["bob"].commit(removes=[carol_leaf])
    report = room.hub.process(out.commit, out.group_info)
    assert [(r.leaf_index, r.identity) for r in report.removed] == [(carol_leaf, "mimi://c.example/d/carol/tablet")]
    room.hub.merge()
    room.groups["bob"].merge_pending_commit()
    room.groups["alice"].process(out.commit)
    room.groups["alice"].merge()
    carol_view = room.groups["carol"].process(out.commit)
    assert carol_view.self_removed
    room.groups["carol"].merge()
    assert not room.groups["carol"].is_active
    room.assert_agree()
    secret = room.groups["alice"].encrypt(b"carol must not read this")
    with pytest.raises((WrongEpoch, MlsError)):
        room.groups["carol"].process(secret)
    assert room.groups["bob"].process(secret).plaintext == b"carol must not read this"

    # A new device of Alice joins by external commit from the hub's GroupInfo and tree.
    alice_tablet = _core.Client("mimi://a.example/d/alice/tablet")
    tablet_group, out = alice_tablet.join_external(room.hub.group_info(), room.hub.export_ratchet_tree())
    report = room.hub.process(out.commit, out.group_info)
    assert report.sender_kind == "new_member_commit"
    assert report.external_join is not None and report.external_join[0] == "mimi://a.example/d/alice/tablet"
    room.hub.merge()
    for name in ("alice", "bob"):
        room.groups[name].process(out.commit)
        room.groups[name].merge()
    room.groups["alice_tablet"] = tablet_group
    del room.groups["carol"]
    room.assert_agree()
    assert room.groups["alice_tablet"].process(room.groups["bob"].encrypt(b"hi tablet")).plaintext == b"hi tablet"

    # The hub (external sender) proposes to remove Bob; Alice's next commit covers it.
    bob_leaf = room.groups["bob"].own_leaf_index
    proposal = room.hub.propose_remove(bob_leaf, room.hub_key)
    seen = room.hub.process(proposal)
    assert seen.kind == "proposal" and seen.sender_kind == "external" and seen.sender_index == 0
    room.hub.merge()
    for group in room.groups.values():
        p = group.process(proposal)
        assert [r.leaf_index for r in p.removed] == [bob_leaf]
        group.merge()
    out = room.groups["alice"].commit()
    report = room.submit("alice", out)
    assert [r.identity for r in report.removed] == ["mimi://b.example/d/bob/laptop"]
    assert not room.groups["bob"].is_active
    del room.groups["bob"]
    room.assert_agree()
    assert room.hub.epoch == 4

    # A self-update (path-only commit) keeps everyone in step.
    out = room.groups["alice_tablet"].commit(force_path=True)
    assert room.submit("alice_tablet", out).path
    room.assert_agree()

    # Exporter values agree between members.
    values = {g.export_secret("mimi test", b"ctx", 32) for g in room.groups.values()}
    assert len(values) == 1


def test_bad_input_leaves_state_unchanged() -> None:
    room = Room()
    out = room.groups["alice"].commit(adds=room.bob.key_packages(1))
    room.hub.process(out.commit, out.group_info)
    room.hub.merge()
    room.groups["alice"].merge_pending_commit()
    bob = room.groups["bob"] = room.bob.join_welcome(out.welcome, out.ratchet_tree)

    valid = room.groups["alice"].encrypt(b"first")
    before = (bob.epoch, bob.epoch_authenticator)
    with pytest.raises(DecodeError):
        bob.process(valid[:-7])
    with pytest.raises(DecodeError):
        bob.process(valid + b"\x00")
    flipped = bytearray(valid)
    flipped[-3] ^= 0x01  # inside the AEAD tag
    with pytest.raises(MlsError):
        bob.process(bytes(flipped))
    assert (bob.epoch, bob.epoch_authenticator) == before
    assert bob.process(valid).plaintext == b"first"

    # A commit whose signature is corrupted: the hub and the member refuse it.
    out = room.groups["alice"].commit(force_path=True)
    # A member's PublicMessage commit ends with signature<V> (1+64 bytes),
    # confirmation_tag<V> (1+32) and membership_tag<V> (1+32).
    bad = bytearray(out.commit)
    bad[-100] ^= 0x80  # inside the signature
    hub_before = (room.hub.epoch, room.hub.tree_hash)
    with pytest.raises(InvalidSignature):
        room.hub.process(bytes(bad), out.group_info)
    with pytest.raises(InvalidSignature):
        bob.process(bytes(bad))
    assert (room.hub.epoch, room.hub.tree_hash) == hub_before
    assert (bob.epoch, bob.epoch_authenticator) == before
    with pytest.raises(DecodeError):
        room.hub.process(out.commit[:10], out.group_info)

    # A bogus confirmation tag: outside the signature, and the hub cannot compute it
    # (no key schedule), so it holds it to the GroupInfo's, which the committer signed;
    # a member refuses it too (here through the membership tag that covers it).
    forged = bytearray(out.commit)
    forged[-40] ^= 0x80
    with pytest.raises(MlsError, match="confirmation_tag"):
        room.hub.process(bytes(forged), out.group_info)
    with pytest.raises(InvalidSignature):
        bob.process(bytes(forged))
    # A bogus membership tag passes the hub (a MAC under the epoch's membership key);
    # a member refuses it, and rejoins (docs/interop.md, "What the hub cannot check").
    mistagged = bytearray(out.commit)
    mistagged[-1] ^= 0x01
    room.hub.process(bytes(mistagged), out.group_info)
    room.hub.discard()
    with pytest.raises(InvalidSignature):
        bob.process(bytes(mistagged))
    assert (bob.epoch, bob.epoch_authenticator) == before

    # A GroupInfo that does not match the commit is refused by the hub.
    other = room.groups["alice"]
    with pytest.raises((MlsError, InvalidSignature, DecodeError)):
        room.hub.process(out.commit, room.hub.group_info())
    with pytest.raises(MlsError):
        room.hub.process(out.commit, None)

    # The valid commit still goes through, and then the old-epoch one is a wrong epoch.
    room.submit("alice", out)
    room.assert_agree()
    with pytest.raises(WrongEpoch):
        room.hub.process(out.commit, out.group_info)
    # An application message of the past epoch finds its epoch's secrets (docs/interop.md,
    # "Past epochs"), but its key was used: a replay is refused.
    with pytest.raises(MlsError, match="deleted"):
        bob.process(valid)
    assert other.epoch == 2


def test_rejected_commit_is_cleared_and_group_goes_on() -> None:
    """Commits race: the hub takes the first; the loser clears its pending commit."""
    room = Room()
    out = room.groups["alice"].commit(adds=room.bob.key_packages(1))
    room.submit("alice", out)
    room.groups["bob"] = room.bob.join_welcome(out.welcome, out.ratchet_tree)

    first = room.groups["bob"].commit(force_path=True)
    second = room.groups["alice"].commit(force_path=True)
    room.hub.process(first.commit, first.group_info)
    room.hub.merge()
    with pytest.raises(WrongEpoch):
        room.hub.process(second.commit, second.group_info)
    room.groups["alice"].clear_pending_commit()
    room.groups["bob"].merge_pending_commit()
    room.groups["alice"].process(first.commit)
    room.groups["alice"].merge()
    room.assert_agree()


def test_own_commit_fanned_back_is_merged() -> None:
    room = Room()
    out = room.groups["alice"].commit(adds=room.bob.key_packages(1))
    room.hub.process(out.commit, out.group_info)
    room.hub.merge()
    echo = room.groups["alice"].process(out.commit)
    assert echo.kind == "own_commit"
    room.groups["alice"].merge()
    room.groups["bob"] = room.bob.join_welcome(out.welcome, out.ratchet_tree)
    room.assert_agree()


def test_app_data_proposal_then_commit_by_another_member() -> None:
    room = Room()
    out = room.groups["alice"].commit(adds=room.bob.key_packages(1))
    room.submit("alice", out)
    room.groups["bob"] = room.bob.join_welcome(out.welcome, out.ratchet_tree)

    proposal = room.groups["bob"].propose_app_data(ROOM_COMPONENT, b"from bob")
    seen = room.hub.process(proposal)
    assert seen.kind == "proposal" and seen.app_data == [(ROOM_COMPONENT, b"from bob")]
    room.hub.merge()
    room.groups["alice"].process(proposal)
    room.groups["alice"].merge()
    assert len(room.hub.cached_proposals().app_data) == 1

    out = room.groups["alice"].commit(resolve=replace_values)
    report = room.submit("alice", out)
    assert report.app_data == [(ROOM_COMPONENT, b"from bob")]
    room.assert_agree()
    assert room.hub.app_data()[ROOM_COMPONENT] == b"from bob"


def test_resolver_errors_propagate_and_change_nothing() -> None:
    room = Room()
    out = room.groups["alice"].commit(app_data=[(ROOM_COMPONENT, b"x")], resolve=replace_values)

    def refuse(old: Mapping[int, bytes], proposals: Sequence[tuple[int, bytes | None]]) -> dict[int, bytes | None]:
        raise ValueError("participant list update does not apply")

    with pytest.raises(ValueError, match="does not apply"):
        room.hub.process(out.commit, out.group_info, refuse)
    with pytest.raises(MlsError, match="no resolver"):
        room.hub.process(out.commit, out.group_info)
    assert room.hub.epoch == 0
    room.hub.process(out.commit, out.group_info, replace_values)
    room.hub.merge()
    assert room.hub.app_data()[ROOM_COMPONENT] == b"x"


def test_messages_pipelined_by_a_sender_decrypt_in_any_order_within_the_tolerance() -> None:
    """A hub orders concurrent submissions as they reach it, not as the sender
    encrypted them: up to 128 generations out of order decrypt (openmls' default
    is 5); a message older than that is refused with a clear error."""
    room = Room()
    out = room.groups["alice"].commit(adds=room.bob.key_packages(1))
    room.submit("alice", out)
    bob = room.bob.join_welcome(out.welcome, out.ratchet_tree)
    alice = room.groups["alice"]
    window = [alice.encrypt(f"m{i}".encode()) for i in range(128)]
    newest_first = [bob.process(m).plaintext for m in reversed(window)]
    assert newest_first == [f"m{i}".encode() for i in reversed(range(128))]
    late = alice.encrypt(b"late")
    ahead = [alice.encrypt(f"n{i}".encode()) for i in range(129)]
    for m in ahead:
        bob.process(m)
    with pytest.raises(MlsError, match=r"(?i)distant|generation|past"):
        bob.process(late)
    assert bob.process(alice.encrypt(b"after")).plaintext == b"after"
