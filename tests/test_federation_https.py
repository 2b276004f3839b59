"""Federation over HTTPS with mutual TLS (draft-ietf-mimi-protocol §Transport layer,
§Directory): servers on 127.0.0.1 ephemeral ports, certificates from a throwaway CA.
Every refusal is checked not to reach the handler, so it changes no state."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import random
import ssl
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mimi.errors import DecodeError, PeerUnavailable
from mimi.federation import (
    WELL_KNOWN,
    Call,
    Credentials,
    Directory,
    FederationClient,
    FederationServer,
    LoopThread,
    Peer,
    Reply,
    Retries,
    Timeouts,
)
from mimi.federation.ca import CertificateAuthority
from mimi.federation.tls import client_context
from mimi.logic.fanout import Backoff

ROOM = "mimi://a.example/r/clubhouse"
FAST = Retries(attempts=3, backoff=Backoff(base=0.001, cap=0.01))


@dataclass
class Pki:
    a: Credentials  # the server's provider
    b: Credentials  # a trusted peer
    stranger: Credentials  # b.example's name, from a CA nobody trusts
    cn_only: Credentials  # b.example in the subject CN only, no SAN
    c: Credentials  # a peer whose CA is its own
    c_by_b: Credentials  # c.example's name, from b.example's CA
    unlisted: Credentials  # d.example, from b.example's CA, not in the peer table
    peers: dict[str, Path]  # a.example's peer table: domain -> CA bundle


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    trusted, untrusted = tmp_path_factory.mktemp("trusted"), tmp_path_factory.mktemp("untrusted")
    ca = CertificateAuthority.create()
    other = CertificateAuthority.create("someone else's CA")
    cn_only = ca.issue([], trusted, common_name="b.example")
    own = tmp_path_factory.mktemp("c")
    c = CertificateAuthority.create("c.example's CA").issue(["c.example"], own)
    b_issued = tmp_path_factory.mktemp("b-issued")
    return Pki(
        ca.issue(["a.example"], trusted),
        ca.issue(["b.example"], trusted),
        other.issue(["b.example"], untrusted),
        cn_only,
        c,
        ca.issue(["c.example"], b_issued),
        ca.issue(["d.example"], b_issued),
        {"b.example": trusted / "ca.pem", "c.example": own / "ca.pem"},
    )


@dataclass
class Recorder:
    """An endpoint handler that records what reaches it: the provider's state."""

    calls: list[Call] = field(default_factory=list)
    status: int = 201

    async def __call__(self, call: Call) -> Reply:
        self.calls.append(call)
        return Reply(self.status, b"ok:" + call.body, (("mimi-answer", call.peer),))


def run(scenario: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, 30))


def serve(
    pki: Pki, test: Callable[[FederationServer, Recorder, Peer], Awaitable[None]], **options: Any
) -> Recorder:
    recorder = Recorder()

    async def scenario() -> None:
        server = FederationServer(pki.a, {"notify": recorder, "keyMaterial": recorder}, pki.peers, **options)
        port = await server.start()
        try:
            await test(server, recorder, Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle))
        finally:
            await server.close()

    run(scenario())
    return recorder


def client(credentials: Credentials, peer: Peer, **options: Any) -> FederationClient:
    return FederationClient(credentials, {peer.domain: peer}, **options)


async def raw(peer: Peer, credentials: Credentials, request: bytes) -> tuple[int, bytes]:
    """Send `request` bytes as they are over mTLS; the status and body of the answer."""
    port = int(peer.base_url.rpartition(":")[2])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(credentials, peer.ca_bundle), server_hostname="a.example"
    )
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(int(v) for k, _, v in (line.partition(": ") for line in lines[1:]) if k == "content-length")
        return int(lines[0].split()[1]), await reader.readexactly(length)
    finally:
        writer.close()


