"""Batching of accepted events into `/notify` calls, per destination (sans-IO).

One `/notify` carries many FanoutMessages of one room (draft-ietf-mimi-protocol
§Fanout Messages and Room Events); DESIGN.md: batches of up to ~90 KiB travel
inline in one Ray call, which is what makes fanout fast. The caller decides when
to flush (adaptively: whenever a send slot to that destination frees up).

The hub's durable log is the queue (`Outbox`): per destination, memory holds a
bounded window of events, and a follower that falls behind it is fed from the
log, a page at a time, as it catches up. A failing destination is tried again
after an exponential backoff with jitter. docs/guarantees.md, "Servers".
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from mimi import ids
from mimi.logic.follower import Notify
from mimi.logic.hub import Fanout

MAX_BATCH_BYTES = 90 * 1024

# Per destination, the events memory holds beyond the calls in flight (message bytes
# counted); what does not fit waits in the durable log, read back a page at a time.
HELD_EVENTS = 4096
HELD_BYTES = 4 * 1024 * 1024
LOG_PAGE = 512  # rows of a room's log read at once to feed a destination that fell behind


class FanoutBatcher:
    """Queues each destination's events; cuts them into ordered `Notify` batches."""

    def __init__(self, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_bytes = max_bytes
        self._queues: dict[tuple[str, str], list[Fanout]] = defaultdict(list)
        self._last: dict[tuple[str, str], int] = {}  # (destination, room) -> last sequence batched

    def add(self, events: Iterable[Fanout]) -> None:
        for event in events:
            for destination in event.destinations:
                self.queue(destination, event)

    def queue(self, destination: str, event: Fanout) -> None:
        """`event` for `destination` only (its other destinations are not this queue's)."""
        self._queues[(destination, event.room)].append(event)

    def extend(self, destination: str, room: str, events: list[Fanout]) -> None:
        """Events of `room`, in order, for `destination` only."""
        self._queues[(destination, room)].extend(events)

    def resume(self, destination: str, room: str, sequence: int) -> None:
        """After a restart: `sequence` was the last event batched for `destination`."""
        key = (destination, room)
        self._last[key] = max(self._last.get(key, 0), sequence)

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


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to try a failing destination again: after n consecutive failures, a
    delay of `base` * 2**(n-1) seconds, at most `cap`, of which a random fraction up
    to `jitter` is taken off (so hubs retrying one follower spread out)."""

    base: float = 0.1
    cap: float = 10.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.base <= self.cap and 0 <= self.jitter <= 1):
            raise ValueError(f"backoff needs 0 < base <= cap and 0 <= jitter <= 1, got {self}")

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(failures - 1, 64))
        return ceiling * (1 - self.jitter * rng.random())


class Cursor(NamedTuple):
    """Where one destination is in one room's log; what a hub keeps durably so that
    a restarted hub resumes each follower where it was."""

    room: str
    destination: str
    acknowledged: int  # every event for it up to this sequence was acknowledged
    pending: int  # events for it after `acknowledged`
    last: int  # the last sequence logged for it (0: none)


@dataclass(frozen=True, slots=True)
class Lag:
    """How far one follower is behind (`Outbox.lag`)."""

    acknowledged: dict[str, int]  # per room, the last sequence it acknowledged
    pending: int  # events logged for it and not acknowledged, all rooms
    failures: int  # consecutive failed attempts
    next_attempt_in: float  # seconds until it is tried again (0: now)


@dataclass
class _Stream:
    """One destination's events of one room."""

    last: int = 0  # the last sequence logged for the destination
    acknowledged: int = 0  # every event for it up to here was acknowledged
    pending: int = 0  # events for it after `acknowledged`
    ahead: dict[int, tuple[int, int]] = field(default_factory=dict)  # batches acknowledged past a gap: previous -> (last, count)
    read: int = 0  # the log is queued, sent or passed over (not for it) up to here

    @property
    def behind(self) -> bool:
        """Events for the destination after `read` are in the log only."""
        return self.read < self.last


@dataclass
class Attempts:
    """One destination's consecutive failed attempts and when to try it again."""

    failures: int = 0
    next_attempt: float = 0.0

    def failed(self, now: float, backoff: Backoff, rng: random.Random) -> None:
        """A failure; the failures of one attempt (until `next_attempt`) count as one."""
        if now >= self.next_attempt:
            self.failures += 1
            self.next_attempt = now + backoff.delay(self.failures, rng)

    def succeeded(self) -> None:
        self.failures, self.next_attempt = 0, 0.0


@dataclass
class _Destination(Attempts):
    held_events: int = 0  # queued in the batcher
    held_bytes: int = 0
    rooms: dict[str, _Stream] = field(default_factory=dict)


class Outbox:
    """Flow control of `/notify` per destination (sans-IO): while fewer than `window`
    calls are in flight to it, what is queued goes, batched (adaptive flushing:
    batches grow with load, latency stays one round trip under light load).

    The log is the queue. Memory holds, per destination, at most `max_events`
    events and `max_bytes` message bytes queued, and the calls in flight (what was
    queued, and up to `window` calls more); events beyond that stay in the log,
    and `reads` says which pages to read back (`refill`) once the destination has
    room. A call that failed is sent again, first, after `backoff`, and at most
    `window` at a time; a success resets the backoff. `now` is any monotonic
    clock, in seconds."""

    def __init__(
        self,
        batcher: FanoutBatcher | None = None,
        window: int = 2,
        backoff: Backoff | None = None,
        max_events: int = HELD_EVENTS,
        max_bytes: int = HELD_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self.batcher = batcher or FanoutBatcher()
        self.window = window
        self.backoff = backoff or Backoff()
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.rng = rng or random.Random()
        self.in_flight: dict[object, tuple[str, Notify]] = {}
        self.retry: list[tuple[str, Notify]] = []
        self._destinations: dict[str, _Destination] = {}
        self._changed: set[tuple[str, str]] = set()  # (destination, room) whose cursor moved

    # -- events in ----------------------------------------------------------------------------

    def add(self, events: Iterable[Fanout]) -> None:
        """Logged events, in sequence order; each destination holds what fits."""
        for (destination, room), run in _by_stream(events).items():
            state = self._destination(destination)
            stream = self._stream(destination, room)
            behind = stream.behind
            stream.last = run[-1].sequence
            stream.pending += len(run)
            self._changed.add((destination, room))
            if behind:
                continue
            size = sum(len(e.message) for e in run)
            if state.held_events + len(run) <= self.max_events and state.held_bytes + size <= self.max_bytes:
                self.batcher.extend(destination, room, run)  # the common case: all of it fits
                state.held_events += len(run)
                state.held_bytes += size
                stream.read = run[-1].sequence
                continue
            for event in run:
                if not self._fits(state, event):
                    break
                self._hold(destination, state, stream, event)

    def reads(self, now: float) -> dict[str, int]:
        """Per room, where to read a page of its log (`refill`): after the least `read`
        of its destinations that fell behind and can take events now (they are not
        backing off, and half their window is free). One page serves them all."""
        out: dict[str, int] = {}
        for state in self._destinations.values():
            if self._wants_page(state, now):
                for room, stream in state.rooms.items():
                    if stream.behind:
                        out[room] = min(out.get(room, stream.read), stream.read)
        return out

    def refill(self, room: str, events: Sequence[Fanout], now: float) -> None:
        """A page of the room's log, in order, from where `reads` said: each destination
        that fell behind holds what is for it and fits; having read up to its last
        event, it is caught up (later events are held as they are added)."""
        for destination, state in self._destinations.items():
            stream = state.rooms.get(room)
            if stream is None or not stream.behind or not self._wants_page(state, now):
                continue
            for event in events:
                if event.sequence <= stream.read:
                    continue
                if destination in event.destinations:
                    if not self._fits(state, event):
                        break
                    self._hold(destination, state, stream, event)
                stream.read = event.sequence

    def resume(self, cursor: Cursor) -> None:
        """After a restart: `cursor` as saved; what follows `acknowledged` is read from the log."""
        stream = self._stream(cursor.destination, cursor.room)
        stream.last, stream.acknowledged, stream.pending = cursor.last, cursor.acknowledged, cursor.pending
        stream.read = cursor.acknowledged
        self.batcher.resume(cursor.destination, cursor.room, cursor.acknowledged)

    # -- calls out ----------------------------------------------------------------------------

    def sendable(self, now: float) -> list[tuple[str, Notify]]:
        """What to send now, in order, within each ready destination's window."""
        out: list[tuple[str, Notify]] = []
        retry, self.retry = self.retry, []
        for destination, notify in retry:
            ready = now >= self._destinations[destination].next_attempt
            if ready and self._slots(destination) - sum(1 for d, _ in out if d == destination) > 0:
                out.append((destination, notify))
            else:
                self.retry.append((destination, notify))
        for destination in self.batcher.destinations():
            state = self._destinations[destination]
            slots = self._slots(destination) - sum(1 for d, _ in out if d == destination)
            if slots > 0 and now >= state.next_attempt and not any(d == destination for d, _ in self.retry):
                for notify in self.batcher.take(destination):
                    state.held_events -= len(notify.sequences)
                    state.held_bytes -= len(notify.body)
                    out.append((destination, notify))
        return out

    def sent(self, handle: object, destination: str, notify: Notify) -> None:
        self.in_flight[handle] = (destination, notify)

    def answered(self, handle: object, ok: bool, now: float) -> None:
        destination, notify = self.in_flight.pop(handle)
        if not ok:
            self.send_failed(destination, notify, now)
            return
        state = self._destinations[destination]
        state.succeeded()
        # Batches chain by `previous`; one answered before an earlier one waits in `ahead`.
        stream = state.rooms[notify.room]
        stream.ahead[notify.previous] = (notify.sequences[-1], len(notify.sequences))
        while stream.acknowledged in stream.ahead:
            last, count = stream.ahead.pop(stream.acknowledged)
            stream.acknowledged = last
            stream.pending -= count
        self._changed.add((destination, notify.room))

    def send_failed(self, destination: str, notify: Notify, now: float) -> None:
        """A call that failed, or could not be made: it goes again, in order, after the
        backoff. The calls of one attempt that fail together count as one failure."""
        self._destinations[destination].failed(now, self.backoff, self.rng)
        self.retry.append((destination, notify))
        self.retry.sort(key=lambda r: (r[0], r[1].room, r[1].previous))

    def wake_at(self, now: float) -> float | None:
        """When a destination that has something to send and is backing off may be
        tried again; None if none is waiting."""
        waiting = [
            state.next_attempt
            for destination, state in self._destinations.items()
            if state.next_attempt > now and self._has_work(destination, state)
        ]
        return min(waiting, default=None)

    # -- what the hub reports and keeps -------------------------------------------------------

    def progress(self, room: str) -> dict[str, int]:
        """Per destination, the last sequence of `room` logged for it."""
        return {d: s.rooms[room].last for d, s in self._destinations.items() if room in s.rooms}

    def lag(self, now: float) -> dict[str, Lag]:
        """Per destination, how far behind it is (docs/guarantees.md, "Servers")."""
        return {
            destination: Lag(
                {room: s.acknowledged for room, s in state.rooms.items()},
                sum(s.pending for s in state.rooms.values()),
                state.failures,
                max(0.0, state.next_attempt - now),
            )
            for destination, state in self._destinations.items()
        }

    def cursors_after(self, events: Sequence[Fanout]) -> list[Cursor]:
        """The cursors that `add(events)` will move, as they will be: saved with the
        events' log rows, so the log and the saved cursors always agree."""
        out = []
        for (destination, room), run in _by_stream(events).items():
            state = self._destinations.get(destination)
            stream = state.rooms.get(room, _Stream()) if state is not None else _Stream()
            out.append(Cursor(room, destination, stream.acknowledged, stream.pending + len(run), run[-1].sequence))
        return out

    def changed(self) -> list[Cursor]:
        """The cursors moved since the last call (acknowledgements, events added)."""
        moved, self._changed = self._changed, set()
        out = []
        for destination, room in sorted(moved):
            stream = self._destinations[destination].rooms[room]
            out.append(Cursor(room, destination, stream.acknowledged, stream.pending, stream.last))
        return out

    # -- helpers ------------------------------------------------------------------------------

    def _destination(self, destination: str) -> _Destination:
        return self._destinations.setdefault(destination, _Destination())

    def _stream(self, destination: str, room: str) -> _Stream:
        return self._destination(destination).rooms.setdefault(room, _Stream())

    def _fits(self, state: _Destination, event: Fanout) -> bool:
        """Within the bounds; an event larger than `max_bytes` is held alone."""
        return state.held_events == 0 or (
            state.held_events < self.max_events and state.held_bytes + len(event.message) <= self.max_bytes
        )

    def _hold(self, destination: str, state: _Destination, stream: _Stream, event: Fanout) -> None:
        self.batcher.queue(destination, event)
        state.held_events += 1
        state.held_bytes += len(event.message)
        stream.read = event.sequence

    def _wants_page(self, state: _Destination, now: float) -> bool:
        return now >= state.next_attempt and state.held_events <= self.max_events // 2 and state.held_bytes <= self.max_bytes // 2

    def _slots(self, destination: str) -> int:
        return self.window - sum(1 for d, _ in self.in_flight.values() if d == destination)

    def _has_work(self, destination: str, state: _Destination) -> bool:
        return (
            state.held_events > 0
            or any(s.behind for s in state.rooms.values())
            or any(d == destination for d, _ in self.retry)
        )


def _by_stream(events: Iterable[Fanout]) -> dict[tuple[str, str], list[Fanout]]:
    """Events by (destination, room), each list in the events' order."""
    out: dict[tuple[str, str], list[Fanout]] = {}
    for event in events:
        for destination in event.destinations:
            out.setdefault((destination, event.room), []).append(event)
    return out
