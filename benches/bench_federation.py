"""The providers' endpoints over HTTPS with mutual TLS (`HttpsTransport` and the
provider's front, `ProviderFront`), on loopback, each server in its own process:

- `/notify` from a hub to 2 followers, 90 FanoutMessages of ~1 KiB per call
  (~100 KiB bodies, `WINDOW` calls in flight per follower): followers that only
  count (the transport alone), then real followers (`ProviderServer`: the inbox's
  durable writes, SQLite FULL). Side by side with the Ray transport's plain batched
  calls in one run:
      pytest benches/bench_fanout.py -k "ray_transport_batched and not fire" \\
             benches/bench_federation.py -o python_files='bench_*.py'
- one `/submitMessage` round trip on a reused connection, the hub's data on tmpfs
  (/dev/shm) and on disk (the pytest tmp directory, as `make bench`): the p50;
- `/submitMessage` accepted per second at the hub's front, `CONCURRENT` requests in
  flight from the member's provider, durably committed (group commit across
  concurrent requests), on tmpfs and on disk.

Each server's CPU time is read from /proc and recorded per request."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content
from mimi.federation import Credentials, FederationClient, Peer
from mimi.federation.ca import CertificateAuthority
from mimi.logic.follower import Notify
from mimi.transport.https import HttpsTransport
from netsim import hosted_room

HUB, ROOM = "mimi://y.example", "mimi://y.example/r/bench"
MESSAGES_PER_CALL, CALLS, WINDOW = 90, 100, 4  # per follower per round
SUBMITS, CONCURRENT = 2_000, 64

# A provider's front in its own process: `count` (followers that only count), `follow`
# (a ProviderServer's durable inbox) or `hub` (the RoomHub restored from `data`).
SERVER = textwrap.dedent(
    """
    import sys
    from concurrent.futures import Future, ThreadPoolExecutor
    from pathlib import Path
    import asyncio
    from mimi.federation import Credentials, FederationServer
    from mimi.transport.front import ProviderFront

    pki, domain, mode, data = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    uri = "mimi://" + domain
    pool = ThreadPoolExecutor(64)

    def answered(value):
        f = Future()
        f.set_result(value)
        return f

    class Quiet:  # the hub's own /notify calls: answered at once (only the front is measured)
        domain = uri
        def notify(self, follower, batch):
            return answered(0)

    if mode == "hub":
        from mimi.actors.hub import RoomHub
        from mimi.transport.ray import now_ms
        hub = RoomHub(uri, data, transport=Quiet())
    elif mode == "follow":
        from mimi.actors.provider import ProviderServer
        from netsim import token
        provider = ProviderServer(uri, data, transport=Quiet())
        provider.subscribe(sys.argv[5], uri + "/d/f/phone", token(provider, uri + "/d/f/phone"))

    class InCluster:
        def __init__(self, caller):
            self.caller = caller
        def notify(self, follower, batch):
            if mode == "count":
                return answered(len(batch.sequences))
            return pool.submit(provider.notify, batch.room, self.caller, batch.previous, list(batch.sequences),
                               batch.body, batch.withheld)
        def submit_messages(self, room, bodies):
            return pool.submit(hub.submit_many, room, self.caller, bodies, now_ms())

    async def main():
        credentials = Credentials(domain, pki / f"{domain}.crt", pki / f"{domain}.key", pki / "ca.pem")
        peers = {p: pki / "ca.pem" for p in ("x.example", "y.example", "b.example", "c.example") if p != domain}
        server = FederationServer(credentials, ProviderFront(uri, InCluster).handlers(), peers)
        print(await server.start(), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Credentials]]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create()
    return directory, {d: ca.issue([d], directory) for d in ("x.example", "y.example", "b.example", "c.example")}


