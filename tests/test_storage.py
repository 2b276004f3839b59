"""The SQLite stores: round trips, group commit, dedupe, single-use claims,
durability across a killed process, and refusal of bad input that changes nothing."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mimi.errors import StorageError
from mimi.storage import (
    ClientStore,
    DataDir,
    Delivery,
    FollowerStore,
    HistoryEntry,
    HubStore,
    InboxEvent,
    KeyPackageStore,
    LogEvent,
    SentMessage,
)
from mimi.storage.schema import (
    CLIENT,
    FOLLOWER_AUDIENCE,
    FOLLOWER_CURSORS,
    FOLLOWER_LOGIC_ROWS,
    FOLLOWER_PENDING,
    HUB_ANSWERS,
    HUB_CURSORS,
    HUB_INDEXED,
    HUB_LOG_END,
    KEY_PACKAGE_CLAIMS,
    SERVER,
)

ROOM = "mimi://a.example/r/clubhouse"
ALICE = "mimi://a.example/d/alice/phone"
BOB = "mimi://b.example/d/bob/laptop"


def events(first: int, count: int, size: int = 16) -> list[LogEvent]:
    return [LogEvent(s, 1_700_000_000_000 + s, s.to_bytes(4, "big") * (size // 4)) for s in range(first, first + count)]


def run(script: str, *args: object) -> None:
    """Run `script` in a fresh interpreter (another process on the same file)."""
    subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], check=True, timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> Path:
    return DataDir(tmp_path).server("mimi://a.example")


@pytest.fixture
def hub(server: Path) -> Any:
    with HubStore(server) as store:
        yield store


@pytest.fixture
def follower(server: Path) -> Any:
    with FollowerStore(server) as store:
        yield store


@pytest.fixture
def kps(server: Path) -> Any:
    with KeyPackageStore(server) as store:
        yield store


# ---------------------------------------------------------------- hub


def test_hub_state_and_log_round_trip(server: Path) -> None:
    with HubStore(server) as hub:
        assert hub.load_state(ROOM) is None and hub.last_sequence(ROOM) == 0
        hub.save_state(ROOM, b"epoch 1")
        hub.save_state(ROOM, b"epoch 2")
        assert hub.append_events(ROOM, events(1, 3)) == 3
        assert hub.append_events(ROOM, events(4, 2)) == 5
    with HubStore(server) as hub:
        assert hub.rooms() == [ROOM]
        assert hub.load_state(ROOM) == b"epoch 2"
        assert hub.last_sequence(ROOM) == 5
        assert hub.events_since(ROOM, 0, 100) == events(1, 5)
        assert hub.events_since(ROOM, 3, 1) == events(4, 1)
        assert hub.events_since(ROOM, 5, 10) == []


def test_hub_group_commit_of_10000_events(hub: HubStore) -> None:
    hub.save_state(ROOM, b"s")
    batch = events(1, 10_000, 1024)
    assert hub.append_events(ROOM, batch) == 10_000
    assert hub.events_since(ROOM, 0, 20_000) == batch
    assert hub.events_since(ROOM, 9_998, 5) == batch[-2:]


def test_hub_rooms_have_separate_sequences(hub: HubStore) -> None:
    other = "mimi://b.example/r/lounge"
    for room in (ROOM, other):
        hub.save_state(room, room.encode())
    hub.append_events(ROOM, events(1, 3))
    hub.append_events(other, events(1, 1))
    assert (hub.last_sequence(ROOM), hub.last_sequence(other)) == (3, 1)


@pytest.mark.parametrize("first", [0, 1, 3])
def test_hub_refuses_a_gap_or_a_repeat_whole(hub: HubStore, first: int) -> None:
    hub.save_state(ROOM, b"s")
    hub.append_events(ROOM, events(1, 1))
    with pytest.raises(StorageError, match="is next"):
        hub.append_events(ROOM, events(first, 3))
    with pytest.raises(StorageError, match="is next"):
        hub.append_events(ROOM, events(2, 2) + events(5, 1))
    assert hub.events_since(ROOM, 0, 10) == events(1, 1)


def test_hub_cursors_are_one_row_per_room_and_follower(server: Path) -> None:
    other = "mimi://b.example/r/lounge"
    with HubStore(server) as hub:
        for room, logged in ((ROOM, 3), (other, 1)):  # a cursor counts events of a room's log
            hub.save_state(room, b"state")
            hub.append_events(room, events(1, logged))
        hub.save_cursors([(ROOM, "mimi://b.example", 0, 3, 3), (other, "mimi://b.example", 1, 0, 1)])
        hub.save_cursors([(ROOM, "mimi://b.example", 2, 1, 3), (ROOM, "mimi://c.example", 0, 1, 2)])
    with HubStore(server) as hub:
        assert hub.cursors() == [
            (ROOM, "mimi://b.example", 2, 1, 3), (ROOM, "mimi://c.example", 0, 1, 2), (other, "mimi://b.example", 1, 0, 1)
        ]


def test_hub_events_need_a_room(hub: HubStore) -> None:
    with pytest.raises(StorageError, match="save_state first"):
        hub.append_events(ROOM, events(1, 1))


def test_state_and_events_commit_together_or_not_at_all(hub: HubStore) -> None:
    hub.save_state(ROOM, b"epoch 1")
    with hub.transaction():
        hub.save_state(ROOM, b"epoch 2")
        hub.append_events(ROOM, events(1, 2))
    with pytest.raises(RuntimeError), hub.transaction():
        hub.save_state(ROOM, b"epoch 3")
        hub.append_events(ROOM, events(3, 2))
        raise RuntimeError("the send failed")
    assert hub.load_state(ROOM) == b"epoch 2"
    assert hub.last_sequence(ROOM) == 2


def test_a_refused_call_inside_a_transaction_undoes_only_itself(hub: HubStore) -> None:
    with hub.transaction():
        hub.save_state(ROOM, b"s")
        hub.append_events(ROOM, events(1, 2))
        with pytest.raises(StorageError):
            hub.append_events(ROOM, [*events(3, 1), LogEvent(9, 0, b"gap")])
        hub.append_events(ROOM, events(3, 1))
    assert hub.events_since(ROOM, 0, 10) == events(1, 3)


def test_hub_answers_are_indexed_until_the_epoch_ends(hub: HubStore) -> None:
    hub.save_state(ROOM, b"s")
    hub.append_events(ROOM, events(1, 4))
    assert hub.answers_indexed(ROOM) == (0, False)
    answers = [(hashlib.sha256(b"%d" % i).digest(), b"answer %d" % i) for i in range(3)]
    hub.index_answers(ROOM, answers, 3)
    assert hub.answers_indexed(ROOM) == (3, True)
    assert hub.answers(ROOM, [answers[2][0], b"other", answers[0][0]]) == dict([answers[2], answers[0]])
    assert hub.answers("mimi://b.example/r/lounge", [answers[0][0]]) == {}
    with pytest.raises(StorageError, match="UNIQUE constraint failed"):
        hub.index_answers(ROOM, answers[:1], 4)  # a key answered twice: a bug, refused whole
    with pytest.raises(StorageError, match="answers up to 5, but the log ends at 4"):
        hub.index_answers(ROOM, [(b"k", b"a")], 5)
    assert hub.answers_indexed(ROOM) == (3, True)
    hub.drop_answers(ROOM, 4)
    assert hub.answers_indexed(ROOM) == (4, False) and hub.answers(ROOM, [k for k, _ in answers]) == {}


# ---------------------------------------------------------------- follower


def deliveries(first: int, count: int, recipients: tuple[str, ...] = (ALICE, BOB)) -> list[Delivery]:
    return [Delivery(e.sequence, e.body, recipients) for e in events(first, count)]


def inbox(first: int, count: int) -> list[InboxEvent]:
    return [InboxEvent(d.sequence, d.body) for d in deliveries(first, count)]


def test_follower_delivers_in_order_per_client(follower: FollowerStore) -> None:
    assert follower.follow_room(ROOM) == 0
    assert follower.receive(ROOM, deliveries(1, 3) + deliveries(4, 1, (BOB,))) == 4
    assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(1, 3)
    assert follower.fetch_inbox(BOB, ROOM, 0, 10) == inbox(1, 4)
    assert follower.fetch_inbox(BOB, ROOM, 1, 2) == inbox(2, 2)
    assert follower.fetch_inbox("mimi://b.example/d/carol/tv", ROOM, 0, 10) == []
    assert follower.rooms() == [ROOM]


def test_follower_buffers_a_gap_across_restart(server: Path) -> None:
    with FollowerStore(server) as follower:
        follower.follow_room(ROOM, after=10)  # joined a running room
        assert follower.receive(ROOM, deliveries(11, 1) + deliveries(14, 2)) == 11
        assert follower.buffered_sequences(ROOM) == [14, 15]
        assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(11, 1)
    with FollowerStore(server) as follower:
        assert follower.delivered_upto(ROOM) == 11
        assert follower.follow_room(ROOM) == 11  # following again changes nothing
        assert follower.receive(ROOM, deliveries(13, 1)) == 11
        assert follower.receive(ROOM, deliveries(12, 1)) == 15
        assert follower.buffered_sequences(ROOM) == []
        assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(11, 5)


def test_follower_dedupe(follower: FollowerStore) -> None:
    follower.follow_room(ROOM)
    follower.receive(ROOM, deliveries(1, 2, (ALICE,)))
    # A byte-identical repeat (inside a batch and across batches) is stored once.
    assert follower.receive(ROOM, deliveries(2, 2, (ALICE,)) + deliveries(3, 1, (ALICE,))) == 3
    assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(1, 3)
    # Another body for a stored sequence refuses the whole batch.
    with pytest.raises(StorageError, match="sequence=2 is stored already with other content"):
        follower.receive(ROOM, [*deliveries(4, 1), Delivery(2, b"forged", (ALICE,))])
    assert follower.delivered_upto(ROOM) == 3
    assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(1, 3)
    assert follower.fetch_inbox(BOB, ROOM, 0, 10) == []


def test_follower_refuses_unknown_rooms_and_old_sequences(follower: FollowerStore) -> None:
    with pytest.raises(StorageError, match="not followed"):
        follower.receive(ROOM, deliveries(1, 1))
    with pytest.raises(StorageError, match="not followed"):
        follower.delivered_upto(ROOM)
    follower.follow_room(ROOM, after=5)
    with pytest.raises(StorageError, match="not after the start 5"):
        follower.receive(ROOM, deliveries(5, 2))
    assert follower.delivered_upto(ROOM) == 5


def test_follower_batch_of_many_events_and_clients(follower: FollowerStore) -> None:
    clients = tuple(f"mimi://b.example/d/user{i}/phone" for i in range(50))
    follower.follow_room(ROOM)
    assert follower.receive(ROOM, deliveries(1, 1_000, clients)) == 1_000
    assert follower.fetch_inbox(clients[-1], ROOM, 990, 100) == inbox(991, 10)


# ---------------------------------------------------------------- KeyPackages


def key_packages(client: str, count: int) -> list[tuple[bytes, bytes]]:
    kps = [f"{client} kp {i}".encode() for i in range(count)]
    return [(hashlib.sha256(kp).digest(), kp) for kp in kps]


def test_key_packages_are_single_use(kps: KeyPackageStore) -> None:
    published = key_packages(ALICE, 3)
    kps.publish(ALICE, published)
    kps.publish(BOB, key_packages(BOB, 1))
    assert kps.remaining(ALICE) == 3
    assert [kps.claim(ALICE) for _ in range(4)] == [*published, None]
    assert kps.remaining(ALICE) == 0 and kps.remaining(BOB) == 1
    kps.publish(ALICE, published)  # a retried upload does not make them claimable again
    assert kps.claim(ALICE) is None


def test_last_resort_key_package(kps: KeyPackageStore) -> None:
    single, old, new = key_packages(ALICE, 3)
    kps.publish(ALICE, [old], last_resort=True)
    kps.publish(ALICE, [new], last_resort=True)  # replaces the old one
    kps.publish(ALICE, [single])
    assert kps.claim(ALICE) == single
    assert kps.claim(ALICE) == new and kps.claim(ALICE) == new
    assert kps.remaining(ALICE) == 0
    with pytest.raises(StorageError, match="one last-resort"):
        kps.publish(ALICE, [old, single], last_resort=True)


def test_a_ref_names_one_key_package(kps: KeyPackageStore) -> None:
    ref, kp = key_packages(ALICE, 1)[0]
    kps.publish(ALICE, [(ref, kp)])
    with pytest.raises(StorageError, match="other content"):
        kps.publish(BOB, [(ref, kp)])
    with pytest.raises(StorageError, match="other content"):
        kps.publish(ALICE, [(ref, b"another")])
    assert kps.remaining(BOB) == 0 and kps.claim(ALICE) == (ref, kp)


CLAIMER = """
    import sys
    from mimi.storage import KeyPackageStore
    with KeyPackageStore(sys.argv[1]) as store, open(sys.argv[2], "w") as out:
        while (claimed := store.claim(sys.argv[3])) is not None:
            out.write(claimed.ref.hex() + "\\n")
