"""`mimi serve --config provider.toml`: one provider as its own deployment and trust
domain. On its own Ray (a new local one unless `--address` names a cluster) it runs
its ProviderServer, a RoomHub for each room of `rooms`, and a client host for each
device of `clients`, with its data under `data_dir`. Its HTTPS listener (mutual TLS)
is the only way in for other providers, and its servers reach them only over HTTPS
(`HttpsTransport`, the config's peer table).

Once up it prints one JSON line: `{"ready": <domain>, "port": <bound port>,
"ray_address": <its Ray's GCS address>, "data_dir": ...}`. SIGTERM or SIGINT stops
it: the listener, its actors, then its Ray.

`--control` stands in for the devices, which MIMI leaves to each provider: every
line on stdin is a JSON call of a device's host, `{"client": <its URI>, "method":
<a ClientHost method>, "args": [...]}` (an argument `{"hex": ...}` is bytes), and
gets one line on stdout, `{"ok": <result>}` or `{"error": <message>}` (bytes in
results as hex). The end of stdin stops the provider, so a driver that dies takes
the provider (and its Ray) with it."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from mimi import ids
from mimi.config import ProviderConfig
from mimi.federation import Credentials, FederationServer, LoopThread, Peer


def _argument(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return [_argument(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))


class Provider:
    """One provider's deployment on the connected Ray, and its HTTPS listener."""

    def __init__(self, config: ProviderConfig) -> None:
        from mimi.actors.deploy import Deployment
        from mimi.transport.front import ProviderFront
        from mimi.transport.https import HttpsTransport

        self.config = config
        self.uri = ids.SCHEME + config.domain
        credentials = Credentials(config.domain, config.tls.cert, config.tls.key, config.tls.ca)
        peers = {d: Peer(d, p.url, p.ca) for d, p in config.peers.items()}
        # The data directory holds the hub's signing key and the devices' MLS state:
        # its owner's only (the SQLite files are made 0600 as well).
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.deployment = Deployment(str(config.data_dir), transport=lambda uri: HttpsTransport(uri, credentials, peers))
        self.loop = LoopThread(f"https:{config.domain}")
        self.server = FederationServer(
            credentials, ProviderFront(self.uri).handlers(), {d: p.ca for d, p in config.peers.items()},
            max_body=config.max_body, max_connections=config.max_connections,
            max_connections_per_address=config.max_connections_per_address,
        )
        self.port = 0

    def start(self) -> None:
        d = self.deployment
        d.provider(self.uri)
        for room in self.config.rooms:
            d.room_hub(room, self.uri)
        for client in self.config.clients:
            d.clients(client, [client])
        self.port = self.loop.run(self.server.start(self.config.listen.host, self.config.listen.port))

    def control(self, line: str) -> str:
        """One device call of `--control` (the module's docstring); its answer line."""
        from mimi.transport import names

        try:
            call = json.loads(line)
            client, method, args = call["client"], call["method"], _argument(call.get("args", []))
            if method.startswith("_"):
                raise ValueError(f"not a method of a device's host: {method!r}")
            return _json({"ok": names.ray_get(getattr(self.deployment.host(client), method).remote(client, *args))})
        except Exception as err:  # the driver's call failed: it gets why, the provider goes on
            return _json({"error": f"{type(err).__name__}: {err}"})

    def stop(self) -> None:
        self.loop.run(self.server.close())
        self.loop.close()
        self.deployment.shutdown()


def serve(config: ProviderConfig, address: str | None, control: bool, out: TextIO = sys.stdout) -> int:
    import ray

    from mimi.actors.deploy import start_ray

    start_ray(address)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # after Ray's: ours stop cleanly, Ray's would exit at once
        signal.signal(sig, lambda *_: stop.set())
    provider = Provider(config)
    try:
        provider.start()
        ready = {"ready": config.domain, "port": provider.port, "ray_address": ray.get_runtime_context().gcs_address,
                 "data_dir": str(Path(config.data_dir))}
        print(_json(ready), file=out, flush=True)
        if control:
            threading.Thread(target=_control, args=(provider, stop, out), name="control", daemon=True).start()
        while not stop.wait(0.5):
            pass
    finally:
        provider.stop()
        ray.shutdown()
    return 0


def _control(provider: Provider, stop: threading.Event, out: TextIO) -> None:
    for line in sys.stdin:
        if line.strip():
            print(provider.control(line), file=out, flush=True)
    stop.set()  # the driver is gone
