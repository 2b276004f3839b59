"""Names of the actors in the cluster (one Ray namespace per deployment): the
addresses of the in-cluster transport, by which servers and clients find each other."""

from __future__ import annotations

from typing import Any

NAMESPACE = "mimi"


def provider(uri: str) -> str:
    return f"provider:{uri}"


def hub(room: str) -> str:
    return f"hub:{room}"


def clients(host: str) -> str:
    return f"clients:{host}"


def handle(name: str) -> Any:
    import ray

    return ray.get_actor(name, namespace=NAMESPACE)


def ray_get(ref: Any) -> Any:
    import ray

    return ray.get(ref)


def call_hub(room: str, method: str, *args: Any, attempts: int = 600) -> Any:
    """Calls the room's hub, again while it restarts (bounded). Its endpoints are
    idempotent: a repeated body gets the first answer."""
    import time

    import ray
    from ray.exceptions import ActorUnavailableError

    for attempt in range(attempts):
        try:
            return ray.get(getattr(handle(hub(room)), method).remote(room, *args))
        except ActorUnavailableError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")