def post(path: str, body: bytes = b"x", host: str = "a.example", sender: str = "mimi@b.example", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\nfrom: {sender}\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


NOTIFY = "/notify/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse"
GET = f"GET {WELL_KNOWN} HTTP/1.1\r\nhost: a.example\r\nfrom: mimi@b.example\r\n\r\n".encode()


def test_a_good_call_reaches_the_handler_with_the_certificates_domain(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        b = client(pki.b, peer)
        reply = await b.call("a.example", "notify", {"roomId": ROOM}, b"\x00fanout", headers={"MIMI-Previous": "7"})
        await b.aclose()
        assert reply.status == 201 and reply.body == b"ok:\x00fanout"
        assert ("mimi-answer", "b.example") in reply.headers

    (call,) = serve(pki, test).calls
    assert (call.peer, call.endpoint, dict(call.params), call.body) == ("b.example", "notify", {"roomId": ROOM}, b"\x00fanout")
    assert dict(call.headers) == {"mimi-previous": "7"}


def test_connections_are_reused(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        b = client(pki.b, peer)
        for i in range(20):
            assert (await b.call("a.example", "notify", {"roomId": ROOM}, b"%d" % i)).status == 201
        # The directory and 20 calls, over one connection.
        assert (server.connections, server.requests, b.connections_opened("a.example")) == (1, 21, 1)
        await b.aclose()

    assert [c.body for c in serve(pki, test).calls] == [b"%d" % i for i in range(20)]


@pytest.mark.parametrize("who", ["no certificate", "untrusted CA"])
def test_a_peer_without_a_trusted_certificate_is_refused_at_the_handshake(pki: Pki, who: str) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        context = ssl.create_default_context(cafile=pki.a.ca_bundle)
        if who == "untrusted CA":
            context.load_cert_chain(pki.stranger.cert, pki.stranger.key)
        # TLS 1.3: the server's refusal arrives after the client's last handshake flight.
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="a.example")
            writer.write(post(NOTIFY))
            await reader.readuntil(b"\r\n\r\n")
        if who == "untrusted CA":
            with pytest.raises(PeerUnavailable):
                await client(pki.stranger, peer, retries=FAST).call("a.example", "notify", {"roomId": ROOM}, b"x")
        assert server.requests == 0

    assert serve(pki, test).calls == []


def test_the_client_refuses_a_server_whose_certificate_names_another_provider(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        # The peer table sends c.example's calls to a.example's server.
        wrong = Peer("c.example", peer.base_url, peer.ca_bundle)
        with pytest.raises(PeerUnavailable, match=r"c\.example"):
            await client(pki.b, wrong, retries=FAST).call("c.example", "notify", {"roomId": ROOM}, b"x")

    assert serve(pki, test).calls == []


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (post(NOTIFY, host="z.example"), 421, "not this provider"),
        (post(NOTIFY, host="a.example:x"), 400, "port"),
        (post(NOTIFY, sender="mimi@z.example"), 403, "authenticates b.example"),
        (post(NOTIFY, sender="alice@b.example"), 400, "From must be mimi@"),
        (post(NOTIFY, body=b"x" * 1025), 413, "over the limit of 1024"),
        (post("/notify/mimi%3A%2F%2Fa.example%2Fu%2Falice"), 400, "{roomId}: expected a room URI"),
        (post("/notify/mimi%3A%2F%2FA.example%2Fr%2Fclubhouse"), 400, "{roomId}"),
        (post("/notify/clubhouse"), 400, "{roomId}: not a MIMI URI"),
        (post("/notify/mimi%3A%2F%2Fa.example%2Fr%2F%ff"), 400, "not percent-encoded UTF-8"),
        (post("/notify/mimi://a.example/r/clubhouse"), 404, "no MIMI endpoint"),
        (post("/v1/notify/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse"), 404, "no MIMI endpoint"),
        (post("/submitMessage/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse"), 404, "no MIMI endpoint"),
        (post(NOTIFY + "?x=1"), 400, "query"),
        (post(NOTIFY).replace(b"POST", b"PUT"), 405, "takes POST"),
        (post(NOTIFY, extra="from: mimi@b.example\r\n"), 400, "more than one from"),
        (post(NOTIFY).replace(b"content-length: 1", b"transfer-encoding: chunked"), 400, "Transfer-Encoding"),
        (b"POST " + NOTIFY.encode() + b" HTTP/1.1\r\nhost: a.example\r\nfrom: mimi@b.example\r\n\r\n", 411, "Content-Length"),
        (b"POST /notify HTTP/1.1\r\nhost a.example\r\n\r\n", 400, "malformed HTTP/1.1"),
        (GET.replace(b"\r\n\r\n", b"\r\ntransfer-encoding: chunked\r\n\r\n") + b"100000\r\n", 400, "no body"),
        (GET.replace(b"\r\n\r\n", b"\r\ncontent-length: 10000000\r\n\r\n"), 413, "no body"),
    ],
)
def test_a_refused_request_names_what_is_wrong_and_reaches_no_handler(
    pki: Pki, request_bytes: bytes, status: int, reason: str
) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        got, body = await raw(peer, pki.b, request_bytes)
        assert (got, reason) == (status, reason) and reason in body.decode()
        assert server.requests == 0

    assert serve(pki, test, max_body=1024).calls == []


def test_a_peer_that_expects_100_continue_gets_it_before_sending_the_body(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.b, peer.ca_bundle), server_hostname="a.example"
        )
        request = post(NOTIFY, body=b"later", extra="expect: 100-continue\r\n")
        writer.write(request[: -len(b"later")])
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"later")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 201 ")
        writer.close()

    assert [c.body for c in serve(pki, test).calls] == [b"later"]


