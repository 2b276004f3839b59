"""The fuzz suite: every endpoint of the runtime's actors (tests/netsim.py, `Cluster`:
RoomHub, ProviderServer, ClientHost in one process, SQLite under tmp_path) gets the
bodies a real room sent, mutated, and bytes from hypothesis. Every call succeeds or
raises a MimiError; a refusal leaves the endpoint's state as it was (logic state, the
SQLite tables, what it sent on); and afterwards a message sent in the room is still
shown by every member (docs/guarantees.md, "Fuzzing").

`make test` runs FUZZ_ITERATIONS calls per endpoint (default below); `make fuzz` many
more. A failure names its seed (FUZZ_SEED reruns it) and the mutation."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netsim
from mimi import _core
from mimi.errors import MimiError
from mimi.logic.client import Refused, RoomView, commit_bundle
from mimi.logic.follower import Follower, Notify, Pushed
from mimi.logic.group_info import group_info_request
from mimi.logic.hub import HubRoom
from mimi.transport import names
from netsim import Cluster
from test_client_host import CLIENTS, HUB, ROOM, deploy, message, texts

ITERATIONS = int(os.environ.get("FUZZ_ITERATIONS", "500"))
SEED = int(os.environ.get("FUZZ_SEED", "12"))
FOLLOWER = "mimi://f.example"  # the follower of fay and gus, hosted together ("fleet")
OTHER_ROOM = "mimi://h.example/r/elsewhere"
IVY = "mimi://f.example/d/ivy/phone"  # added while the room runs, on a host of her own


# -- the room's traffic -----------------------------------------------------------------


@dataclass
class Traffic:
    """What each endpoint got while the room ran: the bodies the fuzz mutates."""

    hub: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # hub method -> each call's arguments (the room first)
    notifies: list[Notify] = field(default_factory=list)  # to FOLLOWER
    pushes: list[Pushed] = field(default_factory=list)  # to fay and gus's host
    key_material: list[tuple[str, bytes]] = field(default_factory=list)  # (calling provider, body) to FOLLOWER

    def bodies(self) -> list[bytes]:
        """Every body seen, for splicing and replays across endpoints."""
        out = [a[2] for calls in self.hub.values() for a in calls if len(a) > 2 and isinstance(a[2], bytes)]
        out += [b for calls in self.hub.get("submit_many", []) for b in calls[2]]
        return out + [n.body for n in self.notifies] + [p[4] for p in self.pushes] + [b for _, b in self.key_material]


def run_room(c: Cluster, monkeypatch: Any) -> Traffic:
    """The room's life after `deploy`, each call recorded: messages from two
    providers, a commit, an add (its /keyMaterial), a GroupInfo request."""
    t = Traffic()
    call_hub, notify, key_material, run = c.call_hub, c.notify, c.key_material, netsim._Call.run

    def recorded_hub(room: str, method: str, *args: Any) -> Any:
        t.hub.setdefault(method, []).append((room, *args))
        return call_hub(room, method, *args)

    def recorded_notify(caller: str, follower: str, batch: Notify) -> Any:
        if follower == FOLLOWER:
            t.notifies.append(batch)
        return notify(caller, follower, batch)

    def recorded_key_material(caller: str, target: str, body: bytes) -> Any:
        if target == FOLLOWER:
            t.key_material.append((caller, body))
        return key_material(caller, target, body)

    def recorded_run(call: netsim._Call, cluster: Cluster) -> Any:
        if call.method == "deliver" and call.target == names.clients("fleet"):
            t.pushes += call.args[0]
        return run(call, cluster)

    with monkeypatch.context() as m:
        m.setattr(c, "call_hub", recorded_hub)
        m.setattr(c, "notify", recorded_notify)
        m.setattr(c, "key_material", recorded_key_material)
        m.setattr(netsim._Call, "run", recorded_run)
        fay, hal = c.host(CLIENTS["fay"]), c.host(CLIENTS["hal"])
        fay.send_many(CLIENTS["fay"], ROOM, [message("one"), message("two")])
        hal.send(CLIENTS["hal"], ROOM, message("three"))
        assert hal.commit_pending(CLIENTS["hal"], ROOM)["code"] == "success"
        c.clients("ivy", [IVY])
        c.host(IVY).publish_key_packages(IVY, 2)
        assert hal.add_users(CLIENTS["hal"], ROOM, ["mimi://f.example/u/ivy"])["code"] == "success"
        fay.send(CLIENTS["fay"], ROOM, message("four"))
        c.drain()
    request = group_info_request(hal.devices[CLIENTS["hal"]].session.client, _core.HpkeKeyPair.generate().public)
    t.hub["group_info"] = [(ROOM, HUB, request)]
    return t


@pytest.fixture
def room(tmp_path: Path, monkeypatch: Any) -> Iterator[tuple[Cluster, Traffic]]:
    c = deploy(tmp_path, monkeypatch)
    yield c, run_room(c, monkeypatch)


def still_works(c: Cluster, label: str) -> None:
    """Poisoned state shows here: a message sent after the fuzz is shown by every member."""
    c.drain()
    for name in ("hal", "fay"):
        text = f"after {label} ({name})"
        assert c.host(CLIENTS[name]).send(CLIENTS[name], ROOM, message(text))["status"] == "accepted"
        c.drain()
        for member in CLIENTS:
            assert texts(c, member)[-1] == text, (member, label)


# -- mutations ----------------------------------------------------------------------------


def mutate(rng: random.Random, body: bytes, others: list[bytes]) -> tuple[bytes, str]:
    """One mutation of `body` and what it was (printed with a failure)."""
    kind = rng.choice(["flip", "truncate", "insert", "splice", "length", "replay", "repeat", "same"])
    n = len(body)
    at = rng.randrange(n + 1)
    if kind == "flip" and n:
        out = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            bit = rng.randrange(n * 8)
            out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out), f"flip bits of {n} bytes: {bytes(a ^ b for a, b in zip(out, body)).hex()}"
    if kind == "truncate":
        return body[:at], f"truncate to {at} of {n}"
    if kind == "insert":
        extra = rng.randbytes(rng.choice([1, 2, 4, 33]))
        return body[:at] + extra + body[at:], f"insert {extra.hex()} at {at}"
    if kind == "splice" and others:
        other = rng.choice(others)
        cut = rng.randrange(len(other) + 1)
        return body[:at] + other[cut:], f"splice at {at} with another body from {cut}"
    if kind == "length" and n:
        # TLS length prefixes and varints: a byte that could be one, off by one, zero or full.
        candidates = [i for i, b in enumerate(body) if 0 < b <= n - i] or [at % n]
        i = rng.choice(candidates)
        value = rng.choice([body[i] + 1, body[i] - 1, 0, 0xFF, 0x40, 0x80]) % 256
        return body[:i] + bytes([value]) + body[i + 1 :], f"length byte at {i}: {body[i]} -> {value}"
    if kind == "replay" and others:
        return rng.choice(others), "replay of another body"
    if kind == "repeat":
        return body + body, "body twice"
    return body, "unchanged"


def tables(path: Path, skip: frozenset[str] = frozenset()) -> str:
    """A digest of every row of the database (what another connection reads)."""
    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            if table not in skip:
                rows = sorted(repr(r) for r in db.execute(f'SELECT * FROM "{table}"'))
                digest.update(f"{table}:{len(rows)}:{rows}".encode())
    db.close()
    return digest.hexdigest()


class Fuzz:
    """Calls one endpoint with mutated inputs and checks each outcome."""

    def __init__(self, endpoint: str, seed: int) -> None:
        self.endpoint, self.seed = endpoint, seed
        self.outcomes: dict[str, int] = {}

    def call(self, what: str, snapshot: Callable[[], Any], refused: Callable[[Any], bool], endpoint: Callable[..., Any], *args: Any) -> None:
        """`endpoint(*args)`, whose answer `refused` judges (a MimiError is a refusal)."""
        before = snapshot()
        where = f"{self.endpoint}, FUZZ_SEED={self.seed}, input: {what}"
        try:
            answer = endpoint(*args)
        except MimiError as err:
            answer, was_refused = err, True
        except Exception as err:  # anything else is a bug the input found
            raise AssertionError(f"{type(err).__name__}: {err} ({where})") from err
        else:
            was_refused = refused(answer)
        if was_refused:
            assert snapshot() == before, f"state changed by a refusal ({where}): {answer!r}"
        if os.environ.get("FUZZ_VERBOSE") and not was_refused:
            print("accepted:", what)
        outcome = type(answer).__name__ if isinstance(answer, MimiError) else ("refused" if was_refused else "accepted")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def __repr__(self) -> str:
        return f"{self.endpoint} (FUZZ_SEED={self.seed}): {self.outcomes}"


# -- the hub ---------------------------------------------------------------------------------


def hub_snapshot(c: Cluster) -> Callable[[], Any]:
    hub = c.actors[names.hub(ROOM)]

    def snapshot() -> Any:
        hub_room: HubRoom = hub.rooms[ROOM]
        record = msgpack.unpackb(hub_room.export())
        del record["clock"]  # the hub's clock moves on with every call, by design (`HubRoom._clock`)
        # The cursors move with the followers' acknowledgements, in the pump's thread.
        return record, sorted(hub.rooms), dict(hub_room.unindexed), list(hub_room.answered.items()), len(c.wire), tables(
            hub.path, frozenset({"hub_cursors"})
        )

    return snapshot


def update_refused(raw: bytes) -> bool:
    return _core.UpdateResponse.decode(raw).response_code != "success"


def submit_refused(raws: list[bytes]) -> bool:
    return all(_core.SubmitMessageResponse.decode(r).status != "accepted" for r in raws)


def key_material_refused(answer: Any) -> bool:
    return _core.KeyMaterialResponse.decode(answer.response).user_status not in ("success", "partialSuccess")


def wrong_arguments(rng: random.Random, room: str, provider: str) -> tuple[str, str, str]:
    """The call's room and provider, sometimes another one."""
    roll = rng.random()
    if roll < 0.1:
        return OTHER_ROOM, provider, f"room {OTHER_ROOM}"
    if roll < 0.2:
        other = rng.choice([HUB, FOLLOWER, "mimi://x.example", "", "mimi://f.example/d/fay"])
        return room, other, f"provider {other!r}"
    return room, provider, ""


