"""The HTTPS client of one provider: calls another provider's endpoints at the paths
its directory names (fetched once and cached), with our certificate, over a pool of
kept-alive connections per peer, with timeouts; idempotent calls are tried again
after an exponential backoff with jitter, a bounded number of times.

Peers come from a static table (domain -> address and CA bundle): loopback and
private federations have no DNS for provider domains. The connection goes to the
table's address, while TLS (SNI and the certificate check) and `Host` name the
peer's domain.

HTTP/1.1 on asyncio streams with httptools' parser, as the server: httpx cost
about 1.2 ms of client CPU per call here, more than the whole round trip otherwise
(docs/federation.md)."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httptools

from mimi.errors import PeerUnavailable
from mimi.federation.directory import WELL_KNOWN, Directory
from mimi.federation.request import EXTENSION_PREFIX, MAX_HEAD, MAX_HEADERS, Reply
from mimi.federation.tls import Credentials, client_context
from mimi.logic.fanout import Backoff

# Answers that say "not now" rather than "no": an idempotent call is tried again.
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class Peer:
    domain: str
    base_url: str  # where to connect: "https://127.0.0.1:8443"
    ca_bundle: Path  # what its certificate must chain to


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to connect (the TLS handshake included), to send a request and read
    its answer, to wait for a free connection of the pool; and how long an idle
    connection is kept (below the server's idle timeout, so a kept connection is
    seldom one the server is closing)."""

    connect: float = 5.0
    answer: float = 30.0
    pool: float = 5.0
    idle: float = 30.0


@dataclass(frozen=True, slots=True)
class Retries:
    """An idempotent call is made at most `attempts` times; between two, the delay of
    `backoff` after that many failures."""

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.05, cap=2.0))

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a call is made at least once, got attempts={self.attempts}")


# Largest answer body read by default; a peer sending more is cut off.
MAX_ANSWER = 8 << 20


class _NotSent(Exception):
    """The connection failed before the request was written: trying again is safe."""


class AnswerTooLarge(Exception):
    """The peer's answer is over a limit: its head, or its body over `max_answer`."""


class _Answer:
    """httptools' callbacks for one response."""

    def __init__(self, max_body: int) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.max_body = max_body
        self.headers: list[tuple[str, str]] = []
        self.head_size = 0  # bytes fed while the head was not complete
        self.head_complete = False
        self.body: list[bytes] = []
        self.size = 0
        self.complete = False
        self.keep_alive = False
        self.too_large: str | None = None

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if self.too_large is not None:
                raise AnswerTooLarge(self.too_large) from None
            raise
        if not self.head_complete:
            # All of `data` was head; httptools keeps a header until it ends.
            self.head_size += len(data)
            if self.head_size > MAX_HEAD:
                raise AnswerTooLarge(f"answer head over {MAX_HEAD} bytes")

    def _refuse(self, reason: str) -> None:
        self.too_large = reason
        raise AnswerTooLarge(reason)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))
        if len(self.headers) > MAX_HEADERS:
            self._refuse(f"answer with more than {MAX_HEADERS} headers")

    def on_headers_complete(self) -> None:
        self.head_complete = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._refuse(f"answer body over {self.max_body} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # Known only here: the parser forgets it once the message is through.
        self.keep_alive = self.parser.should_keep_alive()


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    async def exchange(self, request: bytes, max_answer: int) -> tuple[Reply, bool]:
        """Send one request, read its answer: (answer, whether the connection stays open)."""
        self.writer.write(request)
        answer = _Answer(max_answer)
        while not answer.complete:
            data = await self.reader.read(1 << 16)
            if not data:
                raise ConnectionError("connection closed before the answer was complete")
            answer.feed(data)
        reply = Reply(answer.parser.get_status_code(), b"".join(answer.body), tuple(answer.headers))
        return reply, answer.keep_alive

    def close(self) -> None:
        self.writer.close()


class _Pool:
    """At most `size` connections to one peer; idle ones are kept for reuse."""

    def __init__(self, peer: Peer, context: ssl.SSLContext, size: int, timeouts: Timeouts, max_answer: int) -> None:
        address = urlsplit(peer.base_url)
        if address.scheme != "https" or address.hostname is None or address.path not in ("", "/"):
            raise ValueError(f"a peer's base URL is https://host[:port], got {peer.base_url!r}")
        self.peer, self.context, self.timeouts, self.max_answer = peer, context, timeouts, max_answer
        self.host, self.port = address.hostname, address.port or 443
        self.free = asyncio.Semaphore(size)
        self.idle: deque[_Connection] = deque()
        self.opened = 0  # connections opened, for how often they are reused

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if now - connection.idle_since < self.timeouts.idle and not connection.reader.at_eof():
                return connection
            connection.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=self.context, server_hostname=self.peer.domain
                ),
                self.timeouts.connect,
            )
        except (OSError, TimeoutError) as e:
            raise _NotSent(repr(e)) from e
        self.opened += 1
        return _Connection(reader, writer)

    async def exchange(self, request: bytes) -> Reply:
        # `asyncio.timeout`, not `wait_for`: no task of its own per call (~20 µs each).
        try:
            async with asyncio.timeout(self.timeouts.pool):
                await self.free.acquire()
        except TimeoutError:
            raise _NotSent(f"no free connection within {self.timeouts.pool} s") from None
        try:
            connection = await self._connection()
            try:
                async with asyncio.timeout(self.timeouts.answer):
                    reply, keep = await connection.exchange(request, self.max_answer)
            except BaseException:
                connection.close()
                raise
            if keep:
                connection.idle_since = time.monotonic()
                self.idle.append(connection)
            else:
                connection.close()
            return reply
        finally:
            self.free.release()

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()