def test_only_protocol_headers_are_sent_by_the_client(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        b = client(pki.b, peer)
        for name, value in (("Host", "z.example"), ("MIMI-X\r\nHost", "z"), ("MIMI-X", "a\r\nfrom: mimi@z.example")):
            with pytest.raises(ValueError, match="not a MIMI-"):
                await b.call("a.example", "notify", {"roomId": ROOM}, b"x", headers={name: value})
        await b.aclose()

    assert serve(pki, test).calls == []


@pytest.mark.parametrize(
    ("who", "sender", "reason"),
    [
        ("c_by_b", "c.example", "the client certificate for c.example is not issued by a CA of c.example's peer table entry"),
        ("unlisted", "d.example", "d.example is not in the peer table of a.example"),
        ("a", "a.example", "From names this provider (a.example): a peer is another provider"),
    ],
    ids=["another peer's CA", "not a peer", "our own domain"],
)
def test_a_certificate_authenticates_only_a_peer_and_only_from_that_peers_own_ca(
    pki: Pki, who: str, sender: str, reason: str
) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        credentials = getattr(pki, who)
        # Each passes the handshake (its CA is some peer's) and names itself in From.
        assert await raw(peer, credentials, post(NOTIFY, sender=f"mimi@{sender}")) == (403, reason.encode())
        c = client(pki.c, peer)  # c.example's certificate from c.example's own CA
        assert (await c.call("a.example", "notify", {"roomId": ROOM}, b"c")).status == 201
        await c.aclose()

    assert [(call.peer, call.body) for call in serve(pki, test).calls] == [("c.example", b"c")]


def test_the_common_name_is_never_a_providers_identity(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        assert await raw(peer, pki.cn_only, post(NOTIFY)) == (
            403,
            b"From names b.example but the client certificate authenticates no dNSName",
        )

    assert serve(pki, test).calls == []


def test_a_refused_body_is_not_read_and_the_connection_closes(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.b, peer.ca_bundle), server_hostname="a.example"
        )
        # The head announces 10 MB; only the head is sent.
        writer.write(post(NOTIFY, body=b"")[:-1].replace(b"content-length: 0", b"content-length: 10000000") + b"\n")
        answer = await reader.read()  # to EOF: the server closed
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer

    assert serve(pki, test).calls == []


async def flood(peer: Peer, credentials: Credentials, start: bytes, filler: bytes, total: int = 2 << 20) -> bytes:
    """Send `start`, then `filler` again and again up to `total` bytes (a head that
    never ends); what the server answers, up to its close."""
    port = int(peer.base_url.rpartition(":")[2])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(credentials, peer.ca_bundle), server_hostname="a.example"
    )

    async def send() -> None:
        writer.write(start)
        for _ in range(total // len(filler)):
            writer.write(filler)
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        return await asyncio.wait_for(reader.read(), 10)  # to EOF: the server closed
    except ConnectionError:
        return b""
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.close()


@pytest.mark.parametrize(
    ("start", "filler", "answer"),
    [
        (b"POST /", b"a" * 4096, b"HTTP/1.1 414 "),
        (post(NOTIFY, body=b"")[:-2] + b"mimi-x: ", b"a" * 4096, b"HTTP/1.1 431 "),
        (post(NOTIFY, body=b"")[:-2], b"mimi-x: 1\r\n", b"HTTP/1.1 431 "),
    ],
    ids=["endless target", "endless header", "endless headers"],
)
def test_an_endless_request_head_is_refused_as_it_arrives(pki: Pki, start: bytes, filler: bytes, answer: bytes) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        got = await flood(peer, pki.b, start, filler)
        assert got.startswith(answer) and b"connection: close" in got, got[:200]
        assert server.requests == 0

    assert serve(pki, test).calls == []


def test_a_request_head_sent_a_byte_at_a_time_meets_a_deadline_the_bytes_do_not_extend(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.b, peer.ca_bundle), server_hostname="a.example"
        )
        for byte in post(NOTIFY)[:40]:  # each byte well within the idle timeout
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request head not complete within 0.5 s" in answer

    assert serve(pki, test, head_timeout=0.5).calls == []