def test_hub_endpoints_refuse_without_a_trace(room: tuple[Cluster, Traffic]) -> None:
    """/update, /submitMessage (one and many), /groupInfo and /keyMaterial, with the
    room's bodies mutated, sent again, or sent for another room or provider. The
    bodies are of past epochs (a mutated commit of the current epoch can pass the hub
    and fork the room: `test_current_epoch_commits_refused_by_the_hub_logic`)."""
    c, traffic = room
    hub = c.actors[names.hub(ROOM)]
    rng = random.Random(SEED)
    fuzz = Fuzz("hub", SEED)
    snapshot, others = hub_snapshot(c), traffic.bodies()
    calls = [(m, a) for m, calls in sorted(traffic.hub.items()) for a in calls if m in ("update", "submit_many", "group_info", "key_material")]
    for i in range(ITERATIONS * 4):
        method, (r, provider, *rest) = rng.choice(calls)
        r, provider, wrong = wrong_arguments(rng, r, provider)
        if method == "submit_many":
            bodies, now = rest
            mutated = [mutate(rng, b, others) for b in bodies]
            what = f"#{i} submit_many {wrong} {[w for _, w in mutated]}"
            fuzz.call(what, snapshot, submit_refused, hub.submit_many, r, provider, [b for b, _ in mutated], now)
            continue
        body, how = mutate(rng, rest[0], others)
        what = f"#{i} {method} {wrong} {how}"
        if method == "update":
            fuzz.call(what, snapshot, update_refused, hub.update, r, provider, body, rest[1])
        elif method == "group_info":
            fuzz.call(what, snapshot, lambda _: True, hub.group_info, r, provider, body)  # reads only
        else:
            fuzz.call(what, snapshot, key_material_refused, hub.key_material, r, provider, body)
        c.drain()  # what an accepted call fanned out
    print(fuzz)
    assert fuzz.outcomes.get("refused", 0) and fuzz.outcomes.get("accepted", 0), fuzz.outcomes
    still_works(c, "hub fuzz")


