"""FleetHost: the ClientHost of load runs (`mimi loadtest`, `make bench-peers`).
It sends from inside the actor on a `pacing.Schedule` (`drive`), and records
which (sender, sequence) each of its devices decrypted, and when (`take_records`).

One Ray call per message (`ClientHost.send`) caps a sender at the call rate;
`drive` encrypts and submits a whole run inside the actor, with a window of
`/submitMessage` calls in flight. Message `i` of a run goes to stream
`i % len(streams)` as that stream's sequence `i // len(streams)`.

While `drive` runs, its actor serves no other call but the record readers
(`RECORD`): deliveries to that host wait. Host senders on their own.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from mimi import _core, content, ids
from mimi.actors.client import ClientHost, now_ms, text_of
from mimi.actors.deploy import Deployment
from mimi.errors import MimiError
from mimi.loadtest.faults import DeviceView
from mimi.loadtest.pacing import Schedule, load_text, marker_of
from mimi.loadtest.report import Tally
from mimi.logic.client import EpochTooOld, Event, MessageShown

RECORD = "record"  # the concurrency group of the record readers (see `fleet`)

Pending = TypeVar("Pending")


class Submits(Generic[Pending]):
    """A load generator's `/submitMessage` calls in flight, each through the sender's
    provider (`ClientHost._hub_call`). The messages that are due together go in one
    call (up to CHUNK), as a provider coalesces its clients' submissions; the window
    counts messages, not calls."""

    CHUNK = 32

    def __init__(self) -> None:
        self.calls: dict[Any, list[Pending]] = {}  # reply ref -> what each body was for
        self.messages = 0

    def send(self, call: Any, pending: list[Pending]) -> None:
        self.calls[call] = pending
        self.messages += len(pending)

    def answered(self, block: bool, timeout: float | None = None) -> list[tuple[Pending, bytes]]:
        """The answered messages, with their answers: every ready call in one
        `ray.wait` and one `ray.get`; if `block`, at least one call (else
        MimiError after `timeout` seconds)."""
        import ray

        if not self.calls:
            return []
        refs = list(self.calls)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        if not ready and block:
            ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
            if not ready:
                raise MimiError(f"no /submitMessage answer in {timeout} s")
        out: list[tuple[Pending, bytes]] = []
        for ref, replies in zip(ready, ray.get(ready)):
            pending = self.calls.pop(ref)
            self.messages -= len(pending)
            out += zip(pending, replies)
        return out


class FleetHost(ClientHost):
    def __init__(self, name: str, tokens: Mapping[str, bytes], data_dir: str) -> None:
        self.started_ns = time.monotonic_ns()  # this process's start: a restarted host answers with a later one
        self.records = threading.Lock()  # the record readers run on a thread of their own
        self._clear()
        super().__init__(name, tokens, data_dir)  # may deliver what was missed: records first

    def _clear(self) -> None:
        self.tally = Tally()
        self.decrypt_ns = array("q")
        self.latency_ns = array("q")
        self.deliveries = 0

    def on_events(self, client: str, room: str, sequence: int, events: list[Event]) -> None:
        """Records each load message from another member as it is decrypted."""
        now_ns = time.monotonic_ns()
        me = ids.user_of(client)
        with self.records:
            self.deliveries += 1
            for event in events:
                if isinstance(event, MessageShown) and event.sequence and event.sender != me:
                    mark = marker_of(event.content)
                    if mark is not None:
                        self.tally.record(client, event.sender, mark[0])
                        self.decrypt_ns.append(now_ns)
                        self.latency_ns.append(now_ns - mark[1])

    def counts(self) -> tuple[int, int]:
        """(deliveries, load messages decrypted) since the last `take_records`."""
        with self.records:
            return self.deliveries, len(self.decrypt_ns)

    def take_records(self) -> dict[str, Any]:
        """What was decrypted since the last call (which (sender, sequence) by which
        device, when, and its send→decrypt latency) and the deliveries; starts anew."""
        with self.records:
            out = {
                "tally": self.tally.export(),
                "decrypt_ns": self.decrypt_ns.tobytes(),
                "latency_ns": self.latency_ns.tobytes(),
                "deliveries": self.deliveries,
            }
            self._clear()
        return out

    def shown(self, room: str) -> list[DeviceView]:
        """What each hosted device shows in `room`: its load messages as displayed
        (`faults.audit`), whether it is a member, and its epoch authenticator."""
        now = now_ms()
        out = []
        for client, device in self.devices.items():
            view = device.session.rooms.get(room)
            if view is None:
                out.append(DeviceView(client, False, None, ()))
                continue
            messages = []
            for entry in view.history.messages(now):
                mark = marker_of(text_of(entry.content).encode())
                if mark is not None:
                    messages.append((entry.accepted_at, entry.sender_uri, mark[0]))
            out.append(DeviceView(client, view.group.is_active, view.group.epoch_authenticator.hex(), tuple(messages)))
        return out

    def processed(self, rooms: list[str]) -> tuple[int, dict[str, dict[str, int]]]:
        """When this process started, and per room the last sequence each hosted
        device processed, read as is (no save: a RECORD-group reader while the host
        delivers or drives)."""
        out: dict[str, dict[str, int]] = {room: {} for room in rooms}
        for client, device in list(self.devices.items()):
            for room, view in list(device.session.rooms.items()):
                if room in out:
                    out[room][client] = view.last_sequence
        return self.started_ns, out

    def drive(self, streams: list[tuple[str, str]], rate: float | None, duration: float, size: int = 1024,
              window: int = 64, late: float = 0.0, timeout: float = 60.0, first: list[int] | None = None) -> dict[str, Any]:
        """Sends messages of `size` bytes over `streams` ((client, room) pairs) on
        `Schedule(rate, duration, late)`, with up to `window` in flight; gives up
        (MimiError) when no hub answers for `timeout` seconds. Each stream numbers its
        messages from `first` (0 by default; a run in parts goes on where a part ended).
        Returns per stream the number after its last message and the numbers refused,
        the hub's answers by status, the start, the seconds it took and when each
        message was submitted."""
        if not streams:
            raise MimiError("no streams to drive")
        devices = [self._device(client) for client, _ in streams]
        sent = list(first) if first is not None else [0] * len(streams)
        refused: list[list[int]] = [[] for _ in streams]
        answers: dict[str, int] = {}
        submits: Submits[tuple[int, int, bytes]] = Submits()  # pending: (stream, sequence, message ID)
        submit_ns = array("q")
        dirty: set[int] = set()  # streams that sent: saved again once their answers are in
        start = time.monotonic_ns()
        schedule = Schedule(start, rate, duration, late)

        Chunk = tuple[list[bytes], list[tuple[int, int, bytes]]]

        def submit_saved(chunks: list[tuple[int, Chunk]]) -> None:
            """The devices that encrypted are saved first (docs/guarantees.md): one save
            per device for what goes out now."""
            for k in dirty:
                self._save(devices[k])
            dirty.clear()
            for k, (bodies, pending) in chunks:
                submits.send(self._hub_call(devices[k], "submit_messages", streams[k][1], bodies), pending)

        def collect(block: bool) -> None:
            again: dict[int, Chunk] = {}
            for (k, sequence, message_id), raw in submits.answered(block, timeout):
                session = devices[k].session
                status = _core.SubmitMessageResponse.decode(raw).status
                answers[status] = answers.get(status, 0) + 1
                outcome = session.submit_answered(message_id, raw)
                if isinstance(outcome, EpochTooOld):
                    # A commit got in first: caught up, the same content goes again.
                    self._catch_up(devices[k], streams[k][1], outcome.current_epoch)
                    if session.resend(outcome) is None:
                        bodies, pending = again.setdefault(k, ([], []))
                        bodies.append(session.body(message_id))
                        pending.append((k, sequence, message_id))
                        dirty.add(k)
                        continue
                if status != "accepted":
                    refused[k].append(sequence)
            submit_saved(list(again.items()))

        issued = 0
        while not schedule.over(issued, now := time.monotonic_ns()):
            # What is due and fits the window goes out now, one call per stream and Submits.CHUNK.
            chunks: list[tuple[int, Chunk]] = []
            open_chunks: dict[int, Chunk] = {}
            for _ in range(schedule.due(issued, now, window - submits.messages)):
                k = issued % len(streams)
                text = load_text(sent[k], schedule.stamp(issued, time.monotonic_ns()), size)
                body, message_id = devices[k].session.send(streams[k][1], content.message(content.text_part(text)))
                if k not in open_chunks:
                    open_chunks[k] = ([], [])
                    chunks.append((k, open_chunks[k]))
                bodies, pending = open_chunks[k]
                bodies.append(body)
                pending.append((k, sent[k], message_id))
                sent[k] += 1
                dirty.add(k)
                issued += 1
                if len(bodies) == Submits.CHUNK:
                    del open_chunks[k]
            if chunks:
                submit_saved(chunks)
                submit_ns.extend([time.monotonic_ns()] * sum(len(pending) for _, (_, pending) in chunks))
            if submits.messages >= window:
                collect(block=True)
                continue
            collect(block=False)
            wait = schedule.wait(issued, time.monotonic_ns())
            if wait > 0:
                time.sleep(min(wait, 0.05))
        while submits.calls:
            collect(block=True)
        for device in devices:
            self._save(device)  # the answers
        return {
            "sent": sent,
            "refused": refused,
            "answers": answers,
            "start_ns": start,
            "seconds": (time.monotonic_ns() - start) / 1e9,
            "submit_ns": submit_ns.tobytes(),
        }


def fleet(deployment: Deployment, host: str, clients: list[str]) -> Any:
    """Like `Deployment.clients`, with a FleetHost (one actor, many devices).
    `counts` and `take_records` may run in their own thread (group RECORD), so a
    host busy with a backlog of deliveries answers them at once (`recorded`)."""
    return deployment.clients(host, clients, FleetHost, concurrency_groups={RECORD: 1})


def recorded(hosts: list[Any], method: str) -> list[Any]:
    """Every FleetHost's answer to `method` (`counts` or `take_records`), from its RECORD thread."""
    import ray

    return list(ray.get([getattr(h, method).options(concurrency_group=RECORD).remote() for h in hosts], timeout=60))


def decrypted(hosts: list[Any]) -> int:
    """Load messages the hosts' devices decrypted since their records were last taken."""
    return sum(n for _, n in recorded(hosts, "counts"))


def cpu_seconds(_actor: object) -> float:
    """The CPU time of the calling actor's process (for `__ray_call__`)."""
    return time.process_time()
