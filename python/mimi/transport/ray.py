"""The in-cluster transport: the peers' endpoints are methods of named actors."""

from __future__ import annotations

from typing import Any

from mimi.logic.follower import Notify
from mimi.logic.key_material import KeyMaterialAnswer
from mimi.transport import names


class RayTransport:
    def key_material(self, caller: str, target_provider: str, body: bytes) -> KeyMaterialAnswer:
        import ray

        # The caller's identity travels as an argument until the transport authenticates it.
        answer: KeyMaterialAnswer = ray.get(names.handle(names.provider(target_provider)).key_material.remote(caller, body))
        return answer

    def notify(self, follower: str, batch: Notify) -> Any:
        # Fire and forget, with the reply kept for flow control and resending;
        # no task events for the hot path (DESIGN.md, performance model).
        method = names.handle(names.provider(follower)).notify.options(enable_task_events=False)
        return method.remote(batch.room, batch.previous, list(batch.sequences), batch.body, list(batch.withheld))

    def answered(self, handles: list[Any], wait: float) -> tuple[list[tuple[Any, bool]], list[Any]]:
        import ray

        if not handles:
            return [], []
        # Every call already answered, at once; else wait for the first (not for all).
        ready, pending = ray.wait(handles, num_returns=len(handles), timeout=0)
        if not ready and wait > 0:
            ready, pending = ray.wait(handles, num_returns=1, timeout=wait)
        done: list[tuple[Any, bool]] = []
        for handle in ready:
            try:
                ray.get(handle)
                done.append((handle, True))
            except Exception:  # the follower died, restarted or refused: send again
                done.append((handle, False))
        return done, list(pending)