def test_current_epoch_commits_refused_by_the_hub_logic(room: tuple[Cluster, Traffic]) -> None:
    """A commit of the room's current epoch, mutated, against a copy of the room's hub
    logic each time. The hub takes a mutation only where it cannot or need not check:
    the commit's membership_tag (a MAC under the epoch's membership key, which the hub
    lacks; members refuse such a commit and rejoin, `tests/test_forks.py`), and the
    bundle's ratchet_tree_option within what it takes (it fans out its own tree). A
    changed confirmation_tag is refused (it must be the signed GroupInfo's); anything
    else it takes fails."""
    c, traffic = room
    hal = c.host(CLIENTS["hal"]).devices[CLIENTS["hal"]].session
    commit = hal.commit(ROOM)
    hal.update_refused(ROOM)  # never sent: hal goes on in his epoch
    bundle = commit_bundle(commit)
    sent = _core.HandshakeBundle.decode(bundle)
    saved = c.actors[names.hub(ROOM)].rooms[ROOM].export()
    rng = random.Random(SEED)
    fuzz = Fuzz("hub logic /update", SEED)
    for i in range(ITERATIONS):
        body, how = mutate(rng, bundle, traffic.bodies())
        copy = HubRoom.restore(saved)

        def snapshot(copy: HubRoom = copy) -> Any:
            record = msgpack.unpackb(copy.export())
            del record["clock"]
            return record, dict(copy.unindexed), list(copy.answered.items())

        fuzz.call(f"#{i} {how}", snapshot, lambda answer: update_refused(answer[0]), copy.update, HUB, body, 2**40)
        if copy.view.epoch > hal.rooms[ROOM].group.epoch:
            taken = _core.HandshakeBundle.decode(body)
            group_info = taken.group_info_option.group_info if taken.group_info_option else None
            tag = MEMBERSHIP_TAG_LENGTH
            expected = (sent.proposal_or_commit[:-tag], sent.group_info_option.group_info, sent.welcome)  # type: ignore[union-attr]
            assert (taken.proposal_or_commit[:-tag], group_info, taken.welcome) == expected, (
                f"the hub took a commit changed outside its membership_tag (FUZZ_SEED={SEED}, #{i} {how})"
            )
    print(fuzz)
    assert fuzz.outcomes.get("refused", 0), fuzz.outcomes


