"""A provider forwards its devices' calls to a room's hub through its transport
(`ProviderServer.hub_call`): concurrent `/submitMessage` calls for one room go in
one call, in the order they came, and each device gets its own answers. No Ray."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from mimi.actors.provider import ProviderServer
from netsim import answered, token

PROVIDER = "mimi://x.example"
ROOM = "mimi://y.example/r/forward"


class SlowHub:
    """A transport whose hub answers each body with b"ok:" + body, after `release`
    is set for the first call (so the calls behind it queue at the provider)."""

    domain = PROVIDER

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[bytes]]] = []
        self.release = threading.Event()

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        self.calls.append((room, bodies))
        self.release.wait(10)
        return answered([b"ok:" + body for body in bodies])


def test_concurrent_submits_for_a_room_go_to_its_hub_together_in_order(tmp_path: Path) -> None:
    hub = SlowHub()
    provider = ProviderServer(PROVIDER, str(tmp_path), transport=hub)  # type: ignore[arg-type]
    clients = [f"{PROVIDER}/d/c{i}/phone" for i in range(6)]

    def send(i: int) -> list[bytes]:
        client = clients[i]
        return provider.hub_call(client, token(provider, client), "submit_messages", ROOM, [f"{i}a".encode(), f"{i}b".encode()])

    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(send, 0)
        while not hub.calls:  # the first call is at the hub
            threading.Event().wait(0.001)
        rest = [pool.submit(send, i) for i in range(1, 6)]
        while len(provider.submits[ROOM]._queue) < 5:  # they wait behind it
            threading.Event().wait(0.001)
        hub.release.set()
        answers = [first.result()] + [f.result() for f in rest]
    assert answers == [[f"ok:{i}a".encode(), f"ok:{i}b".encode()] for i in range(6)]
    assert len(hub.calls) == 2  # the first alone, then the five that queued meanwhile
    assert [b for _, bodies in hub.calls for b in bodies][:2] == [b"0a", b"0b"]
