"""Delivery and read receipts: ``application/mimi-message-status`` (draft-mahy-mimi-message-status-01)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from mimi.content import _cbor
from mimi.content._checks import bstr, is_array, uint
from mimi.content.codec import MESSAGE_ID_SIZE
from mimi.errors import DecodeError

MEDIA_TYPE: Final = "application/mimi-message-status"


class MessageStatus(IntEnum):
    """baseStatus; 7..255 are unknown values a receiver keeps."""

    UNREAD = 0
    DELIVERED = 1
    READ = 2
    EXPIRED = 3
    DELETED = 4
    HIDDEN = 5
    ERROR = 6


@dataclass(frozen=True, slots=True)
class PerMessageStatus:
    message_id: bytes
    status: int

    def __post_init__(self) -> None:
        bstr(self.message_id, "messageId", MESSAGE_ID_SIZE)
        # baseStatus / $extStatus / unknownStatus: all within 0..255.
        uint(self.status, "status", "uint .size 1")


@dataclass(frozen=True, slots=True)
class MessageStatusReport:
    """The status of several messages of one room, as seen by the reporting user."""

    statuses: tuple[PerMessageStatus, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.statuses, tuple) or not all(isinstance(s, PerMessageStatus) for s in self.statuses):
            raise DecodeError("MessageStatusReport: expected a tuple of PerMessageStatus")


def encode_status(report: MessageStatusReport) -> bytes:
    """Deterministic CBOR, like MIMI content (RFC 8949 §4.2.1)."""
    return _cbor.encode([[s.message_id, int(s.status)] for s in report.statuses])


def decode_status(data: bytes) -> MessageStatusReport:
    """Strictly decode a report; raises DecodeError naming the entry and field."""
    raw = _cbor.decode(data, "MessageStatusReport")
    if not is_array(raw):
        raise DecodeError("MessageStatusReport: expected array")
    statuses = []
    for index, entry in enumerate(raw):
        if not is_array(entry) or len(entry) != 2:
            raise DecodeError(f"MessageStatusReport[{index}]: expected [messageId, status]")
        try:
            statuses.append(PerMessageStatus(entry[0], entry[1]))
        except DecodeError as exc:
            raise DecodeError(f"MessageStatusReport[{index}].{exc}") from None
    return MessageStatusReport(tuple(statuses))


def report(status: int, *message_ids: bytes) -> MessageStatusReport:
    """One status for several messages: e.g. ``report(MessageStatus.READ, *ids)``."""
    return MessageStatusReport(tuple(PerMessageStatus(mid, status) for mid in message_ids))
