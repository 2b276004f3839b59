"""Damaged storage is refused, never started afresh: for each store (hub,
follower, KeyPackages, client) an empty file, a truncated one, deleted rows,
damaged pages, a read-only database, -wal or -shm, and damaged records each
raise StorageError naming the file, and leave the file as it was.

Each store's `load` reads what its owner reads at start and pages through its
logs, as a restart and the resends after it do."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from mimi import _core, content
from mimi.actors.client import ClientHost, Device
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import StorageError
from mimi.logic.client import ClientSession, proposal_bundle
from mimi.logic.follower import Rows
from mimi.policy.presets import PRESETS
from mimi.storage import (
    ClientStore,
    DataDir,
    Delivery,
    FollowerStore,
    HistoryEntry,
    HubStore,
    KeyPackageStore,
    LogEvent,
    SentMessage,
)
from netsim import HUB, Wire, hosted_room, token

ROOM = "mimi://y.example/r/damage"
CLIENTS = [f"mimi://f.example/d/c{i}/phone" for i in range(3)]
EVENTS = 600  # of 1 KiB: the log is most of the file, so its middle is a log page


def body(sequence: int) -> bytes:
    return sequence.to_bytes(4, "big") * 256


def fill_hub(path: Path) -> None:
    with HubStore(path) as hub:
        hub.save_secret("external-sender-key", b"k" * 32)
        hub.save_state(ROOM, b"state")
        for first in range(1, EVENTS + 1, 100):
            hub.append_events(ROOM, [LogEvent(s, s, body(s)) for s in range(first, first + 100)])


def load_hub(path: Path) -> None:
    with HubStore(path) as hub:
        for room in hub.rooms():
            hub.load_state(room)
            after = 0
            while page := hub.events_since(room, after, 100):
                after = page[-1].sequence
            assert after == hub.last_sequence(room)


def fill_follower(path: Path) -> None:
    with FollowerStore(path) as follower:
        with follower.transaction():
            follower.save_logic_state(b"logic", Rows(
                [(ROOM, EVENTS, EVENTS)], [(ROOM, c, 0, None) for c in CLIENTS], [(ROOM, EVENTS + 1, b"batch")], [(b"ref", CLIENTS[0])]
            ))
            follower.follow_room(ROOM)
        for first in range(1, EVENTS + 1, 100):
            follower.receive(ROOM, [Delivery(s, body(s), CLIENTS) for s in range(first, first + 100)])


def load_follower(path: Path) -> None:
    with FollowerStore(path) as follower:
        follower.load_logic_state()
        follower.check_logic_rows()
        for room in follower.rooms():
            follower.delivered_upto(room)
            for client in CLIENTS:
                after = 0
                while page := follower.fetch_inbox(client, room, after, 100):
                    after = page[-1].sequence


def fill_key_packages(path: Path) -> None:
    with KeyPackageStore(path) as kps:
        for client in CLIENTS:
            kps.publish(client, [(f"{client} {i}".encode(), body(i)) for i in range(EVENTS // len(CLIENTS))])


def load_key_packages(path: Path) -> None:
    with KeyPackageStore(path) as kps:
        for client in CLIENTS:
            kps.remaining(client)


def fill_client(path: Path) -> None:
    with ClientStore(path) as client, client.transaction():
        client.save_state(b"mls")
        client.add_messages(ROOM, [HistoryEntry(s, s, CLIENTS[0], body(s)) for s in range(1, EVENTS + 1)])
        client.save_sent([SentMessage(b"id", ROOM, b"content", b"ciphertext", 1, False)], [], [])


def load_client(path: Path) -> None:
    with ClientStore(path) as client:
        client.load_state()
        client.sent()
        for room in client.rooms():
            after = 0
            while page := client.messages(room, after, 100):
                after = page[-1].sequence


@dataclass(frozen=True)
class Kind:
    name: str
    fill: Callable[[Path], None]
    load: Callable[[Path], None]


KINDS = [
    Kind("hub", fill_hub, load_hub),
    Kind("follower", fill_follower, load_follower),
    Kind("key packages", fill_key_packages, load_key_packages),
    Kind("client", fill_client, load_client),
]


def files(path: Path) -> dict[str, bytes]:
    """The database and its -wal as they are on disk (the -shm is an index SQLite
    rebuilds from the -wal: readers write it)."""
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()}


def refused(path: Path, load: Callable[[], object], match: str) -> None:
    """`load()` raises StorageError naming the file `path`, which stays as it was, and
    so does its -wal if it had one (an owner that failed to start may leave an empty
    -wal behind, which holds no data)."""
    before = files(path)
    with pytest.raises(StorageError) as raised:
        load()
    message = str(raised.value)
    assert str(path) in message
    assert re.search(match, message.replace(str(path), "<file>")), message  # not in the file's name
    after = files(path)
    assert {name: after.get(name) for name in before} == before
    assert f"{path.name}-wal" in before or not after.get(f"{path.name}-wal")


def edit(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Rows changed behind the store's back (as a tool, a bug or lost writes would)."""
    db = sqlite3.connect(path)
    with db:
        for sql, params in statements:
            db.execute(sql, params)
    db.close()


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Kind, Path]]:
    path = tmp_path / "db.sqlite3"
    request.param.fill(path)
    request.param.load(path)  # whole, it loads
    yield request.param, path


