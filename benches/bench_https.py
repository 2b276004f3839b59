"""Provider-to-provider HTTPS with mutual TLS (mimi.federation): one POST round trip
on a reused connection, what a full TLS handshake costs beside a kept-alive
request, and `/notify` from a hub to two followers that only count. Servers run in
their own processes (as peer providers would); a server's CPU time per request is
read from /proc and recorded in extra_info (`server_cpu_us`), as is the p50.

Round-trip rounds are single calls: the median is the p50 round trip."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mimi.federation import Credentials, FederationClient, Peer
from mimi.federation.ca import CertificateAuthority
from mimi.federation.tls import client_context

ROOM = "mimi://a.example/r/clubhouse"
PATH = "/notify/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse"
BODY = os.urandom(1024)
ROUNDS = 2_000

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from mimi.federation import Credentials, FederationServer, Reply

    async def notify(call):
        return Reply(201)

    async def main():
        d, domain = Path(sys.argv[1]), sys.argv[2]
        credentials = Credentials(domain, d / f"{domain}.crt", d / f"{domain}.key", d / "ca.pem")
        peers = {p: d / "ca.pem" for p in ("a.example", "b.example", "c.example") if p != domain}
        server = FederationServer(credentials, {"notify": notify}, peers)
        print(await server.start(), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@dataclass
class Server:
    process: subprocess.Popen[str]
    domain: str
    port: int
    caller: Credentials  # whom the benchmark calls as
    ca_bundle: Path

    def peer(self) -> Peer:
        return Peer(self.domain, f"https://127.0.0.1:{self.port}", self.ca_bundle)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Credentials]]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create()
    return directory, {d: ca.issue([d], directory) for d in ("a.example", "b.example", "c.example")}


@contextmanager
def spawn(pki: tuple[Path, dict[str, Credentials]], domain: str, client: str) -> Iterator[Server]:
    """A server for `domain` in its own process, and `client`'s credentials to call it."""
    directory, credentials = pki
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(directory), domain], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Server(process, domain, port, credentials[client], credentials[domain].ca_bundle)
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(pki: tuple[Path, dict[str, Credentials]]) -> Iterator[Server]:
    with spawn(pki, "a.example", "b.example") as server:
        yield server


def record(benchmark: Any, server: Server, cpu_before: float, requests: int) -> None:
    benchmark.extra_info["p50_ms"] = round(benchmark.stats.stats.median * 1e3, 3)
    benchmark.extra_info["server_cpu_us"] = round((server.cpu_seconds() - cpu_before) / requests * 1e6, 1)


@pytest.mark.benchmark(group="https-round-trip")
def test_post_on_a_reused_connection(benchmark: Any, server: Server) -> None:
    """FederationClient.call: directory cached, one kept-alive connection."""
    loop = asyncio.new_event_loop()
    client = FederationClient(server.caller, {server.domain: server.peer()})
    assert loop.run_until_complete(client.call("a.example", "notify", {"roomId": ROOM}, BODY)).status == 201
    cpu = server.cpu_seconds()

    def call() -> None:
        loop.run_until_complete(client.call("a.example", "notify", {"roomId": ROOM}, BODY))

    benchmark.pedantic(call, rounds=ROUNDS, warmup_rounds=50, iterations=1)
    record(benchmark, server, cpu, ROUNDS + 50)
    loop.run_until_complete(client.aclose())
    loop.close()


REQUEST = (
    f"POST {PATH} HTTP/1.1\r\nhost: a.example\r\nfrom: mimi@b.example\r\ncontent-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 "), head


@pytest.mark.benchmark(group="https-handshake")
def test_kept_alive_request(benchmark: Any, server: Server) -> None:
    """The same request with a bare client (asyncio streams): the server's own cost."""
    loop = asyncio.new_event_loop()
    context = client_context(server.caller, server.ca_bundle)
    reader, writer = loop.run_until_complete(
        asyncio.open_connection("127.0.0.1", server.port, ssl=context, server_hostname="a.example")
    )
    cpu = server.cpu_seconds()
    benchmark.pedantic(lambda: loop.run_until_complete(_exchange(reader, writer)), rounds=ROUNDS, warmup_rounds=50)
    record(benchmark, server, cpu, ROUNDS + 50)
    writer.close()
    loop.close()


@pytest.mark.benchmark(group="https-handshake")
def test_full_mtls_handshake_and_request(benchmark: Any, server: Server) -> None:
    """A new connection per request: a full TLS 1.3 handshake with both certificates
    (no session resumption), the request, the close."""
    loop = asyncio.new_event_loop()
    context = client_context(server.caller, server.ca_bundle)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3

    async def connect_and_exchange() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context, server_hostname="a.example")
        await _exchange(reader, writer)
        writer.close()

    rounds = ROUNDS // 4
    cpu = server.cpu_seconds()
    benchmark.pedantic(lambda: loop.run_until_complete(connect_and_exchange()), rounds=rounds, warmup_rounds=20)
    record(benchmark, server, cpu, rounds + 20)
    loop.close()


NOTIFY_BODY = os.urandom(90 << 10)  # 90 FanoutMessages of 1 KiB, as the hub batches them
MESSAGES_PER_BODY = 90
BODIES = 200  # per follower per round
WINDOW = 4  # calls in flight per follower


@pytest.mark.benchmark(group="https-notify")
def test_notify_to_two_followers(benchmark: Any, pki: tuple[Path, dict[str, Credentials]]) -> None:
    """The hub's `/notify` to 2 followers that only count: 90 KiB bodies, `WINDOW`
    calls in flight per follower, kept-alive connections. `deliveries_per_s` counts
    FanoutMessages delivered (90 per body, per follower)."""
    with spawn(pki, "b.example", "a.example") as b, spawn(pki, "c.example", "a.example") as c:
        loop = asyncio.new_event_loop()
        peers = {b.domain: b.peer(), c.domain: c.peer()}
        hub = FederationClient(b.caller, peers, connections_per_peer=WINDOW)

        async def to(domain: str) -> None:
            async def sender(count: int) -> None:
                for _ in range(count):
                    reply = await hub.call(domain, "notify", {"roomId": ROOM}, NOTIFY_BODY)
                    assert reply.status == 201

            await asyncio.gather(*(sender(BODIES // WINDOW) for _ in range(WINDOW)))

        async def round_() -> None:
            await asyncio.gather(to("b.example"), to("c.example"))

        loop.run_until_complete(round_())  # directories, connections
        benchmark.pedantic(lambda: loop.run_until_complete(round_()), rounds=5, iterations=1)
        deliveries = 2 * BODIES * MESSAGES_PER_BODY
        benchmark.extra_info["deliveries_per_s"] = round(deliveries / benchmark.stats.stats.mean)
        benchmark.extra_info["requests_per_s"] = round(2 * BODIES / benchmark.stats.stats.mean)
        benchmark.extra_info["connections_opened"] = sum(hub.connections_opened(d) for d in peers)
        loop.run_until_complete(hub.aclose())
        loop.close()
