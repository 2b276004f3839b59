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
A file of an older version is migrated (`Schema.migrations`, in one
transaction); any other file must match both, or opening raises `StorageError`
and leaves the file as it was: a foreign or corrupt database is never
"repaired" by writing to it.

New or damaged. Only an absent file is new: it is made whole beside its path
(schema and all) and linked in place, so every file at a store's path was a
complete mimi database once. A file that is present but empty, truncated,
not SQLite, read-only (it, its ``-wal`` or its ``-shm``: SQLite maps the
``-shm``), whose schema lost a table or index (the schema spans pages past the
first), or whose tables a store loads at start fail ``PRAGMA quick_check``,
is refused with `StorageError`: never started afresh, which would, say, mint a
hub a new external-sender key. The check on open is bounded by what a store
loads at start (`SqliteStore.checked`), not by the length of its logs: a full
``quick_check`` reads the whole file (30 ms at 24 MB, 160 ms at 243 MB warm,
seconds cold), which would make restart grow with a room's age. Log pages are
checked as they are read (SQLite refuses a malformed page; each store checks
that its sequences are contiguous), and a stored record that does not decode is
refused by `SqliteStore.decoded`, naming the file, the table and the key.

Tables are ``STRICT``: a value of the wrong type is refused by SQLite itself,
a second line behind the checks each store makes on its arguments.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, Protocol, Self, TypeVar

from mimi.errors import StorageError

Synchronous = Literal["FULL", "NORMAL"]
D = TypeVar("D")
T = TypeVar("T")


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


class Sequenced(Protocol):
    @property
    def sequence(self) -> int: ...


R = TypeVar("R", bound=Sequenced)


def paged(read: Callable[[int, int], Sequence[R]], after: int, page: int) -> Iterator[R]:
    """Every row `read(after, limit)` pages through, in sequence order: memory is
    bounded by a page, not by the log (no read is capped at some row count)."""
    check_limit(page)
    while rows := read(after, page):
        yield from rows
        after = rows[-1].sequence


class SqliteStore:
    """One SQLite file opened with WAL, a checked schema and a busy timeout.

    Subclasses set `schema`. Methods are safe to call from several threads of
    one process (one lock around the connection); several processes may open
    the same file (SQLite's own locking, waiting up to `busy_timeout` seconds).
    Every method either completes or raises `StorageError` having changed
    nothing.
    """

    schema: Schema
    # Tables this store's owner loads whole when it starts, checked on open
    # (``PRAGMA quick_check(table)``), so the check costs what the start reads anyway.
    checked: tuple[str, ...] = ()

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
        if os.path.lexists(self.path):
            _check_existing(self.path)
        else:
            _create(self.path, self.schema)
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
        if app_id != schema.application_id:
            raise StorageError(
                f"{self.path}: not a mimi {schema.name} database "
                f"(application_id {app_id:#x}, expected {schema.application_id:#x})"
            )
        if version > schema.version:
            raise StorageError(
                f"{self.path}: {schema.name} schema version {version} is newer than "
                f"this mimi's {schema.version}; upgrade mimi"
            )
        if any(v not in schema.migrations for v in range(version + 1, schema.version + 1)):
            raise StorageError(
                f"{self.path}: {schema.name} schema version {version} has no migration "
                f"to {schema.version}"
            )
        with self._errors("open"):
            objects = set(self._db.execute("SELECT type, name FROM sqlite_master"))
            if version == schema.version and (lost := sorted(_objects(schema.ddl) - objects)):
                # The schema spans pages past the first: a damaged one loses definitions.
                raise StorageError(f"{self.path}: {lost[0][1]} is damaged: the {lost[0][0]} is missing")
            tables = {name for kind, name in objects if kind == "table"}
            for table in self.checked:
                if table not in tables:
                    continue  # a file of an older version: its migration makes the table
                found = [row[0] for row in self._db.execute(f"PRAGMA quick_check({table})")]
                if found != ["ok"]:
                    raise StorageError(f"{self.path}: {table} is damaged: {'; '.join(found[:3])}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StorageError(f"{self.path}: cannot enable WAL (journal_mode {mode})")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
        if version < schema.version:
            with self.transaction():
                # Re-read under the write lock: another process may have migrated it.
                found_version = self._db.execute("PRAGMA user_version").fetchone()[0]
                for step in range(found_version + 1, schema.version + 1):
                    for statement in _statements(schema.migrations[step]):
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {schema.version}")

    def decoded(self, table: str, key: object, decode: Callable[[D], T], record: D) -> T:
        """`decode(record)` for a record read from `table` at `key`.

        The one way a stored record (msgpack, CBOR, MLS or wire bytes) is decoded:
        whatever the decoder raises (FormatError, KeyError, UnicodeDecodeError,
        DecodeError, ...), the record is damaged, and that is a StorageError naming
        the file, the table and the key."""
        try:
            return decode(record)
        except Exception as exc:
            shown = key.hex() if isinstance(key, bytes) else key  # a ref or digest, in hex
            raise StorageError(
                f"{self.path}: {table} {shown!r:.100}: damaged record ({type(exc).__name__}: {exc})"
            ) from exc

    def damaged(self, table: str, what: str) -> NoReturn:
        """Raise the StorageError of rows found missing or inconsistent in `table`."""
        raise StorageError(f"{self.path}: {table}: damaged: {what}")

    def _blob(self, table: str, key: object, value: object) -> bytes:
        """A BLOB column's value as read: STRICT tables store only bytes there, so
        anything else is a damaged record (never coerced: ``bytes(32)`` is a key)."""
        if type(value) is not bytes:
            self.damaged(table, f"{key!r}: {type(value).__name__} where bytes are stored")
        return value

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
        self, table: str, keys: tuple[str, ...], values: tuple[str, ...], rows: Sequence[tuple[Any, ...]],
        extra: tuple[str, ...] = (),
    ) -> int:
        """Insert `rows` (key columns, then value columns, then `extra` columns), each
        key at most once.

        A row whose key is stored already with the same values is a duplicate,
        accepted and not stored again (its `extra` columns are not compared); one
        with other values raises StorageError. Returns how many rows were new.
        Call inside `transaction()`, so a refused batch changes nothing.
        """
        columns = keys + values + extra
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
                if stored != row[len(keys) : len(keys) + len(values)]:
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

    def _orphans(self, table: str, rooms: str) -> None:
        """Refuse rows of `table` for a room that `rooms` does not hold (its row was
        lost). One index seek per room of `table` (it is keyed by room first), not a scan."""
        found = self._read(
            f"WITH RECURSIVE logged(room_id) AS (SELECT min(room_id) FROM {table} UNION ALL "
            f"SELECT (SELECT min(room_id) FROM {table} WHERE room_id > logged.room_id) "
            "FROM logged WHERE logged.room_id IS NOT NULL) "
            f"SELECT room_id FROM logged WHERE room_id IS NOT NULL AND room_id NOT IN (SELECT room_id FROM {rooms}) LIMIT 1"
        )
        if found:
            self.damaged(rooms, f"room {found[0][0]!r} has rows in {table} but none here")

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