def test_a_request_body_sent_a_byte_at_a_time_meets_a_deadline_the_bytes_do_not_extend(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.b, peer.ca_bundle), server_hostname="a.example"
        )
        request = post(NOTIFY, body=b"x" * 100)
        writer.write(request[:-100])  # the head at once, then the body a byte at a time
        for byte in request[-100:-60]:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request body not complete within 0.5 s" in answer

    assert serve(pki, test, body_timeout=0.5).calls == []


async def connect(peer: Peer, credentials: Credentials) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(peer.base_url.rpartition(":")[2])
    return await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(credentials, peer.ca_bundle), server_hostname="a.example"
    )


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("cap", ["max_connections", "max_connections_per_address"])
def test_connections_over_a_cap_are_closed_before_the_handshake(pki: Pki, cap: str) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        held = [await connect(peer, pki.b) for _ in range(2)]
        # Not even a handshake: the connection is closed as it is accepted.
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await connect(peer, pki.b)
        assert (server.open_connections, server.turned_away) == (2, 1)
        held.pop()[1].close()
        await until(lambda: server.open_connections == 1)
        reader, writer = await connect(peer, pki.b)  # a place is free again
        writer.write(post(NOTIFY))
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 201 ")
        for _, w in [*held, (reader, writer)]:
            w.close()

    assert len(serve(pki, test, **{cap: 2}).calls) == 1


def test_pipelined_bodies_read_ahead_are_bounded_in_bytes(pki: Pki) -> None:
    go = asyncio.Event()

    async def slow(call: Call) -> Reply:
        await go.wait()
        return Reply(201, call.body[:2])

    async def scenario() -> None:
        limit = 256 << 10
        server = FederationServer(pki.a, {"notify": slow}, pki.peers, max_body=limit, max_read_ahead=limit)
        port = await server.start()
        reader, writer = await connect(Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle), pki.b)
        # 30 requests of 200 KiB (6 MB) while the first is being handled: eight of
        # them (the request count's bound) would be 1.6 MB.
        writer.write(b"".join(post(NOTIFY, body=b"%02d" % i + b"x" * (200 << 10)) for i in range(30)))
        await until(lambda: server.read_ahead > 0)
        await asyncio.sleep(0.3)  # what the server will read while it waits
        # At most the bound, the request that crossed it and one read (256 KiB).
        assert 0 < server.read_ahead <= 3 * limit
        go.set()
        bodies = []
        for _ in range(30):
            await reader.readuntil(b"\r\n\r\n")
            bodies.append(await reader.readexactly(2))
        assert bodies == [b"%02d" % i for i in range(30)]
        writer.close()
        await server.close()

    run(scenario())


