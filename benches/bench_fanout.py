"""Fanout benchmarks: hub → followers → client devices, without Ray and over Ray.

Without Ray (logic + Rust only, one process, one core):

* `test_hub_to_followers[FxC]`: per round, the hub accepts `M` application
  messages (`HubRoom.submit`), the `FanoutBatcher` cuts them into /notify
  batches of ≤ 90 KiB per follower, and each of the F followers takes its
  batches (`Follower.notify`), which expands every FanoutMessage to its C
  subscribed clients (`Delivery` objects). Rate: FanoutMessage deliveries
  (M × F) per second; extra_info also has the local deliveries (M × F × C)
  and the hub / follower split.
* `test_client_deliver[FxC]`: real `ClientSession`s decrypt and fold into their
  history (`ClientSession.deliver`) messages of the room. Only a sample of the
  F × C clients are real MLS members (see `SAMPLE`); the cost of one client
  delivery does not depend on how many other clients there are, so the rate
  per core is measured on the sample and the time for all F × C clients of one
  message is extrapolated (extra_info says which).

Over Ray (a local cluster of 2 CPUs):

* `test_ray_transport_*`: raw transport, minimal actors of this module (no
  mimi logic): a source actor sends 1 KiB "FanoutMessages" to 2 sink actors,
  one Ray call per delivery (naive) vs ~90 KiB batches (as `FanoutBatcher`),
  with replies and a window of calls in flight (as `Outbox`), or
  fire-and-forget (`num_returns=0`). Same message count: the table's ratio is
  the batching gain.
* `test_ray_transport_compiled_graph`: the same batches over a Ray Compiled
  Graph (`ray.dag`, `experimental_compile()`): driver → source → every sink,
  shared-memory channels instead of Ray calls. The driver starts each execution
  (the input is the batch's position; the source builds the ~90 KiB batch) and
  gets back only each sink's count, never the batch (DESIGN.md: teardown of
  large actor-to-actor outputs hung once). Fresh actors (an actor in a compiled
  graph runs its loop until teardown), a fixed number of executions, a timeout
  on every get, and the graph is always torn down.
* `test_ray_end_to_end`: the runtime's actors (RoomHub, 3 ProviderServers,
  2 ClientHosts of 10 devices): the driver submits pre-encrypted messages to
  the hub (64 /submitMessage calls in flight) and waits until every device has
  decrypted and stored every message.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

import pytest

from mimi import _core, content, ids
from mimi.components import ComponentId, ParticipantListUpdate, UserRolePair
from mimi.logic import room_changes
from mimi.logic.client import ClientSession, MessageShown, commit_bundle
from mimi.logic.fanout import MAX_BATCH_BYTES, FanoutBatcher
from mimi.logic.follower import Follower
from mimi.logic.hub import Fanout, HubRoom
from mimi.policy.presets import ORDINARY_USER, PRESETS

HUB = "mimi://p0.example"
ROOM = f"{HUB}/r/bench"
TEXT = "x" * 1024  # a 1 KiB text message
CHUNK = 1000  # members added per commit: openmls' cost of one commit grows ~quadratically with its adds

# (followers, clients per follower) -> (real MLS clients per follower, MLS group size)
CONFIGS = {(2, 10): (10, 22), (10, 100): (4, 1000), (50, 1000): (1, 1000)}
MESSAGES = {(2, 10): 400, (10, 100): 200, (50, 1000): 20}  # per round of test_hub_to_followers
SAMPLE_MESSAGES = 20  # per round of test_client_deliver


def provider(index: int) -> str:
    return f"mimi://p{index}.example"


def provider_of(uri: str) -> str:
    return f"mimi://{ids.domain(uri)}"


def config_id(config: tuple[int, int]) -> str:
    return f"{config[0]}x{config[1]}"


def text_message() -> content.MimiContent:
    return content.message(content.text_part(TEXT))


@dataclass
class BenchRoom:
    """A MIMI room (cooperative preset) on a sans-IO hub whose members sit at
    `followers` providers (the hub's own provider is follower 0): `sample` real
    client sessions per provider, a sender, the creator, and members that exist
    only as KeyPackages up to `size`. Built through `HubRoom.update`, so the hub's
    view, the policy and every real session agree."""

    followers: int
    sample: int
    size: int
    hub_key: _core.SignatureKeyPair = field(default_factory=_core.SignatureKeyPair.generate)
    now: int = 1_700_000_000_000
    build_seconds: float = 0.0

    def __post_init__(self) -> None:
        started = time.perf_counter()
        self.creator = ClientSession(_core.Client(f"{HUB}/d/creator/phone"))
        self.sender = ClientSession(_core.Client(f"{HUB}/d/sender/phone"))
        state = PRESETS["cooperative"].new_room(self.creator.user, ROOM, room_name="bench", hub=HUB, members=[self.creator.uri])
        group = self.creator.create_room(ROOM, b"bench", self.hub_key.public, HUB, state)
        self.hub = HubRoom.create(ROOM, HUB, group.export_group_info(), group.export_ratchet_tree())
        self.sessions = [
            ClientSession(_core.Client(f"{provider(i)}/d/s{j}/phone")) for i in range(self.followers) for j in range(self.sample)
        ]
        real = [self.sender, *self.sessions]
        if self.size < len(real) + 1:
            raise ValueError(f"a room of {self.size} cannot hold {len(real) + 1} real clients")
        dummies = [f"{provider(k % self.followers)}/d/u{k}/phone" for k in range(self.size - 1 - len(real))]
        kps = [_core.Client(uri).key_packages(1)[0] for uri in dummies] + [s.client.key_packages(1)[0] for s in real]
        uris = dummies + [s.uri for s in real]
        for start in range(0, len(kps), CHUNK):
            self._add(kps[start : start + CHUNK], uris[start : start + CHUNK], real)
        assert len(self.hub.view.members()) == self.size
        assert self.hub.providers() == frozenset(provider(i) for i in range(self.followers))
        self.build_seconds = time.perf_counter() - started

    def tick(self) -> int:
        self.now += 1
        return self.now

    def _add(self, kps: list[bytes], uris: list[str], real: list[ClientSession]) -> None:
        users = tuple(UserRolePair(ids.user_of(uri), ORDINARY_USER) for uri in uris)
        update = ParticipantListUpdate(added_participants=users)
        out = self.creator.commit(ROOM, kps, app_data=[(ComponentId.participant_list, update.encode())])
        response, events = self.hub.update(HUB, commit_bundle(out), self.tick())
        code = _core.UpdateResponse.decode(response).response_code
        if code != "success":
            raise RuntimeError(f"adding {len(kps)} members: {code}")
        self.creator.update_accepted(ROOM)
        welcome = next(e for e in events if _core.FanoutMessage.decode(e.message).kind == "welcome")
        for session in real:
            if session.uri in uris:
                session.deliver(ROOM, welcome.sequence, welcome.message)
                assert ROOM in session.rooms

    def submissions(self, sender: ClientSession, count: int) -> list[bytes]:
        """`count` SubmitMessageRequest bodies of 1 KiB text messages from `sender`."""
        return [sender.send(ROOM, text_message())[0] for _ in range(count)]

    def submit(self, bodies: list[bytes]) -> list[Fanout]:
        events: list[Fanout] = []
        for body in bodies:
            events += self.hub.submit(HUB, body, self.tick())[1]
        return events


def followers_of(config: tuple[int, int], room: BenchRoom) -> dict[str, Follower]:
    """One Follower per provider, each with C clients subscribed (its real sessions among them)."""
    followers_count, clients = config
    out = {}
    for i in range(followers_count):
        follower = Follower(provider(i))
        real = [s.uri for s in room.sessions if provider_of(s.uri) == provider(i)]
        for uri in real + [f"{provider(i)}/d/c{j}/phone" for j in range(clients - len(real))]:
            follower.subscribe(ROOM, uri)
        out[provider(i)] = follower
    return out


_rooms: dict[tuple[int, int], BenchRoom] = {}


def bench_room(config: tuple[int, int]) -> BenchRoom:
    if config not in _rooms:
        sample, size = CONFIGS[config]
        _rooms[config] = BenchRoom(config[0], sample, size)
    return _rooms[config]


# ---------------------------------------------------------------- without Ray


@pytest.mark.parametrize("config", list(CONFIGS), ids=config_id)
@pytest.mark.benchmark(group="fanout-hub-to-followers")
def test_hub_to_followers(benchmark, config: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    room = bench_room(config)
    followers = followers_of(config, room)
    batcher = FanoutBatcher()
    messages = MESSAGES[config]
    split = {"hub": 0.0, "followers": 0.0, "notifies": 0, "deliveries": 0}

    def fresh() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        return (room.submissions(room.creator, messages),), {}

    def fan(bodies: list[bytes]) -> int:
        started = time.perf_counter()
        batcher.add(room.submit(bodies))
        notifies = [(d, n) for d in batcher.destinations() for n in batcher.take(d)]
        middle = time.perf_counter()
        delivered = sum(len(followers[d].notify(n)) for d, n in notifies)
        split["hub"] += middle - started
        split["followers"] += time.perf_counter() - middle
        split["notifies"] += len(notifies)
        split["deliveries"] += delivered
        return delivered

    rounds = 5
    delivered = benchmark.pedantic(fan, setup=fresh, rounds=rounds, warmup_rounds=1)
    assert delivered == messages * config[0] * config[1]
    mean = benchmark.stats.stats.mean
    calls = rounds + 1
    benchmark.extra_info.update(
        {
            "followers": config[0],
            "clients_per_follower": config[1],
            "messages_per_round": messages,
            "fanout_messages_per_s": messages * config[0] / mean,
            "local_deliveries_per_s": messages * config[0] * config[1] / mean,
            "hub_share": split["hub"] / (split["hub"] + split["followers"]),
            "hub_us_per_message": split["hub"] / (calls * messages) * 1e6,
            "follower_us_per_fanout_message": split["followers"] / (calls * messages * config[0]) * 1e6,
            "notifies_per_round": split["notifies"] / calls,
            "mls_group_size": room.size,
            "room_build_s": room.build_seconds,
            "loadavg_1m": os.getloadavg()[0],
        }
    )


@pytest.mark.parametrize("config", list(CONFIGS), ids=config_id)
@pytest.mark.benchmark(group="fanout-client-deliver")
def test_client_deliver(benchmark, config: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    room = bench_room(config)
    sessions = room.sessions

    def fresh() -> tuple[tuple[list[Fanout]], dict[str, Any]]:
        return (room.submit(room.submissions(room.sender, SAMPLE_MESSAGES)),), {}

    def deliver(events: list[Fanout]) -> list[object]:
        return [e for s in sessions for f in events for e in s.deliver(ROOM, f.sequence, f.message)]

    shown = benchmark.pedantic(deliver, setup=fresh, rounds=5, warmup_rounds=1)
    assert len(shown) == len(sessions) * SAMPLE_MESSAGES
    assert all(isinstance(e, MessageShown) and e.sender == room.sender.user for e in shown)
    per_delivery = benchmark.stats.stats.mean / len(shown)
    clients = config[0] * config[1]
    benchmark.extra_info.update(
        {
            "measured": f"{len(sessions)} real clients × {SAMPLE_MESSAGES} messages per round, MLS group of {room.size}",
            "clients_in_config": clients,
            "client_deliveries_per_s_per_core": 1 / per_delivery,
            "us_per_delivery": per_delivery * 1e6,
            "extrapolated_s_per_message_to_all_clients": per_delivery * clients,
            "mls_group_size": room.size,
            "loadavg_1m": os.getloadavg()[0],
        }
    )


# ---------------------------------------------------------------- over Ray

RAY_FOLLOWERS = 2
RAY_MESSAGES = 20_000
MESSAGE = bytes(1024)
BATCH = MAX_BATCH_BYTES // len(MESSAGE)  # 90 messages of 1 KiB in one /notify


class Sink:
    """A follower that only counts: the transport's receiving end."""

    def __init__(self) -> None:
        self.received = 0

    def notify(self, room: str, previous: int, sequences: list[int], body: bytes) -> int:
        self.received += len(sequences)
        return len(sequences)

    def count(self) -> int:
        return self.received

    def notify_packet(self, packet: tuple[str, int, list[int], bytes]) -> int:
        """`notify` for a compiled graph, whose edges carry one value."""
        return self.notify(*packet)


class Source:
    """A hub that only sends: `messages` FanoutMessages to every sink, `batch` per call."""

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = sinks

    def run(self, messages: int, batch: int, window: int, fire_and_forget: bool = False) -> float:
        import ray

        body = MESSAGE * batch
        if fire_and_forget:
            method = [s.notify.options(num_returns=0, enable_task_events=False) for s in self.sinks]
            counts = [s.count.options(enable_task_events=False) for s in self.sinks]
        else:
            method = [s.notify.options(enable_task_events=False) for s in self.sinks]
        started = time.perf_counter()
        in_flight: list[list[Any]] = [[] for _ in self.sinks]
        sequence = 0
        sent = 0
        while sent < messages:
            take = min(batch, messages - sent)
            sequences = list(range(sequence + 1, sequence + take + 1))
            data = body if take == batch else MESSAGE * take
            for k, send in enumerate(method):
                if fire_and_forget:
                    send.remote("room", sequence, sequences, data)
                    if (sent // batch) % window == window - 1:
                        in_flight[k].append(counts[k].remote())  # a barrier every `window` calls
                else:
                    in_flight[k].append(send.remote("room", sequence, sequences, data))
                if len(in_flight[k]) >= (2 if fire_and_forget else window):
                    ray.wait(in_flight[k][:1])
                    in_flight[k].pop(0)
            sequence += take
            sent += take
        ray.get([ref for refs in in_flight for ref in refs])
        if fire_and_forget:
            ray.get([c.remote() for c in counts])
        return time.perf_counter() - started

    def emit(self, position: tuple[int, int]) -> tuple[str, int, list[int], bytes]:
        """One /notify of a compiled graph: `take` messages after `sequence`."""
        sequence, take = position
        return "room", sequence, list(range(sequence + 1, sequence + take + 1)), MESSAGE * take


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    import ray

    from mimi.actors.deploy import start_ray

    start_ray(num_cpus=2)
    # The workers cannot import this module (benches/ is no package): ship Sink and Source by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def transport(ray_cluster: Any) -> Iterator[tuple[Any, list[Any]]]:
    ray = ray_cluster
    sinks = [ray.remote(Sink).options(num_cpus=0).remote() for _ in range(RAY_FOLLOWERS)]
    source = ray.remote(Source).options(num_cpus=0).remote(sinks)
    ray.get([s.count.remote() for s in sinks])
    yield source, sinks
    for actor in [source, *sinks]:
        ray.kill(actor)


def run_transport(benchmark: Any, ray: Any, source: Any, sinks: list[Any], batch: int, window: int,
                  fire_and_forget: bool, rounds: int, messages: int = RAY_MESSAGES) -> None:
    before = sum(ray.get([s.count.remote() for s in sinks]))
    inside: list[float] = []

    def run() -> None:
        inside.append(ray.get(source.run.remote(messages, batch, window, fire_and_forget)))

    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1)
    received = sum(ray.get([s.count.remote() for s in sinks])) - before
    assert received == messages * RAY_FOLLOWERS * (rounds + 1)
    deliveries = messages * RAY_FOLLOWERS
    benchmark.extra_info.update(
        {
            "followers": RAY_FOLLOWERS,
            "messages_per_round": messages,
            "message_bytes": len(MESSAGE),
            "messages_per_call": batch,
            "window": window,
            "fire_and_forget": fire_and_forget,
            "fanout_messages_per_s": deliveries / benchmark.stats.stats.mean,
            "fanout_messages_per_s_in_source": deliveries / (sum(inside[1:]) / rounds),
            "loadavg_1m": os.getloadavg()[0],
        }
    )


@pytest.mark.benchmark(group="fanout-ray-transport")
def test_ray_transport_naive(benchmark, ray_cluster, transport) -> None:  # type: ignore[no-untyped-def]
    """One Ray call per delivery (16 in flight per follower); 10× fewer messages
    than the batched runs (~1.3k deliveries/s: the same count would take minutes),
    so compare the fanout_messages_per_s of extra_info, not the table's times."""
    run_transport(benchmark, ray_cluster, *transport, batch=1, window=16, fire_and_forget=False, rounds=2,
                  messages=RAY_MESSAGES // 10)


@pytest.mark.benchmark(group="fanout-ray-transport")
def test_ray_transport_batched(benchmark, ray_cluster, transport) -> None:  # type: ignore[no-untyped-def]
    """~90 KiB per call, 2 calls in flight per follower (the Outbox's window)."""
    run_transport(benchmark, ray_cluster, *transport, batch=BATCH, window=2, fire_and_forget=False, rounds=5)


@pytest.mark.benchmark(group="fanout-ray-transport")
def test_ray_transport_batched_fire_and_forget(benchmark, ray_cluster, transport) -> None:  # type: ignore[no-untyped-def]
    """~90 KiB per call, num_returns=0, a reply barrier every 4 calls (2 barriers in flight)."""
    run_transport(benchmark, ray_cluster, *transport, batch=BATCH, window=4, fire_and_forget=True, rounds=5)


CG_WINDOW = 2  # executions in flight, as the batched run's window of calls per follower
CG_TIMEOUT = 30.0  # seconds, every submit and get of the compiled graph


@pytest.mark.benchmark(group="fanout-ray-transport")
def test_ray_transport_compiled_graph(benchmark, ray_cluster) -> None:  # type: ignore[no-untyped-def]
    """~90 KiB per execution over a Ray Compiled Graph, driver → source → 2 sinks,
    CG_WINDOW executions in flight; each sink returns a count, not the batch."""
    from ray.dag import InputNode, MultiOutputNode

    ray = ray_cluster
    sinks = [ray.remote(Sink).options(num_cpus=0).remote() for _ in range(RAY_FOLLOWERS)]
    source = ray.remote(Source).options(num_cpus=0).remote(sinks)
    ray.get([s.count.remote() for s in sinks] + [source.emit.remote((0, 1))], timeout=CG_TIMEOUT)
    positions = [(sequence, min(BATCH, RAY_MESSAGES - sequence)) for sequence in range(0, RAY_MESSAGES, BATCH)]
    rounds = 5
    received = 0
    compiled = None
    try:
        with InputNode() as position:
            packet = source.emit.bind(position)
            dag = MultiOutputNode([s.notify_packet.bind(packet) for s in sinks])
        started = time.perf_counter()
        compiled = dag.experimental_compile(_submit_timeout=CG_TIMEOUT, _max_inflight_executions=CG_WINDOW)
        compile_s = time.perf_counter() - started

        def run() -> None:
            nonlocal received
            in_flight: list[Any] = []
            for p in positions:
                if len(in_flight) >= CG_WINDOW:
                    received += sum(ray.get(in_flight.pop(0), timeout=CG_TIMEOUT))  # one ref per sink
                in_flight.append(compiled.execute(p))
            for refs in in_flight:
                received += sum(ray.get(refs, timeout=CG_TIMEOUT))

        benchmark.pedantic(run, rounds=rounds, warmup_rounds=1)
    finally:
        teardown_s = None
        if compiled is not None:
            started = time.perf_counter()
            compiled.teardown()
            teardown_s = time.perf_counter() - started
        counts = ray.get([s.count.remote() for s in sinks], timeout=CG_TIMEOUT) if compiled is not None else []
        for actor in [source, *sinks]:
            ray.kill(actor)
    assert received == RAY_MESSAGES * RAY_FOLLOWERS * (rounds + 1) == sum(counts)
    deliveries = RAY_MESSAGES * RAY_FOLLOWERS
    benchmark.extra_info.update(
        {
            "followers": RAY_FOLLOWERS,
            "messages_per_round": RAY_MESSAGES,
            "message_bytes": len(MESSAGE),
            "messages_per_call": BATCH,
            "window": CG_WINDOW,
            "fire_and_forget": False,
            "fanout_messages_per_s": deliveries / benchmark.stats.stats.mean,
            "executions_per_s": len(positions) / benchmark.stats.stats.mean,
            "compile_s": compile_s,
            "teardown_s": teardown_s,
            "loadavg_1m": os.getloadavg()[0],
        }
    )


# ---------------------------------------------------------------- over Ray, end to end

E2E_HUB = "mimi://h.example"
E2E_ROOM = f"{E2E_HUB}/r/bench"
E2E_FOLLOWERS = ("mimi://f1.example", "mimi://f2.example")
E2E_DEVICES = 10  # per follower, in one ClientHost each
E2E_MESSAGES = 1500
E2E_WINDOW = 64  # /submitMessage calls in flight


def wait_until(done: Callable[[], bool], failure: str, seconds: float = 300) -> None:
    """Polls `done` until it holds; fails with `failure` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} within {seconds:.0f} s")
        time.sleep(0.005)


@dataclass
class Via:
    """A driver-side device's calls to a room's hub, through its provider as a
    ClientHost makes them (`mimi.actors.client.hub_call`)."""

    provider: Any
    client: str
    token: bytes

    def remote(self, endpoint: str, room: str, *args: Any) -> Any:
        from mimi.actors.client import hub_call

        return hub_call(self.provider, self.client, self.token, endpoint, room, *args)


def via(d: Any, sender: ClientSession) -> Via:
    return Via(d.providers[ids.provider_of(sender.uri)], sender.uri, d.token(sender.uri))


def create_room(ray: Any, hub: Via, room: str, sender: ClientSession) -> None:
    """`sender` (a driver-side device) creates `room` on its hub."""
    hub_key, hub_uri = ray.get(hub.remote("reserve", room))
    state = PRESETS["cooperative"].new_room(sender.user, room, room_name="bench", hub=hub_uri, members=[sender.uri])
    group = sender.create_room(room, room.encode(), hub_key, hub_uri, state)
    ray.get(hub.remote("create_room", room, group.export_group_info(), group.export_ratchet_tree()))


def add_members(ray: Any, hub: Via, room: str, sender: ClientSession, kps: list[bytes], users: list[str]) -> None:
    """`sender` adds `users` with their KeyPackages `kps` in one commit."""
    out = room_changes.add_users(sender, room, users, kps)
    raw = ray.get(hub.remote("update", room, commit_bundle(out)))
    assert _core.UpdateResponse.decode(raw).response_code == "success"
    sender.update_accepted(room)


@dataclass
class EndToEnd:
    """A deployment of the runtime's actors with one room: the driver is the sender's
    device (a sans-IO ClientSession), every other member lives in a ClientHost."""

    deployment: Any
    sender: ClientSession
    devices: list[str]
    build_seconds: float


@pytest.fixture(scope="module")
def end_to_end(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndToEnd]:
    from mimi.actors.deploy import Deployment

    ray = ray_cluster
    started = time.perf_counter()
    d = Deployment(str(tmp_path_factory.mktemp("e2e")))
    for uri in (E2E_HUB, *E2E_FOLLOWERS):
        d.provider(uri)
    d.room_hub(E2E_ROOM, E2E_HUB)
    devices = []
    for k, follower in enumerate(E2E_FOLLOWERS):
        hosted = [f"{follower}/d/m{j}/phone" for j in range(E2E_DEVICES)]
        d.clients(f"members-{k}", hosted)
        devices += hosted
    ray.get([d.host(c).publish_key_packages.remote(c, 1) for c in devices])
    sender = ClientSession(_core.Client(f"{E2E_HUB}/d/sender/phone"))
    hub = via(d, sender)
    create_room(ray, hub, E2E_ROOM, sender)
    users = [ids.user_of(c) for c in devices]
    kps = []
    for user in users:
        request = room_changes.key_material_request(sender, user, E2E_ROOM)
        answer = ray.get(hub.remote("key_material", E2E_ROOM, request))
        kps += [c.key_package for c in _core.KeyMaterialResponse.decode(answer.response).clients if c.key_package is not None]
    add_members(ray, hub, E2E_ROOM, sender, kps, users)
    d.settle(E2E_ROOM, timeout=120)
    yield EndToEnd(d, sender, devices, time.perf_counter() - started)
    d.shutdown()


@pytest.mark.benchmark(group="fanout-ray-end-to-end")
def test_ray_end_to_end(benchmark, ray_cluster, end_to_end: EndToEnd) -> None:  # type: ignore[no-untyped-def]
    """Submit → the sender's provider → hub (validate, log, batch) → 3 followers
    (/notify, inbox) → 2 ClientHosts (decrypt, store) of 10 devices each, until every
    device has every message."""
    ray = ray_cluster
    e = end_to_end
    d = e.deployment
    hub = via(d, e.sender)
    hosts = list(d.hosts.values())

    def fresh() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        return ([e.sender.send(E2E_ROOM, text_message())[0] for _ in range(E2E_MESSAGES)],), {}

    def run(bodies: list[bytes]) -> None:
        in_flight: list[Any] = []
        for body in bodies:
            in_flight.append(hub.remote("submit_messages", E2E_ROOM, [body]))
            if len(in_flight) >= E2E_WINDOW:
                ready, in_flight = ray.wait(in_flight, num_returns=1)
                ray.get(ready)
        ray.get(in_flight)
        last = max(ray.get(d.hubs[E2E_ROOM].progress.remote(E2E_ROOM)).values())

        def done() -> bool:
            processed: dict[str, int] = {}
            for progress in ray.get([h.progress.remote(E2E_ROOM) for h in hosts]):
                processed.update(progress)
            return len(processed) == len(e.devices) and min(processed.values()) >= last

        wait_until(done, "the devices did not get every message")

    benchmark.pedantic(run, setup=fresh, rounds=1, warmup_rounds=0)
    # Processed is not enough: every device shows every message (decrypted, in its history).
    for device in e.devices:
        shown = ray.get(d.host(device).view.remote(device, E2E_ROOM))["messages"]
        assert len(shown) == E2E_MESSAGES, (device, len(shown))
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        {
            "messages": E2E_MESSAGES,
            "submit_window": E2E_WINDOW,
            "destinations": 1 + len(E2E_FOLLOWERS),
            "devices": len(e.devices),
            "messages_per_s": E2E_MESSAGES / seconds,
            "fanout_messages_per_s": E2E_MESSAGES * (1 + len(E2E_FOLLOWERS)) / seconds,
            "client_deliveries_per_s": E2E_MESSAGES * len(e.devices) / seconds,
            "deployment_build_s": e.build_seconds,
            "loadavg_1m": os.getloadavg()[0],
        }
    )


FANOUT_ROOM = f"{E2E_HUB}/r/fanout"
FANOUT_MESSAGES = 20_000
FANOUT_SUBSCRIBERS = 10  # per follower: inbox rows, no client host (nothing decrypts)
FANOUT_CALL = 500  # bodies per submit_many call
FANOUT_WINDOW = 4  # submit_many calls in flight


@pytest.mark.parametrize("window", [2, 8])
@pytest.mark.benchmark(group="fanout-ray-hub-to-followers")
def test_ray_hub_to_followers(benchmark, ray_cluster, end_to_end: EndToEnd, window: int) -> None:  # type: ignore[no-untyped-def]
    """The runtime's hub → follower hop: RoomHub (validate, log, batch, /notify) →
    3 ProviderServers (order, inbox in SQLite), FanoutMessage deliveries/s. The
    room's other members exist as KeyPackages of the followers' providers; each
    follower stores every message for 10 subscribed clients that have no host, so
    no decryption competes for the 2 cores. `window`: `/notify` calls in flight per
    follower (the hub's `Outbox`), side by side. The sender's provider calls the hub
    through its transport (the bench speaks as h.example, no device hop)."""
    from mimi.transport.ray import RayTransport

    ray = ray_cluster
    d = end_to_end.deployment
    room = f"{FANOUT_ROOM}-{window}"
    d.room_hub(room, E2E_HUB, window=window)
    sender = ClientSession(_core.Client(f"{E2E_HUB}/d/fanout-sender/phone"))
    hub, transport = via(d, sender), RayTransport(E2E_HUB)
    members = [f"{f}/d/kp/phone" for f in E2E_FOLLOWERS]
    key_packages = [_core.Client(m).key_packages(1)[0] for m in members]
    create_room(ray, hub, room, sender)
    add_members(ray, hub, room, sender, key_packages, [ids.user_of(m) for m in members])
    for follower in E2E_FOLLOWERS:
        for j in range(FANOUT_SUBSCRIBERS):
            subscriber = f"{follower}/d/s{j}/phone"
            ray.get(d.providers[follower].subscribe.remote(room, subscriber, d.token(subscriber)))
    destinations = [E2E_HUB, *E2E_FOLLOWERS]

    def fresh() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        return ([sender.send(room, text_message())[0] for _ in range(FANOUT_MESSAGES)],), {}

    def run(bodies: list[bytes]) -> None:
        in_flight: list[Future[list[bytes]]] = []
        for start in range(0, len(bodies), FANOUT_CALL):
            in_flight.append(transport.submit_messages(room, bodies[start : start + FANOUT_CALL]))
            if len(in_flight) >= FANOUT_WINDOW:
                ready, pending = wait(in_flight, return_when=FIRST_COMPLETED)
                for answer in ready:
                    answer.result()
                in_flight = list(pending)
        for answer in in_flight:
            answer.result()
        last = ray.get(d.hubs[room].progress.remote(room))

        def done() -> bool:
            delivered = ray.get([d.providers[p].progress.remote(room) for p in destinations])
            return all(upto >= last[p] for p, (upto, _) in zip(destinations, delivered))

        wait_until(done, "the followers did not get every message")

    benchmark.pedantic(run, setup=fresh, rounds=3, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        {
            "messages": FANOUT_MESSAGES,
            "destinations": len(destinations),
            "bodies_per_call": FANOUT_CALL,
            "notify_window": window,
            "messages_per_s": FANOUT_MESSAGES / seconds,
            "fanout_messages_per_s": FANOUT_MESSAGES * len(destinations) / seconds,
            "inbox_rows_per_s": FANOUT_MESSAGES * len(E2E_FOLLOWERS) * FANOUT_SUBSCRIBERS / seconds,
            "loadavg_1m": os.getloadavg()[0],
        }
    )
