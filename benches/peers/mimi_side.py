"""The mimi side: one room, members spread over 3 providers, hosted in a few
FleetHost actors; one sender on a host of its own, on the hub's provider. The
providers reach each other through in-cluster calls (`ray`) or over HTTPS with
mutual TLS on 127.0.0.1 (`https`, `mimi.transport.loopback`)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

from stats import Point

from mimi.actors.deploy import Deployment, start_ray
from mimi.ids import user_of
from mimi.loadtest.fleet import decrypted, fleet, recorded
from mimi.transport.loopback import LoopbackFederation

HUB = "mimi://a.example"
PROVIDERS = ("mimi://a.example", "mimi://b.example", "mimi://c.example")
ROOM = "mimi://a.example/r/bench"


class MimiRoom:
    """A deployment with one room of `members` devices (one per user)."""

    def __init__(self, members: int, data_root: str | None = None, transport: str = "ray") -> None:
        self.members = members
        self.data_dir = tempfile.mkdtemp(prefix="mimi-peers-", dir=data_root)
        self.deploy = Deployment(self.data_dir)
        self.federation = LoopbackFederation(list(PROVIDERS), Path(self.data_dir) / "tls") if transport == "https" else None
        if self.federation is not None:
            self.deploy.transport = self.federation.transport
        self.setup_seconds = 0.0

    def start(self) -> None:
        import ray

        started = time.monotonic()
        d = self.deploy
        for provider in PROVIDERS:
            d.provider(provider)
        d.room_hub(ROOM, HUB)
        devices = [f"{PROVIDERS[i % 3]}/d/m{i}/phone" for i in range(self.members)]
        self.sender = devices[0]
        fleet(d, "sender", [self.sender])
        self.receivers = []
        for k, provider in enumerate(PROVIDERS):
            hosted = [c for c in devices[1:] if c.startswith(provider + "/")]
            if hosted:
                self.receivers.append(fleet(d, f"members-{k}", hosted))
        ray.get([d.host(c).publish_key_packages.remote(c, 1) for c in devices])
        sender_host = d.host(self.sender)
        users = [user_of(c) for c in devices[1:]]
        ray.get(sender_host.create_room.remote(self.sender, ROOM, "cooperative"))
        result = ray.get(sender_host.add_users.remote(self.sender, ROOM, users))
        if result["code"] != "success":
            raise RuntimeError(f"adding {len(users)} members: {result}")
        d.settle(ROOM, timeout=600)
        self.setup_seconds = time.monotonic() - started

    def run(self, rate: float | None, duration: float, drain: float, size: int, window: int) -> Point:
        """One load point; waits (at most `drain` s after sending) for every delivery."""
        import ray

        recorded(self.receivers, "take_records")
        run = ray.get(self.deploy.host(self.sender).drive.remote([(self.sender, ROOM)], rate, duration, size, window))
        sent = sum(run["sent"])
        expected = sent * (self.members - 1)
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and decrypted(self.receivers) < expected:
            time.sleep(0.05)
        records = [point_record(r) for r in recorded(self.receivers, "take_records")]
        return Point.from_records(records, sent=sent, expected=expected, start_ns=run["start_ns"], send_seconds=run["seconds"],
                                  extra={"hub_answers": run["answers"]})

    def pids(self) -> dict[str, list[int]]:
        """Each kind of actor's processes (hub, providers, sender host, member hosts)."""
        import os

        import ray

        d = self.deploy
        groups = {"hub": list(d.hubs.values()), "providers": list(d.providers.values()),
                  "sender": [d.host(self.sender)], "members": self.receivers}
        pid = lambda handle: ray.get(handle.__ray_call__.remote(lambda _self: os.getpid()))  # noqa: E731
        return {name: [pid(h) for h in handles] for name, handles in groups.items()}

    def stop(self) -> None:
        import ray

        with contextlib.suppress(Exception):  # best effort: the cluster goes down with the driver
            self.deploy.shutdown()
        if self.federation is not None:
            self.federation.close()
        del ray
        shutil.rmtree(self.data_dir, ignore_errors=True)  # on tmpfs: memory


def point_record(record: dict[str, Any]) -> dict[str, Any]:
    """A FleetHost record as `Point.from_records` reads it: latencies and the last decryption."""
    decrypt_ns = array("q")
    decrypt_ns.frombytes(record["decrypt_ns"])
    return {"latencies_ns": record["latency_ns"], "last_ns": max(decrypt_ns, default=0)}


def start() -> None:
    start_ray()


def info() -> dict[str, Any]:
    return {"providers": len(PROVIDERS), "hosts": "1 sender + 1 per provider", "e2ee": "MLS 0x0001, PrivateMessage"}
