"""The hub's `/notify` flow control without I/O (`Outbox`): a follower that is down
is tried again on an exponential backoff with jitter, costs a bounded memory while
its events wait in the log, and once back gets every event, in order, once."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable

import pytest

from mimi import _core
from mimi.logic.fanout import LOG_PAGE, Backoff, Cursor, FanoutBatcher, Lag, Outbox
from mimi.logic.follower import Follower
from mimi.logic.hub import Fanout

ROOM = "mimi://h.example/r/lobby"
UP, DOWN = "mimi://f.example", "mimi://g.example"
CLIENT = "mimi://g.example/d/gus/phone"


@pytest.fixture(scope="module")
def application_message() -> bytes:
    """A real MLS application message of ~1 KiB (every event below carries it)."""
    client = _core.Client("mimi://h.example/d/hal/phone")
    group = client.create_group(b"lobby", _core.SignatureKeyPair.generate().public, "mimi://h.example")
    return group.encrypt(b"x" * 1000)


def log_of(message: bytes, destinations: frozenset[str] = frozenset({UP, DOWN})) -> Callable[[int], Fanout]:
    """The room's log, made on demand: an event per sequence, so what the test holds
    in memory is what the outbox holds."""
    return lambda s: Fanout(ROOM, s, s, destinations, _core.FanoutMessage(s, message).encode())


class Pump:
    """What `RoomHub` does around its outbox, in memory: reads the pages the outbox
    asks for, sends what it may, and answers every call at once (delivered by the
    follower's logic if `down` does not name it, failed if it does)."""

    def __init__(self, outbox: Outbox, event: Callable[[int], Fanout], follower: Follower) -> None:
        self.outbox, self.event, self.follower = outbox, event, follower
        self.logged = 0
        self.down: set[str] = set()
        self.calls: dict[str, int] = {}
        self.delivered: list[int] = []  # sequences the down-then-up follower delivered to its client

    def log(self, count: int) -> None:
        events = [self.event(s) for s in range(self.logged + 1, self.logged + count + 1)]
        self.logged += count
        self.outbox.add(events)

    def step(self, now: float) -> None:
        for room, after in self.outbox.reads(now).items():
            self.outbox.refill(room, [self.event(s) for s in range(after + 1, min(after + LOG_PAGE, self.logged) + 1)], now)
        for destination, notify in self.outbox.sendable(now):
            handle = object()
            self.outbox.sent(handle, destination, notify)
            self.calls[destination] = self.calls.get(destination, 0) + 1
            if destination in self.down:
                self.outbox.answered(handle, False, now)
                continue
            if destination == DOWN:
                self.delivered += [d.sequence for d in self.follower.notify(notify)]
            self.outbox.answered(handle, True, now)


def test_the_backoff_doubles_up_to_the_cap_and_jitter_only_shortens_it() -> None:
    exact = Backoff(base=0.1, cap=10.0, jitter=0.0)
    assert [exact.delay(n, random.Random(1)) for n in range(1, 10)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    assert exact.delay(10_000, random.Random(1)) == 10.0  # no overflow after a long outage
    jittered, rng = Backoff(base=0.1, cap=10.0, jitter=0.5), random.Random(7)
    for n in range(1, 12):
        delays = [jittered.delay(n, rng) for _ in range(200)]
        ceiling = exact.delay(n, rng)
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # spread out, not one value
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base=2.0, cap=1.0)


def test_a_dead_follower_is_tried_a_bounded_number_of_times(application_message: bytes) -> None:
    """Before: every failed call was made again at once (81,000 calls/s). Now: one
    call per backoff delay, 5 to 10 s at the cap, over an hour of simulated time."""
    outbox = Outbox(backoff=Backoff(base=0.1, cap=10.0, jitter=0.5), rng=random.Random(3))
    pump = Pump(outbox, log_of(application_message, frozenset({DOWN})), Follower(DOWN))
    pump.down.add(DOWN)
    pump.log(1)
    now, hour = 0.0, 3600.0
    while True:
        pump.step(now)
        wake = outbox.wake_at(now)
        assert wake is not None and wake > now
        if wake >= hour:
            break
        now = wake
    # 8 calls until the delay reaches the cap (0.1 * 2**7 > 10), then one per 5-10 s.
    assert hour / 10 <= pump.calls[DOWN] <= 8 + hour / 5
    lag = outbox.lag(now)[DOWN]
    assert (lag.acknowledged, lag.pending, lag.failures) == ({ROOM: 0}, 1, pump.calls[DOWN])
    assert 0 < lag.next_attempt_in <= 10.0


def test_a_success_resets_the_backoff(application_message: bytes) -> None:
    outbox = Outbox(backoff=Backoff(base=0.5, cap=60.0, jitter=0.0))
    follower = Follower(DOWN)
    follower.subscribe(ROOM, CLIENT)
    pump = Pump(outbox, log_of(application_message, frozenset({DOWN})), follower)
    pump.down.add(DOWN)
    pump.log(1)
    for now in (0.0, 0.5, 1.5, 3.5):  # each attempt fails; the next is due 0.5, 1, 2, then 4 s later
        pump.step(now)
        assert outbox.lag(now)[DOWN].next_attempt_in > 0
        pump.step(now + 0.01)  # nothing is due before the delay: no call
    assert pump.calls[DOWN] == 4 and outbox.lag(3.5)[DOWN].next_attempt_in == 4.0
    pump.down.clear()
    pump.step(7.5)
    assert pump.delivered == [1]
    assert outbox.lag(7.5)[DOWN] == Lag({ROOM: 1}, 0, 0, 0.0)
    pump.down.add(DOWN)
    pump.log(1)
    pump.step(8.0)
    assert outbox.lag(8.0)[DOWN].failures == 1 and outbox.lag(8.0)[DOWN].next_attempt_in == 0.5  # from base again


def test_a_follower_down_for_20000_events_costs_bounded_memory_and_then_gets_each_once_in_order(
    application_message: bytes,
) -> None:
    max_events, max_bytes = 1000, 512 * 1024
    outbox = Outbox(backoff=Backoff(base=0.05, cap=2.0), max_events=max_events, max_bytes=max_bytes, rng=random.Random(5))
    follower = Follower(DOWN)
    follower.subscribe(ROOM, CLIENT)
    pump = Pump(outbox, log_of(application_message), follower)
    event_bytes = len(pump.event(1).message)
    pump.down.add(DOWN)
    now = 0.0
    tracemalloc.start()
    try:
        for _ in range(2000):  # 20,000 events, 10 per 10 ms, over 20 simulated seconds
            pump.log(10)
            pump.step(now)
            now += 0.01
            assert sum(1 for d, _ in outbox.retry if d == DOWN) <= outbox.window
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held: at most max_bytes of messages and the calls kept for a resend, not 20,000 events
    # (~23 MB). The follower that is up got everything meanwhile.
    assert peak < 4 * max_bytes < 20_000 * event_bytes / 10
    # Attempts: the delay reaches the 2 s cap after 6, then one per 1-2 s; a window of calls each.
    assert outbox.lag(now)[DOWN].failures <= 6 + 20
    assert pump.calls[DOWN] <= outbox.window * outbox.lag(now)[DOWN].failures
    assert outbox.lag(now)[UP].pending == 0 and outbox.lag(now)[UP].acknowledged == {ROOM: 20_000}
    assert outbox.lag(now)[DOWN].pending == 20_000 and outbox.lag(now)[DOWN].acknowledged == {ROOM: 0}

    pump.down.clear()
    while outbox.lag(now)[DOWN].pending:
        now = max(now, outbox.wake_at(now) or now)
        pump.step(now)
    assert pump.delivered == list(range(1, 20_001))  # every event, in order, once
    assert outbox.lag(now)[DOWN] == Lag({ROOM: 20_000}, 0, 0, 0.0)
    assert outbox.progress(ROOM) == {UP: 20_000, DOWN: 20_000}


def test_an_answer_past_a_failed_call_moves_no_cursor_until_the_gap_is_acknowledged(application_message: bytes) -> None:
    event = log_of(application_message, frozenset({DOWN}))
    outbox = Outbox(FanoutBatcher(max_bytes=1), backoff=Backoff(base=1.0, cap=1.0, jitter=0.0))  # one event per call
    outbox.add([event(1), event(2)])
    (_, first), (_, second) = sent = outbox.sendable(0.0)
    for handle, (destination, notify) in enumerate(sent):
        outbox.sent(handle, destination, notify)
    assert (first.previous, first.sequences, second.previous, second.sequences) == (0, (1,), 1, (2,))
    outbox.add([event(3)])
    outbox.answered(1, True, 0.0)  # the second call arrived (the follower buffers it) ...
    outbox.answered(0, False, 0.0)  # ... the first did not
    assert outbox.changed() == [Cursor(ROOM, DOWN, 0, 3, 3)]  # nothing acknowledged without a gap
    assert outbox.sendable(0.5) == []  # backing off
    again, third = outbox.sendable(1.0)
    assert again == (DOWN, first) and third[1].sequences == (3,)  # the failed call again, first
    outbox.sent("again", *again)
    outbox.answered("again", True, 1.0)
    assert outbox.changed() == [Cursor(ROOM, DOWN, 2, 1, 3)]


def test_a_restarted_outbox_resumes_from_the_saved_cursor(application_message: bytes) -> None:
    """`cursors_after` is saved with the events' log rows; a new outbox resumes from it
    and reads what was not acknowledged from the log."""
    event = log_of(application_message)
    before = Outbox()
    before.add([event(s) for s in range(1, 5)])
    for destination, notify in before.sendable(0.0):
        before.sent(destination, destination, notify)
    before.answered(UP, True, 0.0)
    before.answered(DOWN, False, 0.0)
    saved = {c.destination: c for c in before.cursors_after([event(5)])}
    assert saved == {UP: Cursor(ROOM, UP, 4, 1, 5), DOWN: Cursor(ROOM, DOWN, 0, 5, 5)}

    after = Outbox()
    for cursor in saved.values():
        after.resume(cursor)
    assert after.reads(0.0) == {ROOM: 0}  # one page for both
    after.refill(ROOM, [event(s) for s in range(1, 6)], 0.0)
    assert {(d, n.previous, n.sequences) for d, n in after.sendable(0.0)} == {(UP, 4, (5,)), (DOWN, 0, (1, 2, 3, 4, 5))}
    assert after.reads(0.0) == {}  # both caught up: later events are held as they are added
    after.add([event(6)])
    assert {(d, n.previous, n.sequences) for d, n in after.sendable(0.0)} == {(UP, 5, (6,)), (DOWN, 5, (6,))}
