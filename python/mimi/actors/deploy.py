"""Deploying mimi on Ray: a local cluster by default, or an existing one (`address`).

`ray.remote` is applied here, where the actors are deployed; every actor is
named in the `mimi` namespace, restarts from its SQLite files whenever it dies
(no cap on restarts: what it restores is bounded, and a hub backs off while a
follower is down), and asks for no CPU reservation (a 2-core machine hosts
many actors; they are mostly idle).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mimi import ids
from mimi.actors.client import HUB_CALLS, ClientHost
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError
from mimi.logic.access import device_token
from mimi.logic.fanout import Backoff
from mimi.transport import Transport, names

ACTOR_OPTIONS: dict[str, Any] = {"namespace": names.NAMESPACE, "num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}

# Threads per actor: concurrent `/submitMessage` calls to a RoomHub, and `/notify`
# calls to a ProviderServer, share one durable commit (`GroupCommit`); the calls in
# flight bound the batch.
HUB_CONCURRENCY = 64
PROVIDER_CONCURRENCY = 16  # /notify calls of all hubs in flight to one provider share a commit
# Threads of a ProviderServer that forward its clients' calls to hubs, each waiting for
# the hub's answer (`ProviderServer.hub_call`): the calls its hosts keep in flight, whose
# `/submitMessage` bodies go to the hub together (docs/results.md, "The provider hop").
PROVIDER_HUB_CALLS = 64


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    import ray

    if not ray.is_initialized():
        # Without an address, always a new local Ray ("local"): `None` would attach to
        # one already running on the host (`ray start`, RAY_ADDRESS), another deployment's.
        ray.init(address=address or "local", namespace=names.NAMESPACE, num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)


@dataclass
class Deployment:
    """The actors of one deployment, created on the connected Ray cluster. The
    wiring fixes who is who: each server's transport speaks as the provider it is
    created for, and each client host gets its clients' tokens from their
    providers' secrets (`mimi.logic.access`)."""

    data_dir: str
    providers: dict[str, Any] = field(default_factory=dict)
    hubs: dict[str, Any] = field(default_factory=dict)  # room -> RoomHub
    hosts: dict[str, Any] = field(default_factory=dict)  # host name -> ClientHost
    client_host: dict[str, str] = field(default_factory=dict)  # client -> host name
    hub_of_room: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)  # provider -> its secret for its clients' tokens
    # The transport each provider's servers speak through (None: `RayTransport`); made
    # here and pickled into the actors (`mimi.transport.https.HttpsTransport`).
    transport: Callable[[str], Transport] | None = None

    def provider(self, uri: str) -> Any:
        import ray

        groups: dict[str, Any] = {"concurrency_groups": {HUB_CALLS: PROVIDER_HUB_CALLS}}
        actor: Any = ray.remote(**groups)(ProviderServer)
        secret = self.secrets.setdefault(uri, os.urandom(32))
        handle = actor.options(name=names.provider(uri), max_concurrency=PROVIDER_CONCURRENCY, **ACTOR_OPTIONS).remote(
            uri, self.data_dir, secret=secret, transport=self._transport(uri)
        )
        ray.get(handle.ping.remote())
        self.providers[uri] = handle
        return handle

    def room_hub(self, room: str, hub: str, window: int = 2, backoff: Backoff | None = None) -> Any:
        """A RoomHub for `room`, hosted by provider `hub`; `window`: `/notify` calls
        in flight per follower; `backoff`: when to try a failing follower again. The
        hub is the provider the room's URI names: there its peers' transports find it."""
        import ray

        if ids.provider_of(room) != hub:
            raise MimiError(f"{room} names {ids.provider_of(room)} as its hub, not {hub}")
        actor: Any = ray.remote(RoomHub)
        handle = actor.options(name=names.hub(room), max_concurrency=HUB_CONCURRENCY, **ACTOR_OPTIONS).remote(
            hub, self.data_dir, window=window, backoff=backoff, transport=self._transport(hub)
        )
        ray.get(handle.ping.remote())
        self.hubs[room] = handle
        self.hub_of_room[room] = hub
        return handle

    def _transport(self, provider: str) -> Transport | None:
        return None if self.transport is None else self.transport(provider)

    def clients(self, host: str, clients: list[str], cls: type[ClientHost] = ClientHost, **remote: Any) -> Any:
        """One actor hosting `clients` (one device or many); `cls` may be a subclass
        (`FleetHost` for load runs), `remote` more ray.remote options."""
        import ray

        name = names.clients(host)
        actor: Any = ray.remote(**remote)(cls) if remote else ray.remote(cls)
        handle = actor.options(name=name, **ACTOR_OPTIONS).remote(name, {c: self.token(c) for c in clients}, self.data_dir)
        ray.get(handle.ping.remote())
        self.hosts[host] = handle
        for client in clients:
            self.client_host[client] = host
        return handle

    def token(self, client: str) -> bytes:
        """The token by which `client` is known to its provider (`mimi.logic.access`)."""
        return device_token(self.secrets[ids.provider_of(client)], client)

    def host(self, client: str) -> Any:
        return self.hosts[self.client_host[client]]

    def settle(self, room: str, timeout: float = 120.0) -> None:
        """Waits until everything the hub fanned out for `room` was delivered and
        processed by every client still subscribed; a removed client counts until it
        processed the commit that removed it (bounded; raises MimiError on timeout)."""
        from ray.exceptions import ActorUnavailableError

        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._settled(room):
                    return
            except ActorUnavailableError:
                pass  # an actor is restarting: ask again
            if time.monotonic() > deadline:
                raise MimiError(f"{room}: events still in flight after {timeout}s")
            time.sleep(0.02)

    def _settled(self, room: str) -> bool:
        import ray

        ray.get(self.hubs[room].flush.remote())
        sent = ray.get(self.hubs[room].progress.remote(room))
        for provider, handle in self.providers.items():
            delivered, pushed = ray.get(handle.progress.remote(room))
            if sent.get(provider, 0) != delivered:
                return False
            processed: dict[str, int] = {}
            for host in {self.client_host[c] for c in pushed if c in self.client_host}:
                processed.update(ray.get(self.hosts[host].progress.remote(room)))
            if any(processed.get(c, 0) < seq for c, seq in pushed.items()):
                return False
        return True

    def shutdown(self) -> None:
        import ray

        for handle in [*self.hosts.values(), *self.hubs.values(), *self.providers.values()]:
            ray.kill(handle, no_restart=True)
