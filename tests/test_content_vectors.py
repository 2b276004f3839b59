"""The draft-ietf-mimi-content examples: byte-exact round trips, message IDs, cross references."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest

from mimi.content import Disposition, ExternalPart, MultiPart, NullPart, SinglePart, decode, encode, message_id

ROOM = "mimi://example.com/r/engineering_team"
NAMES = [
    "attachment", "conferencing", "delete", "edit", "expiring", "mention-html", "mention",
    "multipart-1", "multipart-2", "multipart-3", "original", "reaction", "reply", "unlike",
]  # fmt: skip


def _inputs(vectors: Path) -> dict[str, dict[str, Any]]:
    entries = json.loads((vectors / "mimi-content" / "inputs.json").read_text())
    return {entry["name"]: entry for entry in entries}


@pytest.fixture(scope="module")
def examples(vectors: Path) -> dict[str, tuple[bytes, dict[str, Any]]]:
    return {
        name: ((vectors / "mimi-content" / entry["file"]).read_bytes(), entry)
        for name, entry in _inputs(vectors).items()
    }


@pytest.fixture(scope="module")
def ids(examples: dict[str, tuple[bytes, dict[str, Any]]]) -> dict[str, bytes]:
    return {name: message_id(data, entry["sender_uri"], entry["room_uri"]) for name, (data, entry) in examples.items()}


def test_every_example_is_listed(vectors: Path) -> None:
    assert sorted(_inputs(vectors)) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_round_trips_byte_for_byte(name: str, examples: dict[str, tuple[bytes, dict[str, Any]]]) -> None:
    data, entry = examples[name]
    content = decode(data)
    assert encode(content) == data
    assert content.salt.hex() == entry["salt"]
    assert content.mimi_extensions.sender_uri == entry["sender_uri"]
    assert content.mimi_extensions.room_uri == entry["room_uri"] == ROOM


@pytest.mark.parametrize("name", NAMES)
def test_message_id_is_sha256_of_length_prefixed_inputs(
    name: str, examples: dict[str, tuple[bytes, dict[str, Any]]], ids: dict[str, bytes]
) -> None:
    data, entry = examples[name]
    sender, room = entry["sender_uri"].encode(), entry["room_uri"].encode()
    salt = bytes.fromhex(entry["salt"])
    preimage = len(sender).to_bytes(2, "big") + sender + len(room).to_bytes(2, "big") + room + data + salt
    assert ids[name] == b"\x01" + hashlib.sha256(preimage).digest()[:31]
    assert len(ids[name]) == 32


def test_known_message_ids(ids: dict[str, bytes]) -> None:
    # Also printed, independently, in draft-mahy-mimi-message-status's example.
    assert ids["original"].hex() == "017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4"
    assert ids["reply"].hex() == "015354973c2b65ca937bf1e035ae53a5ab80e947afa43d46920d4202e5cc0b27"
    assert ids["mention"].hex() == "018d825adf9f6be00dcafc5704c4102f5022e74219d0b603e4ba7622654042af"
    assert ids["expiring"].hex() == "01e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a03"


def test_message_ids_are_distinct(ids: dict[str, bytes]) -> None:
    assert len(set(ids.values())) == len(NAMES)


@pytest.mark.parametrize(
    ("name", "field", "target"),
    [
        ("reply", "in_reply_to", "original"),
        ("reaction", "in_reply_to", "original"),
        ("mention", "in_reply_to", "original"),
        ("mention-html", "in_reply_to", "original"),
        ("edit", "replaces", "reply"),
        ("edit", "in_reply_to", "original"),
        ("delete", "replaces", "reply"),
        ("delete", "in_reply_to", "original"),
        ("unlike", "replaces", "reaction"),
        ("unlike", "in_reply_to", "original"),
    ],
)
def test_cross_references(
    name: str, field: str, target: str, examples: dict[str, tuple[bytes, dict[str, Any]]], ids: dict[str, bytes]
) -> None:
    assert getattr(decode(examples[name][0]), field) == ids[target]


def test_references_only_where_the_draft_puts_them(examples: dict[str, tuple[bytes, dict[str, Any]]]) -> None:
    referring = {"reply", "reaction", "mention", "mention-html", "edit", "delete", "unlike"}
    for name, (data, _) in examples.items():
        content = decode(data)
        assert (content.in_reply_to is not None) == (name in referring), name
        assert (content.replaces is not None) == (name in {"edit", "delete", "unlike"}), name


def test_example_part_kinds(examples: dict[str, tuple[bytes, dict[str, Any]]]) -> None:
    def body(name: str) -> Any:
        return decode(examples[name][0]).nested_part

    assert body("delete") == NullPart(Disposition.RENDER, "")
    assert body("unlike") == NullPart(Disposition.REACTION, "")
    assert body("reaction") == SinglePart(Disposition.REACTION, "", "text/plain;charset=utf-8", "❤".encode())
    attachment = body("attachment")
    assert isinstance(attachment, ExternalPart)
    assert (attachment.disposition, attachment.size, attachment.enc_alg, attachment.hash_alg) == (6, 708234961, 1, 1)
    assert (attachment.filename, len(attachment.key), len(attachment.nonce)) == ("bigfile.mp4", 16, 12)
    assert decode(examples["conferencing"][0]).topic_id == b"Foo 118"
    nested = body("multipart-3")
    assert isinstance(nested, MultiPart)
    kinds = [type(part).__name__ for _, part in decode(examples["multipart-3"][0]).parts()]
    # The draft's table of the 11 parts of the nesting example, by partIndex.
    assert kinds == [
        "MultiPart", "MultiPart", "MultiPart", "SinglePart", "SinglePart", "SinglePart",
        "MultiPart", "MultiPart", "SinglePart", "SinglePart", "SinglePart",
    ]  # fmt: skip
    parts = dict(decode(examples["multipart-3"][0]).parts())
    assert isinstance(parts[5], SinglePart) and parts[5].content_type == "image/gif"
    assert isinstance(parts[10], SinglePart) and parts[10].content_type == "image/png"


def test_status_example_names_the_content_examples(
    vectors: Path, ids: dict[str, bytes]
) -> None:
    report = cbor2.loads((vectors / "mimi-message-status" / "status.cbor").read_bytes())
    assert [entry[0] for entry in report] == [ids["original"], ids["reply"], ids["mention"], ids["expiring"]]


def test_inline_draft_id_is_stale(vectors: Path, ids: dict[str, bytes]) -> None:
    # The draft's inline hex and implied-original.cbor carry the -06 message ID
    # of `original`; the .cbor examples (and our computation) use -08's.
    stale = bytes.fromhex("01b0084467273cc43d6f0ebeac13eb84229c4fffe8f6c3594c905f47779e5a79")
    implied = cbor2.loads((vectors / "mimi-content" / "implied-original.cbor").read_bytes())
    assert implied[0] == stale
    assert ids["original"] != stale
