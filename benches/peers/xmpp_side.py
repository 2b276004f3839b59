"""The ejabberd side: MUC occupants driven by a light asyncio XMPP client.

Each occupant is a real XMPP session (its own c2s connection: SASL PLAIN, bind,
MUC join) receiving real groupchat stanzas; occupants share a few worker
processes. Occupant 0 sends; the body of each message starts with
`MIMILOAD <sequence> <send time>` (CLOCK_MONOTONIC ns, shared by every process
of the machine), padded to the message size. Receivers only look for that
marker in the stream (no full XML parse): the client's cost per stanza stays
small next to the server's. Slixmpp was not used: it refuses SASL PLAIN without
TLS, and TLS on loopback would only add cost to both sides.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing as mp
import re
import time
from array import array
from typing import Any

from stats import Point

STREAM = ("<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
MARK = re.compile(rb"<body>MIMI(?:LOAD (\d+) (\d+) |END (\d+) )")
TAIL = 64  # longer than any MARK match: a match cut by a read is kept for the next one
PASSWORD = "bench-password"


class Occupant(asyncio.Protocol):
    """One MUC occupant: logs in, joins, then times every load message it receives."""

    def __init__(self, user: str, domain: str, room: str, nick: str) -> None:
        self.user, self.domain, self.room, self.nick = user, domain, room, nick
        self.buf = b""
        self.phase = "features"
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.record = False
        self.latencies = array("q")
        self.last_ns = 0
        self.loads = 0  # load messages seen (the sender: its own, reflected by the room)
        self.end: int | None = None  # the END marker's count, once seen
        self.seen_end: asyncio.Event = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.write(STREAM.format(domain=self.domain))

    def write(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(text.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"{self.user}: connection lost in {self.phase}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if self.phase == "joined":
            now = time.monotonic_ns()
            last_end = 0
            for m in MARK.finditer(buf):
                last_end = m.end()
                if m.group(3) is not None:
                    self.end = int(m.group(3))
                    self.seen_end.set()
                    continue
                self.loads += 1
                if self.record:
                    self.latencies.append(now - int(m.group(2)))
                    self.last_ns = now
            self.buf = buf[max(last_end, len(buf) - TAIL):]
            return
        self.buf = buf
        self._handshake()

    def _handshake(self) -> None:
        buf = self.buf
        if b"<stream:error" in buf or b"<failure" in buf or b"type='error'" in buf:
            self.transport.close()  # type: ignore[union-attr]
            if not self.joined.done():
                self.joined.set_exception(ConnectionError(f"{self.user}: {buf[-400:].decode(errors='replace')}"))
            return
        if self.phase == "features" and b"</stream:features>" in buf:
            if b"PLAIN" not in buf:
                self.joined.set_exception(ConnectionError(f"{self.user}: no SASL PLAIN offered: {buf[-400:]!r}"))
                return
            token = base64.b64encode(f"\0{self.user}\0{PASSWORD}".encode()).decode()
            self.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
            self.phase, self.buf = "auth", b""
        elif self.phase == "auth" and b"<success" in buf:
            self.write(STREAM.format(domain=self.domain))
            self.phase, self.buf = "features2", b""
        elif self.phase == "features2" and b"</stream:features>" in buf:
            self.write("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                       "<resource>bench</resource></bind></iq>")
            self.phase, self.buf = "bind", b""
        elif self.phase == "bind" and b"id='bind'" in buf and b"</iq>" in buf:
            self.write(f"<presence to='{self.room}/{self.nick}'><x xmlns='http://jabber.org/protocol/muc'>"
                       "<history maxstanzas='0'/></x></presence>")
            self.phase, self.buf = "join", b""
        elif self.phase == "join":
            # The room's presence for this occupant carries status code 110 (XEP-0045 §7.2.3).
            if b"code='110'" in buf or b'code="110"' in buf:
                self.phase, self.buf = "joined", b""
                self.joined.set_result(None)
            else:
                self.buf = buf[-TAIL:]

    def take(self) -> tuple[bytes, int]:
        out = (self.latencies.tobytes(), self.last_ns)
        self.latencies = array("q")
        self.last_ns = 0
        return out


def message(room: str, body: str) -> str:
    return f"<message to='{room}' type='groupchat'><body>{body}</body></message>"


async def send_load(sender: Occupant, rate: float | None, duration: float, size: int, window: int) -> dict[str, Any]:
    """Occupant 0's run: as `FleetHost.drive`, with the room reflecting each
    message to its sender as the acknowledgement that frees a window slot."""
    start = time.monotonic_ns()
    end = start + int(duration * 1e9)
    total = None if rate is None else int(duration * rate)
    base = sender.loads
    sent = 0
    while True:
        now = time.monotonic_ns()
        if now >= end or (total is not None and sent >= total):
            break
        in_flight = sent - (sender.loads - base)
        due = sent + window if total is None else min(total, int((now - start) * rate / 1e9) + 1)  # type: ignore[operator]
        burst = []
        while sent < due and in_flight < window:
            stamp = time.monotonic_ns() if rate is None else start + int(sent * 1e9 / rate)
            head = f"MIMILOAD {sent} {stamp} "
            burst.append(message(sender.room, head + "x" * max(0, size - len(head))))
            sent += 1
            in_flight += 1
        if burst:
            sender.write("".join(burst))
        if total is None or in_flight >= window:
            await asyncio.sleep(0.0002)  # let the reflected copies in
        else:
            await asyncio.sleep(max(0.0, (start + int(sent * 1e9 / rate) - time.monotonic_ns()) / 1e9))  # type: ignore[operator]
    sender.write(message(sender.room, f"MIMIEND {sent} "))
    return {"sent": sent, "start_ns": start, "seconds": (time.monotonic_ns() - start) / 1e9}


def worker(conn: Any, users: list[str], domain: str, room: str, port: int, sender: bool) -> None:
    """A worker process hosting `users` as occupants; answers the parent's commands."""
    loop = asyncio.new_event_loop()
    occupants: list[Occupant] = []

    async def join() -> None:
        for i, user in enumerate(users):
            occupant = Occupant(user, domain, room, f"n-{user}")
            await loop.create_connection(lambda o=occupant: o, "127.0.0.1", port)  # type: ignore[misc]
            occupants.append(occupant)
            if i % 50 == 49:
                await asyncio.gather(*(o.joined for o in occupants))
        await asyncio.wait_for(asyncio.gather(*(o.joined for o in occupants)), 120)

    async def point(rate: float | None, duration: float, size: int, window: int, drain: float) -> dict[str, Any]:
        receivers = occupants[1:] if sender else occupants
        for o in occupants:
            o.seen_end.clear()
            o.record = True
        run = await send_load(occupants[0], rate, duration, size, window) if sender else {}
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(o.seen_end.wait() for o in receivers)), duration + drain)
        records = []
        for o in receivers:
            latencies, last = o.take()
            records.append({"latencies_ns": latencies, "last_ns": last})
        for o in occupants:
            o.record = False
            o.take()
        return {**run, "records": records}

    try:
        loop.run_until_complete(join())
        conn.send(("ready", len(occupants)))
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            conn.send(("done", loop.run_until_complete(point(*args))))
    except Exception as exc:  # reported to the parent, which fails the run
        conn.send(("error", repr(exc)))
    finally:
        for o in occupants:
            if o.transport is not None:
                o.transport.close()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()


