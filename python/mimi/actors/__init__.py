"""Thin Ray actors over the sans-IO logic: decode, call the logic, persist, send.

The classes are plain Python; `mimi.actors.deploy` applies `ray.remote` where
they are deployed, so they can be tested without a cluster.
"""

from mimi.actors.client import ClientHost
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer

__all__ = ["ClientHost", "ProviderServer", "RoomHub"]
