"""A provider's `/notify` endpoint (ProviderServer, in process): concurrent calls
share one commit, arrive in any order and are delivered in the hub's order; one
bad call in a batch fails alone and leaves no trace; a failed commit
acknowledges nothing and leaves the follower as stored."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mimi import _core
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError, RemoteProtocolError, StorageError
from mimi.logic.follower import Notify

PROVIDER = "mimi://f.example"
ROOM = "mimi://h.example/r/notify"
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
        server.subscribe(ROOM, client)
    yield server


def notify(messages: list[bytes], first: int, count: int) -> Notify:
    """Sequences first..first+count-1 (1-based) in one /notify."""
    body = _core.encode_notify([_core.FanoutMessage.decode(m) for m in messages[first - 1 : first - 1 + count]])
    return Notify(ROOM, first - 1, tuple(range(first, first + count)), body)


def inbox(provider: ProviderServer, client: str) -> list[tuple[int, bytes]]:
    return [(sequence, message) for _, _, sequence, _, message in provider.missed(client, ROOM, 0)]


def test_concurrent_notifies_in_any_order_are_stored_in_the_hubs_order(provider, messages) -> None:  # type: ignore[no-untyped-def]
    calls = [notify(messages, first, 2) for first in range(1, 13, 2)]
    with ThreadPoolExecutor(6) as pool:
        counts = list(pool.map(lambda n: provider.notify(n.room, n.previous, list(n.sequences), n.body), reversed(calls)))
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
            provider.notify(ROOM, 2, [3, 4], notify(messages, 3, 2).body)
    assert provider.progress(ROOM)[0] == 2
    assert [s for s, _ in inbox(provider, CLIENTS[0])] == [1, 2]
    # The hub sends it again: taken now.
    assert provider.notify(ROOM, 2, [3, 4], notify(messages, 3, 2).body) == 2 * len(CLIENTS)
    assert [s for s, _ in inbox(provider, CLIENTS[0])] == [1, 2, 3, 4]


def test_a_malformed_envelope_is_refused_before_it_is_queued(provider, messages) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MimiError, match="sequences must increase"):
        provider.notify(ROOM, 5, [5], notify(messages, 6, 1).body)
    assert provider.progress(ROOM)[0] == 0
