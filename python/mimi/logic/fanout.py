"""Batching of accepted events into `/notify` calls, per destination (sans-IO).

One `/notify` carries many FanoutMessages of one room (draft-ietf-mimi-protocol
§Fanout Messages and Room Events); DESIGN.md: batches of up to ~90 KiB travel
inline in one Ray call, which is what makes fanout fast. The caller decides when
to flush (adaptively: whenever a send slot to that destination frees up).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mimi import ids
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

    def last_queued(self, room: str) -> dict[str, int]:
        """Per destination, the last sequence of `room` batched or queued for it."""
        out = {d: seq for (d, r), seq in self._last.items() if r == room}
        for (d, r), events in self._queues.items():
            if r == room and events:
                out[d] = max(out.get(d, 0), events[-1].sequence)
        return out


    def take(self, destination: str) -> list[Notify]:
        """Everything queued for `destination`, as batches of at most `max_bytes`
        (a single larger event travels alone) whose events withhold from the same users."""
        out: list[Notify] = []
        for key in [k for k in self._queues if k[0] == destination]:
            events = self._queues.pop(key)
            start = 0
            while start < len(events):
                size, end, withheld = 0, start, events[start].withheld
                while end < len(events) and (end == start or (
                    size + len(events[end].message) <= self.max_bytes and events[end].withheld == withheld
                )):
                    size += len(events[end].message)
                    end += 1
                chunk = events[start:end]
                previous = self._last.get(key, 0)
                local = tuple(sorted(u for u in withheld if ids.provider_of(u) == destination))
                out.append(Notify(key[1], previous, tuple(e.sequence for e in chunk), b"".join(e.message for e in chunk), local))
                self._last[key] = chunk[-1].sequence
                start = end
        return out

    def destinations(self) -> list[str]:
        return sorted({d for d, _ in self._queues})


class Outbox:
    """Flow control of `/notify` per destination (sans-IO): at most `window` calls
    in flight each; what is queued meanwhile goes, batched, as soon as a slot frees
    (adaptive flushing: batches grow with load, latency stays one round trip
    under light load). A call that failed is sent again, first."""

    def __init__(self, batcher: FanoutBatcher | None = None, window: int = 2) -> None:
        self.batcher = batcher or FanoutBatcher()
        self.window = window
        self.in_flight: dict[object, tuple[str, Notify]] = {}
        self.retry: list[tuple[str, Notify]] = []

    def busy(self, destination: str) -> int:
        return sum(1 for d, _ in self.in_flight.values() if d == destination)

    def add(self, events: Iterable[Fanout]) -> None:
        self.batcher.add(events)

    def sendable(self) -> list[tuple[str, Notify]]:
        """What to send now, in order, within each destination's window."""
        out: list[tuple[str, Notify]] = []
        retry, self.retry = self.retry, []
        for destination, notify in retry:
            if self.busy(destination) + sum(1 for d, _ in out if d == destination) < self.window:
                out.append((destination, notify))
            else:
                self.retry.append((destination, notify))
        for destination in self.batcher.destinations():
            slots = self.window - self.busy(destination) - sum(1 for d, _ in out if d == destination)
            if slots > 0 and not any(d == destination for d, _ in self.retry):
                out += [(destination, n) for n in self.batcher.take(destination)]
        return out

    def sent(self, handle: object, destination: str, notify: Notify) -> None:
        self.in_flight[handle] = (destination, notify)

    def answered(self, handle: object, ok: bool) -> None:
        destination, notify = self.in_flight.pop(handle)
        if not ok:
            self.retry.append((destination, notify))
