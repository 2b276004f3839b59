"""A provider's `/notify` endpoint (ProviderServer, in process): concurrent calls
share one commit, arrive in any order and are delivered in the hub's order; one
bad call in a batch fails alone and leaves no trace; a failed commit
acknowledges nothing and leaves the follower as stored. An envelope beyond its
bounds, a room the follower was never added to, or a failure of any kind is
refused naming its reason, and memory stays what is stored."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mimi import _core
from mimi.actors.provider import ProviderServer
from mimi.errors import InternalError, MimiError, RemoteProtocolError, StorageError
from mimi.logic import follower as follower_logic
from mimi.logic.follower import MAX_WAITING, Follower, Notify
from mimi.storage.follower import FollowerState
from netsim import token

PROVIDER = "mimi://f.example"
ROOM = "mimi://h.example/r/notify"
HUB = "mimi://h.example"
CLIENTS = [f"{PROVIDER}/d/c{i}/phone" for i in range(3)]


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """FanoutMessages of real MLS application messages."""
    client = _core.Client("mimi://h.example/d/hal/phone")
    group = client.create_group(b"notify", _core.SignatureKeyPair.generate().public, "mimi://h.example")
    return [_core.FanoutMessage(1_700_000_000_000 + i, group.encrypt(f"m{i}".encode())).encode() for i in range(12)]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[ProviderServer]:
    server = ProviderServer(PROVIDER, str(tmp_path))
    for client in CLIENTS:
        server.subscribe(ROOM, client, token(server, client))
    yield server


def notify(messages: list[bytes], first: int, count: int) -> Notify:
    """Sequences first..first+count-1 (1-based) in one /notify."""
    body = _core.encode_notify([_core.FanoutMessage.decode(m) for m in messages[first - 1 : first - 1 + count]])
    return Notify(ROOM, first - 1, tuple(range(first, first + count)), body)


def inbox(provider: ProviderServer, client: str) -> list[tuple[int, bytes]]:
    return [(sequence, message) for _, _, sequence, _, message in provider.missed(client, token(provider, client), ROOM, 0)]


def test_concurrent_notifies_in_any_order_are_stored_in_the_hubs_order(provider, messages) -> None:  # type: ignore[no-untyped-def]
    calls = [notify(messages, first, 2) for first in range(1, 13, 2)]
    with ThreadPoolExecutor(6) as pool:
        counts = list(pool.map(lambda n: provider.notify(n.room, HUB, n.previous, list(n.sequences), n.body), reversed(calls)))
    assert sum(counts) == 12 * len(CLIENTS)  # each call answers what it delivered, buffered ones 0
    assert provider.progress(ROOM)[0] == 12
    for client in CLIENTS:
        assert inbox(provider, client) == list(zip(range(1, 13), messages))
    assert provider.notifies.items == 6 and provider.notifies.batches <= 6


def test_a_bad_notify_in_a_batch_fails_alone(provider, messages) -> None:  # type: ignore[no-untyped-def]
    good_first, good_second = notify(messages, 1, 3), notify(messages, 4, 3)
    truncated = Notify(ROOM, 3, (4, 5, 6), good_second.body[:-2])
    other_bytes = Notify(ROOM, 0, (1,), notify(messages, 5, 1).body)  # sequence 1, stored with other bytes
    answers = provider._notify_batch([good_first, truncated, other_bytes, good_second])
    assert answers[0] == 3 * len(CLIENTS) and answers[3] == 3 * len(CLIENTS)
    assert isinstance(answers[1], RemoteProtocolError) and "notify" in str(answers[1])
    assert answers[2] == 0  # behind what was delivered: a duplicate, acknowledged and dropped
    assert provider.progress(ROOM)[0] == 6
    for client in CLIENTS:
        assert inbox(provider, client) == list(zip(range(1, 7), messages))


def test_a_refused_commit_acknowledges_nothing(provider, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    provider._notify_batch([notify(messages, 1, 2)])

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise StorageError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(provider.inbox, "save_logic_state", refuse)
        with pytest.raises(StorageError, match="disk is full"):
            provider.notify(ROOM, HUB, 2, [3, 4], notify(messages, 3, 2).body)
    assert provider.progress(ROOM)[0] == 2
    assert [s for s, _ in inbox(provider, CLIENTS[0])] == [1, 2]
    # The hub sends it again: taken now.
    assert provider.notify(ROOM, HUB, 2, [3, 4], notify(messages, 3, 2).body) == 2 * len(CLIENTS)
    assert [s for s, _ in inbox(provider, CLIENTS[0])] == [1, 2, 3, 4]


def test_a_malformed_envelope_is_refused_before_it_is_queued(provider, messages) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MimiError, match="sequences must increase"):
        provider.notify(ROOM, HUB, 5, [5], notify(messages, 6, 1).body)
    assert provider.progress(ROOM)[0] == 0


# -- refusals: each names its field and changes nothing, in memory or stored ------------


def state(provider: ProviderServer) -> tuple[bytes, FollowerState | None, list[list[tuple[int, bytes]]]]:
    """The follower in memory, as stored, and every client's inbox."""
    return provider.follower.export(), provider.inbox.load_logic_state(), [inbox(provider, c) for c in CLIENTS]