# A member's PublicMessage ends with its membership_tag, a 32-byte MAC (the
# ciphersuite's hash) after its one-byte length (RFC 9420 §6.2).
MEMBERSHIP_TAG_LENGTH = 1 + 32


# -- the follower and the target provider ----------------------------------------------------


def provider_snapshot(c: Cluster) -> Callable[[], Any]:
    server = c.actors[names.provider(FOLLOWER)]

    def snapshot() -> Any:
        return server.follower.export(), dict(server.hosts), repr(server.pushed), repr(server.claims._claims), len(c.calls), tables(server.path)

    return snapshot


def test_follower_refuses_without_a_trace(room: tuple[Cluster, Traffic]) -> None:
    """/notify with the room's batches mutated: under their own envelope (the room's
    past: a repeat is processed once), with an envelope that breaks its rules, or for
    another room."""
    c, traffic = room
    server = c.actors[names.provider(FOLLOWER)]
    rng = random.Random(SEED)
    fuzz = Fuzz("follower /notify", SEED)
    snapshot, others = provider_snapshot(c), traffic.bodies()
    upto = server.follower.delivered_upto(ROOM)
    for i in range(ITERATIONS * 2):
        n = rng.choice(traffic.notifies)
        body, how = mutate(rng, n.body, others)
        previous, sequences, r = n.previous, list(n.sequences), ROOM
        envelope = rng.choice(["own", "own", "reversed", "count", "zero", "negative", "room"])
        if envelope == "reversed" and len(sequences) > 1:
            sequences.reverse()
        elif envelope == "count":  # one sequence less than messages (a mutation may fit it: a repeat)
            sequences = sequences[:-1]
        elif envelope == "zero":
            previous, sequences = upto, [0]
        elif envelope == "negative":
            previous, sequences = -5, [-4]
        elif envelope == "room":
            r = OTHER_ROOM
        what = f"#{i} envelope {envelope} ({previous}, {sequences}) {how}"
        # Under the room's own past envelope even an accepted call is a repeat: it changes nothing.
        refused = (lambda _: True) if envelope in ("own", "reversed") else (lambda _: False)
        fuzz.call(what, snapshot, refused, server.notify, r, HUB, previous, sequences, body, n.withheld)
    print(fuzz)
    assert fuzz.outcomes.get("RemoteProtocolError", 0), fuzz.outcomes
    still_works(c, "follower fuzz")


