"""MIMI content: encode and decode of a text message and of a 10-part multipart, message IDs."""

from __future__ import annotations

from typing import Any

from mimi.content import decode, encode, markdown_part, message, message_id, text_part, together

SENDER = "mimi://example.com/u/alice-smith"
ROOM = "mimi://example.com/r/engineering_team"

TEXT = message(
    markdown_part("Hi everyone, we just shipped release 2.0. __Good  work__!"),
    sender_uri=SENDER,
    room_uri=ROOM,
    salt=bytes(range(16)),
)
MULTIPART = message(
    together(*(text_part(f"part {i}: " + "lorem ipsum " * 8, language="en") for i in range(10))),
    sender_uri=SENDER,
    room_uri=ROOM,
    salt=bytes(range(16)),
)
TEXT_BYTES = encode(TEXT)
MULTIPART_BYTES = encode(MULTIPART)


def test_encode_text(benchmark: Any) -> None:
    assert benchmark(encode, TEXT) == TEXT_BYTES


def test_decode_text(benchmark: Any) -> None:
    assert benchmark(decode, TEXT_BYTES) == TEXT


def test_encode_multipart_10(benchmark: Any) -> None:
    assert benchmark(encode, MULTIPART) == MULTIPART_BYTES


def test_decode_multipart_10(benchmark: Any) -> None:
    assert benchmark(decode, MULTIPART_BYTES) == MULTIPART


def test_message_id(benchmark: Any) -> None:
    assert len(benchmark(message_id, TEXT_BYTES, SENDER, ROOM)) == 32
