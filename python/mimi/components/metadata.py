"""Room metadata (draft-ietf-mimi-protocol §Room Metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.errors import DecodeError
from mimi.tls_codec import Reader, Struct, Writer


def _read_utf8_string(r: Reader, field: str) -> str:
    """§Room Metadata UTF8String: "a sequence of valid UTF8 without nulls"."""
    value = r.string(field)
    if "\x00" in value:
        raise DecodeError(f"{r.path}.{field}: NUL in UTF8String")
    return value


@dataclass(frozen=True, slots=True)
class RichDescription(Struct):
    media_type: str = ""  # empty means text/plain;charset=utf-8
    language_tag: str = ""
    description_content: bytes = b""

    def write(self, w: Writer) -> None:
        w.string(self.media_type)
        w.string(self.language_tag)
        w.opaque(self.description_content)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.string("media_type"), r.string("language_tag"), r.opaque("description_content"))


@dataclass(frozen=True, slots=True)
class RoomMetaData(Struct):
    """`room_metadata` component data and `RoomMetaUpdate` (the same format)."""

    room_uri: str = ""
    room_name: str = ""
    room_descriptions: tuple[RichDescription, ...] = ()
    room_avatar: str = ""
    room_subject: str = ""
    room_mood: str = ""

    def write(self, w: Writer) -> None:
        w.string(self.room_uri)
        w.string(self.room_name)
        w.structs(self.room_descriptions)
        w.string(self.room_avatar)
        w.string(self.room_subject)
        w.string(self.room_mood)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            room_uri=r.string("room_uri"),
            room_name=_read_utf8_string(r, "room_name"),
            room_descriptions=r.vector("room_descriptions", RichDescription.read),
            room_avatar=r.string("room_avatar"),
            room_subject=_read_utf8_string(r, "room_subject"),
            room_mood=_read_utf8_string(r, "room_mood"),
        )