"""


def test_claims_race_across_processes_without_handing_one_out_twice(server: Path, tmp_path: Path) -> None:
    published = key_packages(ALICE, 300)
    with KeyPackageStore(server) as kps:
        kps.publish(ALICE, published)
    outs = [tmp_path / f"claims{i}.txt" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CLAIMER), str(server), str(out), ALICE]) for out in outs]
    with KeyPackageStore(server) as kps:  # and this process claims too
        mine = []
        while (claimed := kps.claim(ALICE)) is not None:
            mine.append(claimed.ref.hex())
    assert all(p.wait(timeout=60) == 0 for p in procs)
    claims = mine + [line for out in outs for line in out.read_text().split()]
    assert sorted(claims) == sorted(ref.hex() for ref, _ in published)


# ---------------------------------------------------------------- client


def test_client_state_and_history(tmp_path: Path) -> None:
    path = DataDir(tmp_path).client(ALICE)
    history = [HistoryEntry(s, 1_700_000_000_000 + s, BOB, b"hi %d" % s) for s in (3, 4, 7)]
    with ClientStore(path) as client:
        assert client.load_state() is None
        with client.transaction():
            assert client.add_messages(ROOM, history[:2]) == 2
            client.save_state(b"mls 1")
        assert client.add_messages(ROOM, history[1:]) == 1
        client.save_state(b"mls 2")
        with pytest.raises(StorageError, match="other content"):
            client.add_messages(ROOM, [history[0]._replace(sender=ALICE)])
    with ClientStore(path) as client:
        assert client.load_state() == b"mls 2"
        assert client.rooms() == [ROOM]
        assert client.messages(ROOM, 0, 10) == history
        assert client.messages(ROOM, 3, 1) == history[1:2]


def test_client_sent_messages_keep_their_order_through_updates(tmp_path: Path) -> None:
    path = DataDir(tmp_path).client(ALICE)
    one, two, three = (SentMessage(b"id%d" % i, ROOM, b"content %d" % i, b"ct %d" % i, 1, False) for i in range(3))
    with ClientStore(path) as client:
        client.save_sent([one, two, three], [], [])
        # Two is encrypted again (a new ciphertext), one is answered, three fanned back.
        client.save_sent([two._replace(ciphertext=b"ct 2'", attempts=2)], [b"id0"], [b"id2"])
        with pytest.raises(StorageError, match="attempts"):
            client.save_sent([three._replace(attempts=0)], [], [])
    with ClientStore(path) as client:
        assert client.sent() == [one._replace(answered=True), two._replace(ciphertext=b"ct 2'", attempts=2)]


def test_a_version_1_client_file_is_migrated(tmp_path: Path) -> None:
    path = DataDir(tmp_path).client(ALICE)

    class ClientStoreV1(ClientStore):
        schema = replace(CLIENT, version=1, ddl=CLIENT.ddl.replace(CLIENT.migrations[2], ""), migrations={})
        checked = ("client_state", "client_history")

    with ClientStoreV1(path) as old:
        old.save_state(b"mls")
    with ClientStore(path) as client:
        assert client.load_state() == b"mls" and client.sent() == []


# ---------------------------------------------------------------- durability


CRASH = """
    import os, sys
    from mimi.storage import ClientStore, HubStore, KeyPackageStore, LogEvent
    server, client = sys.argv[1], sys.argv[2]
    hub = HubStore(server)
    with hub.transaction():
        hub.save_state("room", b"state")
        hub.append_events("room", [LogEvent(s, s, b"x" * 1024) for s in range(1, 1001)])
    kps = KeyPackageStore(server)
    kps.publish("alice", [(b"ref1", b"kp1"), (b"ref2", b"kp2")])
    assert kps.claim("alice") == (b"ref1", b"kp1")
    ClientStore(client).save_state(b"mls state")
    hub.save_state("uncommitted", b"never")  # committed: the one below is not
    with hub.transaction():
        hub.save_state("room", b"torn")
        os._exit(0)  # killed: no close, no checkpoint, a transaction open
