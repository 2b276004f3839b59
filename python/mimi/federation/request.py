"""Checks of a request between providers, sans-IO (draft-ietf-mimi-protocol
§Transport layer): what the server decides from the verified certificate, the
request line and the headers, before the body is read and before any handler runs.
Every refusal names what is wrong; none reaches a handler, so none changes state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mimi.errors import DecodeError
from mimi.federation.directory import WELL_KNOWN, Directory

# Request headers a handler sees besides the body: the protocol's own (the /notify
# envelope of docs/interop.md, "Fanout ordering"), not the HTTP framing.
EXTENSION_PREFIX = "mimi-"
# A message's head (start line and headers), both ways: counted as the bytes arrive,
# so an endless one is refused rather than buffered (httptools keeps a header until
# it ends).
MAX_HEADERS = 64
MAX_HEAD = 32 << 10


@dataclass(frozen=True, slots=True)
class Call:
    """A request that passed every check, as a handler gets it."""

    peer: str  # the source provider's domain, as its certificate authenticates it
    endpoint: str  # the directory's name: "notify", "keyMaterial", ...
    params: Mapping[str, str]  # {"roomId": "mimi://a.example/r/clubhouse"}: canonical MIMI URIs
    body: bytes
    headers: Mapping[str, str]  # its MIMI-* headers, names lowercased


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


# An endpoint's handler. A DecodeError or RemoteProtocolError it raises is the
# peer's fault and answered 400 with its message; anything else is 500.
Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str

    def reply(self) -> Reply:
        return Reply(self.status, self.reason.encode(), (("content-type", "text/plain; charset=utf-8"),))


@dataclass(frozen=True, slots=True)
class Head:
    """A request whose head passed: `endpoint` is None for the directory."""

    peer: str
    endpoint: str | None
    params: Mapping[str, str]
    content_length: int
    headers: Mapping[str, str]

    def call(self, body: bytes) -> Call:
        assert self.endpoint is not None
        return Call(self.peer, self.endpoint, self.params, body, self.headers)


def _one(headers: list[tuple[bytes, bytes]], name: bytes) -> str | Refusal | None:
    """The value of a header that may appear once, None if it does not."""
    values = [v for n, v in headers if n == name]
    if len(values) > 1:
        return Refusal(400, f"more than one {name.decode()} header")
    if not values:
        return None
    try:
        return values[0].decode("ascii").strip()
    except UnicodeDecodeError:
        return Refusal(400, f"{name.decode()} header is not ASCII")


def _required(headers: list[tuple[bytes, bytes]], name: bytes, hint: str = "") -> str | Refusal:
    value = _one(headers, name)
    return Refusal(400, f"missing {name.decode().capitalize()} header{hint}") if value is None else value


def check_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    peer_domains: frozenset[str],
    vouched: frozenset[str],
    peers: Collection[str],
    domain: str,
    directory: Directory,
    max_body: int,
) -> Head | Refusal:
    """Check a request's head. `headers` have lowercased names; `peer_domains` are
    the SAN dNSNames of the client certificate the handshake verified, `vouched`
    those of them whose own CAs (the peer table's) issued it; `peers` the peer
    table's domains; `domain` is this provider's."""
    # Host names the target provider; its port is ignored (§Transport layer).
    host = _required(headers, b"host")
    if isinstance(host, Refusal):
        return host
    hostname, colon, port = host.partition(":")
    if colon and not port.isdigit():
        return Refusal(400, f"Host has a port that is not a number: {host!r}")
    if hostname.lower() != domain:
        return Refusal(421, f"Host {host!r} is not this provider ({domain})")

    # From is `mimi@<source domain>`, and the certificate must authenticate that domain.
    sender = _required(headers, b"from", " (mimi@<source provider domain>)")
    if isinstance(sender, Refusal):
        return sender
    local, at, source = sender.partition("@")
    if local != "mimi" or not at or not source:
        return Refusal(400, f"From must be mimi@<source provider domain>, got {sender!r}")
    source = source.lower()
    if source not in peer_domains:
        names = ", ".join(sorted(peer_domains)) or "no dNSName"
        return Refusal(403, f"From names {source} but the client certificate authenticates {names}")
    if source == domain:
        return Refusal(403, f"From names this provider ({domain}): a peer is another provider")
    if source not in peers:
        return Refusal(403, f"{source} is not in the peer table of {domain}")
    if source not in vouched:
        return Refusal(403, f"the client certificate for {source} is not issued by a CA of {source}'s peer table entry")

    path, question, _ = target.decode("ascii", errors="replace").partition("?")
    if question:
        return Refusal(400, "a query is not part of any MIMI endpoint")
    extensions = {}
    for name, value in headers:
        text = name.decode("ascii", errors="replace")
        if text.startswith(EXTENSION_PREFIX):
            if text in extensions:
                return Refusal(400, f"more than one {text} header")
            extensions[text] = value.decode("ascii", errors="replace")

    if path == WELL_KNOWN:
        if method != b"GET":
            return Refusal(405, f"the directory is read with GET, not {method.decode(errors='replace')}")
        # A GET has no body: one announced would be buffered for nothing.
        if _one(headers, b"transfer-encoding") is not None:
            return Refusal(400, "Transfer-Encoding is not accepted on GET: the directory request has no body")
        length = _one(headers, b"content-length")
        if isinstance(length, Refusal):
            return length
        if length is not None and length != "0":
            return Refusal(413, f"the directory request has no body, got Content-Length {length!r}")
        return Head(source, None, {}, 0, extensions)
    try:
        route = directory.route(path)
    except DecodeError as e:
        return Refusal(400, str(e))
    if route is None:
        return Refusal(404, f"no MIMI endpoint at {path!r} (see {WELL_KNOWN})")
    endpoint, params = route
    if method != b"POST":
        return Refusal(405, f"{endpoint} takes POST, not {method.decode(errors='replace')}")

    if _one(headers, b"transfer-encoding") is not None:
        return Refusal(400, "Transfer-Encoding is not accepted: send Content-Length")
    length = _one(headers, b"content-length")
    if isinstance(length, Refusal):
        return length
    if length is None:
        return Refusal(411, "missing Content-Length")
    if not length.isdigit():
        return Refusal(400, f"Content-Length is not a number: {length!r}")
    if int(length) > max_body:
        return Refusal(413, f"body of {length} bytes is over the limit of {max_body}")
    return Head(source, endpoint, params, int(length), extensions)
