"""Deploying mimi on Ray: a local cluster by default, or an existing one (`address`).

`ray.remote` is applied here, where the actors are deployed; every actor is
named in the `mimi` namespace, restarts from its SQLite files whenever it dies
(no cap on restarts: what it restores is bounded, and a hub backs off while a
follower is down), and asks for no CPU reservation (a 2-core machine hosts
many actors; they are mostly idle).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mimi.actors.client import ClientHost
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError
from mimi.logic.fanout import Backoff
from mimi.transport import names

ACTOR_OPTIONS: dict[str, Any] = {"namespace": names.NAMESPACE, "num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}

# Threads per actor: concurrent `/submitMessage` calls to a RoomHub, and `/notify`
# calls to a ProviderServer, share one durable commit (`GroupCommit`); the calls in
# flight bound the batch.
HUB_CONCURRENCY = 64
PROVIDER_CONCURRENCY = 16  # /notify calls of all hubs in flight to one provider share a commit


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    import ray

    if not ray.is_initialized():
        # Without an address, always a new local Ray ("local"): `None` would attach to
        # one already running on the host (`ray start`, RAY_ADDRESS), another deployment's.
        ray.init(address=address or "local", namespace=names.NAMESPACE, num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)


@dataclass
class Deployment:
    """The actors of one deployment, created on the connected Ray cluster."""

    data_dir: str
    providers: dict[str, Any] = field(default_factory=dict)
    hubs: dict[str, Any] = field(default_factory=dict)  # room -> RoomHub
    hosts: dict[str, Any] = field(default_factory=dict)  # host name -> ClientHost
    client_host: dict[str, str] = field(default_factory=dict)  # client -> host name
    hub_of_room: dict[str, str] = field(default_factory=dict)

    def provider(self, uri: str) -> Any:
        import ray

        actor: Any = ray.remote(ProviderServer)
        handle = actor.options(name=names.provider(uri), max_concurrency=PROVIDER_CONCURRENCY, **ACTOR_OPTIONS).remote(
            uri, self.data_dir
        )
        ray.get(handle.ping.remote())
        self.providers[uri] = handle
        return handle

    def room_hub(self, room: str, hub: str, window: int = 2, backoff: Backoff | None = None) -> Any:
        """A RoomHub for `room`, hosted by provider `hub`; `window`: `/notify` calls
        in flight per follower; `backoff`: when to try a failing follower again."""
        import ray

        actor: Any = ray.remote(RoomHub)
        handle = actor.options(name=names.hub(room), max_concurrency=HUB_CONCURRENCY, **ACTOR_OPTIONS).remote(
            hub, self.data_dir, window=window, backoff=backoff
        )
        ray.get(handle.ping.remote())
        self.hubs[room] = handle
        self.hub_of_room[room] = hub
        return handle

    def clients(self, host: str, clients: list[str], cls: type[ClientHost] = ClientHost, **remote: Any) -> Any:
        """One actor hosting `clients` (one device or many); `cls` may be a subclass
        (`FleetHost` for load runs), `remote` more ray.remote options."""
        import ray

        name = names.clients(host)
        actor: Any = ray.remote(**remote)(cls) if remote else ray.remote(cls)
        handle = actor.options(name=name, **ACTOR_OPTIONS).remote(name, clients, self.data_dir)
        ray.get(handle.ping.remote())
        self.hosts[host] = handle
        for client in clients:
            self.client_host[client] = host
        return handle

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
