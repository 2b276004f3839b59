"""Delivery and read receipts (draft-mahy-mimi-message-status): the example, and strict decoding."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest

from mimi.content.status import (
    MessageStatus,
    MessageStatusReport,
    PerMessageStatus,
    decode_status,
    encode_status,
    report,
)
from mimi.errors import DecodeError

ID = b"\x01" + bytes(31)


def test_the_example_report_round_trips(vectors: Path) -> None:
    data = (vectors / "mimi-message-status" / "status.cbor").read_bytes()
    decoded = decode_status(data)
    assert encode_status(decoded) == data
    assert [s.status for s in decoded.statuses] == [MessageStatus.READ, MessageStatus.READ, 0, MessageStatus.EXPIRED]
    assert decoded.statuses[0].message_id.hex() == "017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4"


def test_building_a_report() -> None:
    other = b"\x01" + b"\xff" * 31
    built = report(MessageStatus.DELIVERED, ID, other)
    assert encode_status(built) == b"\x82" + b"".join(b"\x82\x58\x20" + mid + b"\x01" for mid in (ID, other))
    assert encode_status(MessageStatusReport(())) == b"\x80"
    # unknownStatus 7..255 is kept, not refused.
    assert decode_status(cbor2.dumps([[ID, 200]])).statuses == (PerMessageStatus(ID, 200),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (cbor2.dumps({}), "MessageStatusReport: expected array"),
        (cbor2.dumps([[ID]]), "MessageStatusReport[0]: expected [messageId, status]"),
        (cbor2.dumps([[ID, 2], [ID, 2, 3]]), "MessageStatusReport[1]: expected [messageId, status]"),
        (cbor2.dumps([[ID[:31], 2]]), "MessageStatusReport[0].messageId: expected 32 bytes, got 31"),
        (cbor2.dumps([["id", 2]]), "MessageStatusReport[0].messageId: expected bstr"),
        (cbor2.dumps([[ID, 256]]), "MessageStatusReport[0].status: 256 does not fit uint .size 1"),
        (cbor2.dumps([[ID, "read"]]), "MessageStatusReport[0].status: expected uint .size 1, got str"),
        (cbor2.dumps([[ID, True]]), "MessageStatusReport[0].status: expected uint .size 1, got bool"),
        (cbor2.dumps([[ID, 2]]) + b"\x00", "MessageStatusReport: 1 trailing bytes"),
        (b"\x9f\x82\x58\x20" + ID + b"\x02\xff", "MessageStatusReport: not deterministically encoded"),
        (b"\x81\x82\x58\x20" + ID + b"\x18\x02", "MessageStatusReport: not deterministically encoded"),
        (b"\x81\x82", "MessageStatusReport: not well-formed CBOR"),
    ],
)
def test_malformed_report_is_a_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_status(data)
    assert str(raised.value).startswith(message)