def test_the_directory_is_served_and_the_client_uses_its_prefix(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        status, body = await raw(
            peer, pki.b, f"GET {WELL_KNOWN} HTTP/1.1\r\nhost: a.example\r\nfrom: mimi@b.example\r\n\r\n".encode()
        )
        assert status == 200
        assert json.loads(body) == {
            "keyMaterial": "https://a.example/mimi/v1/keyMaterial/{targetUser}",
            "notify": "https://a.example/mimi/v1/notify/{roomId}",
        }
        b = client(pki.b, peer)
        assert (await b.call("a.example", "notify", {"roomId": ROOM}, b"x")).status == 201
        # An endpoint the directory does not list is not called at a guessed path.
        with pytest.raises(DecodeError, match="no submitMessage"):
            await b.call("a.example", "submitMessage", {"roomId": ROOM}, b"x")
        await b.aclose()
        assert (await raw(peer, pki.b, post(NOTIFY)))[0] == 404

    assert len(serve(pki, test, prefix="/mimi/v1").calls) == 1


@pytest.mark.parametrize(
    ("endpoint", "name", "uri"),
    [
        ("notify", "roomId", "mimi://a.example/r/club%20house"),
        ("notify", "roomId", "mimi://a.example/r/a:b@c;d=e+f"),
        ("keyMaterial", "targetUser", "mimi://b.example/u/al~ice.o'neil"),
    ],
)
def test_percent_encoded_mimi_uris_round_trip(pki: Pki, endpoint: str, name: str, uri: str) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        directory = Directory.serving(["notify", "keyMaterial"])
        path = directory.path(endpoint, {name: uri})
        assert path.count("/") == 2 and "mimi%3A%2F%2F" in path
        assert directory.route(path) == (endpoint, {name: uri})
        b = client(pki.b, peer)
        assert (await b.call("a.example", endpoint, {name: uri}, b"x")).status == 201
        await b.aclose()

    (call,) = serve(pki, test).calls
    assert dict(call.params) == {name: uri}


def test_idempotent_calls_are_retried_a_bounded_number_of_times(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        recorder.status = 503
        b = client(pki.b, peer, retries=FAST)
        assert (await b.call("a.example", "notify", {"roomId": ROOM}, b"again")).status == 503
        assert len(recorder.calls) == 3
        assert (await b.call("a.example", "notify", {"roomId": ROOM}, b"once", idempotent=False)).status == 503
        assert len(recorder.calls) == 4
        await b.aclose()

    serve(pki, test)


def test_an_unreachable_peer_is_given_up_on_after_the_retries(pki: Pki) -> None:
    async def scenario() -> None:
        server = FederationServer(pki.a, {}, pki.peers)
        port = await server.start()
        await server.close()  # nothing listens there any more
        peer = Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle)
        retries = Retries(attempts=4, backoff=Backoff(base=0.05, cap=0.1, jitter=0.5))
        b = client(pki.b, peer, retries=retries, timeouts=Timeouts(connect=1.0), rng=random.Random(1))
        started = time.monotonic()
        with pytest.raises(PeerUnavailable, match=r"a\.example"):
            await b.directory("a.example")
        # Three backoffs, each at most the cap and at least half the base (jitter 0.5).
        assert 3 * 0.025 <= time.monotonic() - started < 3 * 0.1 + 2

    run(scenario())


def test_a_handler_refusing_a_malformed_body_answers_400_with_its_reason(pki: Pki) -> None:
    async def refusing(call: Call) -> Reply:
        raise DecodeError("FanoutMessage: truncated")

    async def scenario() -> None:
        server = FederationServer(pki.a, {"notify": refusing}, pki.peers)
        port = await server.start()
        peer = Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle)
        assert await raw(peer, pki.b, post(NOTIFY)) == (400, b"notify: FanoutMessage: truncated")
        await server.close()

    run(scenario())


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(201, b"x" * (2 << 20)), "answer body over 1048576 bytes"),
        (Reply(201, b"", tuple((f"mimi-x{i}", "1") for i in range(65))), "answer with more than 64 headers"),
        (Reply(201, b"", (("mimi-x", "x" * (64 << 10)),)), "answer head over 32768 bytes"),
    ],
    ids=["body", "headers", "head"],
)
def test_the_client_gives_up_on_an_answer_over_its_limits_without_trying_again(
    pki: Pki, reply: Reply, reason: str
) -> None:
    calls = []

    async def large(call: Call) -> Reply:
        calls.append(call)
        return reply

    async def scenario() -> None:
        server = FederationServer(pki.a, {"notify": large}, pki.peers)
        port = await server.start()
        b = client(pki.b, Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle), max_answer=1 << 20, retries=FAST)
        with pytest.raises(PeerUnavailable, match=reason):
            await b.call("a.example", "notify", {"roomId": ROOM}, b"x")
        await b.aclose()
        await server.close()

    run(scenario())
    assert len(calls) == 1