def test_follower_logic_refuses_batches_of_the_next_sequence(room: tuple[Cluster, Traffic]) -> None:
    """Mutated batches under the envelope the follower waits for, against a copy of its
    logic each time (one it accepts takes the room's next sequence, as the hub would)."""
    c, traffic = room
    saved = c.actors[names.provider(FOLLOWER)].follower.export()
    upto = Follower.restore(saved).delivered_upto(ROOM)
    rng = random.Random(SEED)
    fuzz = Fuzz("follower logic notify", SEED)
    for i in range(ITERATIONS * 2):
        n = rng.choice(traffic.notifies)
        body, how = mutate(rng, n.body, traffic.bodies())
        copy = Follower.restore(saved)
        fuzz.call(f"#{i} {how}", copy.export, lambda _: False, next_notify, copy, upto, len(n.sequences), body)
    print(fuzz)
    assert fuzz.outcomes.get("RemoteProtocolError", 0), fuzz.outcomes


def next_notify(follower: Follower, upto: int, count: int, body: bytes) -> Any:
    """`body` as the `count` events after `upto`, where the room stands."""
    return follower.notify(Notify(ROOM, upto, tuple(range(upto + 1, upto + 1 + count)), body))


def test_target_provider_key_material_refuses_without_a_trace(room: tuple[Cluster, Traffic]) -> None:
    c, traffic = room
    server = c.actors[names.provider(FOLLOWER)]
    rng = random.Random(SEED)
    fuzz = Fuzz("target provider /keyMaterial", SEED)
    snapshot, others = provider_snapshot(c), traffic.bodies()
    for i in range(ITERATIONS):
        caller, body = rng.choice(traffic.key_material)
        body, how = mutate(rng, body, others)
        _, caller, wrong = wrong_arguments(rng, ROOM, caller)
        fuzz.call(f"#{i} {wrong} {how}", snapshot, key_material_refused, server.key_material, caller, body)
    print(fuzz)
    assert fuzz.outcomes.get("refused", 0), fuzz.outcomes
    still_works(c, "key material fuzz")


# -- device delivery -------------------------------------------------------------------------


def device_snapshot(c: Cluster, client: str) -> Callable[[], Any]:
    def snapshot() -> Any:
        device = c.host(client).devices[client]
        session = device.session
        view: RoomView = session.rooms[ROOM]
        return (
            view.group.epoch, view.group.epoch_authenticator, view.last_sequence, len(view.history.messages(2**62)),
            sorted(session.rooms), dict(session.unjoined), dict(session.pending_leaves), device.failures,
            hashlib.sha256(session.client.export_state()).hexdigest(),  # the MLS state: keys, secret trees
        )

    return snapshot


class Deliveries:
    """One push at a time to a client host, and the events it made (`on_events`)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.seen: list[Any] = []
        host.on_events = lambda client, room, sequence, events: self.seen.extend(events)
        # A handshake the device cannot take makes it rejoin the room (an external
        # commit: tests/test_forks.py), which changes its state on purpose. Here the
        # pushes are mutated on the way, not sequenced by the hub: it stays put.
        host._rejoin = lambda device: None

    def refused(self, _: Any) -> bool:
        return all(isinstance(e, Refused) for e in self.seen)

    def deliver(self, view: RoomView, pushed: Pushed) -> int:
        """A refused event at the next sequence takes that sequence (one bad event fails
        alone, docs/guarantees.md), in `unjoined` for a room without a group here, and
        nothing else; it is given back, so the room's next event is not a repeat. A failure that is no MimiError (a bug) fails the fuzz."""
        self.seen.clear()
        device = self.host.devices.get(pushed[0])
        last, unjoined = view.last_sequence, {} if device is None else dict(device.session.unjoined)
        diverged = {} if device is None else dict(device.session.diverged)
        answer: int = self.host.deliver([pushed])
        if self.refused(answer):  # give back the sequences the hub never gave
            view.last_sequence = last
            if device is not None:
                device.session.unjoined = unjoined  # of a room the device has no group for
                device.session.diverged = diverged
        failures = [e.reason for e in self.seen if isinstance(e, Refused) and e.reason.startswith("internal failure")]
        assert not failures, failures
        return answer


