"""Builders reproduce the draft's examples byte for byte; attachments round trip and resist tampering."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mimi.content import Disposition, Expiration, ExternalPart, SinglePart, decode, encode, message_id
from mimi.content.attachments import open_attachment, seal_attachment
from mimi.content.builders import (
    alternatives,
    delete,
    derive_salt,
    edit,
    link_part,
    markdown_part,
    mention,
    message,
    no_html,
    reaction,
    reaction_part,
    reply,
    text_part,
    together,
    unlike,
)
from mimi.errors import DecodeError

ALICE = "mimi://example.com/u/alice-smith"
BOB = "mimi://example.com/u/bob-jones"
CATHY = "mimi://example.com/u/cathy-washington"
ROOM = "mimi://example.com/r/engineering_team"
FIELDS = set(ExternalPart.__dataclass_fields__)


@pytest.fixture(scope="module")
def example(vectors: Path) -> Any:
    entries = {e["name"]: e for e in json.loads((vectors / "mimi-content" / "inputs.json").read_text())}

    def load(name: str) -> tuple[bytes, bytes, bytes]:
        """The example's bytes, its message ID and its salt."""
        entry = entries[name]
        data = (vectors / "mimi-content" / entry["file"]).read_bytes()
        return data, message_id(data, entry["sender_uri"], entry["room_uri"]), bytes.fromhex(entry["salt"])

    return load


def test_markdown_message_is_the_original(example: Any) -> None:
    data, _, salt = example("original")
    text = "Hi everyone, we just shipped release 2.0. __Good  work__!"
    assert encode(message(markdown_part(text), sender_uri=ALICE, room_uri=ROOM, salt=salt)) == data


def test_reply_reaction_and_mention(example: Any) -> None:
    _, original_id, _ = example("original")
    data, _, salt = example("reply")
    body = markdown_part("Right on! _Congratulations_ 'all!")
    assert encode(reply(original_id, body, sender_uri=BOB, room_uri=ROOM, salt=salt)) == data
    data, _, salt = example("reaction")
    assert encode(reaction(original_id, "\u2764", sender_uri=CATHY, room_uri=ROOM, salt=salt)) == data
    data, _, salt = example("mention")
    kudos = markdown_part(f"Kudos to {mention(ALICE, '@Alice Smith')} for making the release happen!")
    assert encode(reply(original_id, kudos, sender_uri=CATHY, room_uri=ROOM, salt=salt)) == data


def test_edit_delete_unlike_replace_the_earlier_message(example: Any) -> None:
    reply_bytes, reply_id, _ = example("reply")
    data, edit_id, salt = example("edit")
    edited = edit(decode(reply_bytes), reply_id, markdown_part("Right on! _Congratulations_ y'all!"), salt=salt)
    assert encode(edited) == data
    data, _, salt = example("delete")
    assert encode(delete(decode(reply_bytes), reply_id, salt=salt)) == data
    # Deleting the edited version still names the first instance (§Edit).
    assert delete(edited, edit_id, salt=salt).replaces == reply_id
    reaction_bytes, reaction_id, _ = example("reaction")
    data, _, salt = example("unlike")
    assert encode(unlike(decode(reaction_bytes), reaction_id, salt=salt)) == data


def test_expiring_topic_and_multipart(example: Any) -> None:
    data, _, salt = example("expiring")
    text = "__*VPN GOING DOWN*__ I'm rebooting the VPN in ten minutes unless anyone objects."
    built = message(markdown_part(text), sender_uri=ALICE, room_uri=ROOM, salt=salt, expires=Expiration.at(1644390004))
    assert encode(built) == data
    data, _, salt = example("conferencing")
    join = link_part("https://example.com/join/12345", description="Join the Foo 118 conference")
    assert encode(message(join, sender_uri=ALICE, room_uri=ROOM, salt=salt, topic_id=b"Foo 118")) == data
    data, _, salt = example("multipart-1")
    vendor = SinglePart(
        Disposition.RENDER, "", "application/vnd.examplevendor-fancy-im-message",
        bytes.fromhex("dc861ebaa718fd7c3ca159f71a2001"),
    )  # fmt: skip
    both = alternatives(markdown_part("# Welcome!"), vendor)
    assert encode(message(both, sender_uri=ALICE, room_uri=ROOM, salt=salt)) == data
    data, _, salt = example("multipart-2")
    reactions = together(*map(reaction_part, ["\u2764", "\U0001f973", "\U0001f91e"]), disposition=Disposition.REACTION)
    assert encode(message(reactions, sender_uri=ALICE, room_uri=ROOM, salt=salt)) == data


