"""MLSMessage framing of bare MLS structs.

The protocol's bodies carry a Welcome and a GroupInfo bare (HandshakeBundle,
GroupInfoOption); fanout and openmls take them as MLSMessages. RFC 9420 §6:
MLSMessage = ProtocolVersion version (mls10 = 1) || WireFormat wire_format || body.
"""

from __future__ import annotations

from mimi.errors import DecodeError

_WELCOME = b"\x00\x01\x00\x03"  # mls10, mls_welcome
_GROUP_INFO = b"\x00\x01\x00\x04"  # mls10, mls_group_info


def _unframe(message: bytes, header: bytes, what: str) -> bytes:
    if message[:4] != header:
        raise DecodeError(f"MLSMessage is not an mls10 {what}")
    return message[4:]


def welcome_message(welcome: bytes) -> bytes:
    return _WELCOME + welcome


def bare_welcome(message: bytes) -> bytes:
    return _unframe(message, _WELCOME, "Welcome")


def group_info_message(group_info: bytes) -> bytes:
    return _GROUP_INFO + group_info


def bare_group_info(message: bytes) -> bytes:
    return _unframe(message, _GROUP_INFO, "GroupInfo")
