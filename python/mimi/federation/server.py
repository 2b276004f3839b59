"""The HTTPS server of one provider: asyncio's TLS and httptools' HTTP/1.1 parser,
the one pairing measured that both requires a client certificate and hands the
verified certificate to the handler, at the best speed (docs/federation.md).

The IO only: the checks are `request.check_head`'s, the paths the directory's. A
connection carries requests one after the other (keep-alive; pipelined requests are
answered in order), reads no more while a few wait or the peer does not read its
answers, and is closed when idle."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path

import httptools

from mimi.errors import DecodeError, RemoteProtocolError
from mimi.federation.directory import PARAMETERS, Directory
from mimi.federation.request import MAX_HEAD, MAX_HEADERS, Handler, Head, Refusal, Reply, check_head
from mimi.federation.tls import Credentials, PeerCAs, certificate_domains, server_context

log = logging.getLogger(__name__)

MAX_BODY = 4 << 20
# Requests read ahead of the one being answered, per connection; their bodies are
# bounded in bytes by the server's `max_read_ahead`.
MAX_PIPELINED = 8
# A request line's target: counted as the bytes arrive, so an endless one is refused
# rather than buffered.
MAX_URL = 8 << 10


class _Refused(Exception):
    """Stops the parser at a refused head: its body is never read."""


class FederationServer:
    """Serves `handlers` (directory name -> Handler) under `prefix`, and the directory
    of them at the well-known path, to the providers of `peers` (the peer table:
    domain -> the CA bundle that domain's certificate must be issued by). `connections` and `requests` count what it served
    (how often connections are reused)."""

    def __init__(
        self,
        credentials: Credentials,
        handlers: Mapping[str, Handler],
        peers: Mapping[str, Path],
        *,
        prefix: str = "",
        max_body: int = MAX_BODY,
        idle_timeout: float = 60.0,
        handshake_timeout: float = 10.0,
        head_timeout: float = 10.0,
        body_timeout: float = 30.0,
        max_connections: int = 1024,
        max_connections_per_address: int = 128,
        max_read_ahead: int = MAX_BODY,
    ) -> None:
        unknown = set(handlers) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"no such MIMI endpoint: {sorted(unknown)} (known: {sorted(PARAMETERS)})")
        self.credentials = credentials
        self.handlers = dict(handlers)
        self.directory = Directory.serving(sorted(handlers), prefix)
        self.document = self.directory.to_json(credentials.domain)
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.handshake_timeout = handshake_timeout
        self.head_timeout = head_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.max_read_ahead = max_read_ahead
        self.connections = 0
        self.requests = 0
        self.turned_away = 0  # connections closed at accept: over a cap
        self._server: asyncio.Server | None = None
        self.peers = PeerCAs(peers)
        self._context = server_context(credentials, peers.values())
        # Open connections, the TLS handshake included, and how many per peer address.
        self._open: set[_Connection] = set()
        self._per_address: dict[str, int] = {}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the port (an ephemeral one when `port` is 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self),
            host,
            port,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._open):
            connection.close()
        await self._server.wait_closed()
        self._server = None

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def read_ahead(self) -> int:
        """Body bytes read and waiting for their turn, on all connections."""
        return sum(c.queued for c in self._open)

    def _admit(self, connection: _Connection) -> bool:
        """Counts an accepted TCP connection against the caps, before its handshake:
        the handshake costs CPU and holds the connection (up to `handshake_timeout`)
        before any certificate is known."""
        address = connection.address
        if len(self._open) >= self.max_connections or self._per_address.get(address, 0) >= self.max_connections_per_address:
            self.turned_away += 1
            return False
        self._open.add(connection)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return True

    def _release(self, connection: _Connection) -> None:
        self._open.remove(connection)
        left = self._per_address.pop(connection.address) - 1
        if left:
            self._per_address[connection.address] = left

    async def answer(self, head: Head, body: bytes) -> Reply:
        if head.endpoint is None:
            return Reply(200, self.document, (("content-type", "application/json"),))
        try:
            return await self.handlers[head.endpoint](head.call(body))
        except (DecodeError, RemoteProtocolError) as e:
            return Refusal(400, f"{head.endpoint}: {e}").reply()
        except Exception:
            log.exception("handler of %s failed", head.endpoint)
            return Refusal(500, f"{head.endpoint}: internal error").reply()


def _encode(reply: Reply, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}", f"content-length: {len(reply.body)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body


class _Connection(asyncio.Protocol):
    """One TLS connection (httptools calls the on_* methods from `feed_data`)."""

    def __init__(self, server: FederationServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None  # the TLS one, once the handshake is done
        self.tcp: asyncio.Transport | None = None
        self.address = ""
        self.admitted = False
        self.handshake: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference
        self.queued = 0  # body bytes in `waiting`
        # What arrived between the handshake's end and start_tls returning (one read).
        self.early: list[bytes] = []
        self.peer_domains: frozenset[str] = frozenset()
        self.vouched: frozenset[str] = frozenset()
        self.url = b""
        # Bytes of the head being read; its deadline runs from its first byte and
        # data does not extend it (the idle timeout, which data does extend, cannot
        # end a head sent a byte at a time).
        self.head_size = 0
        self.part_timer: asyncio.TimerHandle | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: Head | Refusal | None = None
        self.body: list[bytes] = []
        self.waiting: deque[tuple[Head | Refusal, bytes, bool]] = deque()
        self.refused = False  # reads nothing more: the connection closes after its answers
        self.worker: asyncio.Task[None] | None = None
        self.writing_paused = False
        self.reading_paused = False
        self.last_data = self.loop.time()
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The TCP connection (TLS starts here, once it is admitted)."""
        assert isinstance(transport, asyncio.Transport)
        if self.tcp is not None:
            return
        self.tcp = transport
        peername = transport.get_extra_info("peername")
        self.address = str(peername[0]) if peername else ""
        self.admitted = self.server._admit(self)
        if not self.admitted:
            transport.abort()
            return
        transport.pause_reading()  # the handshake reads first
        self.handshake = self.loop.create_task(self._handshake(transport))

    async def _handshake(self, tcp: asyncio.Transport) -> None:
        try:
            tls = await self.loop.start_tls(
                tcp, self, self.server._context, server_side=True, ssl_handshake_timeout=self.server.handshake_timeout
            )
        except Exception as e:  # start_tls closed the connection; connection_lost releases it
            log.debug("TLS handshake from %s failed: %r", self.address, e)
            return
        assert tls is not None
        if tls.is_closing():  # lost before this task resumed
            return
        self.transport = tls
        self.server.connections += 1
        # The handshake required and verified the certificate; its names are the peer's.
        ssl_object = tls.get_extra_info("ssl_object")
        self.peer_domains = certificate_domains(ssl_object.getpeercert() if ssl_object else None)
        self.vouched = self.server.peers.vouched(
            ssl_object.getpeercert(binary_form=True) if ssl_object else None, self.peer_domains
        )
        self.idle_timer = self.loop.call_later(self.server.idle_timeout, self._idle)
        early, self.early = self.early, []
        for data in early:
            self.data_received(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        elif self.tcp is not None:
            self.tcp.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted:
            self.admitted = False
            self.server._release(self)
        for timer in (self.idle_timer, self.part_timer):
            if timer is not None:
                timer.cancel()
        # A handler already running finishes (it may be changing state); its answer is dropped.
        self.waiting.clear()
        self.queued = 0

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._flow()

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            self.early.append(data)
            return
        if self.refused:
            return
        self.last_data = self.loop.time()
        try:
            while data and not self.refused:
                if self.head_size < 0:  # in a body: no limit here but the head's Content-Length
                    self.parser.feed_data(data)
                    return
                room = MAX_HEAD - self.head_size
                if room <= 0:
                    self._refuse(Refusal(431, f"request head over {MAX_HEAD} bytes"))
                    return
                if self.head_size == 0 and self.part_timer is None:
                    self.part_timer = self.loop.call_later(self.server.head_timeout, self._late, "head", self.server.head_timeout)
                piece, data = data[:room], data[room:]
                self.head_size += len(piece)
                self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError:
            if isinstance(self.head, Refusal):
                self._refuse(self.head)
            else:
                log.exception("parsing a request failed")
                self._refuse(Refusal(500, "internal error"))
        except httptools.HttpParserUpgrade:
            self._refuse(Refusal(400, "protocol upgrades are not accepted"))
        except httptools.HttpParserError as e:
            self._refuse(Refusal(400, f"malformed HTTP/1.1 request: {e}"))

    # httptools' callbacks
    def on_message_begin(self) -> None:
        self.url, self.headers, self.head, self.body = b"", [], None, []

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_URL:
            self.head = Refusal(414, f"request target over {MAX_URL} bytes")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))
        if len(self.headers) > MAX_HEADERS:
            self.head = Refusal(431, f"more than {MAX_HEADERS} headers")
            raise _Refused

    def on_headers_complete(self) -> None:
        self.head_size = -1
        if self.part_timer is not None:
            self.part_timer.cancel()
            self.part_timer = None
        self.head = check_head(
            self.parser.get_method(),
            self.url,
            self.headers,
            self.peer_domains,
            self.vouched,
            self.server.peers.bundles,
            self.server.credentials.domain,
            self.server.directory,
            self.server.max_body,
        )
        if isinstance(self.head, Refusal):
            raise _Refused
        # The body has a deadline of its own from here, which data does not extend either
        # (a body trickled a byte at a time); `on_message_complete` cancels it.
        self.part_timer = self.loop.call_later(self.server.body_timeout, self._late, "body", self.server.body_timeout)
        if any(name == b"expect" and value.lower() == b"100-continue" for name, value in self.headers):
            # The head passed: the peer may send the body (RFC 9110 §10.1.1).
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert isinstance(self.head, Head)
        if self.part_timer is not None:
            self.part_timer.cancel()
            self.part_timer = None
        self._enqueue(self.head, b"".join(self.body), self.parser.should_keep_alive())
        self.body = []
        # The next request's head; bytes of it already in this read are not counted
        # (at most one read's worth).
        self.head_size = 0

    def _enqueue(self, head: Head | Refusal, body: bytes, keep_alive: bool) -> None:
        self.waiting.append((head, body, keep_alive))
        self.queued += len(body)
        if self.worker is None or self.worker.done():
            self.worker = self.loop.create_task(self._answer_waiting())
        self._flow()

    async def _answer_waiting(self) -> None:
        while self.waiting and self.transport is not None and not self.transport.is_closing():
            head, body, keep_alive = self.waiting.popleft()
            self.queued -= len(body)
            self._flow()
            if isinstance(head, Refusal):
                reply = head.reply()
            else:
                reply = await self.server.answer(head, body)
                self.server.requests += 1
            if self.transport.is_closing():
                return
            self.transport.write(_encode(reply, close=not keep_alive))
            if not keep_alive:
                self.transport.close()
                return

    def _refuse(self, refusal: Refusal) -> None:
        """Answer a refusal after the answers owed, then close: the rest of what the
        peer sent (a body never read, bytes that do not parse) has no place."""
        self.refused = True
        self._enqueue(refusal, b"", keep_alive=False)

    def _flow(self) -> None:
        """Read while the peer reads its answers and few requests wait."""
        if self.transport is None or self.transport.is_closing():
            return
        pause = (
            self.refused
            or self.writing_paused
            or len(self.waiting) >= MAX_PIPELINED
            or self.queued >= self.server.max_read_ahead
        )
        if pause != self.reading_paused:
            self.reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _late(self, part: str, timeout: float) -> None:
        """The request's head or body is not in within its `timeout`: 408."""
        self.part_timer = None
        if self.reading_paused:  # the rest waits on us, not on the peer
            self.part_timer = self.loop.call_later(timeout, self._late, part, timeout)
            return
        self._refuse(Refusal(408, f"request {part} not complete within {timeout} s"))

    def _idle(self) -> None:
        assert self.transport is not None
        busy = self.waiting or (self.worker is not None and not self.worker.done())
        due = self.last_data + self.server.idle_timeout
        if not busy and self.loop.time() >= due:
            self.transport.close()
            return
        self.idle_timer = self.loop.call_later(max(due - self.loop.time(), 1.0), self._idle)

