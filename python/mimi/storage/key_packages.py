"""The provider's KeyPackage directory: single-use KeyPackages per client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from mimi.storage._base import (
    SqliteStore,
    check_bytes,
    check_int,
    check_many,
    check_text,
    check_tuple,
    fail,
)
from mimi.storage.schema import SERVER


class StoredKeyPackage(NamedTuple):
    """A KeyPackage and its KeyPackageRef (RFC 9420 §5.2)."""

    ref: bytes
    key_package: bytes


class KeyPackageStore(SqliteStore):
    """KeyPackages that clients published, handed out once each.

    A claimed KeyPackage is marked, never deleted: publishing its ref again
    cannot make it claimable a second time. Claims are atomic across every
    connection and process that opens the file. A client may keep one
    last-resort KeyPackage (RFC 9420 §16.8), handed out when no single-use one
    remains.
    """

    schema = SERVER
    checked = ("key_packages",)

    def publish(
        self,
        client: str,
        key_packages: Sequence[tuple[bytes, bytes]],
        *,
        last_resort: bool = False,
    ) -> None:
        """Store the client's (ref, KeyPackage) pairs.

        Publishing a pair again is a no-op (a retried upload); a ref stored
        with another KeyPackage or client is refused. With `last_resort`, pass
        exactly one pair: it replaces the client's previous last-resort one.
        """
        check_text("client", client)
        check_many("key_packages", key_packages)
        if type(last_resort) is not bool:
            fail(f"last_resort must be a bool, got {type(last_resort).__name__}")
        if last_resort and len(key_packages) != 1:
            fail(f"a client has one last-resort KeyPackage, got {len(key_packages)}")
        rows = []
        for pair in key_packages:
            ref, key_package = check_tuple("(ref, key_package)", pair, 2)
            rows.append(
                (check_bytes("ref", ref), client, check_bytes("key_package", key_package), int(last_resort))
            )
        with self.transaction():
            if last_resort:
                self._db.execute(
                    "DELETE FROM key_packages WHERE client = ? AND last_resort = 1 AND ref != ?",
                    (client, rows[0][0]),
                )
            self._insert_once("key_packages", ("ref",), ("client", "key_package", "last_resort"), rows)

    def claim(self, client: str) -> StoredKeyPackage | None:
        """Hand out one of the client's KeyPackages, never the same single-use one twice.

        The oldest unclaimed single-use KeyPackage is marked claimed in the same
        commit that returns it; with none left, the last-resort one (which
        stays), or None.
        """
        check_text("client", client)
        with self.transaction():
            rows = self._db.execute(
                "UPDATE key_packages SET claimed = 1 WHERE rowid = ("
                " SELECT rowid FROM key_packages"
                " WHERE client = ? AND last_resort = 0 AND claimed = 0 ORDER BY rowid LIMIT 1)"
                " RETURNING ref, key_package",
                (client,),
            ).fetchall()
            if not rows:
                rows = self._db.execute(
                    "SELECT ref, key_package FROM key_packages WHERE client = ? AND last_resort = 1",
                    (client,),
                ).fetchall()
        return StoredKeyPackage(*rows[0]) if rows else None

    def remaining(self, client: str) -> int:
        """How many single-use KeyPackages of the client are left to claim."""
        check_text("client", client)
        rows = self._read(
            "SELECT count(*) FROM key_packages WHERE client = ? AND last_resort = 0 AND claimed = 0",
            (client,),
        )
        return int(rows[0][0])

    def record_claim(self, requester: str, target: str, count: int, now: int, forget_before: int) -> None:
        """`requester` claimed `count` KeyPackages of `target` at `now` (ms); claims at
        or before `forget_before` are forgotten. Call it in the claim's transaction."""
        check_text("requester", requester)
        check_text("target", target)
        check_int("count", count)
        with self.transaction():
            self._db.execute("DELETE FROM key_package_claims WHERE at <= ?", (check_int("forget_before", forget_before),))
            if count > 0:
                self._db.execute(
                    "INSERT INTO key_package_claims (requester, target, at, count) VALUES (?, ?, ?, ?)",
                    (requester, target, check_int("now", now), count),
                )

    def claims_since(self, start: int) -> list[tuple[str, str, int, int]]:
        """(requester, target, at, count) of the claims after `start`, oldest first."""
        rows = self._read(
            "SELECT requester, target, at, count FROM key_package_claims WHERE at > ? ORDER BY at, rowid",
            (check_int("start", start),),
        )
        return [(str(r), str(t), int(a), int(c)) for r, t, a, c in rows]
