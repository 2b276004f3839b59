"""Where each server's and client's database lives under a data directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mimi import ids
from mimi.errors import DecodeError, StorageError

# Kept as is in a file name: lowercase (case-insensitive file systems would
# merge "Alice" and "alice"), digits, "-", "_" and "." (not leading, so no
# "." / ".." / hidden names). Everything else becomes %XX, "%" included, so
# the mapping stays one-to-one.
_KEEP = re.compile(r"[a-z0-9_-]|(?<=.)\.")


def _safe(segment: str) -> str:
    return "".join(
        ch if _KEEP.match(segment, i) else "".join(f"%{b:02X}" for b in ch.encode())
        for i, ch in enumerate(segment)
    )


class DataDir:
    """Maps MIMI URIs to database paths below `root`.

    ``mimi://y.example`` → ``servers/y.example.sqlite3``;
    ``mimi://y.example/d/charlie/phone`` → ``clients/y.example/charlie/phone.sqlite3``.
    Parent directories are created on demand.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def server(self, provider: str) -> Path:
        """The database of the provider server `provider` (a provider URI)."""
        parsed = self._parse(provider, ids.UriKind.provider)
        return self._file(Path("servers"), parsed.domain)

    def client(self, client: str) -> Path:
        """The database of the client device `client` (a client URI)."""
        parsed = self._parse(client, ids.UriKind.client)
        user, device = (_safe(s) for s in parsed.path)
        return self._file(Path("clients", parsed.domain, user), device)

    @staticmethod
    def _parse(uri: object, kind: ids.UriKind) -> ids.MimiUri:
        if type(uri) is not str:
            raise StorageError(f"a {kind.name} URI must be a str, got {type(uri).__name__}")
        try:
            return ids.parse(uri, kind)
        except DecodeError as exc:
            raise StorageError(f"no database path for {uri!r}: {exc}") from exc

    def _file(self, folder: Path, name: str) -> Path:
        directory = self.root / folder
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {directory}: {exc}") from exc
        return directory / f"{name}.sqlite3"
