"""MLS state survives a restart: exported bytes reload in a new process with the same result."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mimi import _core
from mimi.errors import DecodeError

RELOAD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mimi import _core
    d = Path(sys.argv[1])
    bob = _core.Client.import_state((d / "bob").read_bytes())
    group = bob.load_group(b"room")
    hub = _core.HubView.import_state((d / "hub").read_bytes())
    got = group.process((d / "message").read_bytes())
    commit = group.commit(force_path=True)
    report = hub.process(commit.commit, commit.group_info)
    hub.merge()
    group.merge_pending_commit()
    (d / "out").write_bytes(got.plaintext + b"|" + str(group.epoch).encode() + b"|" + group.epoch_authenticator.hex().encode()
        + b"|" + hub.tree_hash.hex().encode() + b"|" + str(hub.epoch).encode())
    (d / "commit").write_bytes(commit.commit)
    """
)


def test_client_and_hub_state_reload_in_a_new_process(tmp_path: Path) -> None:
    hub_key = _core.SignatureKeyPair.generate()
    alice = _core.Client("mimi://a.example/d/alice/phone")
    bob = _core.Client("mimi://b.example/d/bob/phone")
    group = alice.create_group(b"room", hub_key.public, "mimi://a.example")
    hub = _core.HubView.from_group_info(group.export_group_info(), group.export_ratchet_tree())
    spare = bob.key_packages(2)  # one is used, the other must survive the restart unused
    out = group.commit(adds=spare[:1])
    hub.process(out.commit, out.group_info)
    hub.merge()
    group.merge_pending_commit()
    assert out.welcome is not None
    bob_group = bob.join_welcome(out.welcome, out.ratchet_tree)
    assert bob_group.epoch == 1

    (tmp_path / "bob").write_bytes(bob.export_state())
    (tmp_path / "hub").write_bytes(hub.export_state())
    (tmp_path / "message").write_bytes(group.encrypt(b"after restart"))
    subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path)], check=True)

    plaintext, epoch, authenticator, tree_hash, hub_epoch = (tmp_path / "out").read_bytes().split(b"|")
    assert plaintext == b"after restart"
    # Alice, who never restarted, follows the reloaded Bob's commit and agrees.
    group.process((tmp_path / "commit").read_bytes())
    group.merge()
    assert int(epoch) == int(hub_epoch) == group.epoch == 2
    assert bytes.fromhex(authenticator.decode()) == group.epoch_authenticator
    assert bytes.fromhex(tree_hash.decode()) == group.tree_hash


def test_export_is_deterministic_and_import_checks_its_input() -> None:
    alice = _core.Client("mimi://a.example/d/alice/phone")
    alice.create_group(b"room", _core.SignatureKeyPair.generate().public, "mimi://a.example")
    state = alice.export_state()
    assert alice.export_state() == state
    again = _core.Client.import_state(state)
    assert again.client_uri == alice.client_uri and again.signature_key.public == alice.signature_key.public
    assert again.export_state() == state
    assert again.load_group(b"room").epoch == 0
    with pytest.raises(DecodeError):
        _core.Client.import_state(state[:-1])
    with pytest.raises(DecodeError):
        _core.HubView.import_state(b"\x00")
