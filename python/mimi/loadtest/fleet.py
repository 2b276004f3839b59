"""ClientFleet for load runs: a LoadClientHost that also records which
(sender, sequence) each of its devices decrypted, and drives many senders
(one per room) on one schedule from inside the actor.

Message `i` of a run goes to stream `i % len(streams)` at `start + i / rate`,
as sequence `i // len(streams)` of that stream; its plaintext starts with the
LoadClientHost marker `MIMILOAD <sequence> <scheduled send time>`, so a late
sender shows as latency.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

from mimi import _core, content
from mimi.actors.client import now_ms
from mimi.actors.deploy import Deployment
from mimi.actors.load import LoadClientHost, Submits, load_text
from mimi.errors import MimiError
from mimi.loadtest.report import Tally
from mimi.logic.client import Event
from mimi.transport import names


def cpu_seconds(_actor: object) -> float:
    """The CPU time of the calling actor's process (for `__ray_call__`)."""
    return time.process_time()


class FleetHost(LoadClientHost):
    def __init__(self, name: str, clients: list[str], data_dir: str) -> None:
        self._clear()
        super().__init__(name, clients, data_dir)

    def _clear(self) -> None:
        self.tally = Tally()
        self.decrypt_ns = array("q")
        self.latency_ns = array("q")
        self.deliveries = 0

    def on_events(self, client: str, room: str, sequence: int, events: list[Event]) -> None:
        super().on_events(client, room, sequence, events)
        self.deliveries += 1

    def on_load_message(self, client: str, sender: str, sequence: int, sent_ns: int, now_ns: int) -> None:
        super().on_load_message(client, sender, sequence, sent_ns, now_ns)
        self.tally.record(client, sender, sequence)
        self.decrypt_ns.append(now_ns)
        self.latency_ns.append(now_ns - sent_ns)

    def counts(self) -> tuple[int, int]:
        """(deliveries, load messages decrypted) since the last `take_records`."""
        return self.deliveries, len(self.decrypt_ns)

    def take_records(self) -> dict[str, Any]:
        out = {
            "tally": self.tally.export(),
            "decrypt_ns": self.decrypt_ns.tobytes(),
            "latency_ns": self.latency_ns.tobytes(),
            "deliveries": self.deliveries,
        }
        self._clear()
        self._reset()  # LoadClientHost's own latency record: unused here
        return out

    def drive(self, streams: list[tuple[str, str]], rate: float, duration: float, size: int, window: int,
              timeout: float = 60.0) -> dict[str, Any]:
        """Sends `rate × duration` messages over `streams` ((client, room) pairs) with
        up to `window` submits in flight; gives up (MimiError) when no hub answers
        for `timeout` seconds or the run overruns its schedule by that much."""
        if not streams:
            raise MimiError("no streams to drive")
        devices = [self._device(client) for client, _ in streams]
        hubs = [names.handle(names.hub(room)) for _, room in streams]
        total = int(rate * duration)
        sent = [0] * len(streams)
        refused: list[list[int]] = [[] for _ in streams]
        answers: dict[str, int] = {}
        submits: Submits[tuple[int, int, bytes]] = Submits()  # pending: (stream, sequence, message ID)
        submit_ns = array("q")
        dirty: set[int] = set()
        start = time.monotonic_ns()
        give_up = start + int((duration + timeout) * 1e9)

        def collect(block: bool) -> None:
            for (k, sequence, message_id), raw in submits.answered(block, timeout):
                devices[k].session.submit_answered(message_id, raw)
                status = _core.SubmitMessageResponse.decode(raw).status
                answers[status] = answers.get(status, 0) + 1
                if status != "accepted":
                    refused[k].append(sequence)

        issued = 0
        saved = start
        while issued < total or submits.calls:
            now = time.monotonic_ns()
            if now > give_up:
                raise MimiError(f"sending overran its {duration} s schedule by {timeout} s")
            due = min(total, int((now - start) * rate / 1e9) + 1)
            # What is due and fits the window goes out now, one call per stream (Submits.CHUNK at most).
            chunks: dict[int, tuple[list[bytes], list[tuple[int, int, bytes]]]] = {}
            queued = 0  # in `chunks`, not yet sent
            while issued < due and submits.messages + queued < window:
                k = issued % len(streams)
                stamp = start + int(issued * 1e9 / rate)
                message = content.message(content.text_part(load_text(sent[k], stamp, size)))
                body, message_id = devices[k].session.send(streams[k][1], message)
                bodies, pending = chunks.setdefault(k, ([], []))
                bodies.append(body)
                pending.append((k, sent[k], message_id))
                sent[k] += 1
                dirty.add(k)
                issued += 1
                queued += 1
                if len(bodies) == Submits.CHUNK:
                    submits.send(hubs[k], streams[k][1], devices[k].provider, *chunks.pop(k))
                    submit_ns.extend([time.monotonic_ns()] * len(pending))
                    queued -= len(pending)
            for k, (bodies, pending) in chunks.items():
                submits.send(hubs[k], streams[k][1], devices[k].provider, bodies, pending)
                submit_ns.extend([time.monotonic_ns()] * len(pending))
            if now - saved > 10_000_000:  # the ratchets advanced: persist every 10 ms, not per message
                for k in dirty:
                    self._save(devices[k])
                dirty.clear()
                saved = now
            if submits.calls and (submits.messages >= window or issued >= total):
                collect(block=True)
                continue
            collect(block=False)
            if issued < total:
                wait = (start + int(issued * 1e9 / rate) - time.monotonic_ns()) / 1e9
                if wait > 0:
                    time.sleep(min(wait, 0.05))
        for k in dirty:
            self._save(devices[k])
        return {
            "sent": sent,
            "refused": refused,
            "answers": answers,
            "start_ns": start,
            "seconds": (time.monotonic_ns() - start) / 1e9,
            "submit_ns": submit_ns.tobytes(),
        }


def fleet(deployment: Deployment, host: str, clients: list[str]) -> Any:
    """Like `load_clients`, with a FleetHost (one actor, many devices)."""
    return deployment.clients(host, clients, FleetHost)
