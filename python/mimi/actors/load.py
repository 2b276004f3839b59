"""Load generation for benchmarks: a ClientHost that sends at a rate from inside
the actor and times what its devices decrypt.

One Ray call per message (`ClientHost.send`) caps a sender at the call rate;
`LoadClientHost.send_load` instead encrypts and submits a whole run from inside
the actor, with a window of `/submitMessage` calls in flight. Each message's
text starts with `MARKER <sequence> <send time>` (CLOCK_MONOTONIC, ns, shared by
every process of the machine), so a receiving host records send→decrypt latency
from the plaintext it decrypted, with no clock of the sender's.

While `send_load` runs, its actor serves no other call: deliveries to that host
wait. Host the sender on its own (its own copies are not counted).
"""

from __future__ import annotations

import time
from array import array
from typing import Any, Generic, TypeVar

from mimi import _core, content, ids
from mimi.actors.client import ClientHost, now_ms
from mimi.actors.deploy import Deployment
from mimi.errors import MimiError
from mimi.logic.client import Event, MessageShown
from mimi.transport import names

MARKER = b"MIMILOAD "
RECORD = "record"  # the concurrency group of the record's readers (see `load_clients`)


def load_text(sequence: int, sent_ns: int, size: int) -> str:
    """A message text of `size` bytes that carries its sequence and send time."""
    head = f"{MARKER.decode()}{sequence} {sent_ns} "
    return head + "x" * max(0, size - len(head))


def marker_of(plaintext: bytes) -> tuple[int, int] | None:
    """(sequence, send time in ns) embedded by `load_text`, found in a decrypted MIMI content."""
    at = plaintext.find(MARKER)
    if at < 0:
        return None
    fields = plaintext[at + len(MARKER) : at + len(MARKER) + 48].split(b" ", 2)
    return int(fields[0]), int(fields[1])


Pending = TypeVar("Pending")


class Submits(Generic[Pending]):
    """A load generator's `/submitMessage` calls in flight. The messages that are due
    together go in one call (`submit_many`, up to CHUNK), as a provider coalesces
    its clients' submissions; the window counts messages, not calls."""

    CHUNK = 32

    def __init__(self) -> None:
        self.calls: dict[Any, list[Pending]] = {}  # reply ref -> what each body was for
        self.messages = 0

    def send(self, hub: Any, room: str, provider: str, bodies: list[bytes], pending: list[Pending]) -> None:
        self.calls[hub.submit_many.remote(room, provider, bodies, now_ms())] = pending
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


class LoadClientHost(ClientHost):
    def __init__(self, name: str, clients: list[str], data_dir: str) -> None:
        self._reset()
        super().__init__(name, clients, data_dir)

    def _reset(self) -> None:
        self.latencies_ns = array("q")
        self.first_ns = 0
        self.last_ns = 0

    def on_events(self, client: str, room: str, sequence: int, events: list[Event]) -> None:
        """Hands every load message from another member to `on_load_message` as it is decrypted."""
        me = ids.user_of(client)
        for event in events:
            if isinstance(event, MessageShown) and event.sequence and event.sender != me:
                mark = marker_of(event.content)
                if mark is not None:
                    self.on_load_message(client, event.sender, *mark, time.monotonic_ns())

    def on_load_message(self, client: str, sender: str, sequence: int, sent_ns: int, now_ns: int) -> None:
        """Times one decrypted load message (subclasses record more)."""
        self.latencies_ns.append(now_ns - sent_ns)
        self.first_ns = self.first_ns or now_ns
        self.last_ns = now_ns

    # -- load ----------------------------------------------------------------------------

    def send_load(self, client: str, room: str, rate: float | None, duration: float, size: int = 1024,
                  window: int = 64) -> dict[str, Any]:
        """Sends messages of `size` bytes for `duration` seconds: `rate` per second on
        a fixed schedule (each message stamped with its scheduled time, so a late
        sender shows as latency), or as fast as `window` submits in flight allow
        (`rate` None, closed loop). Stops sending after `duration` either way.
        Returns counts and the hub's answers."""
        device = self._device(client)
        hub = names.handle(names.hub(room))
        submits: Submits[bytes] = Submits()  # pending: message IDs
        answers: dict[str, int] = {}
        start = time.monotonic_ns()
        end = start + int(duration * 1e9)
        sent = 0

        def collect(block: bool) -> None:
            for message_id, raw in submits.answered(block):
                device.session.submit_answered(message_id, raw)
                status = _core.SubmitMessageResponse.decode(raw).status
                answers[status] = answers.get(status, 0) + 1

        def submit(count: int) -> None:
            nonlocal sent
            bodies, message_ids = [], []
            for _ in range(min(count, Submits.CHUNK)):
                stamp = time.monotonic_ns() if rate is None else start + int(sent * 1e9 / rate)
                text = load_text(sent, stamp, size)
                body, message_id = device.session.send(room, content.message(content.text_part(text)))
                bodies.append(body)
                message_ids.append(message_id)
                sent += 1
            submits.send(hub, room, device.provider, bodies, message_ids)

        total = None if rate is None else int(duration * rate)
        saved = start
        while True:
            now = time.monotonic_ns()
            if now - saved > 10_000_000:
                self._save(device)  # the ratchet advanced: persist every 10 ms, not per message
                saved = now
            if total is None:
                if now >= end:
                    break
                while submits.messages < window:
                    submit(window - submits.messages)
                collect(block=True)
                continue
            if sent >= total or now >= end:
                break  # an overloaded sender stops on time: it sent fewer than offered
            due = min(total, int((now - start) * rate / 1e9) + 1)  # type: ignore[operator]
            while sent < due and submits.messages < window:
                submit(min(due - sent, window - submits.messages))
            if submits.messages >= window:
                collect(block=True)
            else:
                collect(block=False)
                wait = (start + int(sent * 1e9 / rate) - time.monotonic_ns()) / 1e9  # type: ignore[operator]
                if wait > 0:
                    time.sleep(wait)
        while submits.calls:
            collect(block=True)
        self._save(device)
        return {"sent": sent, "answers": answers, "start_ns": start, "seconds": (time.monotonic_ns() - start) / 1e9}

    def received(self) -> int:
        """Messages from others decrypted since the last `take_received`."""
        return len(self.latencies_ns)

    def take_received(self) -> dict[str, Any]:
        """The send→decrypt latencies (ns) recorded since the last call, and the
        times of the first and last decryption; starts a new record."""
        out = {"latencies_ns": self.latencies_ns.tobytes(), "first_ns": self.first_ns, "last_ns": self.last_ns}
        self._reset()
        return out


def load_clients(deployment: Deployment, host: str, clients: list[str]) -> Any:
    """Like `Deployment.clients`, with a LoadClientHost (one actor, many devices).
    `received` and `take_received` run in their own thread (group "record"), so a
    host busy with a backlog of deliveries still answers them at once."""
    return deployment.clients(host, clients, LoadClientHost, concurrency_groups={RECORD: 1})