def test_pipelined_requests_are_answered_in_order(pki: Pki) -> None:
    async def test(server: FederationServer, recorder: Recorder, peer: Peer) -> None:
        port = int(peer.base_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.b, peer.ca_bundle), server_hostname="a.example"
        )
        writer.write(b"".join(post(NOTIFY, body=b"%02d" % i) for i in range(20)))
        bodies = []
        for _ in range(20):
            await reader.readuntil(b"\r\n\r\n")
            bodies.append(await reader.readexactly(5))
        writer.close()
        assert bodies == [b"ok:%02d" % i for i in range(20)]

    serve(pki, test)


def test_synchronous_callers_run_server_and_client_on_loop_threads(pki: Pki) -> None:
    """As a Ray actor would: blocking calls, and futures to wait on together."""
    recorder = Recorder()
    server_loop, client_loop = LoopThread("server"), LoopThread("client")
    try:
        server = FederationServer(pki.a, {"notify": recorder}, pki.peers)
        port = server_loop.run(server.start(), timeout=10)
        b = client(pki.b, Peer("a.example", f"https://127.0.0.1:{port}", pki.a.ca_bundle))
        assert client_loop.run(b.call("a.example", "notify", {"roomId": ROOM}, b"one"), timeout=10).status == 201
        futures = [client_loop.submit(b.call("a.example", "notify", {"roomId": ROOM}, b"%d" % i)) for i in range(10)]
        done, pending = concurrent.futures.wait(futures, timeout=10)
        assert not pending and {f.result().status for f in done} == {201}
        client_loop.run(b.aclose(), timeout=10)
        server_loop.run(server.close(), timeout=10)
    finally:
        client_loop.close()
        server_loop.close()
    assert sorted(c.body for c in recorder.calls) == sorted([b"one", *(b"%d" % i for i in range(10))])
    assert not client_loop.thread.is_alive() and not server_loop.thread.is_alive()


def test_a_directory_may_not_point_elsewhere() -> None:
    good = {"notify": "https://a.example:8443/v1/notify/{roomId}", "somethingNew": "https://x/y"}
    assert Directory.from_json(json.dumps(good).encode(), "a.example").paths == {"notify": "/v1/notify/{roomId}"}
    for bad in (
        {"notify": "https://evil.example/v1/notify/{roomId}"},
        {"notify": "http://a.example/v1/notify/{roomId}"},
        {"notify": "https://a.example/v1/notify/{targetUser}"},
        {"notify": "https://a.example/v1//notify/{roomId}"},
        {"notify": 7},
        ["notify"],
    ):
        with pytest.raises(DecodeError, match=r"directory of a\.example"):
            Directory.from_json(json.dumps(bad).encode(), "a.example")


def test_the_ca_issues_leaves_for_both_ends_with_the_domain_as_san(pki: Pki) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    leaf = x509.load_pem_x509_certificate(pki.a.cert.read_bytes())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["a.example"]
    usages = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_a_private_key_is_readable_by_its_owner_only(pki: Pki) -> None:
    for credentials in (pki.a, pki.b):
        assert stat.S_IMODE(credentials.key.stat().st_mode) == 0o600
