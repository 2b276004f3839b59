"""An asyncio loop on its own thread: how synchronous code (a Ray actor's methods,
the transport's blocking calls) runs the server and the client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "mimi-federation") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coroutine` on the loop; its future (`concurrent.futures.wait` takes many)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and wait for its result."""
        return self.submit(coroutine).result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop once what it runs now has had `timeout` seconds to finish."""

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)

        if self.loop.is_running():
            self.run(drain())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
        self.loop.close()