"""


def test_acknowledged_writes_survive_a_killed_process(tmp_path: Path) -> None:
    server, client = tmp_path / "server.sqlite3", tmp_path / "client.sqlite3"
    run(CRASH, server, client)
    with HubStore(server) as hub:
        assert hub.load_state("room") == b"state"
        assert hub.last_sequence("room") == 1000
        assert hub.load_state("uncommitted") == b"never"
    with KeyPackageStore(server) as kps:
        assert kps.claim("alice") == (b"ref2", b"kp2")
        assert kps.claim("alice") is None
    with ClientStore(client) as store:
        assert store.load_state() == b"mls state"


# ---------------------------------------------------------------- bad input


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


def foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()


def newer(path: Path) -> None:
    HubStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()


def client_file(path: Path) -> None:
    ClientStore(path).close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (corrupt, "file is not a database"),
        (foreign, "not a mimi server database"),
        (newer, "version 99 is newer"),
        (client_file, r"not a mimi server database \(application_id 0x4d494d43"),
    ],
)
def test_a_file_that_is_not_ours_is_refused_untouched(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    path = tmp_path / "db.sqlite3"
    make(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for store in (HubStore, FollowerStore, KeyPackageStore):
        with pytest.raises(StorageError, match=message):
            store(path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


V5_INBOX = """CREATE TABLE follower_inbox (
        client TEXT NOT NULL,
        room_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        PRIMARY KEY (client, room_id, sequence)
    ) STRICT, WITHOUT ROWID;"""


def server_ddl(version: int) -> str:
    """The server schema as a file of `version` holds it."""
    v4_columns = f",\n        {HUB_LOG_END},\n        {HUB_INDEXED}"
    assert v4_columns in SERVER.ddl and f"{HUB_ANSWERS};" in SERVER.ddl and f"{HUB_CURSORS};" in SERVER.ddl
    audience = f"        {FOLLOWER_AUDIENCE},\n        {FOLLOWER_PENDING},\n"
    assert FOLLOWER_LOGIC_ROWS in SERVER.ddl and audience in SERVER.ddl and f"{FOLLOWER_CURSORS};" in SERVER.ddl
    assert f"{KEY_PACKAGE_CLAIMS};" in SERVER.ddl
    ddl = SERVER.ddl
    if version < 6:  # the follower logic's state in one record, and a row per client and event of its inbox
        ddl = ddl.replace(FOLLOWER_LOGIC_ROWS, "").replace(audience, "").replace(f"{FOLLOWER_CURSORS};", V5_INBOX)
    if version < 5:  # no KeyPackage claims kept
        ddl = ddl.replace(f"{KEY_PACKAGE_CLAIMS};", "")
    if version < 4:  # no last sequence of each room, no answers given
        ddl = ddl.replace(v4_columns, "").replace(f"{HUB_ANSWERS};", "")
    if version < 3:  # no followers' cursors
        ddl = ddl.replace(f"{HUB_CURSORS};", "")
    if version < 2:  # two hub tables nothing used (KeyPackage routes and followers live in the room state)
        ddl += """
            CREATE TABLE hub_key_packages (room_id TEXT NOT NULL, ref BLOB NOT NULL, provider TEXT NOT NULL,
                                           PRIMARY KEY (room_id, ref)) STRICT, WITHOUT ROWID;
            CREATE TABLE hub_followers (room_id TEXT NOT NULL, provider TEXT NOT NULL,
                                        PRIMARY KEY (room_id, provider)) STRICT, WITHOUT ROWID;
        """
    return ddl


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_an_older_server_file_is_migrated_and_keeps_its_rooms(server: Path, version: int) -> None:
    cursor = (ROOM, "mimi://b.example", 1, 1, 2)
    with sqlite3.connect(server) as db:
        db.executescript(server_ddl(version) + f"PRAGMA application_id = {SERVER.application_id}; PRAGMA user_version = {version};")
        if version < 4:
            db.execute("INSERT INTO hub_rooms VALUES (?, ?)", (ROOM, b"state"))
        else:  # the log's end and the answers indexed are recorded
            db.execute("INSERT INTO hub_rooms VALUES (?, ?, 2, 2)", (ROOM, b"state"))
        db.executemany("INSERT INTO hub_events VALUES (?, ?, ?, ?)", [(ROOM, *e) for e in events(1, 2)])
        if version >= 3:
            db.execute("INSERT INTO hub_cursors VALUES (?, ?, ?, ?, ?)", cursor)
    db.close()
    with HubStore(server) as hub:
        assert hub.load_state(ROOM) == b"state" and hub.events_since(ROOM, 0, 10) == events(1, 2)
        assert hub.cursors() == ([cursor] if version >= 3 else [])  # none before 3: the hub starts them (test_hub_log)
        if version < 4:
            assert hub.answers_indexed(ROOM) == (2, False)  # the answers given before 4 are not kept
        assert hub.append_events(ROOM, events(3, 1)) == 3  # the log's end was recorded in the migration
        with hub.transaction():
            hub._db.execute("DELETE FROM hub_events WHERE sequence = 3")
        with pytest.raises(StorageError, match="the log ends at 2, 3 were logged"):
            hub.last_sequence(ROOM)
    with sqlite3.connect(server) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SERVER.version == 6
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    db.close()
    assert not tables & {"hub_key_packages", "hub_followers"}
    assert {"hub_answers", "hub_cursors", "key_package_claims"} <= tables

    class HubStoreV5(HubStore):
        schema = replace(SERVER, version=5)

    with pytest.raises(StorageError, match="version 6 is newer"):
        HubStoreV5(server)


def test_a_migrated_server_file_has_the_schema_of_a_new_one(server: Path, tmp_path: Path) -> None:
    with sqlite3.connect(server) as db:
        db.executescript(server_ddl(1) + f"PRAGMA application_id = {SERVER.application_id}; PRAGMA user_version = 1;")
    db.close()
    HubStore(server).close()
    HubStore(tmp_path / "new.db").close()

    def columns(path: Path) -> dict[str, list[tuple[Any, ...]]]:
        with sqlite3.connect(path) as db:
            names = [row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
            found = {name: db.execute(f"PRAGMA table_xinfo({name})").fetchall() for name in names}
        db.close()
        return found

    assert columns(server) == columns(tmp_path / "new.db")


def test_a_server_file_is_not_a_client_file(server: Path) -> None:
    HubStore(server).close()
    with pytest.raises(StorageError, match="not a mimi client database"):
        ClientStore(server)


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"cannot open|unable to open"):
        HubStore(tmp_path)


BAD_CALLS: list[tuple[str, Callable[[HubStore, FollowerStore, KeyPackageStore], object]]] = [
    ("room_id must be a non-empty str", lambda h, f, k: h.save_state(b"room", b"s")),  # type: ignore[arg-type]
    ("room_id must be a non-empty str", lambda h, f, k: h.save_state("", b"s")),
    ("state must be bytes", lambda h, f, k: h.save_state(ROOM, "s")),  # type: ignore[arg-type]
    ("event must be a tuple of 3", lambda h, f, k: h.append_events(ROOM, [(1, 2)])),  # type: ignore[list-item]
    ("sequence '2'", lambda h, f, k: h.append_events(ROOM, [LogEvent("2", 0, b"")])),  # type: ignore[arg-type]
    ("accepted_timestamp must be an int", lambda h, f, k: h.append_events(ROOM, [LogEvent(2, 1.5, b"")])),  # type: ignore[arg-type]
    ("body must be bytes", lambda h, f, k: h.append_events(ROOM, [LogEvent(2, 0, bytearray())])),  # type: ignore[arg-type]
    ("limit must be an int >= 1", lambda h, f, k: h.events_since(ROOM, 0, 0)),
    ("cursor must be a tuple of 5", lambda h, f, k: h.save_cursors([(ROOM, "mimi://b.example", 1, 0)])),  # type: ignore[list-item]
    ("cursors must be a collection", lambda h, f, k: h.save_cursors(ROOM)),  # type: ignore[arg-type]
    ("pending must be an int >= 0", lambda h, f, k: h.save_cursors([(ROOM, "mimi://b.example", 1, -1, 1)])),
    ("last must be an int >= 2", lambda h, f, k: h.save_cursors([(ROOM, "mimi://b.example", 2, 0, 1)])),
    ("after must be an int", lambda h, f, k: h.events_since(ROOM, None, 1)),  # type: ignore[arg-type]
    ("recipient must be a non-empty str", lambda h, f, k: f.receive(ROOM, [Delivery(2, b"", [ALICE, 3])])),  # type: ignore[list-item]
    ("recipients must be a collection", lambda h, f, k: f.receive(ROOM, [Delivery(2, b"", ALICE)])),
    ("body must be bytes", lambda h, f, k: f.receive(ROOM, [Delivery(2, "x", [ALICE])])),  # type: ignore[arg-type]
    ("key_package must be bytes", lambda h, f, k: k.publish(ALICE, [(b"r", "kp")])),  # type: ignore[list-item]
    ("last_resort must be a bool", lambda h, f, k: k.publish(ALICE, [(b"r", b"kp")], last_resort=1)),  # type: ignore[arg-type]
    ("client must be a non-empty str", lambda h, f, k: k.claim(None)),  # type: ignore[arg-type]
    ("synchronous must be", lambda h, f, k: HubStore(h.path, synchronous="OFF")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("message", "call"), BAD_CALLS, ids=[m for m, _ in BAD_CALLS])
def test_wrong_types_are_refused_and_change_nothing(
    hub: HubStore, follower: FollowerStore, kps: KeyPackageStore, message: str, call: Callable[..., object]
) -> None:
    hub.save_state(ROOM, b"s")
    hub.append_events(ROOM, events(1, 1))
    follower.follow_room(ROOM)
    with pytest.raises(StorageError, match=message):
        call(hub, follower, kps)
    assert hub.load_state(ROOM) == b"s" and hub.events_since(ROOM, 0, 9) == events(1, 1) and hub.cursors() == []
    assert follower.delivered_upto(ROOM) == 0 and follower.fetch_inbox(ALICE, ROOM, 0, 9) == []
    assert kps.remaining(ALICE) == 0


def test_strict_tables_refuse_what_slips_past_the_checks(hub: HubStore) -> None:
    with pytest.raises(StorageError, match="cannot store TEXT value in BLOB column"), hub.transaction():
        hub._db.execute("INSERT INTO hub_rooms (room_id, state) VALUES (?, ?)", (ROOM, "text"))
    assert hub.rooms() == []


def test_closed_store(server: Path) -> None:
    hub = HubStore(server)
    with pytest.raises(StorageError, match="inside an open transaction"), hub.transaction():
        hub.close()
    hub.close()
    with pytest.raises(StorageError, match="closed database"):
        hub.rooms()


# ---------------------------------------------------------------- data directory


def test_data_dir_maps_uris_to_safe_paths(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    assert data.server("mimi://y.example") == tmp_path / "servers/y.example.sqlite3"
    assert data.client("mimi://y.example/d/charlie/phone") == tmp_path / "clients/y.example/charlie/phone.sqlite3"
    assert data.client("mimi://y.example/d/../..") == tmp_path / "clients/y.example/%2E./%2E..sqlite3"
    assert data.client("mimi://y.example/d/Ann/a:b") != data.client("mimi://y.example/d/ann/a:b")
    assert (tmp_path / "clients/y.example/charlie").is_dir()
    for bad in ("mimi://y.example/d/charlie", "https://y.example", "mimi://y.example/u/charlie"):
        with pytest.raises(StorageError, match="no database path"):
            data.client(bad)
    with pytest.raises(StorageError, match="provider URI must be a str"):
        data.server(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- background checkpoints


def test_background_checkpoints_move_the_wal_and_commits_stay_durable(server: Path) -> None:
    store = HubStore(server, checkpoint_every=0.02)
    store.save_state(ROOM, b"state")
    for first in range(1, 2001, 500):
        store.append_events(ROOM, events(first, 500, size=1024))
    # Commits only append to the WAL (SQLite's own checkpoint is off); the events
    # reach the database file itself through the background thread.
    for _ in range(500):  # bounded: up to 5 s
        if store.checkpoints >= 2 and server.stat().st_size > 2000 * 1024:
            break
        threading.Event().wait(0.01)
    assert store.checkpoints >= 2
    assert server.stat().st_size > 2000 * 1024
    thread = store._checkpointer.thread  # type: ignore[union-attr]
    store.close()
    assert not thread.is_alive()
    with HubStore(server) as again:
        assert again.last_sequence(ROOM) == 2000
        assert [e.sequence for e in again.events_since(ROOM, 1990, 100)] == list(range(1991, 2001))


@pytest.mark.parametrize("bad", [0, -1, 61, "1", True])
def test_a_bad_checkpoint_interval_is_refused_before_anything_is_written(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "hub.sqlite3"
    with pytest.raises(StorageError, match="checkpoint_every must be None or seconds"):
        HubStore(path, checkpoint_every=bad)  # type: ignore[arg-type]
    assert not path.exists()


def test_inboxes_and_histories_are_read_in_pages(server: Path) -> None:
    """Reads page through everything, `page` rows a read, whatever the length."""
    with FollowerStore(server) as follower:
        follower.follow_room(ROOM)
        follower.receive(ROOM, deliveries(1, 7) + deliveries(8, 2, (BOB,)))
        assert list(follower.inbox(BOB, ROOM, 0, page=2)) == inbox(1, 9)
        assert list(follower.inbox(ALICE, ROOM, 3, page=2)) == inbox(4, 4)
        with pytest.raises(StorageError, match="limit must be an int >= 1"):
            next(follower.inbox(ALICE, ROOM, 0, page=0))
    with ClientStore(server.parent / "client.sqlite3") as client:
        entries = [HistoryEntry(s, s, ALICE, bytes([s])) for s in range(1, 8)]
        client.add_messages(ROOM, entries)
        assert list(client.history(ROOM, page=3)) == entries


def test_an_inbox_is_a_cursor_per_client_and_room(follower: FollowerStore) -> None:
    """Each event is stored once; who got it is kept only when not every client
    receiving the room did; a client that left gets nothing more until an event
    is for it again."""
    follower.follow_room(ROOM)
    carol = "mimi://b.example/d/carol/tv"
    follower.receive(ROOM, deliveries(1, 2) + deliveries(3, 1, (ALICE,)) + deliveries(4, 1, (ALICE, BOB, carol)))
    follower.leave(ROOM, BOB)
    follower.receive(ROOM, deliveries(5, 1, (ALICE, carol)) + deliveries(6, 1, (carol,)))
    assert follower.fetch_inbox(ALICE, ROOM, 0, 10) == inbox(1, 5)
    assert follower.fetch_inbox(BOB, ROOM, 0, 10) == [*inbox(1, 2), *inbox(4, 1)]
    assert follower.fetch_inbox(carol, ROOM, 0, 10) == inbox(4, 3)
    assert follower.last_in_inbox(BOB, ROOM, 6) == 4 and follower.last_in_inbox(ALICE, ROOM, 6) == 5
    follower.receive(ROOM, deliveries(7, 1, (BOB,)))  # for BOB again: another cursor opens there
    assert follower.fetch_inbox(BOB, ROOM, 4, 10) == inbox(7, 1)
    assert follower.fetch_inbox(BOB, ROOM, 0, 10) == [*inbox(1, 2), *inbox(4, 1), *inbox(7, 1)]  # both kept
    assert follower.fetch_inbox(BOB, ROOM, 0, 3) == [*inbox(1, 2), *inbox(4, 1)]
    assert follower.last_in_inbox(BOB, ROOM, 6) == 4 and follower.last_in_inbox(BOB, ROOM, 9) == 7
    rows = sqlite3.connect(follower.path).execute("SELECT count(*), count(audience) FROM follower_events").fetchone()
    cursors = sqlite3.connect(follower.path).execute("SELECT count(*) FROM follower_cursors").fetchone()
    assert rows == (7, 3) and cursors == (4,)  # 7 events, 4 of them to every client receiving; 4 cursors
