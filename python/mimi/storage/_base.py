"""The one way mimi opens an SQLite file: WAL, checked schema, typed errors.

Durability. Every store opens its file in WAL mode with ``synchronous=FULL``:
a commit returns only after its WAL frames are fsynced, so a write the caller
was told succeeded survives a process kill *and* a power loss. ``NORMAL`` would
survive a process kill too (the frames are in the OS page cache when COMMIT
returns) but may lose the last commits on power loss, and an acknowledgement
this server sent to another provider (a 201 for a /notify, a claimed
KeyPackage that must never be handed out again) is a promise to a peer.
Group commit makes FULL affordable: one fsync per batch, not per event
(docs/results.md, "Storage", from ``benches/bench_storage.py``). Pass
``synchronous="NORMAL"`` only where losing the last commits on power loss is
acceptable (a benchmark, a disposable test cluster).

Schema. A file carries ``PRAGMA application_id`` (which kind of mimi file it
is: a server's or a client's) and ``PRAGMA user_version`` (the schema version).
A new, empty file gets the schema; a file of an older version is migrated
(`Schema.migrations`, in one transaction); any other file must match both, or
opening raises `StorageError` and leaves the file as it was: a foreign or
corrupt database is never "repaired" by writing to it.

Tables are ``STRICT``: a value of the wrong type is refused by SQLite itself,
a second line behind the checks each store makes on its arguments.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, Self

from mimi.errors import StorageError

Synchronous = Literal["FULL", "NORMAL"]


@dataclass(frozen=True, slots=True)
class Schema:
    """What one kind of mimi file holds; `version` goes in ``user_version``."""

    name: str
    application_id: int
    version: int
    ddl: str
    migrations: Mapping[int, str] = field(default_factory=dict)  # version -> DDL from the version before it


def fail(what: str) -> NoReturn:
    """Raise the StorageError of a bad argument (nothing has been written)."""
    raise StorageError(what)


def check_text(name: str, value: object) -> str:
    if type(value) is not str or not value:
        fail(f"{name} must be a non-empty str, got {type(value).__name__} {value!r:.60}")
    return value


def check_bytes(name: str, value: object) -> bytes:
    if type(value) is not bytes:
        fail(f"{name} must be bytes, got {type(value).__name__}")
    return value


def check_int(name: str, value: object, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        fail(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r:.60}")
    return value


def check_tuple(name: str, value: object, size: int) -> tuple[Any, ...]:
    """`value` as a tuple of `size` items (a NamedTuple row or a plain tuple)."""
    if not isinstance(value, tuple) or len(value) != size:
        fail(f"{name} must be a tuple of {size}, got {type(value).__name__} {value!r:.60}")
    return value


def check_many(name: str, values: object) -> None:
    """Refuse a str or bytes where a collection of items is expected."""
    if isinstance(values, (str, bytes, bytearray)):
        fail(f"{name} must be a collection, not a single {type(values).__name__}")


def check_limit(limit: object) -> int:
    """A page size for reads: positive, so a caller never loads a whole log by accident."""
    return check_int("limit", limit, 1)


class SqliteStore:
    """One SQLite file opened with WAL, a checked schema and a busy timeout.

    Subclasses set `schema`. Methods are safe to call from several threads of
    one process (one lock around the connection); several processes may open
    the same file (SQLite's own locking, waiting up to `busy_timeout` seconds).
    Every method either completes or raises `StorageError` having changed
    nothing.
    """

    schema: Schema

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
        checkpoint_every: float | None = None,
    ) -> None:
        """`checkpoint_every`: None, SQLite's own WAL checkpoint, run by the commit that
        fills ~4 MB of WAL (that commit waits for it); or seconds between checkpoints
        run on a thread and connection of their own, so commits only append to the WAL."""
        if synchronous not in ("FULL", "NORMAL"):
            fail(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if checkpoint_every is not None and (
            type(checkpoint_every) not in (int, float) or not 0 < checkpoint_every <= 60
        ):
            fail(f"checkpoint_every must be None or seconds in (0, 60], got {checkpoint_every!r}")
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._checkpointer: _Checkpointer | None = None
        try:
            # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE of
            # `transaction()`, never the sqlite3 module's implicit ones.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open: {exc}") from exc
        try:
            self._open(synchronous, busy_timeout)
            if checkpoint_every is not None:
                with self._errors("open"):
                    self._db.execute("PRAGMA wal_autocheckpoint = 0")
                self._checkpointer = _Checkpointer(self.path, checkpoint_every, busy_timeout)
        except BaseException:
            self._db.close()
            raise

    def _open(self, synchronous: Synchronous, busy_timeout: float) -> None:
        schema = self.schema
        with self._errors("open"):
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            # Read-only probes first: a file that is not ours stays untouched.
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            objects = self._db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if app_id == 0 and version == 0 and objects == 0:
            pass  # a new file: the schema is created below
        elif app_id != schema.application_id:
            raise StorageError(
                f"{self.path}: not a mimi {schema.name} database "
                f"(application_id {app_id:#x}, expected {schema.application_id:#x})"
            )
        elif version > schema.version:
            raise StorageError(
                f"{self.path}: {schema.name} schema version {version} is newer than "
                f"this mimi's {schema.version}; upgrade mimi"
            )
        elif any(v not in schema.migrations for v in range(version + 1, schema.version + 1)):
            raise StorageError(
                f"{self.path}: {schema.name} schema version {version} has no migration "
                f"to {schema.version}"
            )
        with self._errors("open"):
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StorageError(f"{self.path}: cannot enable WAL (journal_mode {mode})")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
        with self.transaction():
            # Re-read under the write lock: another process may have created it.
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:
                for statement in _statements(schema.ddl):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA application_id = {schema.application_id}")
            else:
                for version in range(found + 1, schema.version + 1):
                    for statement in _statements(schema.migrations[version]):
                        self._db.execute(statement)
            if found != schema.version:
                self._db.execute(f"PRAGMA user_version = {schema.version}")

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Report an SQLite failure as StorageError naming the file and the operation."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {what}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group every write inside into one atomic, durable commit.

        Nested use (a store method inside an open transaction, or a
        `transaction()` inside another) runs in a savepoint: if it raises, its
        own writes are undone and the exception propagates; the outermost
        block commits, once, when it exits without an exception. The write
        lock on the file is held from entry (BEGIN IMMEDIATE), so reads inside
        see a state no other process changes before the commit.
        """
        with self._lock:
            outer = self._depth == 0
            begin, commit, undo = (
                ("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",))
                if outer
                else ("SAVEPOINT s", "RELEASE s", ("ROLLBACK TO s", "RELEASE s"))
            )
            with self._errors("begin"):
                self._db.execute(begin)
            self._depth += 1
            try:
                with self._errors("write"):
                    yield
            except BaseException:
                self._depth -= 1
                for statement in undo:
                    with suppress(sqlite3.Error):  # SQLite already rolled back (e.g. on SQLITE_FULL)
                        self._db.execute(statement)
                raise
            self._depth -= 1
            try:
                with self._errors("commit"):
                    self._db.execute(commit)
            except StorageError:
                if outer and self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _insert_once(
        self, table: str, keys: tuple[str, ...], values: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> int:
        """Insert `rows` (key columns, then value columns), each key at most once.

        A row whose key is stored already with the same values is a duplicate,
        accepted and not stored again; one with other values raises
        StorageError. Returns how many rows were new. Call inside
        `transaction()`, so a refused batch changes nothing.
        """
        columns = keys + values
        cursor = self._db.executemany(
            f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            rows,
        )
        inserted = cursor.rowcount
        if inserted != len(rows):  # duplicates: compare them (rare, so row by row)
            select = (
                f"SELECT {', '.join(values)} FROM {table} "
                f"WHERE {' AND '.join(f'{k} = ?' for k in keys)}"
            )
            for row in rows:
                stored = self._db.execute(select, row[: len(keys)]).fetchone()
                if stored != row[len(keys) :]:
                    key = ", ".join(f"{k}={v!r:.60}" for k, v in zip(keys, row))
                    fail(f"{self.path}: {table}: {key} is stored already with other content")
        return inserted

    def _page(self, columns: str, table: str, room_id: str, after: int, limit: int) -> list[Any]:
        """The room's rows with sequence > `after`, in order, at most `limit` (logs are read in pages)."""
        check_text("room_id", room_id)
        check_int("after", after)
        return self._read(
            f"SELECT {columns} FROM {table} WHERE room_id = ? AND sequence > ? "
            "ORDER BY sequence LIMIT ?",
            (room_id, after, check_limit(limit)),
        )

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads outside a transaction (each statement sees a committed state)."""
        with self._lock, self._errors("read"):
            yield self._db

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._reading() as db:
            return db.execute(sql, params).fetchall()

    @property
    def checkpoints(self) -> int:
        """Background checkpoints run so far (0 without `checkpoint_every`)."""
        return 0 if self._checkpointer is None else self._checkpointer.runs

    def close(self) -> None:
        """Close the connection; committed writes are already durable."""
        with self._lock:
            if self._depth:
                fail(f"{self.path}: close() inside an open transaction")
            if self._checkpointer is not None:
                self._checkpointer.close()
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Checkpointer:
    """Moves the WAL into the database file every `interval` seconds, on its own
    thread and connection (PASSIVE: it never blocks a writer). A failed run (busy,
    disk) is retried at the next interval; commits do not depend on it."""

    def __init__(self, path: Path, interval: float, busy_timeout: float) -> None:
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot open the checkpoint connection: {exc}") from exc
        self.interval = interval
        self.runs = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"checkpoint:{path.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.runs += 1
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.db.close()


def _statements(ddl: str) -> list[str]:
    """Split DDL on ';' (schema DDL holds no ';' inside strings or triggers)."""
    return [s.strip() for s in ddl.split(";") if s.strip()]
