"""MIMI content (draft-ietf-mimi-content-08): typed model, strict codec, message IDs.

Field names are the draft's, in snake_case (``inReplyTo`` is ``in_reply_to``).
Every constructor validates its fields, so a value that exists can be encoded
and the decoder needs no second rule book: it maps CBOR positions onto the
constructors and adds the path of the part to their messages. Invalid values
raise :class:`mimi.errors.DecodeError` naming the field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from operator import itemgetter
from typing import Any, Final, TypeAlias

from cbor2 import CBORTag

from mimi.content import _cbor
from mimi.content._checks import bstr, is_array, tstr, uint
from mimi.errors import DecodeError

SALT_SIZE: Final = 16
MESSAGE_ID_SIZE: Final = 32
SHA256_HASH_ALG: Final = 1  # IANA Named Information Hash Algorithm registry

# draft-ietf-mimi-content §Depth restrictions and §Security Considerations.
MAX_PART_DEPTH: Final = 4
MAX_PARTS: Final = 1024
MAX_EXTENSION_DEPTH: Final = 4
MAX_TOPIC_ID_SIZE: Final = 4096
_MAX_SAFE_INT: Final = 2**53 - 1

TEXT_PLAIN: Final = "text/plain;charset=utf-8"
TEXT_MARKDOWN: Final = "text/markdown;variant=GFM-MIMI"
MEDIA_TYPE: Final = "application/mimi-content"


class Disposition(IntEnum):
    """baseDispos (§Message Bodies); 9..255 are unknown and render like ``render``."""

    UNSPECIFIED = 0
    RENDER = 1
    REACTION = 2
    PROFILE = 3
    INLINE = 4
    ICON = 5
    ATTACHMENT = 6
    SESSION = 7
    PREVIEW = 8


class Cardinality(IntEnum):
    """The kind of a NestedPart, its third item."""

    NULLPART = 0
    SINGLE = 1
    EXTERNAL = 2
    MULTI = 3


class PartSemantics(IntEnum):
    CHOOSE_ONE = 0
    SINGLE_UNIT = 1
    PROCESS_ALL = 2


class ExtensionKey(IntEnum):
    """MIMI Content Extension Keys registry."""

    SENDER_URI = 1
    ROOM_URI = 2


# --- field checks: each names the field it rejects -------------------------


def _optional_id(value: object, name: str) -> None:
    if value is not None:
        bstr(value, name, MESSAGE_ID_SIZE)


def _part_header(disposition: object, language: object) -> None:
    # §Message Bodies: baseDispos / $extDispos / unknownDispos, all 0..255.
    uint(disposition, "disposition", "uint .size 1")
    tstr(language, "language")


# --- the model ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NullPart:
    """An empty body: what a delete or an unlike carries."""

    disposition: int = Disposition.RENDER
    language: str = ""

    def __post_init__(self) -> None:
        _part_header(self.disposition, self.language)


@dataclass(frozen=True, slots=True)
class SinglePart:
    """One inline body part."""

    disposition: int
    language: str
    content_type: str
    content: bytes

    def __post_init__(self) -> None:
        _part_header(self.disposition, self.language)
        tstr(self.content_type, "contentType")
        bstr(self.content, "content")


@dataclass(frozen=True, slots=True)
class ExternalPart:
    """Content fetched from a URL, usually AEAD-encrypted (§External content)."""

    disposition: int
    language: str
    content_type: str
    url: str
    expires: int
    size: int
    enc_alg: int
    key: bytes
    nonce: bytes
    aad: bytes
    hash_alg: int
    content_hash: bytes
    description: str
    filename: str

    def __post_init__(self) -> None:
        _part_header(self.disposition, self.language)
        tstr(self.content_type, "contentType")
        tstr(self.url, "url")
        uint(self.expires, "expires", "uint .size 4")
        uint(self.size, "size", "uint .size 8")
        uint(self.enc_alg, "encAlg", "uint .size 2")
        bstr(self.key, "key")
        bstr(self.nonce, "nonce")
        bstr(self.aad, "aad")
        uint(self.hash_alg, "hashAlg", "uint .size 1")
        bstr(self.content_hash, "contentHash")
        tstr(self.description, "description")
        tstr(self.filename, "filename")


@dataclass(frozen=True, slots=True)
class MultiPart:
    """Two or more nested parts related by ``part_semantics``."""

    disposition: int
    language: str
    part_semantics: PartSemantics
    parts: tuple[NestedPart, ...]

    def __post_init__(self) -> None:
        _part_header(self.disposition, self.language)
        semantics = uint(self.part_semantics, "partSemantics", "uint .size 1")
        try:
            object.__setattr__(self, "part_semantics", PartSemantics(semantics))
        except ValueError:
            raise DecodeError(f"partSemantics: unknown value {semantics}") from None
        if not isinstance(self.parts, tuple) or not all(isinstance(p, _PART_TYPES) for p in self.parts):
            raise DecodeError("parts: expected a tuple of NestedPart")
        if len(self.parts) < 2:
            raise DecodeError(f"parts: a MultiPart needs 2 or more parts, got {len(self.parts)}")


NestedPart: TypeAlias = NullPart | SinglePart | ExternalPart | MultiPart
_PART_TYPES: Final = (NullPart, SinglePart, ExternalPart, MultiPart)


@dataclass(frozen=True, slots=True)
class Expiration:
    """When the receiver should delete the message (§Message Behavior Fields)."""

    relative: bool
    time: int

    def __post_init__(self) -> None:
        if not isinstance(self.relative, bool):
            raise DecodeError(f"expires.relative: expected bool, got {type(self.relative).__name__}")
        uint(self.time, "expires.time", "uint .size 4")

    @classmethod
    def after_read(cls, seconds: int) -> Expiration:
        """Delete ``seconds`` after the receiver reads the message."""
        return cls(True, seconds)

    @classmethod
    def at(cls, unix_seconds: int) -> Expiration:
        """Delete at an absolute time, seconds since the UNIX epoch."""
        return cls(False, unix_seconds)


ExtensionName: TypeAlias = int | str


@dataclass(frozen=True, slots=True)
class Extensions:
    """The ``mimiExtensions`` map: the registered keys, and the others as pairs."""

    sender_uri: str | None = None
    room_uri: str | None = None
    others: tuple[tuple[ExtensionName, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.sender_uri is not None:
            tstr(self.sender_uri, "mimiExtensions.senderUri")
        if self.room_uri is not None:
            tstr(self.room_uri, "mimiExtensions.roomUri")
        if not isinstance(self.others, tuple):
            raise DecodeError("mimiExtensions: others must be a tuple of (name, value) pairs")
        for name, value in self.others:
            _check_extension(name, value)
        # Keep the map order of the encoding, so equal maps compare equal.
        names = [_cbor.encode(name) for name, _ in self.others]
        if len(set(names)) != len(names):
            raise DecodeError("mimiExtensions: more than one extension with the same key")
        object.__setattr__(self, "others", tuple(pair for _, pair in sorted(zip(names, self.others), key=itemgetter(0))))

    def to_map(self) -> dict[ExtensionName, Any]:
        entries: dict[ExtensionName, Any] = dict(self.others)
        if self.sender_uri is not None:
            entries[_SENDER_URI] = self.sender_uri
        if self.room_uri is not None:
            entries[_ROOM_URI] = self.room_uri
        return entries

    @classmethod
    def from_map(cls, entries: object) -> Extensions:
        if not isinstance(entries, Mapping):
            raise DecodeError(f"mimiExtensions: expected map, got {type(entries).__name__}")
        return cls(
            sender_uri=entries.get(_SENDER_URI),
            room_uri=entries.get(_ROOM_URI),
            others=tuple((k, v) for k, v in entries.items() if type(k) is not int or k not in _REGISTERED),
        )


_SENDER_URI: Final = ExtensionKey.SENDER_URI.value
_ROOM_URI: Final = ExtensionKey.ROOM_URI.value
_REGISTERED: Final = (_SENDER_URI, _ROOM_URI)


def _check_key(key: object, name: str, *, byte_keys: bool) -> None:
    # §Data model restrictions: int keys exact as a double; tstr up to 255 octets.
    if type(key) is int:
        if not -_MAX_SAFE_INT <= key <= _MAX_SAFE_INT:
            raise DecodeError(f"{name}: integer key {key} is not exact as a double")
    elif isinstance(key, str):
        if byte_keys:
            return
        if not 1 <= len(key.encode("utf-8")) <= 255:
            raise DecodeError(f"{name}: text key must be 1 to 255 octets")
    elif not (byte_keys and isinstance(key, bytes)):
        raise DecodeError(f"{name}: map key of type {type(key).__name__} not allowed")


def _check_extension(name: object, value: object) -> None:
    _check_key(name, "mimiExtensions", byte_keys=False)
    if type(name) is int and name in _REGISTERED:
        raise DecodeError(f"mimiExtensions: key {name} belongs in sender_uri / room_uri")
    path = f"mimiExtensions[{name!r}]"
    # The map is level 1; each tag, map or array below it is one level more.
    stack: list[tuple[object, int]] = [(value, 2)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (str, bytes)) or not isinstance(item, (Sequence, Mapping, CBORTag)):
            continue
        if depth > MAX_EXTENSION_DEPTH:
            raise DecodeError(f"{path}: nested deeper than {MAX_EXTENSION_DEPTH} levels (§Depth restrictions)")
        if isinstance(item, Mapping):
            for key, child in item.items():
                _check_key(key, path, byte_keys=True)
                stack.append((child, depth + 1))
        elif isinstance(item, CBORTag):
            # RFC 8949 §3.4.3: a bignum that fits an integer is one.
            bignum = item.tag in (2, 3) and isinstance(item.value, bytes)
            if bignum and (len(item.value) <= 8 or item.value[0] == 0):
                raise DecodeError(f"{path}: bignum not in preferred serialization")
            stack.append((item.value, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


@dataclass(frozen=True, slots=True)
class MimiContent:
    """One ``application/mimi-content`` message (§Message Behavior Fields)."""

    salt: bytes
    replaces: bytes | None
    topic_id: bytes
    expires: Expiration | None
    in_reply_to: bytes | None
    mimi_extensions: Extensions
    nested_part: NestedPart

    def __post_init__(self) -> None:
        bstr(self.salt, "salt", SALT_SIZE)
        _optional_id(self.replaces, "replaces")
        bstr(self.topic_id, "topicId")
        # §Security Considerations: a topicId over 4096 octets is nonsensical.
        if len(self.topic_id) > MAX_TOPIC_ID_SIZE:
            raise DecodeError(f"topicId: {len(self.topic_id)} octets, more than {MAX_TOPIC_ID_SIZE}")
        if self.expires is not None and not isinstance(self.expires, Expiration):
            raise DecodeError("expires: expected null or Expiration")
        _optional_id(self.in_reply_to, "inReplyTo")
        if not isinstance(self.mimi_extensions, Extensions):
            raise DecodeError("mimiExtensions: expected Extensions")
        if not isinstance(self.nested_part, _PART_TYPES):
            raise DecodeError("nestedPart: expected a NestedPart")
        _check_body_limits(self.nested_part)

    def parts(self) -> Iterator[tuple[int, NestedPart]]:
        """Every part with its implied partIndex (zero-based, depth first)."""
        return enumerate(walk_parts(self.nested_part))


def walk_parts(root: NestedPart) -> Iterator[NestedPart]:
    """Depth-first, in partIndex order (§Message Bodies)."""
    stack: list[NestedPart] = [root]
    while stack:
        part = stack.pop()
        yield part
        if isinstance(part, MultiPart):
            stack.extend(reversed(part.parts))


def _check_body_limits(root: NestedPart) -> None:
    # §Depth restrictions: the body is level 1, no part below level 4.
    # §Security Considerations: more than 1024 parts is nonsensical; every
    # NestedPart counts, as in the 11-part nesting example.
    count = 0
    stack: list[tuple[NestedPart, int, str]] = [(root, 1, "nestedPart")]
    while stack:
        part, depth, path = stack.pop()
        count += 1
        if count > MAX_PARTS:
            raise DecodeError(f"nestedPart: more than {MAX_PARTS} parts")
        if depth > MAX_PART_DEPTH:
            raise DecodeError(f"{path}: NestedPart nested more than {MAX_PART_DEPTH} levels deep")
        if isinstance(part, MultiPart):
            children = [(child, depth + 1, f"{path}.parts[{i}]") for i, child in enumerate(part.parts)]
            stack.extend(reversed(children))  # report the first offender in partIndex order


# --- CBOR mapping ---------------------------------------------------------------

_FIELDS: Final = ("salt", "replaces", "topicId", "expires", "inReplyTo", "mimiExtensions", "nestedPart")
# Items after disposition, language and cardinality, by cardinality.
_PART_ITEMS: Final = {Cardinality.NULLPART: 0, Cardinality.SINGLE: 2, Cardinality.EXTERNAL: 12, Cardinality.MULTI: 2}


def _part_to_cbor(part: NestedPart) -> list[Any]:
    head = [int(part.disposition), part.language]
    if isinstance(part, NullPart):
        return [*head, Cardinality.NULLPART.value]
    if isinstance(part, SinglePart):
        return [*head, Cardinality.SINGLE.value, part.content_type, part.content]
    if isinstance(part, ExternalPart):
        return [
            *head, Cardinality.EXTERNAL.value, part.content_type, part.url, part.expires, part.size,
            part.enc_alg, part.key, part.nonce, part.aad, part.hash_alg, part.content_hash,
            part.description, part.filename,
        ]  # fmt: skip
    return [*head, Cardinality.MULTI.value, part.part_semantics.value, [_part_to_cbor(p) for p in part.parts]]


def to_cbor(content: MimiContent) -> list[Any]:
    """The plain CBOR data model of a message (arrays, maps, scalars)."""
    expires = None if content.expires is None else [content.expires.relative, content.expires.time]
    return [
        content.salt,
        content.replaces,
        content.topic_id,
        expires,
        content.in_reply_to,
        content.mimi_extensions.to_map(),
        _part_to_cbor(content.nested_part),
    ]


def encode(content: MimiContent) -> bytes:
    """Deterministic CBOR of a message (§Encoding restrictions)."""
    return _cbor.encode(to_cbor(content))


def _part_from_cbor(raw: object, path: str) -> NestedPart:
    if not is_array(raw) or len(raw) < 3:
        raise DecodeError(f"{path}: expected a NestedPart array")
    disposition, language, cardinality, *rest = raw
    kind = uint(cardinality, f"{path}.cardinality", "uint .size 1")
    if kind not in _PART_ITEMS:
        raise DecodeError(f"{path}.cardinality: unknown part kind {kind}")
    if len(rest) != _PART_ITEMS[Cardinality(kind)]:
        raise DecodeError(f"{path}: {Cardinality(kind).name} part has {len(raw)} items")
    try:
        if kind == Cardinality.MULTI:
            semantics, parts = rest
            if not is_array(parts):
                raise DecodeError("parts: expected array")
        elif kind == Cardinality.NULLPART:
            return NullPart(disposition, language)
        elif kind == Cardinality.SINGLE:
            return SinglePart(disposition, language, *rest)
        else:
            return ExternalPart(disposition, language, *rest)
    except DecodeError as exc:
        raise DecodeError(f"{path}.{exc}") from None
    children = tuple(_part_from_cbor(child, f"{path}.parts[{i}]") for i, child in enumerate(parts))
    try:
        return MultiPart(disposition, language, semantics, children)
    except DecodeError as exc:
        raise DecodeError(f"{path}.{exc}") from None


def _expires_from_cbor(raw: object) -> Expiration | None:
    if raw is None:
        return None
    if not is_array(raw) or len(raw) != 2:
        raise DecodeError("expires: expected null or [relative, time]")
    return Expiration(raw[0], raw[1])


def from_cbor(raw: object) -> MimiContent:
    """A message from its plain CBOR data model, checking every field."""
    if not is_array(raw) or len(raw) != len(_FIELDS):
        raise DecodeError("mimiContent: expected an array of 7 items")
    salt, replaces, topic_id, expires, in_reply_to, extensions, body = raw
    return MimiContent(
        salt=salt,
        replaces=replaces,
        topic_id=topic_id,
        expires=_expires_from_cbor(expires),
        in_reply_to=in_reply_to,
        mimi_extensions=Extensions.from_map(extensions),
        nested_part=_part_from_cbor(body, "nestedPart"),
    )


def decode(data: bytes) -> MimiContent:
    """Strictly decode ``application/mimi-content``; raises DecodeError naming the field."""
    return from_cbor(_cbor.decode(data, "mimiContent", _FIELDS))


# --- message ID (§Message ID) --------------------------------------------------------


def _length_prefixed(uri: str, name: str) -> bytes:
    encoded = uri.encode("utf-8")
    if len(encoded) > 0xFFFF:
        raise DecodeError(f"{name}: longer than 65535 octets")
    return len(encoded).to_bytes(2, "big") + encoded


def message_id(content_bytes: bytes, sender_uri: str, room_uri: str) -> bytes:
    """The 32-byte message ID: 0x01 (SHA-256) and 31 octets of

    SHA-256(senderUriLength || senderUri || roomUriLength || roomUri || message || salt).

    The hash covers the bytes as sent; only the salt is read from them, which
    the deterministic encoding puts at a fixed place: array(7), bytes(16).
    """
    if content_bytes[:2] != b"\x87\x50" or len(content_bytes) < 2 + SALT_SIZE:
        raise DecodeError("salt: message does not start with a 16-byte salt")
    salt = content_bytes[2 : 2 + SALT_SIZE]
    digest = hashlib.sha256()
    digest.update(_length_prefixed(sender_uri, "senderUri"))
    digest.update(_length_prefixed(room_uri, "roomUri"))
    digest.update(content_bytes)
    digest.update(salt)
    return bytes((SHA256_HASH_ALG,)) + digest.digest()[: MESSAGE_ID_SIZE - 1]
