"""MLS interop vectors (../shared/vectors/mls) through the Python API.

messages.json: every struct kind the binding decodes is decoded strictly and
re-encoded byte for byte. deserialization.json: variable-length headers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimi import _core, tls_codec
from mimi.errors import DecodeError

# messages.json field -> (struct kind of mimi._core.reencode, prefix that makes it that struct)
PROPOSAL_TYPES = {
    "add_proposal": 1,
    "update_proposal": 2,
    "remove_proposal": 3,
    "pre_shared_key_proposal": 4,
    "external_init_proposal": 6,
    "group_context_extensions_proposal": 7,
}
MLS_MESSAGES = (
    "mls_welcome",
    "mls_group_info",
    "mls_key_package",
    "public_message_application",
    "public_message_proposal",
    "public_message_commit",
    "private_message",
)
# Not reachable through the public openmls API (crate-private structs): counted, not run.
NOT_EXPOSED = ("group_secrets", "commit")
# openmls refuses these at decode: the vectors' ReInit extensions are random types,
# among them RatchetTree, which openmls does not allow in a GroupContext (see docs/interop.md).
REFUSED_BY_OPENMLS = ("re_init_proposal",)


def messages(vectors: Path) -> list[dict[str, str]]:
    return json.loads((vectors / "mls" / "messages.json").read_text())  # type: ignore[no-any-return]


def test_messages_reencode_byte_exact(vectors: Path) -> None:
    cases = messages(vectors)
    ran = 0
    for case in cases:
        for field in MLS_MESSAGES:
            data = bytes.fromhex(case[field])
            assert _core.reencode("mls_message", data) == data, field
            ran += 1
        tree = bytes.fromhex(case["ratchet_tree"])
        assert _core.reencode("ratchet_tree", tree) == tree
        ran += 1
        for field, proposal_type in PROPOSAL_TYPES.items():
            framed = proposal_type.to_bytes(2, "big") + bytes.fromhex(case[field])
            assert _core.reencode("proposal", framed) == framed, field
            ran += 1
        with pytest.raises(DecodeError, match="not allowed in the group context"):
            _core.reencode("proposal", (5).to_bytes(2, "big") + bytes.fromhex(case["re_init_proposal"]))
        expected = set(MLS_MESSAGES) | {"ratchet_tree"} | set(PROPOSAL_TYPES) | set(NOT_EXPOSED) | set(REFUSED_BY_OPENMLS)
        assert set(case) == expected
    assert ran == len(cases) * 14 == 4200


def test_key_package_struct_reencodes(vectors: Path) -> None:
    case = messages(vectors)[0]
    # MLSMessage = version(2) wire_format(2) KeyPackage
    key_package = bytes.fromhex(case["mls_key_package"])[4:]
    assert _core.reencode("key_package", key_package) == key_package


@pytest.mark.parametrize("kind", ["mls_message", "ratchet_tree", "proposal", "key_package"])
def test_truncated_and_trailing_bytes_are_decode_errors(vectors: Path, kind: str) -> None:
    case = messages(vectors)[0]
    data = {
        "mls_message": bytes.fromhex(case["mls_welcome"]),
        "ratchet_tree": bytes.fromhex(case["ratchet_tree"]),
        "proposal": b"\x00\x03" + bytes.fromhex(case["remove_proposal"]),
        "key_package": bytes.fromhex(case["mls_key_package"])[4:],
    }[kind]
    with pytest.raises(DecodeError):
        _core.reencode(kind, data[:-1])
    with pytest.raises(DecodeError):
        _core.reencode(kind, data + b"\x00")


def test_unknown_kind_is_named() -> None:
    with pytest.raises(DecodeError, match=r"unknown struct kind .commit."):
        _core.reencode("commit", b"")


def test_deserialization_headers(vectors: Path) -> None:
    cases = json.loads((vectors / "mls" / "deserialization.json").read_text())
    for case in cases:
        header = bytes.fromhex(case["vlbytes_header"])
        assert tls_codec.Reader(header).varint() == case["length"]
        assert tls_codec.encode_varint(case["length"]) == header
    assert len(cases) == 14