class XmppRoom:
    """`members` occupants of one MUC room, in `processes` worker processes."""

    def __init__(self, server: Any, members: int, processes: int = 2) -> None:
        self.server = server
        self.members = members
        self.processes = processes
        self.workers: list[tuple[Any, Any]] = []
        self.setup_seconds = 0.0

    def start(self) -> None:
        from ejabberd import DOMAIN

        started = time.monotonic()
        users = [f"bench{i}" for i in range(self.members)]
        self.server.register(users, PASSWORD)
        room = self.server.create_room(f"room{self.members}-{int(time.time() * 1000)}")  # a fresh room each time
        context = mp.get_context("spawn")
        for k in range(self.processes):
            parent, child = context.Pipe()
            process = context.Process(target=worker, args=(child, users[k :: self.processes], DOMAIN, room,
                                                           self.server.c2s_port, k == 0), daemon=True)
            process.start()
            self.workers.append((process, parent))
        for _, conn in self.workers:
            self._answer(conn, "ready", 300)
        self.setup_seconds = time.monotonic() - started

    def _answer(self, conn: Any, expected: str, timeout: float) -> Any:
        if not conn.poll(timeout):
            raise TimeoutError(f"an XMPP worker did not answer in {timeout}s")
        kind, value = conn.recv()
        if kind != expected:
            raise RuntimeError(f"XMPP worker: {kind}: {value}")
        return value

    def run(self, rate: float | None, duration: float, drain: float, size: int, window: int) -> Point:
        for _, conn in self.workers:
            conn.send(("point", (rate, duration, size, window, drain)))
        answers = [self._answer(conn, "done", duration + drain + 60) for _, conn in self.workers]
        run = answers[0]
        records = [r for a in answers for r in a["records"]]
        return Point.from_records(records, sent=run["sent"], expected=run["sent"] * (self.members - 1),
                                  start_ns=run["start_ns"], send_seconds=run["seconds"],
                                  extra={})

    def pids(self) -> dict[str, list[int]]:
        return {"ejabberd": [self.server.pid()], "client": [p.pid for p, _ in self.workers]}

    def stop(self) -> None:
        for process, conn in self.workers:
            with contextlib.suppress(OSError):
                conn.send(("stop", None))
            process.join(10)
            if process.is_alive():
                process.kill()
        self.workers = []
