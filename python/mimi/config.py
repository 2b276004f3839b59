"""A provider's configuration for `mimi serve` (`provider.toml`), read and checked
before anything starts: a bad file gets a `ConfigError` naming the file and the key.

    domain = "a.example"           # the provider domain: its users' URIs and its certificate's dNSName
    data_dir = "data"              # SQLite files (created if absent)
    clients = ["mimi://a.example/d/alice/phone"]   # the devices this provider hosts
    rooms = ["mimi://a.example/r/clubhouse"]       # the rooms it hosts (the hub of each)

    [listen]                       # the HTTPS listener peers call
    host = "127.0.0.1"
    port = 8443                    # 0: any free port (tests)

    [tls]
    cert = "a.example.pem"         # chain whose leaf names `domain` (SAN dNSName)
    key = "a.example.key"
    ca = "ca.pem"                  # the CAs whose peers this provider trusts

    [limits]
    max_body = 1048576             # a larger request gets 413
    max_connections = 1024         # open connections the listener holds (more are closed at once)
    max_connections_per_address = 128   # of those, from one peer address

    [peers."b.example"]            # the static peer table (loopback has no DNS)
    url = "https://127.0.0.1:8444"
    ca = "ca.pem"                  # optional: defaults to tls.ca

Relative paths are relative to the file's directory. Unknown keys are refused, so
a misspelled key is an error rather than a default silently used.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mimi import ids
from mimi.errors import MimiError

MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS = 1024, 128  # the listener's defaults (federation.server)
MAX_BODY = 1 << 20  # default request size limit: a /notify batch of 4,096 small messages fits


class ConfigError(MimiError):
    """A provider configuration that cannot be used; the message names the file and key."""


DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8443


@dataclass(frozen=True, slots=True)
class Listen:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT


@dataclass(frozen=True, slots=True)
class Tls:
    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True, slots=True)
class Peer:
    """A provider this one federates with: where it listens and which CAs vouch for it."""

    domain: str
    url: str
    ca: Path


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    domain: str
    data_dir: Path
    tls: Tls
    listen: Listen = Listen()
    clients: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    max_body: int = MAX_BODY
    max_connections: int = MAX_CONNECTIONS
    max_connections_per_address: int = MAX_CONNECTIONS_PER_ADDRESS
    peers: dict[str, Peer] = field(default_factory=dict)


class _Reader:
    """Reads one table of the file, naming each key by its dotted path in errors."""

    def __init__(self, source: str, base: Path, table: dict[str, Any], prefix: str = "") -> None:
        self.source, self.base, self.table, self.prefix = source, base, table, prefix
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key}: {problem}")

    def get(self, key: str, kind: type, default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise self.fail(key, "missing (required)")
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(key, f"must be {_KINDS[kind]}, got {_KINDS.get(type(value), type(value).__name__)} {value!r}")
        return value

    def table_of(self, key: str) -> _Reader:
        value = self.get(key, dict, default={})
        return _Reader(self.source, self.base, value, f"{self.prefix}{key}.")

    def file(self, key: str, default: Path | None = None) -> Path:
        text: str | None = self.get(key, str, required=default is None)
        if text is None:
            assert default is not None
            return default
        path = (self.base / text).resolve()
        if not path.is_file():
            raise self.fail(key, f"no such file: {path}")
        if not os.access(path, os.R_OK):
            raise self.fail(key, f"not readable: {path}")
        return path

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known here: {', '.join(sorted(self.used))})")


_KINDS = {str: "a string", int: "an integer", dict: "a table", list: "an array", bool: "a boolean", float: "a number"}


def load(path: str | Path) -> ProviderConfig:
    """Reads and checks `path`; raises ConfigError naming the key that is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse(table, source=str(path), base=path.parent.resolve())


def parse(table: dict[str, Any], source: str = "<config>", base: Path | None = None) -> ProviderConfig:
    top = _Reader(source, base or Path.cwd(), table)
    domain = top.get("domain", str, required=True)
    if not ids.is_domain(domain):
        raise top.fail("domain", f"not a lowercase DNS name: {domain!r}")
    data_dir = (top.base / top.get("data_dir", str, required=True)).resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise top.fail("data_dir", f"not a directory: {data_dir}")
    clients = tuple(_uris(top, "clients", ids.UriKind.client, domain))
    rooms = tuple(_uris(top, "rooms", ids.UriKind.room, domain))

    listen_table = top.table_of("listen")
    host = listen_table.get("host", str, default=DEFAULT_HOST)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise listen_table.fail("host", f"must be an IP address to bind, got {host!r}") from None
    port = listen_table.get("port", int, default=DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise listen_table.fail("port", f"must be between 0 and 65535, got {port}")
    listen_table.done()

    tls_table = top.table_of("tls")
    if not tls_table.table:
        raise top.fail("tls", "missing (required: cert, key, ca)")
    tls = Tls(cert=tls_table.file("cert"), key=tls_table.file("key"), ca=tls_table.file("ca"))
    tls_table.done()

    limits = top.table_of("limits")
    max_body = limits.get("max_body", int, default=MAX_BODY)
    if not 1024 <= max_body <= 1 << 30:
        raise limits.fail("max_body", f"must be between 1024 and {1 << 30} bytes, got {max_body}")
    connections = limits.get("max_connections", int, default=MAX_CONNECTIONS)
    if not 1 <= connections <= 1 << 20:
        raise limits.fail("max_connections", f"must be between 1 and {1 << 20}, got {connections}")
    per_address = limits.get("max_connections_per_address", int, default=MAX_CONNECTIONS_PER_ADDRESS)
    if not 1 <= per_address <= connections:
        raise limits.fail("max_connections_per_address", f"must be between 1 and max_connections ({connections}), got {per_address}")
    limits.done()

    peers_table = top.table_of("peers")
    peers: dict[str, Peer] = {}
    for name in peers_table.table:
        peer = peers_table.table_of(name)
        if not ids.is_domain(name):
            raise peers_table.fail(name, "not a lowercase DNS name")
        if name == domain:
            raise peers_table.fail(name, "is this provider's own domain")
        url = peer.get("url", str, required=True)
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise peer.fail("url", f"must be an https:// base URL, got {url!r}")
        peers[name] = Peer(name, url.rstrip("/"), peer.file("ca", default=tls.ca))
        peer.done()
    top.done()
    return ProviderConfig(domain, data_dir, tls, Listen(host, port), clients, rooms, max_body, connections, per_address, peers)


def _uris(top: _Reader, key: str, kind: ids.UriKind, domain: str) -> list[str]:
    """The array `key` of `kind` URIs, each of this provider, each once."""
    uris: list[str] = top.get(key, list, default=[])
    seen: set[str] = set()
    for i, uri in enumerate(uris):
        item = f"{key}[{i}]"
        if not isinstance(uri, str):
            raise top.fail(item, f"must be a {kind.name} URI string, got {uri!r}")
        try:
            ids.parse(uri, kind)
        except ValueError as err:
            raise top.fail(item, str(err)) from None
        if ids.domain(uri) != domain:
            raise top.fail(item, f"{uri} is not a {kind.name} of {domain}")
        if uri in seen:
            raise top.fail(item, f"{uri} is listed twice")
        seen.add(uri)
    return uris
