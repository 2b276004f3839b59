"""MLS interop vectors welcome.json and passive-client-*.json through the Python API.

The client is built from each vector's private keys (`join_with_injected_keys`,
`decrypt_welcome_with_keys`). Only ciphersuite 0x0001 cases run: it is the
only one mimi supports; the counts of run and other-suite cases are asserted,
so nothing is skipped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimi import _core
from mimi.errors import InvalidSignature, MlsError

# file -> (ciphersuite 1 cases that run, cases of other ciphersuites)
CASE_COUNTS = {
    "welcome.json": (1, 6),
    "passive-client-welcome.json": (8, 48),
    "passive-client-handling-commit.json": (13, 78),
    "passive-client-random.json": (1, 0),
}
# ciphersuite-1 epochs (commits) and standalone proposals each passive file replays
EPOCH_COUNTS = {
    "passive-client-welcome.json": (0, 0),
    "passive-client-handling-commit.json": (26, 12),
    "passive-client-random.json": (200, 1542),
}


def cases(vectors: Path, name: str) -> list[dict[str, Any]]:
    """The file's ciphersuite 1 cases, after checking both counts."""
    all_cases: list[dict[str, Any]] = json.loads((vectors / "mls" / name).read_text())
    ours = [c for c in all_cases if c["cipher_suite"] == _core.CIPHERSUITE]
    assert (len(ours), len(all_cases) - len(ours)) == CASE_COUNTS[name]
    return ours


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def join(case: dict[str, Any]) -> tuple[_core.Client, _core.Group]:
    tree = case["ratchet_tree"]
    return _core.join_with_injected_keys(
        h(case["key_package"]),
        h(case["init_priv"]),
        h(case["encryption_priv"]),
        h(case["signature_priv"]),
        h(case["welcome"]),
        h(tree) if tree is not None else None,
        [(h(p["psk_id"]), h(p["psk"])) for p in case["external_psks"]],
    )


def test_welcome_decrypts_and_group_info_signature_verifies(vectors: Path) -> None:
    # The vector's confirmation_tag check is not run: openmls keeps the joiner
    # secret private and checks the tag only when joining, which needs the
    # ratchet tree this vector lacks (as it lacks encryption_priv and signature_priv).
    (case,) = cases(vectors, "welcome.json")
    key_package, init_priv, welcome = h(case["key_package"]), h(case["init_priv"]), h(case["welcome"])
    decrypted = _core.decrypt_welcome_with_keys(key_package, init_priv, welcome, h(case["signer_pub"]))
    # GroupContext = version(2) cipher_suite(2) group_id<V> ...
    assert decrypted.group_context[:4] == b"\x00\x01\x00\x01"
    assert decrypted.group_id and decrypted.group_id in decrypted.group_context
    with pytest.raises(InvalidSignature):
        _core.decrypt_welcome_with_keys(key_package, init_priv, welcome, bytes(32))
    with pytest.raises(MlsError, match="init_priv"):
        _core.decrypt_welcome_with_keys(key_package, bytes(32), welcome, h(case["signer_pub"]))


@pytest.mark.parametrize("name", sorted(EPOCH_COUNTS))
def test_passive_client_follows_every_epoch(vectors: Path, name: str) -> None:
    epochs = proposals = 0
    for case in cases(vectors, name):
        _client, group = join(case)
        assert group.epoch_authenticator == h(case["initial_epoch_authenticator"])
        for epoch in case["epochs"]:
            for proposal in epoch["proposals"]:
                assert group.process(h(proposal)).kind == "proposal"
                group.merge()
                proposals += 1
            before = group.epoch
            assert group.process(h(epoch["commit"])).kind == "commit"
            group.merge()
            assert group.epoch == before + 1
            assert group.epoch_authenticator == h(epoch["epoch_authenticator"])
            epochs += 1
    assert (epochs, proposals) == EPOCH_COUNTS[name]


def test_keys_that_do_not_match_the_key_package_are_refused(vectors: Path) -> None:
    case = cases(vectors, "passive-client-welcome.json")[0]
    for field in ("signature_priv", "encryption_priv", "init_priv"):
        wrong = dict(case, **{field: (b"\x01" * 32).hex()})
        with pytest.raises(MlsError, match=field):
            join(wrong)
