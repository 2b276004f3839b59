"""The in-cluster transport: the peers' endpoints are methods of actors, found
through the deployment's directory (`RayDirectory`). The caller identity each
endpoint receives is the transport's `domain`, fixed when the deployment wires the
actor that owns it (`mimi.actors.deploy`): a body or a client never supplies it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from mimi import ids
from mimi.errors import MimiError
from mimi.logic.follower import Notify, Unnumbered
from mimi.logic.key_material import KeyMaterialAnswer
from mimi.transport import names

T = TypeVar("T")

# A hub that restarts is called again (bounded): its endpoints are idempotent, a
# repeated body gets the first answer.
RETRIES, RETRY_PAUSE = 600, 0.1


class RayDirectory:
    """Where a provider domain's endpoints are in this cluster (the next issue
    serves `/.well-known/mimi-protocol-directory`). A room's hub is the provider
    its URI names; that provider routes a room's calls to the RoomHub it runs for
    the room. Handles are looked up once."""

    def __init__(self) -> None:
        self.handles: dict[str, Any] = {}

    def _handle(self, name: str) -> Any:
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = names.handle(name)
        return handle

    def provider(self, domain: str) -> Any:
        return self._handle(names.provider(ids.provider_of(domain)))

    def knows_hub(self, room: str) -> bool:
        """Whether the hub of `room` was looked up already (`hub` will not block)."""
        return names.hub(room) in self.handles

    def hub(self, room: str) -> Any:
        provider = ids.provider_of(room)  # a room URI names its hub's domain; anything else is refused here
        try:
            return self._handle(names.hub(room))
        except ValueError as err:  # Ray's answer for a name it does not know
            raise MimiError(f"no such room on {provider}: {room}") from err


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RayTransport:
    def __init__(self, domain: str, directory: RayDirectory | None = None) -> None:
        self.domain = domain
        self.directory = directory or RayDirectory()

    def update(self, room: str, body: bytes) -> Future[bytes]:
        return self._call(lambda: self.directory.hub(room).update.remote(room, self.domain, body, now_ms()))

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        return self._call(lambda: self.directory.hub(room).submit_many.remote(room, self.domain, bodies, now_ms()))

    def group_info(self, room: str, body: bytes) -> Future[bytes]:
        return self._call(lambda: self.directory.hub(room).group_info.remote(room, self.domain, body))

    def key_material(self, room: str, body: bytes) -> Future[KeyMaterialAnswer]:
        return self._call(lambda: self.directory.hub(room).key_material.remote(room, self.domain, body))

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        return self._call(lambda: self.directory.provider(target_provider).key_material.remote(self.domain, body))

    def notify(self, follower: str, batch: Notify | Unnumbered) -> Future[int]:
        # Fire and forget, with the reply kept for flow control and resending (the
        # hub's outbox resends, so no retry here); no task events for the hot path
        # (DESIGN.md, performance model).
        method = self.directory.provider(follower).notify.options(enable_task_events=False)
        if isinstance(batch, Unnumbered):
            ref = method.remote(batch.room, self.domain, None, None, batch.body, list(batch.withheld))
        else:
            ref = method.remote(batch.room, self.domain, batch.previous, list(batch.sequences), batch.body, list(batch.withheld))
        future: Future[int] = ref.future()
        return future

    def reserve(self, room: str) -> Future[tuple[bytes, str]]:
        return self._call(lambda: self.directory.hub(room).reserve.remote(room))

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> Future[None]:
        return self._call(lambda: self.directory.hub(room).create_room.remote(room, group_info, ratchet_tree))

    def hub_sender(self, room: str) -> Future[tuple[bytes, str]]:
        return self._call(lambda: self.directory.hub(room).hub_sender.remote(room))

    @staticmethod
    def _call(send: Callable[[], Any]) -> Future[T]:
        """The answer of the call `send` makes, made again while its actor restarts."""
        from ray.exceptions import ActorUnavailableError

        out: Future[T] = Future()

        def attempt(left: int) -> None:
            try:
                inner = send().future()
            except Exception as err:  # no such actor: the call fails like a refused one
                out.set_exception(err)
                return

            def answered(done: Future[T]) -> None:
                err = done.exception()
                if isinstance(err, ActorUnavailableError) and left > 1:
                    threading.Timer(RETRY_PAUSE, attempt, (left - 1,)).start()
                elif err is not None:
                    out.set_exception(err)
                else:
                    out.set_result(done.result())

            inner.add_done_callback(answered)

        attempt(RETRIES)
        return out