@contextmanager
def spawn(pki: Path, domain: str, mode: str, data: Path, *extra: str) -> Iterator[tuple[Peer, int]]:
    """The server's peer entry and its pid; killed on exit."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*sys.path]))
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(pki), domain, mode, str(data), *extra],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Peer(domain, f"https://127.0.0.1:{port}", pki / "ca.pem"), process.pid
    finally:
        process.kill()
        process.wait(30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fanout_messages(count: int) -> list[_core.FanoutMessage]:
    client = _core.Client(f"{HUB}/d/hal/phone")
    group = client.create_group(b"bench", _core.SignatureKeyPair.generate().public, HUB)
    return [_core.FanoutMessage(1_700_000_000_000 + i, group.encrypt(os.urandom(900))) for i in range(count)]


@pytest.mark.parametrize("followers", ["count", "follow"])
@pytest.mark.benchmark(group="federation-notify")
def test_notify_over_https_to_two_followers(benchmark: Any, pki: tuple[Path, dict[str, Credentials]],
                                            tmp_path: Path, followers: str) -> None:
    """`HttpsTransport.notify` (envelope in MIMI-* headers) to 2 followers' fronts.
    `deliveries_per_s`: FanoutMessages delivered per second, both followers together."""
    directory, credentials = pki
    body = _core.encode_notify(fanout_messages(MESSAGES_PER_CALL))
    with spawn(directory, "b.example", followers, tmp_path / "b", ROOM) as (b, b_pid), \
            spawn(directory, "c.example", followers, tmp_path / "c", ROOM) as (c, c_pid):
        hub = HttpsTransport(HUB, credentials["y.example"], {"b.example": b, "c.example": c})
        sequence = 0  # new sequences every round: a real follower does a repeated batch's writes only once

        def round_() -> None:
            nonlocal sequence
            in_flight: dict[str, list[Future[int]]] = {"mimi://b.example": [], "mimi://c.example": []}
            for _ in range(CALLS):
                batch = Notify(ROOM, sequence, tuple(range(sequence + 1, sequence + MESSAGES_PER_CALL + 1)), body)
                for follower, calls in in_flight.items():
                    if len(calls) >= WINDOW:
                        calls.pop(0).result(60)
                    calls.append(hub.notify(follower, batch))
                sequence += MESSAGES_PER_CALL
            for calls in in_flight.values():
                wait(calls, 60)
                for call in calls:
                    call.result()

        round_()  # directories, connections
        cpu = cpu_seconds(b_pid) + cpu_seconds(c_pid)
        benchmark.pedantic(round_, rounds=5, iterations=1)
        cpu = cpu_seconds(b_pid) + cpu_seconds(c_pid) - cpu
        requests = 2 * CALLS * 5
        benchmark.extra_info.update({
            "followers": followers, "body_bytes": len(body), "messages_per_call": MESSAGES_PER_CALL, "window": WINDOW,
            "deliveries_per_s": round(2 * CALLS * MESSAGES_PER_CALL / benchmark.stats.stats.mean),
            "requests_per_s": round(2 * CALLS / benchmark.stats.stats.mean),
            "follower_cpu_us_per_request": round(cpu / requests * 1e6, 1),
            "connections_opened": sum(hub._parts()[1].connections_opened(d) for d in ("b.example", "c.example")),
            "loadavg_1m": os.getloadavg()[0],
        })
        hub.close()


@pytest.fixture(scope="module", params=["tmpfs", "disk"])
def submitting(request: Any, pki: tuple[Path, dict[str, Credentials]],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HttpsTransport, list[bytes], int]]:
    """y.example's hub (its own process, its data on tmpfs or disk) hosting ROOM, and
    x.example's transport with a member's messages, made ahead."""
    import tempfile

    directory, credentials = pki
    base = Path(tempfile.mkdtemp(dir="/dev/shm")) if request.param == "tmpfs" else tmp_path_factory.mktemp("hub")
    hub, alice, _ = hosted_room(base, ROOM)
    hub.store.close()
    bodies = [alice.send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(2 * SUBMITS + CONCURRENT)]
    with spawn(directory, "y.example", "hub", base) as (y, pid):
        yield request.param, HttpsTransport("mimi://x.example", credentials["x.example"], {"y.example": y}), bodies, pid
    if request.param == "tmpfs":
        import shutil

        shutil.rmtree(base)


@pytest.mark.benchmark(group="federation-submit-round-trip")
def test_submit_message_round_trip(benchmark: Any, submitting: tuple[str, HttpsTransport, list[bytes], int]) -> None:
    """One /submitMessage after another on a reused connection: the median is the p50."""
    where, transport, bodies, pid = submitting
    left = iter(bodies[:SUBMITS])

    def one() -> None:
        [answer] = transport.submit_messages(ROOM, [next(left)]).result(30)
        assert _core.SubmitMessageResponse.decode(answer).status == "accepted"

    one()
    cpu = cpu_seconds(pid)
    benchmark.pedantic(one, rounds=SUBMITS - 1, iterations=1)
    benchmark.extra_info.update({"data": where, "p50_ms": round(benchmark.stats.stats.median * 1e3, 3),
                                 "hub_cpu_us_per_request": round((cpu_seconds(pid) - cpu) / (SUBMITS - 1) * 1e6, 1),
                                 "loadavg_1m": os.getloadavg()[0]})


@pytest.mark.benchmark(group="federation-submit-throughput")
def test_submit_message_accepted_per_second(benchmark: Any, submitting: tuple[str, HttpsTransport, list[bytes], int]) -> None:
    """`CONCURRENT` /submitMessage requests in flight from the member's provider to the
    hub's front, each answered once durably committed (group commit)."""
    where, transport, bodies, pid = submitting
    rest = bodies[SUBMITS:]
    client = FederationClient(transport.credentials, transport.peers, connections_per_peer=CONCURRENT)
    loop = asyncio.new_event_loop()

    async def send(chunk: list[bytes]) -> int:
        accepted = 0
        for body in chunk:
            reply = await client.call("y.example", "submitMessage", {"roomId": ROOM}, body)
            accepted += _core.SubmitMessageResponse.decode(reply.body).status == "accepted"
        return accepted

    async def all_of(batch: list[bytes]) -> int:
        return sum(await asyncio.gather(*(send(batch[i::CONCURRENT]) for i in range(CONCURRENT))))

    loop.run_until_complete(all_of(rest[:CONCURRENT]))  # connections
    measured = rest[CONCURRENT:]
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    accepted = benchmark.pedantic(lambda: loop.run_until_complete(all_of(measured)), rounds=1, iterations=1)
    seconds = time.perf_counter() - started
    assert accepted == len(measured)
    benchmark.extra_info.update({"data": where, "concurrent": CONCURRENT, "accepted_per_s": round(accepted / seconds),
                                 "hub_cpu_us_per_request": round((cpu_seconds(pid) - cpu) / accepted * 1e6, 1),
                                 "loadavg_1m": os.getloadavg()[0]})
    loop.run_until_complete(client.aclose())
    loop.close()