def all_delivered_once_in_order(provider: ProviderServer, messages: list[bytes]) -> None:
    """Normal traffic after a refusal: every event reaches every client once, in order."""
    for first in range(1, 13, 3):
        provider.notify(ROOM, HUB, first - 1, list(range(first, first + 3)), notify(messages, first, 3).body)
    assert provider.progress(ROOM)[0] == 12
    for client in CLIENTS:
        assert inbox(provider, client) == list(zip(range(1, 13), messages))


@pytest.mark.parametrize(
    ("room", "previous", "sequences", "withheld", "reason"),
    [
        (ROOM, 0, [10**9], [], "sequences: 1000000000 is over 65536 past the 2 delivered"),
        (ROOM, 0, [2**64], [], r"sequences must be integers in \[0, 2\*\*63\)"),
        (ROOM, 0, [2**63], [], "sequences must be integers"),
        (ROOM, 2, [-1], [], "sequences must be integers"),
        (ROOM, -1, [3], [], "previous must be integers"),
        (ROOM, 2**64, [2**64 + 1], [], "previous must be integers"),
        (ROOM, 2, [3, 3], [], "sequences must increase"),
        (ROOM, 2, [4, 3], [], "sequences must increase"),
        (ROOM, 2, [], [], "sequences: 0 messages"),
        (ROOM, 2, list(range(3, 3 + 4097)), [], "sequences: 4097 messages"),
        (ROOM, 10**6, [10**6 + 1], [], "previous: 1000000 is over 65536 past the 2 delivered"),
        ("mimi://h.example/r/unknown", 0, [1], [], "room: no user of this provider"),
        ("not a room", 0, [1], [], "room: no user of this provider"),
        (ROOM, 2, [3], ["mimi://h.example/u/hal"], "withheld: 'mimi://h.example/u/hal' is not a user of"),
        (ROOM, 2, [3], [f"{PROVIDER}/d/c0/phone"], "withheld: .* is not a user of"),
        (ROOM, 2, [3], [7], "withheld has the wrong type"),
    ],
)
def test_a_refused_notify_names_its_field_and_changes_nothing(  # type: ignore[no-untyped-def]
    provider, messages, room, previous, sequences, withheld, reason
) -> None:
    provider.notify(ROOM, HUB, 0, [1, 2], notify(messages, 1, 2).body)
    before = state(provider)
    body = notify(messages, 3, 1).body
    with pytest.raises(RemoteProtocolError, match=reason):
        provider.notify(room, HUB, previous, sequences, body, withheld)
    assert state(provider) == before
    assert provider._state() == provider.inbox.load_logic_state()  # memory is what is stored
    all_delivered_once_in_order(provider, messages)



