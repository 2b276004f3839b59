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

Measured (benches/bench_storage.py, this 2-core machine, ext4):
20 rounds each, mean (median), FULL | NORMAL:

* hub `append_events`, 1,000 × 1 KiB events a commit: 52k (83k) | 69k (107k)
  events/s; one event a commit: 271 | 12.6k events/s. Group commit is ~190×
  under FULL, ~5× under NORMAL; on batches FULL costs ~10-25%, near the noise.
* follower `receive`, 1,000 × 1 KiB events for 10 clients each (10,000 inbox
  entries) a commit: 20k | 22k events/s; one event a commit: 277 | 2.1k.
* The tail is WAL checkpoints (every ~4 MB of WAL, in the committing call):
  p90 ~30 ms a batch. Raw SQLite on this disk does ~56-65k such events/s, so
  the stores' argument checks (~1 ms a 1,000-event batch) cost little.
  Servers therefore checkpoint in the background (`checkpoint_every`,
  SERVER_CHECKPOINT_EVERY): 500 × 1.2 KB events a commit, mean 4.0-4.9 ms with
  SQLite's own checkpoints against 3.0-3.3 ms with none in the commit.
"""

from mimi.storage._base import SqliteStore, Synchronous

# Seconds between a server store's background WAL checkpoints (a hub's or a follower's).
SERVER_CHECKPOINT_EVERY = 0.1

from mimi.storage.client import ClientStore, HistoryEntry
from mimi.storage.datadir import DataDir
from mimi.storage.follower import Delivery, FollowerStore, InboxEvent
from mimi.storage.hub import HubStore, LogEvent
from mimi.storage.key_packages import KeyPackageStore, StoredKeyPackage

__all__ = [
    "ClientStore",
    "DataDir",
    "Delivery",
    "FollowerStore",
    "HistoryEntry",
    "HubStore",
    "InboxEvent",
    "KeyPackageStore",
    "LogEvent",
    "SERVER_CHECKPOINT_EVERY",
    "SqliteStore",
    "StoredKeyPackage",
    "Synchronous",
]
