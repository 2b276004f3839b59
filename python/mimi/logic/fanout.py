"""Batching of accepted events into `/notify` calls, per destination (sans-IO).

One `/notify` carries many FanoutMessages of one room (draft-ietf-mimi-protocol
§Fanout Messages and Room Events); DESIGN.md: batches of up to ~90 KiB travel
inline in one Ray call, which is what makes fanout fast. The caller decides when
to flush (adaptively: whenever a send slot to that destination frees up).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mimi.logic.follower import Notify
from mimi.logic.hub import Fanout

MAX_BATCH_BYTES = 90 * 1024


class FanoutBatcher:
    """Queues each destination's events; cuts them into ordered `Notify` batches."""

    def __init__(self, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_bytes = max_bytes
        self._queues: dict[tuple[str, str], list[Fanout]] = defaultdict(list)
        self._last: dict[tuple[str, str], int] = {}  # (destination, room) -> last sequence batched

    def add(self, events: Iterable[Fanout]) -> None:
        for event in events:
            for destination in event.destinations:
                self._queues[(destination, event.room)].append(event)

    def resume(self, destination: str, room: str, sequence: int) -> None:
        """After a restart: `sequence` was the last event batched for `destination`."""
        key = (destination, room)
        self._last[key] = max(self._last.get(key, 0), sequence)

    def last_sent(self, room: str) -> dict[str, int]:
        return {d: seq for (d, r), seq in self._last.items() if r == room}

    def pending(self, destination: str | None = None) -> int:
        return sum(len(q) for (d, _), q in self._queues.items() if destination in (None, d))

    def take(self, destination: str) -> list[Notify]:
        """Everything queued for `destination`, as batches of at most `max_bytes`
        (a single larger event travels alone)."""
        out: list[Notify] = []
        for key in [k for k in self._queues if k[0] == destination]:
            events = self._queues.pop(key)
            start = 0
            while start < len(events):
                size, end = 0, start
                while end < len(events) and (end == start or size + len(events[end].message) <= self.max_bytes):
                    size += len(events[end].message)
                    end += 1
                chunk = events[start:end]
                previous = self._last.get(key, 0)
                out.append(Notify(key[1], previous, tuple(e.sequence for e in chunk), b"".join(e.message for e in chunk)))
                self._last[key] = chunk[-1].sequence
                start = end
        return out

    def destinations(self) -> list[str]:
        return sorted({d for d, _ in self._queues})