# ---------------------------------------------------------------- the file


def test_an_empty_file_is_refused_not_started_afresh(kind: tuple[Kind, Path]) -> None:
    k, path = kind
    path.write_bytes(b"")
    refused(path, lambda: k.load(path), r"the file is empty \(0 bytes\)")
    assert os.listdir(path.parent) == [path.name]


@pytest.mark.parametrize("cut", ["half", "a partial page"])
def test_a_truncated_file_is_refused(kind: tuple[Kind, Path], cut: str) -> None:
    k, path = kind
    size = path.stat().st_size
    os.truncate(path, size // 2 // 4096 * 4096 if cut == "half" else size - 100)
    refused(path, lambda: k.load(path), "truncated")


def test_a_damaged_page_is_refused(kind: tuple[Kind, Path]) -> None:
    k, path = kind
    pages = path.stat().st_size // 4096
    with path.open("r+b") as file:
        file.seek(pages // 2 * 4096)
        file.write(b"\xa5" * 4096)
    refused(path, lambda: k.load(path), "damaged|malformed")


@pytest.mark.parametrize("name", ["hub", "key packages", "client"])
def test_a_page_that_lost_cells_is_refused_not_read_as_fewer_rows(tmp_path: Path, name: str) -> None:
    """Damage SQLite cannot see when it reads the page: a b-tree page whose cell count
    is halved. The stores' checks find it (sequence continuity, `quick_check` of what a
    store loads whole). Not yet for the follower: its inboxes' cursors (a row per client
    and room) are read per client, not at start, and a lost one is found only by a
    full `quick_check` (too slow to run at each start on a server's file)."""
    k = next(k for k in KINDS if k.name == name)
    whole = tmp_path / "whole.sqlite3"
    k.fill(whole)
    data = whole.read_bytes()
    btree_pages = [
        offset for offset in range(4096, len(data), 4096)
        if data[offset] in (0x02, 0x05, 0x0A, 0x0D) and int.from_bytes(data[offset + 3 : offset + 5], "big") > 1
    ]
    table_leaves = [offset for offset in btree_pages if data[offset] == 0x0D]
    for offset in [offset for offset in btree_pages if data[offset] != 0x0D] + table_leaves[::10]:
        path = tmp_path / f"page {offset // 4096}.sqlite3"
        cells = int.from_bytes(data[offset + 3 : offset + 5], "big")
        path.write_bytes(data[: offset + 3] + (cells // 2).to_bytes(2, "big") + data[offset + 5 :])
        refused(path, lambda: k.load(path), "damaged|malformed")  # noqa: B023 (called at once)


@pytest.mark.parametrize("which", ["", "-wal", "-shm"])
def test_a_read_only_file_is_refused_before_sqlite_maps_it(kind: tuple[Kind, Path], which: str) -> None:
    k, path = kind
    # A writer that was killed leaves its -wal and -shm behind.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("CREATE TABLE IF NOT EXISTS scratch (x)")  # a commit: -wal and -shm exist
    target = Path(f"{path}{which}")
    assert target.exists()
    target.chmod(0o444)
    try:
        refused(path, lambda: k.load(path), "read-only")
    finally:
        target.chmod(0o644)
        holder.close()


def test_a_wal_without_its_database_is_refused(kind: tuple[Kind, Path]) -> None:
    k, path = kind
    Path(f"{path}-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    path.unlink()
    refused(path, lambda: k.load(path), "present but the database file is not")


def test_a_new_file_appears_whole(tmp_path: Path) -> None:
    """Zero configuration: an absent file is created with the schema, nothing left beside it."""
    for k in KINDS:
        path = tmp_path / k.name / "db.sqlite3"
        path.parent.mkdir()
        k.load(path)
        assert sorted(os.listdir(path.parent)) == ["db.sqlite3"]
        k.fill(path)
        k.load(path)


# ---------------------------------------------------------------- rows


DELETED = [
    ("hub", load_hub, "DELETE FROM hub_events WHERE sequence = 300", "events missing after sequence 200"),
    ("hub", load_hub, f"DELETE FROM hub_events WHERE sequence = {EVENTS}", f"the log ends at {EVENTS - 1}, {EVENTS} were logged"),
    ("hub", load_hub, "DELETE FROM hub_events", f"the log ends at 0, {EVENTS} were logged"),
    ("hub", load_hub, "DELETE FROM hub_rooms", "has rows in hub_events but none here"),
    ("follower", load_follower, "DELETE FROM follower_logic", "the follower's state is missing"),
    ("follower", load_follower, "DELETE FROM follower_events WHERE sequence = 300", "event 300 of .* inbox is missing"),
    ("follower", load_follower, f"DELETE FROM follower_events WHERE sequence = {EVENTS}", f"event {EVENTS}, delivered, is missing"),
    ("follower", load_follower, "DELETE FROM follower_rooms", "has rows in follower_events but none here"),
    ("follower", load_follower, "DELETE FROM follower_logic_rooms", "follower_logic_rooms: damaged: .* has rows in follower_members"),
    ("follower", load_follower, "DELETE FROM follower_logic_rooms; DELETE FROM follower_members", "has rows in follower_waiting but none here"),
    ("follower", load_follower, "DELETE FROM follower_logic_rooms; DELETE FROM follower_members; DELETE FROM follower_waiting",
     "has rows in follower_rooms but none here"),
    ("client", load_client, "DELETE FROM client_state", "the MLS state is missing"),
]
# KeyPackages: a deleted row cannot be told from one never published (and a claimed one
# stays unclaimable: its ref can only come back with the same KeyPackage, republished).


@pytest.mark.parametrize(("name", "load", "sql", "match"), DELETED, ids=[f"{n}: {s}" for n, _, s, _ in DELETED])
def test_deleted_rows_are_refused_not_read_as_less(
    tmp_path: Path, name: str, load: Callable[[Path], None], sql: str, match: str
) -> None:
    path = tmp_path / "db.sqlite3"
    next(k for k in KINDS if k.name == name).fill(path)
    edit(path, *((statement, ()) for statement in sql.split("; ")))
    refused(path, lambda: load(path), match)


def test_sent_messages_without_the_state_they_came_with_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill_client(path)
    edit(path, ("DELETE FROM client_state", ()), ("DELETE FROM client_history", ()))
    refused(path, lambda: load_client(path), "the MLS state is missing, and the history or sent messages are not")


# ---------------------------------------------------------------- records, as the servers and devices load them


@pytest.fixture
def hub_dir(tmp_path: Path) -> Path:
    hub, sender, _ = hosted_room(tmp_path, ROOM)
    hub.submit_many(ROOM, "mimi://x.example", [sender.send(ROOM, content.message(content.text_part(t)))[0] for t in "ab"], 5)
    hub.store.close()
    return tmp_path




@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE hub_rooms SET state = x'82a4726f6f6d'", f"hub_rooms '{ROOM}': damaged record \\(DecodeError"),
        ("UPDATE hub_rooms SET state = x'c1'", f"hub_rooms '{ROOM}': damaged record"),
        ("UPDATE hub_events SET body = x'81a164c0' WHERE sequence = 3", f"hub_events \\('{ROOM}', 3\\): damaged record"),
        ("UPDATE hub_events SET body = x'82a164c0a16dc0' WHERE sequence = 3", f"hub_events \\('{ROOM}', 3\\): damaged record"),
        ("UPDATE hub_secrets SET value = x'00'", "hub_secrets 'external-sender-key': damaged record"),
        ("DELETE FROM hub_secrets", "the external-sender key is missing"),
        # A follower's cursor is saved with the log rows it counts (`HubStore.cursors`).
        ("UPDATE hub_cursors SET last = last + 1", "hub_cursors: damaged: .* pending in \\(\\d+, 5\\], the log ends at 4"),
        ("UPDATE hub_cursors SET pending = pending + 1", "hub_cursors: damaged: .* pending in \\(\\d+, 4\\], the log ends at 4"),
        (f"UPDATE hub_cursors SET room_id = '{ROOM}/lost'", "has rows in hub_cursors but none here"),
        # The room's snapshot (state and answers indexed) is saved with the log rows it covers.
        ("UPDATE hub_rooms SET indexed_upto = 5", f"hub_rooms: damaged: room '{ROOM}': answers indexed up to 5, the log ends at 4"),
        ("UPDATE hub_rooms SET indexed_upto = 0", f"room '{ROOM}': a commit logged at 1, after the answers indexed up to 0"),
    ],
)
def test_a_hub_refuses_damaged_records(hub_dir: Path, sql: str, match: str) -> None:
    path = DataDir(hub_dir).server(HUB)
    edit(path, (sql, ()))
    refused(path, lambda: RoomHub(HUB, str(hub_dir), Wire()), match)


def test_a_room_state_older_than_its_log_is_refused(tmp_path: Path) -> None:
    """The room's state is saved with each handshake it logs: one from before a logged
    proposal (a lost write, a backup of the row) is refused, not replayed over."""
    hub, sender, _ = hosted_room(tmp_path, ROOM)
    before = hub.store.load_state(ROOM)
    leave = hub.update(ROOM, "mimi://x.example", proposal_bundle(sender.propose_leave(ROOM)), 5)
    assert _core.UpdateResponse.decode(leave).response_code == "success"
    hub.store.close()
    path = DataDir(tmp_path).server(HUB)
    edit(path, ("UPDATE hub_rooms SET state = ?", (before,)))
    refused(path, lambda: RoomHub(HUB, str(tmp_path), Wire()), f"room '{ROOM}': the state saved at 2 is older than the proposal logged at 3")


def retyped(path: Path, table: str, sql: str) -> None:
    """`sql` run on `table` as if it were not STRICT: a record of the wrong type, as a
    damaged record header would read."""
    db = sqlite3.connect(path)
    (strict,) = db.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (table,)).fetchone()
    db.close()
    for schema in (strict.replace(") STRICT", ")"), strict):
        edit(path, ("PRAGMA writable_schema = ON", ()), ("UPDATE sqlite_schema SET sql = ? WHERE name = ?", (schema, table)))
        if schema != strict:
            edit(path, (sql, ()))


def test_a_record_of_the_wrong_type_is_refused_not_coerced(hub_dir: Path, tmp_path: Path) -> None:
    """An integer where a key is stored is never read as `bytes(n)`, n zero bytes (a key
    all the same): on open for what a store checks, else when read."""
    path = DataDir(hub_dir).server(HUB)
    retyped(path, "hub_secrets", "UPDATE hub_secrets SET value = 32")
    refused(path, lambda: RoomHub(HUB, str(hub_dir), Wire()), "hub_secrets is damaged: non-BLOB value")

    path = tmp_path / "answers.sqlite3"
    with HubStore(path) as hub:
        hub.save_state(ROOM, b"s")
        hub.append_events(ROOM, [LogEvent(1, 1, b"e")])
        hub.index_answers(ROOM, [(b"k" * 32, b"answer")], 1)
    retyped(path, "hub_answers", "UPDATE hub_answers SET answer = 32")

    def look_up() -> None:
        with HubStore(path) as hub:
            hub.answers(ROOM, [b"k" * 32])

    refused(path, look_up, "hub_answers: damaged: .*int where bytes are stored")


PROVIDER = "mimi://f.example"


@pytest.fixture
def provider_dir(tmp_path: Path) -> Path:
    client = _core.Client("mimi://h.example/d/hal/phone")
    group = client.create_group(b"damage", _core.SignatureKeyPair.generate().public, "mimi://h.example")
    fanouts = [_core.FanoutMessage(1_700_000_000_000 + i, group.encrypt(b"m")) for i in range(3)]
    server = ProviderServer(PROVIDER, str(tmp_path))
    for c in CLIENTS:
        server.subscribe(ROOM, c, token(server, c))
    server.notify(ROOM, HUB, 0, [1, 2, 3], _core.encode_notify(fanouts))
    for c in CLIENTS:
        server.register(c, token(server, c), "host")  # after the notify: no host to push to without Ray
    device = _core.Client(CLIENTS[0])
    server.publish_key_packages(CLIENTS[0], token(server, CLIENTS[0]), device.key_packages(2), device.last_resort_key_package())
    stop(server)
    return tmp_path


def stop(server: ProviderServer) -> None:
    server.inbox.close()
    server.key_packages.close()


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE follower_logic SET state = x'93'", "follower_logic 1: damaged record"),
        ("UPDATE follower_logic SET state = x'82a8666f6c6c6f776572c0a5686f737473c0'", "follower_logic 1: damaged record"),
    ],
)
def test_a_follower_refuses_damaged_records(provider_dir: Path, sql: str, match: str) -> None:
    path = DataDir(provider_dir).server(PROVIDER)
    edit(path, (sql, ()))
    refused(path, lambda: ProviderServer(PROVIDER, str(provider_dir)), match)


@pytest.mark.parametrize(
    ("column", "damage"),
    [("body", b"\xc1"), ("body", msgpack.packb(["2", b"m"])), ("body", msgpack.packb([2]))]
    + [("audience", audience) for audience in ('["only"', '["some", []]', '["skip", [1]]')],
)
def test_a_followers_inbox_refuses_damaged_events(provider_dir: Path, column: str, damage: bytes | str) -> None:
    path = DataDir(provider_dir).server(PROVIDER)
    edit(path, (f"UPDATE follower_events SET {column} = ? WHERE sequence = 2", (damage,)))
    server = ProviderServer(PROVIDER, str(provider_dir))
    refused(path, lambda: server.missed(CLIENTS[0], token(server, CLIENTS[0]), ROOM, 0), f"follower_events \\('{ROOM}', 2\\): damaged record")
    stop(server)


@pytest.mark.parametrize("last_resort", [False, True], ids=["single-use", "last-resort"])
def test_a_damaged_key_package_is_not_handed_out(provider_dir: Path, last_resort: bool) -> None:
    path = DataDir(provider_dir).server(PROVIDER)
    db = sqlite3.connect(path)
    ref, key_package = db.execute(
        "SELECT ref, key_package FROM key_packages WHERE last_resort = ? ORDER BY rowid LIMIT 1", (int(last_resort),)
    ).fetchone()
    db.close()
    edit(path, ("UPDATE key_packages SET key_package = ? WHERE ref = ?", (key_package[:-1] + bytes([key_package[-1] ^ 0xFF]), ref)))
    if last_resort:  # the single-use ones are gone: the last-resort one is what a claim gets
        edit(path, ("UPDATE key_packages SET claimed = 1 WHERE last_resort = 0", ()))
    requester, key = "mimi://r.example/u/rita", _core.SignatureKeyPair.generate()
    request = _core.KeyMaterialRequest(
        requester, "mimi://f.example/u/c0", ROOM, [1], b"\x00\x00\x00", key.public, _core.basic_credential(requester)
    ).signed(key.private)
    server = ProviderServer(PROVIDER, str(provider_dir))
    remaining = server.key_packages.remaining(CLIENTS[0])
    refused(path, lambda: server.key_material("mimi://y.example", request.encode()), "key_packages '[0-9a-f]+': damaged record")
    assert server.key_packages.remaining(CLIENTS[0]) == remaining  # the claim was not committed
    stop(server)


def client_dir(tmp_path: Path, history: bytes) -> Path:
    """A device's database with one room and one message of `history`, written as
    `ClientHost` writes it."""
    data = DataDir(tmp_path)
    session = ClientSession(_core.Client(CLIENTS[0]))
    state = PRESETS["cooperative"].new_room(session.user, ROOM, hub=HUB, members=[session.uri])
    session.create_room(ROOM, b"damage", _core.SignatureKeyPair.generate().public, HUB, state)
    session.rooms[ROOM].last_sequence = 1
    store = ClientStore(data.client(CLIENTS[0]))
    device = Device(session, store, PROVIDER, b"", {}, unsaved={ROOM: [HistoryEntry(1, 1, CLIENTS[1], history)]})
    ClientHost._save(object.__new__(ClientHost), device)
    store.close()
    return tmp_path


def test_a_device_refuses_a_damaged_state(tmp_path: Path) -> None:
    directory = client_dir(tmp_path, content.encode(content.message(content.text_part("hi"))))
    path = DataDir(directory).client(CLIENTS[0])
    with ClientStore(path) as store:
        record = msgpack.unpackb(store.load_state())
    for damaged in (b"\x92", msgpack.packb({**record, "mls": record["mls"][:-9]}), msgpack.packb({**record, "rooms": {ROOM: b"?"}})):
        edit(path, ("UPDATE client_state SET state = ?", (damaged,)))
        refused(path, lambda: ClientHost("host", {CLIENTS[0]: b""}, str(directory)), "client_state 1: damaged record")


def test_a_device_refuses_damaged_history(tmp_path: Path) -> None:
    directory = client_dir(tmp_path, b"\xff not CBOR")
    path = DataDir(directory).client(CLIENTS[0])
    refused(path, lambda: ClientHost("host", {CLIENTS[0]: b""}, str(directory)), f"client_history \\('{ROOM}', 1\\): damaged record \\(DecodeError")
