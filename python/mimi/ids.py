"""MIMI identifier URIs (draft-mahy-mimi-identity §URI forms).

provider  mimi://a.example
user      mimi://a.example/u/alice
client    mimi://a.example/d/alice/phone   (the user is mimi://a.example/u/alice)
room      mimi://a.example/r/clubhouse
group     mimi://a.example/g/clubhouse
pseudonym mimi://a.example/p/crazykoala75

Parsing is strict and canonical: a lowercase DNS name, no port, no query or
fragment, and non-empty path segments of RFC 3986 pchar (no "/"). A malformed
URI raises `DecodeError` (a `ValueError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from mimi.errors import DecodeError

SCHEME = "mimi://"

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# RFC 3986 pchar without "/": unreserved, pct-encoded, sub-delims, ":" and "@".
_SEGMENT = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+")


class UriKind(Enum):
    """The path letter of a MIMI URI; `provider` has no path."""

    provider = ""
    user = "u"
    client = "d"
    room = "r"
    group = "g"
    pseudonym = "p"


# How many path segments follow the kind letter.
_SEGMENTS = {
    UriKind.user: 1,
    UriKind.client: 2,
    UriKind.room: 1,
    UriKind.group: 1,
    UriKind.pseudonym: 1,
}


@dataclass(frozen=True, slots=True)
class MimiUri:
    """A parsed MIMI URI; `str()` gives back its canonical text."""

    kind: UriKind
    domain: str
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind is UriKind.provider:
            return SCHEME + self.domain
        return "/".join((SCHEME + self.domain, self.kind.value, *self.path))


# URIs recur (every participant, on every commit and message): parses are
# remembered. MimiUri is immutable; a refusal is not remembered (it raises).
_REMEMBERED = 1 << 16


def is_domain(name: str) -> bool:
    """A provider domain as MIMI URIs spell it: a lowercase DNS name, no port."""
    return _DOMAIN.fullmatch(name) is not None and len(name) <= 253


@lru_cache(maxsize=_REMEMBERED)
def parse(uri: str, *kinds: UriKind) -> MimiUri:
    """Parse `uri`; when `kinds` are given, it must be one of them."""
    if not uri.startswith(SCHEME):
        raise DecodeError(f"not a MIMI URI (scheme must be mimi://): {uri!r}")
    domain, _, rest = uri[len(SCHEME) :].partition("/")
    if not is_domain(domain):
        raise DecodeError(f"invalid domain {domain!r} in {uri!r}")
    if not rest:
        if "/" in uri[len(SCHEME) :]:
            raise DecodeError(f"empty path in {uri!r}")
        parsed = MimiUri(UriKind.provider, domain)
    else:
        letter, *segments = rest.split("/")
        try:
            kind = UriKind(letter)
        except ValueError:
            raise DecodeError(f"unknown MIMI URI kind {letter!r} in {uri!r}") from None
        if kind is UriKind.provider or len(segments) != _SEGMENTS[kind]:
            raise DecodeError(f"wrong number of path segments for a {kind.name} URI: {uri!r}")
        for segment in segments:
            if _SEGMENT.fullmatch(segment) is None:
                raise DecodeError(f"invalid path segment {segment!r} in {uri!r}")
        parsed = MimiUri(kind, domain, tuple(segments))
    if kinds and parsed.kind not in kinds:
        wanted = " or ".join(k.name for k in kinds)
        raise DecodeError(f"expected a {wanted} URI, got a {parsed.kind.name} URI: {uri!r}")
    return parsed


def user_uri(domain: str, user: str) -> str:
    return str(parse(f"{SCHEME}{domain}/u/{user}", UriKind.user))


def client_uri(domain: str, user: str, device: str) -> str:
    return str(parse(f"{SCHEME}{domain}/d/{user}/{device}", UriKind.client))


@lru_cache(maxsize=_REMEMBERED)
def user_of(client: str) -> str:
    """The user URI of a client URI: mimi://d/d/alice/phone -> mimi://d/u/alice."""
    parsed = parse(client, UriKind.client)
    return str(MimiUri(UriKind.user, parsed.domain, parsed.path[:1]))


@lru_cache(maxsize=_REMEMBERED)
def domain(uri: str) -> str:
    """The provider domain of any MIMI URI."""
    return parse(uri).domain


@lru_cache(maxsize=_REMEMBERED)
def provider_of(uri: str) -> str:
    """The provider URI of any MIMI URI: mimi://d/u/alice -> mimi://d."""
    return SCHEME + domain(uri)


def is_client(uri: str) -> bool:
    """True if `uri` parses as a client URI."""
    try:
        return parse(uri).kind is UriKind.client
    except DecodeError:
        return False