@pytest.mark.parametrize("transport", ["ray", "https"])
@pytest.mark.benchmark(group="federation-submit-device-to-hub")
def test_submit_message_device_to_provider_to_hub(benchmark: Any, tmp_path: Path, transport: str) -> None:
    """/submitMessage accepted/s through device → its provider (x.example) → the hub
    (y.example), over HTTPS or in-cluster, on one local Ray (data on disk): a device
    of x.example sends in a closed loop, `CONCURRENT` in flight (`FleetHost.drive`)."""
    import ray

    from mimi.actors.deploy import Deployment, start_ray
    from mimi.loadtest.fleet import fleet
    from mimi.transport.loopback import LoopbackFederation

    start_ray(num_cpus=2)
    x, creator, sender = "mimi://x.example", f"{HUB}/d/carol/phone", "mimi://x.example/d/alice/phone"
    federation = LoopbackFederation([x, HUB], tmp_path / "tls") if transport == "https" else None
    d = Deployment(str(tmp_path), transport=federation.transport if federation else None)
    try:
        d.provider(x)
        d.provider(HUB)
        d.room_hub(ROOM, HUB)
        fleet(d, "creator", [creator])
        host = fleet(d, "sender", [sender])
        ray.get([d.host(c).publish_key_packages.remote(c, 1) for c in (creator, sender)])
        ray.get(d.host(creator).create_room.remote(creator, ROOM, "cooperative"))
        assert ray.get(d.host(creator).add_users.remote(creator, ROOM, ["mimi://x.example/u/alice"]))["code"] == "success"
        d.settle(ROOM)
        run: dict[str, Any] = {}
        benchmark.pedantic(lambda: run.update(ray.get(host.drive.remote([(sender, ROOM)], None, 5.0, 1024, CONCURRENT))),
                           rounds=1, iterations=1)
        accepted = run["answers"].get("accepted", 0)
        assert accepted == sum(run["sent"])
        benchmark.extra_info.update({"transport": transport, "concurrent": CONCURRENT, "accepted": accepted,
                                     "accepted_per_s": round(accepted / run["seconds"]), "loadavg_1m": os.getloadavg()[0]})
    finally:
        d.shutdown()
        if federation is not None:
            federation.close()