def test_relative_expiry_and_plain_text() -> None:
    content = message(text_part("ciao", language="it"), expires=Expiration.after_read(30))
    assert decode(encode(content)) == content
    assert content.expires == Expiration(True, 30)
    assert content.nested_part == SinglePart(1, "it", "text/plain;charset=utf-8", b"ciao")
    assert len(content.salt) == 16 and message(text_part("x")).salt != content.salt


def test_salt_from_the_mls_exporter() -> None:
    # HMAC-SHA256 of RFC 4231 test case 2, first 16 octets.
    assert derive_salt(b"Jefe", b"what do ya want for nothing?").hex() == "5bdcc146bf60754e6a042426089575c7"


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("a <b>bold</b> move", "a &lt;b>bold&lt;/b> move"),
        ("<!-- hidden -->", "&lt;!-- hidden -->"),
        ("<?php ?> <!DOCTYPE x> <![CDATA[x]]>", "&lt;?php ?> &lt;!DOCTYPE x> &lt;![CDATA[x]]>"),
        ("1 < 2 and <mimi://example.com/u/alice-smith>", "1 < 2 and <mimi://example.com/u/alice-smith>"),
    ],
)
def test_gfm_mimi_no_html(typed: str, sent: str) -> None:
    assert no_html(typed) == sent
    assert markdown_part(typed).content == sent.encode()


def test_mention_forms() -> None:
    assert mention(ALICE) == "<mimi://example.com/u/alice-smith>"
    assert mention(ALICE, "Alice") == "[Alice](mimi://example.com/u/alice-smith)"


def test_attachment_round_trip(example: Any) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" * 100
    sealed = seal_attachment(video, content_type="video/mp4", filename="bigfile.mp4", description="keys")
    part = sealed.part("https://example.com/storage/8ksB4bSrrRE.mp4", language="en")
    assert (part.enc_alg, part.hash_alg, part.size) == (1, 1, len(video) + 16)
    assert part.content_hash == hashlib.sha256(sealed.ciphertext).digest()
    assert (len(part.key), len(part.nonce), part.aad) == (16, 12, b"")
    received = decode(encode(message(part, sender_uri=BOB, room_uri=ROOM))).nested_part
    assert isinstance(received, ExternalPart)
    assert open_attachment(received, sealed.ciphertext) == video
    # Laid out as the draft's attachment example, but for the per-file secrets.
    drafted = decode(example("attachment")[0]).nested_part
    secrets = {"size", "key", "nonce", "content_hash", "description"}
    assert {n: getattr(part, n) for n in FIELDS - secrets} == {n: getattr(drafted, n) for n in FIELDS - secrets}


def test_attachment_with_known_key_and_nonce() -> None:
    # NIST GCM test case 2 (AES-128, zero key, IV and plaintext): ciphertext || tag.
    sealed = seal_attachment(bytes(16), content_type="application/octet-stream", key=bytes(16), nonce=bytes(12))
    assert sealed.ciphertext.hex() == "0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf"
    assert open_attachment(sealed.part("https://x.example/a"), sealed.ciphertext) == bytes(16)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda c: c[:-1], "size: downloaded"),
        (lambda c: c + b"\x00", "size: downloaded"),
        (lambda c: bytes([c[0] ^ 1]) + c[1:], "contentHash: the downloaded bytes do not match"),
    ],
)
def test_tampered_download_is_refused(tamper: Any, message: str) -> None:
    sealed = seal_attachment(b"secret plans", content_type="text/plain")
    with pytest.raises(DecodeError, match=f"^{message}"):
        open_attachment(sealed.part("https://x.example/a"), tamper(sealed.ciphertext))


def test_wrong_key_or_algorithm_is_refused() -> None:
    sealed = seal_attachment(b"secret plans", content_type="text/plain")
    part = sealed.part("https://x.example/a")
    with pytest.raises(DecodeError, match=r"^encAlg: AES-128-GCM tag does not verify"):
        open_attachment(replace(part, key=bytes(16)), sealed.ciphertext)
    with pytest.raises(DecodeError, match=r"^encAlg: unsupported AEAD algorithm 2"):
        open_attachment(replace(part, enc_alg=2), sealed.ciphertext)
    with pytest.raises(DecodeError, match=r"^hashAlg: unsupported hash algorithm 7"):
        open_attachment(replace(part, hash_alg=7), sealed.ciphertext)
    with pytest.raises(DecodeError, match=r"^nonce: AES-128-GCM needs 12 bytes, got 11"):
        open_attachment(replace(part, nonce=part.nonce[:11]), sealed.ciphertext)
    link = link_part("https://example.com/join/1")
    assert open_attachment(link, b"anything") == b"anything"