def _check_existing(path: Path) -> None:
    """Refuse, before SQLite reads or maps anything, a file at `path` that cannot be a
    store's database as it is: a store's file is never empty (`_create`)."""
    wal = Path(f"{path}-wal")
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise StorageError(f"{path}: cannot open: not a regular file")
        # SQLite writes all three (and the directory: -wal and -shm come and go); a
        # read-only -shm it maps read-only, which has killed a process with SIGBUS.
        for needed in (path, wal, Path(f"{path}-shm"), path.parent):
            if _read_only(needed):
                raise StorageError(f"{path}: {needed} is read-only")
        # The -wal before the file: a process closing the file checkpoints it (the
        # file grows to the header's size) before it deletes the -wal.
        try:
            wal_size = wal.stat().st_size
        except FileNotFoundError:
            wal_size = 0
        with path.open("rb") as file:
            header = file.read(100)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise StorageError(f"{path}: cannot open: {exc}") from exc
    if size == 0:
        raise StorageError(f"{path}: damaged: the file is empty (0 bytes)")
    # The header: https://www.sqlite.org/fileformat2.html#the_database_header
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        raise StorageError(f"{path}: file is not a database (no SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise StorageError(f"{path}: file is not a database (page size {page_size})")
    if size % page_size:
        raise StorageError(f"{path}: damaged: truncated ({size} bytes, not whole {page_size}-byte pages)")
    # The page count in the header is valid when the change counter matches the
    # version-valid-for number; with an empty WAL (nothing to recover) the file has them all.
    pages = int.from_bytes(header[28:32], "big")
    if wal_size == 0 and header[24:28] == header[92:96] and size < pages * page_size:
        raise StorageError(f"{path}: damaged: truncated ({size // page_size} of {pages} pages)")


def _read_only(path: Path) -> bool:
    """Not writable by this process, or made read-only on purpose (root may write a
    file without write permission, but none of its bits says it should be). An
    absent file (a -wal or -shm) is not read-only."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return not mode & 0o222 or (not os.access(path, os.W_OK) and path.exists())


def _create(path: Path, schema: Schema) -> None:
    """A new database file, whole: the schema is written to a temporary file beside
    `path`, which is then linked in place (atomic, and never over a file another
    process created meanwhile). So a file at a store's path always held the schema,
    and an empty or half-made one is damage, not a new database."""
    wal = Path(f"{path}-wal")
    if wal.exists():
        # SQLite would replay it into the new file: the database it belonged to is lost.
        raise StorageError(f"{path}: damaged: {wal} is present but the database file is not")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    except OSError as exc:
        raise StorageError(f"{path}: cannot create: {exc}") from exc
    os.close(handle)
    made = Path(name)
    try:
        db = sqlite3.connect(made, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous = FULL")  # the commit syncs the file before it is linked
            db.execute("BEGIN IMMEDIATE")
            for statement in _statements(schema.ddl):
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {schema.application_id}")
            db.execute(f"PRAGMA user_version = {schema.version}")
            db.execute("COMMIT")
        finally:
            db.close()
        with suppress(FileExistsError):  # another process made it first: that one is the database
            os.link(made, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the new name is durable too
        finally:
            os.close(directory)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{path}: cannot create: {exc}") from exc
    finally:
        with suppress(OSError):
            made.unlink()


@functools.cache
def _objects(ddl: str) -> frozenset[tuple[str, str]]:
    """(type, name) of every table and index `ddl` makes, SQLite's own among them."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in _statements(ddl):
            db.execute(statement)
        return frozenset(db.execute("SELECT type, name FROM sqlite_master"))
    finally:
        db.close()


def _statements(ddl: str) -> list[str]:
    """Split DDL on ';' (schema DDL holds no ';' inside strings or triggers)."""
    return [s.strip() for s in ddl.split(";") if s.strip()]
