"""How the HTTPS server was chosen (docs/federation.md): each candidate serves a POST
with mutual TLS, requiring a client certificate, and answers with the peer's domain
as its handler got it from the verified certificate; a load process drives it over
kept-alive connections, one after another per connection.

Not part of `make bench` (the candidates are not dependencies). To run it:

    python -m venv /tmp/candidates && /tmp/candidates/bin/pip install cryptography httptools msgpack cbor2 \
        h11 aiohttp uvicorn hypercorn uvloop
    PYTHONPATH=python /tmp/candidates/bin/python benches/https_servers.py [seconds]

The two processes (server, load) each get a core of the 2; the load is a bare
asyncio client, the same for all, so the differences are the servers'.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KINDS = ["mimi", "h11", "aiohttp", "uvicorn", "hypercorn"]
PATH = "/notify/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse"


def context(d: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(d / "a.example.crt", d / "a.example.key")
    ctx.load_verify_locations(d / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_of(ssl_object: Any) -> bytes:
    names = [v for k, v in ssl_object.getpeercert().get("subjectAltName", ()) if k == "DNS"]
    return str(names[0]).encode()


async def ready_and_wait() -> None:
    print("ready", flush=True)
    await asyncio.Event().wait()


async def serve_mimi(d: Path, port: int) -> None:
    from mimi.federation import Credentials, FederationServer, Reply

    async def notify(call: Any) -> Reply:
        return Reply(200, call.peer.encode())

    credentials = Credentials("a.example", d / "a.example.crt", d / "a.example.key", d / "ca.pem")
    await FederationServer(credentials, {"notify": notify}, {"b.example": d / "ca.pem"}).start(port=port)
    await ready_and_wait()


async def serve_h11(d: Path, port: int) -> None:
    import h11

    class Connection(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.conn = h11.Connection(h11.SERVER)
            self.peer = peer_of(transport.get_extra_info("ssl_object"))

        def data_received(self, data: bytes) -> None:
            self.conn.receive_data(data)
            while (event := self.conn.next_event()) is not h11.NEED_DATA:
                if isinstance(event, h11.EndOfMessage):
                    headers = [("content-length", str(len(self.peer)))]
                    self.transport.write(
                        self.conn.send(h11.Response(status_code=200, headers=headers))
                        + self.conn.send(h11.Data(data=self.peer))
                        + self.conn.send(h11.EndOfMessage())
                    )
                    self.conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return

    await asyncio.get_running_loop().create_server(Connection, "127.0.0.1", port, ssl=context(d))
    await ready_and_wait()


async def serve_aiohttp(d: Path, port: int) -> None:
    from aiohttp import web

    async def handler(request: Any) -> Any:
        await request.read()
        return web.Response(body=peer_of(request.transport.get_extra_info("ssl_object")))

    runner = web.ServerRunner(web.Server(handler), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context(d)).start()
    await ready_and_wait()


def serve_uvicorn(d: Path, port: int) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TlsProtocol(HttpToolsProtocol):
        # uvicorn puts no peer certificate in the ASGI scope: a subclass of its
        # protocol (its internals, not an API) adds it where the "tls" extension goes.
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope["extensions"] = {"tls": {"peer": peer_of(self.transport.get_extra_info("ssl_object"))}}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        body = scope["extensions"]["tls"]["peer"]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=TlsProtocol, loop="asyncio", lifespan="off", access_log=False,
        log_level="warning", ssl_certfile=str(d / "a.example.crt"), ssl_keyfile=str(d / "a.example.key"),
        ssl_ca_certs=str(d / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED,
    )  # fmt: skip
    print("ready", flush=True)
    uvicorn.Server(config).run()


def serve_hypercorn(d: Path, port: int) -> None:
    # Speed only: hypercorn puts no peer certificate in the scope, so it answers a constant.
    import hypercorn.asyncio
    import hypercorn.config

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]})
        await send({"type": "http.response.body", "body": b"b.example"})

    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile, config.ca_certs = str(d / "a.example.crt"), str(d / "a.example.key"), str(d / "ca.pem")
    config.verify_mode = ssl.CERT_REQUIRED
    config.accesslog = config.errorlog = None
    print("ready", flush=True)
    asyncio.run(hypercorn.asyncio.serve(app, config))  # type: ignore[arg-type]


def serve(kind: str, d: Path, port: int) -> None:
    if kind in ("uvicorn", "hypercorn"):
        {"uvicorn": serve_uvicorn, "hypercorn": serve_hypercorn}[kind](d, port)
    else:
        asyncio.run({"mimi": serve_mimi, "h11": serve_h11, "aiohttp": serve_aiohttp}[kind](d, port))


async def load(d: Path, port: int, connections: int, seconds: float, size: int) -> str:
    ctx = ssl.create_default_context(cafile=d / "ca.pem")
    ctx.load_cert_chain(d / "b.example.crt", d / "b.example.key")
    body = b"x" * size
    request = f"POST {PATH} HTTP/1.1\r\nhost: a.example\r\nfrom: mimi@b.example\r\ncontent-length: {size}\r\n\r\n"
    latencies: list[float] = []

    async def one(deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="a.example")
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request.encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            assert await reader.readexactly(length) == b"b.example"
            latencies.append(time.perf_counter() - start)
        writer.close()

    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(one(deadline) for _ in range(connections)))
    latencies.sort()
    return f"{len(latencies) / seconds:,.0f} req/s, p50 {latencies[len(latencies) // 2] * 1e3:.3f} ms"


def main(seconds: float) -> None:
    from mimi.federation.ca import CertificateAuthority

    d = Path(tempfile.mkdtemp())
    ca = CertificateAuthority.create()
    ca.issue(["a.example"], d)
    ca.issue(["b.example"], d)
    print("| server | conns | 64 B body | 90 KiB body |\n|---|---:|---|---|")
    for port, kind in enumerate(KINDS, start=24_000):
        server = subprocess.Popen([sys.executable, __file__, "serve", kind, str(d), str(port)], stdout=subprocess.PIPE)
        assert server.stdout is not None
        server.stdout.readline()
        time.sleep(0.5)
        try:
            for connections in (1, 8):
                cells = []
                for size in (64, 90 << 10):
                    cells.append(
                        subprocess.run(
                            [sys.executable, __file__, "load", str(d), str(port), str(connections), str(seconds), str(size)],
                            capture_output=True, text=True, timeout=seconds + 30,
                        ).stdout.strip() or "failed"
                    )  # fmt: skip
                print(f"| {kind} | {connections} | {cells[0]} | {cells[1]} |", flush=True)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1:2] == ["load"]:
        d, port, connections, seconds, size = sys.argv[2:7]
        print(asyncio.run(load(Path(d), int(port), int(connections), float(seconds), int(size))))
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