def _header(name: str, value: str) -> str:
    """A protocol header (`MIMI-*`: what the server hands to handlers); the framing's
    are this module's."""
    if not name.lower().startswith(EXTENSION_PREFIX) or ":" in name or any(c in name + value for c in "\r\n\0"):
        raise ValueError(f"not a MIMI-* header: {name!r}: {value!r}")
    return f"{name}: {value}\r\n"


class FederationClient:
    def __init__(
        self,
        credentials: Credentials,
        peers: Mapping[str, Peer],
        *,
        timeouts: Timeouts = Timeouts(),
        retries: Retries = Retries(),
        connections_per_peer: int = 8,
        directory_ttl: float = 3600.0,
        max_answer: int = MAX_ANSWER,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.peers = dict(peers)
        self.timeouts = timeouts
        self.retries = retries
        self.connections_per_peer = connections_per_peer
        self.directory_ttl = directory_ttl
        self.max_answer = max_answer
        self.rng = rng or random.Random()
        self._pools: dict[str, _Pool] = {}
        self._directories: dict[str, tuple[float, Directory]] = {}

    def _pool(self, domain: str) -> _Pool:
        pool = self._pools.get(domain)
        if pool is None:
            try:
                peer = self.peers[domain]
            except KeyError:
                raise ValueError(f"{domain} is not in the peer table") from None
            context = client_context(self.credentials, peer.ca_bundle)
            pool = self._pools[domain] = _Pool(peer, context, self.connections_per_peer, self.timeouts, self.max_answer)
        return pool

    def connections_opened(self, domain: str) -> int:
        """How many connections to `domain` were opened (each a full TLS handshake)."""
        pool = self._pools.get(domain)
        return pool.opened if pool else 0

    async def directory(self, domain: str) -> Directory:
        """The peer's directory, from the cache while it is younger than the TTL."""
        cached = self._directories.get(domain)
        if cached is not None and time.monotonic() - cached[0] < self.directory_ttl:
            return cached[1]
        reply = await self._send(domain, "GET", WELL_KNOWN, None, {}, idempotent=True)
        if reply.status != 200:
            raise PeerUnavailable(f"directory of {domain}: {reply.status} {reply.body[:200]!r}")
        directory = Directory.from_json(reply.body, domain)
        self._directories[domain] = (time.monotonic(), directory)
        return directory

    async def call(
        self,
        domain: str,
        endpoint: str,
        params: Mapping[str, str],
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Reply:
        """POST `body` to the peer's `endpoint` (a directory name) with its path
        parameter, a MIMI URI. Returns the peer's answer, whatever its status;
        PeerUnavailable if no answer came (after the retries, if `idempotent`)."""
        path = (await self.directory(domain)).path(endpoint, params)
        return await self._send(domain, "POST", path, body, headers or {}, idempotent=idempotent)

    async def _send(
        self, domain: str, method: str, path: str, body: bytes | None, headers: Mapping[str, str], *, idempotent: bool
    ) -> Reply:
        pool = self._pool(domain)
        # §Transport layer: Host names the target provider, From the source.
        head = f"{method} {path} HTTP/1.1\r\nhost: {domain}\r\nfrom: mimi@{self.credentials.domain}\r\n"
        head += "".join(_header(name, value) for name, value in headers.items())
        if body is not None:
            head += f"content-length: {len(body)}\r\n"
        request = (head + "\r\n").encode() + (body or b"")
        for attempt in range(1, self.retries.attempts + 1):
            last = attempt == self.retries.attempts
            try:
                reply = await pool.exchange(request)
            except _NotSent as e:
                if last:
                    raise PeerUnavailable(f"{domain}: {method} {path}: {e}") from e
            except AnswerTooLarge as e:
                # The peer would send it again: not tried again.
                raise PeerUnavailable(f"{domain}: {method} {path}: {e}") from e
            except (OSError, TimeoutError, httptools.HttpParserError) as e:
                # The request may have arrived: only an idempotent call is sent again.
                if last or not idempotent:
                    raise PeerUnavailable(f"{domain}: {method} {path}: {e!r}") from e
            else:
                if last or not idempotent or reply.status not in RETRY_STATUSES:
                    return reply
            await asyncio.sleep(self.retries.backoff.delay(attempt, self.rng))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()