def test_a_failure_of_any_kind_leaves_memory_as_stored(provider, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A bug inside the logic (after it changed the follower), then a commit that
    fails with something other than a StorageError: each call fails alone, memory
    stays what is stored, and later calls, for this room and others, work."""
    provider.notify(ROOM, HUB, 0, [1, 2], notify(messages, 1, 2).body)
    before = state(provider)

    def broken(self: Follower, room: str, room_state: Any, batch: Notify, split: Any) -> list[Any]:
        room_state.delivered_upto = 10**9  # half done, as a bug would leave it
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    with monkeypatch.context() as m:
        m.setattr(Follower, "_deliver", broken)
        with pytest.raises(InternalError, match="OverflowError"):
            provider.notify(ROOM, HUB, 2, [3], notify(messages, 3, 1).body)
    assert state(provider) == before and provider._state() == provider.inbox.load_logic_state()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("not a StorageError")

    with monkeypatch.context() as m:
        m.setattr(provider.inbox, "save_logic_state", refuse)
        with pytest.raises(RuntimeError, match="not a StorageError"):
            provider.notify(ROOM, HUB, 2, [3], notify(messages, 3, 1).body)
    assert state(provider) == before and provider._state() == provider.inbox.load_logic_state()
    own = f"{PROVIDER}/r/own"  # a room this provider is the hub of: taken without a member
    assert provider.notify(own, PROVIDER, 0, [1], notify(messages, 1, 1).body) == 0
    assert provider.progress(own)[0] == 1
    all_delivered_once_in_order(provider, messages)


def test_a_room_is_taken_once_a_key_package_is_claimed_for_it(messages) -> None:  # type: ignore[no-untyped-def]
    follower = Follower(PROVIDER)
    room = "mimi://h.example/r/invited"
    with pytest.raises(RemoteProtocolError, match="room: no user"):
        follower.notify(Notify(room, 0, (1,), notify(messages, 1, 1).body))
    assert room not in follower.rooms
    follower.expect_welcome(b"ref", CLIENTS[0], room)
    assert follower.notify(Notify(room, 0, (1,), notify(messages, 1, 1).body)) == []  # no member yet
    assert follower.delivered_upto(room) == 1


def test_batches_running_ahead_are_bounded_and_all_delivered_once_resent(messages) -> None:  # type: ignore[no-untyped-def]
    """20,000 batches ahead of a missing first event: the first MAX_WAITING wait, the
    rest are refused as "send again later"; the hub sends them again from its log,
    and every event is delivered once, in order."""
    follower = Follower(PROVIDER)
    follower.subscribe(ROOM, CLIENTS[0])
    body = notify(messages, 1, 1).body
    ahead = [Notify(ROOM, s - 1, (s,), body) for s in range(2, 20_002)]
    refused: list[Notify] = []
    for batch in ahead:
        try:
            assert follower.notify(batch) == []
        except RemoteProtocolError as err:
            assert err.code == "tooManyRequests" and "send again later" in str(err)
            refused.append(batch)
    assert len(follower.rooms[ROOM].waiting) == MAX_WAITING and len(refused) == 20_000 - MAX_WAITING
    delivered = follower.notify(Notify(ROOM, 0, (1,), body))
    for batch in refused:  # resent in order, as the hub's backoff does
        delivered += follower.notify(batch)
    assert [d.sequence for d in delivered] == list(range(1, 20_002))
    assert [d.previous for d in delivered] == list(range(20_001))
    assert follower.rooms[ROOM].waiting == {}


def test_batches_running_ahead_are_bounded_in_bytes(messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    follower = Follower(PROVIDER)
    follower.subscribe(ROOM, CLIENTS[0])
    body = notify(messages, 1, 1).body
    monkeypatch.setattr(follower_logic, "MAX_WAITING_BYTES", 3 * len(body))
    for s in (3, 4, 5):
        follower.notify(Notify(ROOM, s - 1, (s,), body))
    before = follower.export()
    with pytest.raises(RemoteProtocolError, match="previous: 3 batches wait for 1, over the buffer's bound"):
        follower.notify(Notify(ROOM, 5, (6,), body))
    assert follower.export() == before


# -- stored in rows: a notify writes its room's, memory is what a restart loads -----------


def test_a_notify_changes_the_rows_of_its_room_alone(tmp_path, messages) -> None:  # type: ignore[no-untyped-def]
    """With many rooms followed, what a /notify stores is its room's row (and the rows
    of members whose cursor moved apart from the others), so its cost does not grow
    with the rooms; a restart loads what memory held."""
    server = ProviderServer(PROVIDER, str(tmp_path))
    rooms = [f"mimi://h.example/r/n{i}" for i in range(50)]
    for room in rooms:
        for client in CLIENTS:
            server.subscribe(room, client, token(server, client))
    saved: list[Any] = []
    store = server.inbox.save_logic_state
    server.inbox.save_logic_state = lambda record, rows: (saved.append(rows), store(record, rows))  # type: ignore[method-assign]
    body = notify(messages, 1, 2).body
    assert server.notify(rooms[7], HUB, 0, [1, 2], body) == 2 * len(CLIENTS)
    assert server.notify(rooms[7], HUB, 3, [4], notify(messages, 4, 1).body) == 0  # buffered: its row is written
    withheld = f"{PROVIDER}/u/c1"
    assert server.notify(rooms[9], HUB, 0, [1, 2], body, [withheld]) == 2 * (len(CLIENTS) - 1)
    first, buffered, apart = saved
    # The first event since they subscribed: the members' cursors join the common one.
    assert first.rooms == [(rooms[7], 2, 2)] and first.members == [(rooms[7], c, 0, None) for c in CLIENTS]
    assert buffered.rooms == [(rooms[7], 2, 2)] and [w[:2] for w in buffered.waiting] == [(rooms[7], 3)]
    # Withheld from c1's user: c1's cursor stays where it was (0), the others' join the common one.
    assert apart.rooms == [(rooms[9], 2, 2)] and apart.members == [(rooms[9], c, 0, None) for c in (CLIENTS[0], CLIENTS[2])]
    assert server.notify(rooms[7], HUB, 2, [3], notify(messages, 3, 1).body) == 2 * len(CLIENTS)  # takes the buffered one
    last = saved[-1]  # the room's row and the buffered batch gone, no row per member
    assert last.rooms == [(rooms[7], 4, 4)] and last.gone_waiting == [(rooms[7], 3)]
    assert last.members == last.waiting == last.routes == last.gone_members == []
    memory = server._state()
    stop = server.inbox.close
    stop()
    server.key_packages.close()
    again = ProviderServer(PROVIDER, str(tmp_path))
    assert again._state() == memory == again.inbox.load_logic_state()
    assert inbox(again, CLIENTS[1]) == [] and len(inbox(again, CLIENTS[0])) == 0  # other room: nothing
    assert [s for _, _, s, _, _ in again.missed(CLIENTS[0], token(again, CLIENTS[0]), rooms[7], 0)] == [1, 2, 3, 4]
    assert [(s, p) for _, _, s, p, _ in again.missed(CLIENTS[1], token(again, CLIENTS[1]), rooms[9], 0)] == []  # withheld from its user
    assert again.notify(rooms[9], HUB, 2, [3], notify(messages, 3, 1).body) == len(CLIENTS)
    for after in (0, 1, 2):  # found from `after`, each naming the client's event before it
        assert [(s, p) for _, _, s, p, _ in again.missed(CLIENTS[1], token(again, CLIENTS[1]), rooms[9], after)] == [(3, 0)]
        assert [(s, p) for _, _, s, p, _ in again.missed(CLIENTS[0], token(again, CLIENTS[0]), rooms[9], after)] == [(3, 2), (2, 1), (1, 0)][: 3 - after][::-1]
    assert again.missed(CLIENTS[0], token(again, CLIENTS[0]), rooms[9], 3) == again.missed(CLIENTS[0], token(again, CLIENTS[0]), "mimi://h.example/r/none", 0) == []


def test_a_follower_stored_whole_by_schema_4_is_loaded_and_stored_as_rows(tmp_path, messages) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    import msgpack

    from mimi.storage import DataDir
    from mimi.storage.schema import SERVER
    from test_storage import server_ddl

    follower = Follower(PROVIDER)
    for client in CLIENTS:
        follower.subscribe(ROOM, client)
    follower.expect_welcome(b"ref", CLIENTS[0], "mimi://h.example/r/invited")
    follower.notify(notify(messages, 1, 2))
    follower.notify(Notify(ROOM, 3, (4,), notify(messages, 4, 1).body))  # buffered
    path = DataDir(tmp_path).server(PROVIDER)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(server_ddl(4) + f"PRAGMA application_id = {SERVER.application_id}; PRAGMA user_version = 4;")
    record = msgpack.packb({"follower": follower.export(), "hosts": {CLIENTS[0]: "host"}})
    gone = f"{PROVIDER}/d/gone/phone"  # got event 1 and left
    with db:
        db.execute("INSERT INTO follower_logic VALUES (1, ?)", (record,))
        # The inbox of schema 5 and before: a row per client and event.
        db.execute("INSERT INTO follower_rooms VALUES (?, 0, 2)", (ROOM,))
        db.executemany("INSERT INTO follower_events VALUES (?, ?, ?)", [(ROOM, s, msgpack.packb([s, messages[s - 1]])) for s in (1, 2)])
        db.executemany("INSERT INTO follower_inbox VALUES (?, ?, ?)", [(c, ROOM, s) for c in CLIENTS for s in (1, 2)] + [(gone, ROOM, 1)])
    db.close()
    server = ProviderServer(PROVIDER, str(tmp_path))
    assert server.follower.export() == follower.export() and server.hosts == {CLIENTS[0]: "host"}
    assert server._state() == server.inbox.load_logic_state()  # written as rows, once
    assert msgpack.unpackb(server.inbox.load_logic_state().record) == {"provider": PROVIDER}
    assert inbox(server, CLIENTS[2]) == list(zip((1, 2), messages)) and inbox(server, gone) == [(1, messages[0])]
    # It goes on: the gap filled, the buffered batch delivered, to the subscribed clients only.
    assert server.notify(ROOM, HUB, 2, [3], notify(messages, 3, 1).body) == 2 * len(CLIENTS)
    assert server.progress(ROOM)[0] == 4
    assert inbox(server, CLIENTS[2]) == list(zip(range(1, 5), messages)) and inbox(server, gone) == [(1, messages[0])]


# -- reads in pages --------------------------------------------------------------------


def test_missed_answers_a_page_at_a_time_and_reads_the_inbox_in_pages(provider, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mimi.actors import provider as provider_actor

    provider.notify(ROOM, HUB, 0, list(range(1, 13)), notify(messages, 1, 12).body)
    reads: list[int] = []
    fetch = provider.inbox.fetch_inbox
    monkeypatch.setattr(provider.inbox, "fetch_inbox", lambda *a: reads.append(a[-1]) or fetch(*a))
    monkeypatch.setattr(provider_actor, "INBOX_PAGE", 2)  # read 2 rows at a time
    pages, after = [], 0
    while page := provider.missed(CLIENTS[0], token(provider, CLIENTS[0]), ROOM, after, 5):  # as the client host asks
        pages.append([(s, p, m) for _, _, s, p, m in page])
        after = page[-1][2]
    assert [[s for s, _, _ in page] for page in pages] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    assert [(s, p, m) for page in pages for s, p, m in page] == [(s, s - 1, m) for s, m in zip(range(1, 13), messages)]
    assert set(reads) == {2} and len(reads) > 6


# -- a peer hub that sends no envelope --------------------------------------------------


def test_a_notify_without_an_envelope_is_numbered_in_arrival_order(provider, messages) -> None:  # type: ignore[no-untyped-def]
    """A peer hub that ignores our envelope (the draft's body only): its batches are
    delivered in the order they arrive, numbered after what the room has."""
    first, second = notify(messages, 1, 3), notify(messages, 4, 2)
    assert provider.notify(ROOM, HUB, None, None, first.body) == 3 * len(CLIENTS)
    assert provider.notify(ROOM, HUB, None, None, second.body) == 2 * len(CLIENTS)
    assert inbox(provider, CLIENTS[0]) == list(enumerate(messages[:5], 1))
    assert provider.progress(ROOM)[0] == 5
    # Only the room's hub may notify it, envelope or not; half an envelope is refused.
    with pytest.raises(RemoteProtocolError, match="is not the hub of the room"):
        provider.notify(ROOM, "mimi://z.example", None, None, second.body)
    with pytest.raises(RemoteProtocolError, match="an envelope needs both previous and sequences"):
        provider.notify(ROOM, HUB, 5, None, second.body)
    with pytest.raises(RemoteProtocolError, match="body: "):
        provider.notify(ROOM, HUB, None, None, b"\x01\x02")
    assert provider.progress(ROOM)[0] == 5 and inbox(provider, CLIENTS[0]) == list(enumerate(messages[:5], 1))


def test_a_notify_without_an_envelope_cannot_be_placed_among_batches_waiting_for_a_gap(provider, messages) -> None:  # type: ignore[no-untyped-def]
    ahead = notify(messages, 3, 1)
    assert provider.notify(ROOM, HUB, ahead.previous, list(ahead.sequences), ahead.body) == 0  # waits for 1 and 2
    with pytest.raises(RemoteProtocolError, match="envelope: missing, while batches of this room wait for a gap"):
        provider.notify(ROOM, HUB, None, None, notify(messages, 1, 1).body)
    assert provider.progress(ROOM)[0] == 0
