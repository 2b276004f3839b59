"""Embedded SQLite stores: one database file per server and per client.

A provider server opens `HubStore`, `FollowerStore` and `KeyPackageStore` on
its one file (``DataDir.server(provider)``); a client device opens a
`ClientStore` on its own (``DataDir.client(client)``). Every write is a
durable commit (WAL, ``synchronous=FULL``) and every failure a
`mimi.errors.StorageError` that changed nothing. Batch: one call, one commit,
one fsync; several calls on one store join one commit inside
``with store.transaction():``. A transaction spans one store object (one
connection): do not write through a second store on the same file inside it,
that waits on the first's lock and fails after `busy_timeout`.

Group commit is what makes FULL affordable (one fsync per batch, not per event).
Server stores also checkpoint the WAL on a thread of their own (`checkpoint_every`,
SERVER_CHECKPOINT_EVERY): SQLite's own checkpoint runs inside the commit that fills
the WAL and was the tail of a batch's commit time. The numbers are in
docs/results.md, "Storage" (benches/bench_storage.py) and "Hub ingress".
"""

from mimi.storage._base import SqliteStore, Synchronous
from mimi.storage.client import ClientStore, HistoryEntry, SentMessage
from mimi.storage.datadir import DataDir
from mimi.storage.follower import Delivery, FollowerStore, InboxEvent
from mimi.storage.hub import HubStore, LogEvent
from mimi.storage.key_packages import KeyPackageStore, StoredKeyPackage

# Seconds between a server store's background WAL checkpoints (a hub's or a follower's).
SERVER_CHECKPOINT_EVERY = 0.1

__all__ = [
    "SERVER_CHECKPOINT_EVERY",
    "ClientStore",
    "DataDir",
    "Delivery",
    "FollowerStore",
    "HistoryEntry",
    "HubStore",
    "InboxEvent",
    "KeyPackageStore",
    "LogEvent",
    "SentMessage",
    "SqliteStore",
    "StoredKeyPackage",
    "Synchronous",
]
