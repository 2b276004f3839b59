"""`mimi serve`: two providers as separate processes, each on its own Ray with its
own data and HTTPS listener, share a room over HTTPS with mutual TLS. Each process
is driven through `--control` (its devices' calls as JSON lines) and stopped with
SIGTERM, which takes its Ray down with it; every wait is bounded."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimi import content
from mimi.federation.ca import CertificateAuthority

ROOM = "mimi://a.example/r/across"
ALICE, BOB = "mimi://a.example/d/alice/phone", "mimi://b.example/d/bob/phone"
READY_S, CALL_S = 240.0, 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A `mimi serve --control` process; its answers read on a thread, waited for with a bound."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.stderr = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mimi", "serve", "--config", str(config), "--control"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lines.get(timeout=timeout)))
        except queue.Empty:
            raise AssertionError(f"no answer in {timeout}s; its log:\n{self.log.read_text()[-3000:]}") from None

    def call(self, client: str, method: str, *args: Any) -> Any:
        assert self.process.stdin is not None
        encoded = [{"hex": a.hex()} if isinstance(a, bytes) else a for a in args]
        self.process.stdin.write(json.dumps({"client": client, "method": method, "args": encoded}) + "\n")
        self.process.stdin.flush()
        answer = self.line(CALL_S)
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        return answer["ok"]

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL to its whole session (its Ray) if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        self.stderr.close()
        return self.process.returncode


def config(folder: Path, domain: str, port: int, peer: str, peer_port: int, clients: list[str], rooms: list[str]) -> Path:
    path = folder / f"{domain}.toml"
    path.write_text(
        f'domain = "{domain}"\ndata_dir = "data-{domain}"\nclients = {json.dumps(clients)}\nrooms = {json.dumps(rooms)}\n'
        f'[listen]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[tls]\ncert = "{domain}.crt"\nkey = "{domain}.key"\nca = "ca.pem"\n'
        f'[peers."{peer}"]\nurl = "https://127.0.0.1:{peer_port}"\n'
    )
    return path


@pytest.fixture
def providers(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    ca = CertificateAuthority.create()
    for domain in ("a.example", "b.example"):
        ca.issue([domain], tmp_path)
    a_port, b_port = free_port(), free_port()
    served = [
        Served(config(tmp_path, "a.example", a_port, "b.example", b_port, [ALICE], [ROOM]), tmp_path / "a.log"),
        Served(config(tmp_path, "b.example", b_port, "a.example", a_port, [BOB], []), tmp_path / "b.log"),
    ]
    try:
        yield served[0], served[1]
    finally:
        for s in served:
            s.stop()


def text(words: str) -> bytes:
    return content.encode(content.message(content.text_part(words)))


def until(what: str, check: Any, timeout: float = CALL_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.2)


def test_two_served_providers_share_a_room_over_https(providers: tuple[Served, Served]) -> None:
    a, b = providers
    ready = [a.line(READY_S), b.line(READY_S)]
    assert [r["ready"] for r in ready] == ["a.example", "b.example"]
    assert ready[0]["ray_address"] != ready[1]["ray_address"]  # each its own Ray
    a.call(ALICE, "publish_key_packages", 2)
    b.call(BOB, "publish_key_packages", 2)
    a.call(ALICE, "create_room", ROOM, "cooperative")
    # Bob's KeyPackage: a.example's hub claims it from b.example over HTTPS; the Welcome follows by /notify.
    assert a.call(ALICE, "add_users", ROOM, ["mimi://b.example/u/bob"])["code"] == "success"
    until("bob joined", lambda: b.call(BOB, "view", ROOM).get("member"))
    assert b.call(BOB, "send", ROOM, text("hi from b"))["status"] == "accepted"  # /submitMessage over HTTPS
    assert a.call(ALICE, "send", ROOM, text("hi from a"))["status"] == "accepted"

    def both_see_both() -> list[dict[str, Any]] | None:
        views = [a.call(ALICE, "view", ROOM), b.call(BOB, "view", ROOM)]
        texts = [sorted(m["text"] for m in v["messages"]) for v in views]
        return views if texts == [["hi from a", "hi from b"]] * 2 else None

    alice, bob = until("both messages on both sides", both_see_both)
    assert (alice["epoch"], alice["epoch_authenticator"]) == (bob["epoch"], bob["epoch_authenticator"])
    assert alice["participants"] == bob["participants"]
    assert [a.stop(), b.stop()] == [0, 0]


def test_a_bad_config_is_refused_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "provider.toml"
    bad.write_text('domain = "a.example"\ndata_dir = "d"\n')
    out = subprocess.run([sys.executable, "-m", "mimi", "serve", "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"mimi serve: {bad}: tls: missing (required" in out.stderr