def test_device_delivery_refuses_without_a_trace(room: tuple[Cluster, Traffic]) -> None:
    """ClientHost.deliver with the pushes of the room mutated: the message, the room
    sequence, `previous`, the room and the client. A refused event at a new
    sequence takes that sequence (one bad event fails alone, docs/guarantees.md) and
    nothing else; the fuzz gives it back, so the room's next event is not a repeat."""
    c, traffic = room
    host = c.host(CLIENTS["fay"])
    rng = random.Random(SEED)
    fuzz = Fuzz("device delivery", SEED)
    others = traffic.bodies()
    deliveries = Deliveries(host)
    for i in range(ITERATIONS * 2):
        client, r, sequence, previous, fanout = rng.choice(traffic.pushes)
        fanout, how = mutate(rng, fanout, others)
        view = host.devices[client].session.rooms[ROOM]
        last = view.last_sequence
        roll = rng.random()
        if roll < 0.5:
            sequence, previous = last + 1, last
        elif roll < 0.6:
            previous = last + rng.randint(1, 3)  # a gap: repaired from the inbox (nothing there)
            sequence = previous + 1
        elif roll < 0.7:
            client = rng.choice([CLIENTS["hal"], "mimi://f.example/d/nobody/phone"])  # not hosted here
        elif roll < 0.8:
            r = OTHER_ROOM
        what = f"#{i} ({client}, {r}, {sequence}, {previous}) {how}"
        snapshot = device_snapshot(c, CLIENTS["fay"] if client not in host.devices else client)
        fuzz.call(what, snapshot, deliveries.refused, deliveries.deliver, view, (client, r, sequence, previous, fanout))
    print(fuzz)
    assert fuzz.outcomes.get("refused", 0), fuzz.outcomes
    still_works(c, "device fuzz")


# -- bytes from hypothesis ---------------------------------------------------------------------


def test_generated_bytes_at_every_endpoint(room: tuple[Cluster, Traffic]) -> None:
    """Bytes hypothesis draws (shrunk to the smallest that fails), at each endpoint."""
    c, _ = room
    hub = c.actors[names.hub(ROOM)]
    server = c.actors[names.provider(FOLLOWER)]
    host = c.host(CLIENTS["fay"])
    upto = server.follower.delivered_upto(ROOM)
    hub_state, provider_state, device_state = hub_snapshot(c), provider_snapshot(c), device_snapshot(c, CLIENTS["fay"])
    fuzz = Fuzz("hypothesis", SEED)
    view = host.devices[CLIENTS["fay"]].session.rooms[ROOM]
    deliveries = Deliveries(host)

    @settings(max_examples=ITERATIONS, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=512))
    def one(body: bytes) -> None:
        what = body.hex()
        fuzz.call(f"update {what}", hub_state, update_refused, hub.update, ROOM, FOLLOWER, body, 1)
        fuzz.call(f"submit {what}", hub_state, submit_refused, hub.submit_many, ROOM, FOLLOWER, [body], 1)
        fuzz.call(f"groupInfo {what}", hub_state, lambda _: True, hub.group_info, ROOM, FOLLOWER, body)
        fuzz.call(f"keyMaterial {what}", hub_state, key_material_refused, hub.key_material, ROOM, FOLLOWER, body)
        fuzz.call(f"provider keyMaterial {what}", provider_state, key_material_refused, server.key_material, HUB, body)
        follower = Follower.restore(server.follower.export())
        fuzz.call(f"notify {what}", follower.export, lambda _: False, next_notify, follower, upto, 1, body)
        last = view.last_sequence
        pushed = (CLIENTS["fay"], ROOM, last + 1, last, body)
        fuzz.call(f"deliver {what}", device_state, deliveries.refused, deliveries.deliver, view, pushed)

    one()
    print(fuzz)
    c.drain()
    still_works(c, "hypothesis")
