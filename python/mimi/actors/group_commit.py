"""Group commit across concurrent calls.

A hub answers `/submitMessage` only after the message is durably logged, and a
durable SQLite commit costs a sync of the disk (milliseconds). One commit per
call would cap a hub at a few hundred messages/s whatever its CPU. Concurrent
callers (a threaded actor) therefore hand their item to `GroupCommit.call`:
whichever caller finds no batch in progress becomes the leader, takes every
item queued so far and processes them as one batch (one commit); the others
wait for their answers. Under load batches grow by themselves; alone, a caller
is its own batch of one and waits for nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


@dataclass
class _Slot(Generic[Answer]):
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Answer]):
    """`process(items) -> answers` (one answer per item, in order) runs for the
    items of concurrent `call`s together, never twice at once. If it raises, every
    caller of that batch gets the exception (and `process` must have changed no
    state: nothing of the batch was acknowledged)."""

    def __init__(self, process: Callable[[Sequence[Item]], Sequence[Answer]]) -> None:
        self._process = process
        self._ready = threading.Condition()
        self._queue: list[tuple[Item, _Slot[Answer]]] = []
        self._busy = False
        self.batches = 0
        self.items = 0

    def call(self, item: Item) -> Answer:
        slot: _Slot[Answer] = _Slot()
        with self._ready:
            self._queue.append((item, slot))
            while self._busy and not slot.done:
                self._ready.wait()
            if not slot.done:
                self._busy = True
                batch, self._queue = self._queue, []
        if not slot.done:
            self._lead(batch)
        if slot.error is not None:
            raise slot.error
        return slot.answer  # type: ignore[return-value]

    def _lead(self, batch: list[tuple[Item, _Slot[Answer]]]) -> None:
        try:
            answers = self._process([item for item, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"group commit: {len(answers)} answers for {len(batch)} items")
            for (_, slot), answer in zip(batch, answers):
                slot.answer = answer
        except BaseException as err:  # handed to every caller of the batch
            for _, slot in batch:
                slot.error = err
        with self._ready:
            for _, slot in batch:
                slot.done = True
            self.batches += 1
            self.items += len(batch)
            self._busy = False
            self._ready.notify_all()
