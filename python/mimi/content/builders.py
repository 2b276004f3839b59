"""Builders for what users do: text, markdown, replies, reactions, edits, deletes, links.

Part builders return a NestedPart; message builders wrap one in a MimiContent.
A fresh random salt is drawn unless one is passed (tests and MLS-derived salts
pass one, see :func:`derive_salt`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace

from mimi.content.codec import (
    SALT_SIZE,
    TEXT_MARKDOWN,
    TEXT_PLAIN,
    Disposition,
    Expiration,
    Extensions,
    ExternalPart,
    MimiContent,
    MultiPart,
    NestedPart,
    NullPart,
    PartSemantics,
    SinglePart,
)

# GFM §6.10 "HTML tag" starts: open and closing tags, comments, processing
# instructions, declarations and CDATA. A URI autolink (<mimi://...>) is not one.
_HTML_TAG_START = re.compile(r"<(?=[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/[A-Za-z]|!--|\?|![A-Za-z]|!\[CDATA\[)")


def derive_salt(salt_base_secret: bytes, nonce: bytes) -> bytes:
    """§Generating the random salt: HMAC-SHA256(salt_base_secret, nonce)[0..15]."""
    return hmac.new(salt_base_secret, nonce, hashlib.sha256).digest()[:SALT_SIZE]


def no_html(markdown: str) -> str:
    """GFM-MIMI's No HTML extension: the ``<`` opening any HTML tag becomes ``&lt;``."""
    return _HTML_TAG_START.sub("&lt;", markdown)


def mention(uri: str, display: str | None = None) -> str:
    """A Markdown mention (§Link and Mention handling); ``display`` is a rendering hint."""
    return f"<{uri}>" if display is None else f"[{display}]({uri})"


def text_part(text: str, *, language: str = "", disposition: int = Disposition.RENDER) -> SinglePart:
    return SinglePart(disposition, language, TEXT_PLAIN, text.encode("utf-8"))


def markdown_part(markdown: str, *, language: str = "", disposition: int = Disposition.RENDER) -> SinglePart:
    """``text/markdown;variant=GFM-MIMI``, with HTML tags neutralised before sending."""
    return SinglePart(disposition, language, TEXT_MARKDOWN, no_html(markdown).encode("utf-8"))


def reaction_part(reaction: str, *, language: str = "") -> SinglePart:
    """One reaction (§Reaction): a part with the reaction disposition."""
    return text_part(reaction, language=language, disposition=Disposition.REACTION)


def alternatives(*parts: NestedPart, disposition: int = Disposition.RENDER, language: str = "") -> MultiPart:
    """The receiver renders one of ``parts`` (chooseOne, like multipart/alternative)."""
    return MultiPart(disposition, language, PartSemantics.CHOOSE_ONE, parts)


def together(*parts: NestedPart, disposition: int = Disposition.RENDER, language: str = "") -> MultiPart:
    """The receiver processes each of ``parts`` (processAll, like multipart/mixed)."""
    return MultiPart(disposition, language, PartSemantics.PROCESS_ALL, parts)


def link_part(
    url: str,
    *,
    disposition: int = Disposition.SESSION,
    content_type: str = "",
    description: str = "",
    language: str = "",
) -> ExternalPart:
    """An unencrypted ExternalPart: a service such as a conference to join (§Conferencing)."""
    return ExternalPart(
        disposition, language, content_type, url, expires=0, size=0, enc_alg=0, key=b"", nonce=b"",
        aad=b"", hash_alg=0, content_hash=b"", description=description, filename="",
    )  # fmt: skip


def message(
    body: NestedPart,
    *,
    sender_uri: str | None = None,
    room_uri: str | None = None,
    salt: bytes | None = None,
    topic_id: bytes = b"",
    expires: Expiration | None = None,
    in_reply_to: bytes | None = None,
    replaces: bytes | None = None,
) -> MimiContent:
    """A message with ``body``; ``topic_id`` groups a thread, ``expires`` makes it expire."""
    return MimiContent(
        salt=secrets.token_bytes(SALT_SIZE) if salt is None else salt,
        replaces=replaces,
        topic_id=topic_id,
        expires=expires,
        in_reply_to=in_reply_to,
        mimi_extensions=Extensions(sender_uri=sender_uri, room_uri=room_uri),
        nested_part=body,
    )


def reply(
    to: bytes, body: NestedPart, *, sender_uri: str | None = None, room_uri: str | None = None, salt: bytes | None = None
) -> MimiContent:
    """A reply to message ID ``to`` (inReplyTo)."""
    return message(body, sender_uri=sender_uri, room_uri=room_uri, salt=salt, in_reply_to=to)


def reaction(
    to: bytes, emoji: str, *, sender_uri: str | None = None, room_uri: str | None = None, salt: bytes | None = None
) -> MimiContent:
    """A reaction to message ID ``to``: inReplyTo it, with the reaction disposition."""
    return reply(to, reaction_part(emoji), sender_uri=sender_uri, room_uri=room_uri, salt=salt)


def edit(previous: MimiContent, previous_id: bytes, body: NestedPart, *, salt: bytes | None = None) -> MimiContent:
    """A new version of ``previous`` (whose message ID is ``previous_id``).

    §Edit: ``replaces`` names the first instance of the message, so an edit
    of an edit keeps pointing at the original. §Security Considerations: only
    the NestedPart may change, so every other field is carried over.
    """
    first = previous_id if previous.replaces is None else previous.replaces
    return replace(
        previous,
        salt=secrets.token_bytes(SALT_SIZE) if salt is None else salt,
        replaces=first,
        nested_part=body,
    )


def delete(previous: MimiContent, previous_id: bytes, *, salt: bytes | None = None) -> MimiContent:
    """Retract ``previous`` (§Delete): a replacement with an empty (null) body.

    The null part keeps the replaced part's disposition, so deleting a
    reaction reads as an unlike (§Unlike), as in the draft's examples.
    """
    body = NullPart(previous.nested_part.disposition, "")
    return edit(previous, previous_id, body, salt=salt)


def unlike(reaction_message: MimiContent, reaction_id: bytes, *, salt: bytes | None = None) -> MimiContent:
    """Remove a reaction (§Unlike): delete the message that made it."""
    return delete(reaction_message, reaction_id, salt=salt)
