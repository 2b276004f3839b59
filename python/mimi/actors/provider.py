"""ProviderServer: one per provider. Follower role (ordered local delivery of every
room's events), KeyPackage directory, and the local clients' hosts."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import msgpack

from mimi import _core, ids
from mimi.actors import names
from mimi.errors import MimiError, StorageError
from mimi.logic.follower import Follower, Notify
from mimi.storage import DataDir, FollowerStore, KeyPackageStore
from mimi.storage.follower import Delivery as StoredDelivery


class ProviderServer:
    def __init__(self, provider: str, data_dir: str) -> None:
        self.provider = provider
        self.path = DataDir(Path(data_dir)).server(provider)
        self.inbox = FollowerStore(self.path)
        self.key_packages = KeyPackageStore(self.path)
        self.hosts: dict[str, str] = {}  # local client -> name of the actor hosting it
        self.follower = Follower(provider)
        self._load()
        self.delivered = 0
        self.pushed: dict[str, dict[str, int]] = {}  # room -> client -> last sequence pushed to its host

    def _load(self) -> None:
        saved = self.inbox.load_logic_state()
        if saved is not None:
            record = msgpack.unpackb(saved)
            self.follower = Follower.restore(record["follower"])
            self.hosts = dict(record["hosts"])

    def _state(self) -> bytes:
        return bytes(msgpack.packb({"follower": self.follower.export(), "hosts": self.hosts}))

    def ping(self) -> str:
        return self.provider

    def database(self) -> str:
        return str(self.path)

    # -- local clients -----------------------------------------------------------

    def register(self, client: str, host: str) -> None:
        if not client.startswith(self.provider + "/"):
            raise MimiError(f"{client} is not a client of {self.provider}")
        self.hosts[client] = host
        self.inbox.save_logic_state(self._state())

    def publish_key_packages(self, client: str, key_packages: list[bytes]) -> int:
        self.key_packages.publish(client, [(_core.key_package_ref(kp), kp) for kp in key_packages])
        return self.key_packages.remaining(client)

    def subscribe(self, room: str, client: str) -> None:
        self.follower.subscribe(room, client)
        self.inbox.save_logic_state(self._state())

    def unsubscribe(self, room: str, client: str) -> None:
        self.follower.unsubscribe(room, client)
        self.inbox.save_logic_state(self._state())

    # -- /keyMaterial (target side) ------------------------------------------------

    def key_material(self, body: bytes) -> bytes:
        """POST /keyMaterial: one single-use KeyPackage of each client of the target
        user (never handed out twice); a Welcome encrypted to one of them will be
        routed to that client (draft-ietf-mimi-protocol §Fetch Key Material)."""
        request = _core.KeyMaterialRequest.decode(body)
        request.verify()
        user = request.target_user
        clients = sorted(c for c in self.hosts if ids.user_of(c) == user)
        if not clients:
            return _core.KeyMaterialResponse("userUnknown", user).encode()
        material = []
        with self.key_packages.transaction():
            for client in clients:
                claimed = self.key_packages.claim(client)
                if claimed is None:
                    material.append(_core.ClientKeyMaterial("keyMaterialExhausted", client))
                else:
                    self.follower.expect_welcome(claimed.ref, client)
                    material.append(_core.ClientKeyMaterial("success", client, key_package=claimed.key_package))
        self.inbox.save_logic_state(self._state())
        served = sum(1 for m in material if m.client_status == "success")
        status = "success" if served == len(material) else "partialSuccess" if served else "noCompatibleMaterial"
        return _core.KeyMaterialResponse(status, user, material).encode()

    # -- /notify (follower side) ---------------------------------------------------

    def notify(self, room: str, previous: int, sequences: list[int], body: bytes) -> int:
        """One `/notify` batch from the room's hub. Returns how many deliveries it made.

        Delivered events go to the inbox (SQLite) with the follower's ordering
        state in one transaction, then to the clients' hosts in one call each."""
        deliveries = self.follower.notify(Notify(room, previous, tuple(sequences), body))
        by_sequence: dict[int, tuple[bytes, list[str]]] = {}
        for d in deliveries:
            by_sequence.setdefault(d.sequence, (d.message, []))[1].append(d.client)
        try:
            with self.inbox.transaction():
                self.inbox.follow_room(room)
                local = self.inbox.delivered_upto(room)
                # The inbox numbers this server's events of the room contiguously:
                # a Welcome for another provider leaves no gap here.
                events = [
                    StoredDelivery(local + i, bytes(msgpack.packb([sequence, body])), clients)
                    for i, (sequence, (body, clients)) in enumerate(sorted(by_sequence.items()), 1)
                ]
                if events:
                    self.inbox.receive(room, events)
                self.inbox.save_logic_state(self._state())
        except StorageError:
            self._load()  # not acknowledged: forget it, the hub sends it again
            raise
        per_host: dict[str, list[tuple[str, str, int, bytes]]] = defaultdict(list)
        for d in deliveries:
            host = self.hosts.get(d.client)
            if host is not None:
                per_host[host].append((d.client, d.room, d.sequence, d.message))
        for host, batch in per_host.items():
            names.handle(host).deliver.remote(batch)
            for client, room_, sequence, _ in batch:
                self.pushed.setdefault(room_, {})[client] = sequence
        self.delivered += len(deliveries)
        return len(deliveries)

    def missed(self, client: str, room: str, after: int) -> list[tuple[str, str, int, bytes]]:
        """The room's events in `client`'s inbox after room sequence `after`, for a
        client host that restarted (deliveries pushed to it meanwhile were lost)."""
        out = []
        for event in self.inbox.fetch_inbox(client, room, 0, 1_000_000):
            sequence, message = msgpack.unpackb(event.body)
            if sequence > after:
                out.append((client, room, sequence, bytes(message)))
        return out

    def progress(self, room: str) -> tuple[int, dict[str, int]]:
        """(room sequence delivered in order, last sequence pushed to each local client)."""
        return self.follower.delivered_upto(room), dict(self.pushed.get(room, {}))

    def stats(self) -> dict[str, Any]:
        return {"provider": self.provider, "delivered": self.delivered, "database": str(self.path)}
