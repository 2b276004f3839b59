"""Provider-to-provider HTTPS with mutual TLS (mimi.federation): one POST round trip
on a reused connection, and what a full TLS handshake costs beside a kept-alive
request. The server runs in its own process (as a peer provider would), so the
client and the server each have a core; its CPU time per request is read from
/proc and recorded in extra_info (`server_cpu_us`), as is each round's p50.

Rounds are single calls: the median is the p50 round trip."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
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
        d = Path(sys.argv[1])
        credentials = Credentials("a.example", d / "a.example.crt", d / "a.example.key", d / "ca.pem")
        server = FederationServer(credentials, {"notify": notify})
        print(await server.start(), flush=True)
        await asyncio.get_running_loop().connect_read_pipe(asyncio.Protocol, sys.stdin)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    b: Credentials
    ca_bundle: Path

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create()
    a, b = ca.issue(["a.example"], directory), ca.issue(["b.example"], directory)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield Server(process, int(process.stdout.readline()), b, a.ca_bundle)
    finally:
        process.kill()
        process.wait(timeout=10)


def record(benchmark: Any, server: Server, cpu_before: float, requests: int) -> None:
    benchmark.extra_info["p50_ms"] = round(benchmark.stats.stats.median * 1e3, 3)
    benchmark.extra_info["server_cpu_us"] = round((server.cpu_seconds() - cpu_before) / requests * 1e6, 1)


@pytest.mark.benchmark(group="https-round-trip")
def test_post_on_a_reused_connection(benchmark: Any, server: Server) -> None:
    """FederationClient.call: directory cached, one kept-alive connection."""
    loop = asyncio.new_event_loop()
    client = FederationClient(server.b, {"a.example": Peer("a.example", f"https://127.0.0.1:{server.port}", server.ca_bundle)})
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
    context = client_context(server.b, server.ca_bundle)
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
    context = client_context(server.b, server.ca_bundle)
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
