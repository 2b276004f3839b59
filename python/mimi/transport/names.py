"""Names of the actors in the cluster (one Ray namespace per deployment): the
addresses of the in-cluster transport. Only the transport resolves a hub's name
(`RayDirectory`); clients reach their own provider by name (a hop MIMI does not
define, in-cluster), and the deployment names what it creates."""

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
