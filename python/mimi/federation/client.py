"""The HTTPS client of one provider: calls another provider's endpoints at the paths
its directory names (fetched once and cached), with our certificate, over a pool of
kept-alive connections per peer, with timeouts; idempotent calls are tried again
after an exponential backoff with jitter, a bounded number of times.

Peers come from a static table (domain -> address and CA bundle): loopback and
private federations have no DNS for provider domains. The connection goes to the
table's address, while TLS (SNI and the certificate check) and `Host` name the
peer's domain."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mimi.errors import PeerUnavailable
from mimi.federation.directory import WELL_KNOWN, Directory
from mimi.federation.request import Reply
from mimi.federation.tls import Credentials, client_context
from mimi.logic.fanout import Backoff

# Answers that say "not now" rather than "no": an idempotent call is tried again.
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class Peer:
    domain: str
    base_url: str  # where to connect: "https://127.0.0.1:8443"
    ca_bundle: Path  # what its certificate must chain to


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to connect (TLS handshake included), to read an answer, to write a
    request, to wait for a pooled connection."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0


@dataclass(frozen=True, slots=True)
class Retries:
    """An idempotent call is made at most `attempts` times; between two, the delay of
    `backoff` after that many failures."""

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.05, cap=2.0))

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a call is made at least once, got attempts={self.attempts}")


class FederationClient:
    def __init__(
        self,
        credentials: Credentials,
        peers: Mapping[str, Peer],
        *,
        timeouts: Timeouts = Timeouts(),
        retries: Retries = Retries(),
        connections_per_peer: int = 8,
        directory_ttl: float = 3600.0,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.peers = dict(peers)
        self.timeouts = timeouts
        self.retries = retries
        self.connections_per_peer = connections_per_peer
        self.directory_ttl = directory_ttl
        self.rng = rng or random.Random()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._directories: dict[str, tuple[float, Directory]] = {}

    def _client(self, domain: str) -> httpx.AsyncClient:
        client = self._clients.get(domain)
        if client is None:
            try:
                peer = self.peers[domain]
            except KeyError:
                raise ValueError(f"{domain} is not in the peer table") from None
            t = self.timeouts
            client = httpx.AsyncClient(
                base_url=peer.base_url,
                verify=client_context(self.credentials, peer.ca_bundle),
                timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
                limits=httpx.Limits(
                    max_connections=self.connections_per_peer, max_keepalive_connections=self.connections_per_peer
                ),
                # §Transport layer: Host names the target provider, From the source.
                headers={"host": domain, "from": f"mimi@{self.credentials.domain}"},
                trust_env=False,
            )
            self._clients[domain] = client
        return client

    async def directory(self, domain: str) -> Directory:
        """The peer's directory, from the cache while it is younger than the TTL."""
        cached = self._directories.get(domain)
        if cached is not None and time.monotonic() - cached[0] < self.directory_ttl:
            return cached[1]
        reply = await self._send(domain, "GET", WELL_KNOWN, b"", {}, idempotent=True)
        if reply.status != 200:
            raise PeerUnavailable(f"directory of {domain}: {reply.status} {reply.body[:200]!r}")
        directory = Directory.from_json(reply.body, domain)
        self._directories[domain] = (time.monotonic(), directory)
        return directory

    async def call(
        self,
        domain: str,
        endpoint: str,
        params: Mapping[str, str],
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Reply:
        """POST `body` to the peer's `endpoint` (a directory name) with its path
        parameter, a MIMI URI. Returns the peer's answer, whatever its status;
        PeerUnavailable if no answer came (after the retries, if `idempotent`)."""
        path = (await self.directory(domain)).path(endpoint, params)
        return await self._send(domain, "POST", path, body, headers or {}, idempotent=idempotent)

    async def _send(
        self, domain: str, method: str, path: str, body: bytes, headers: Mapping[str, str], *, idempotent: bool
    ) -> Reply:
        client = self._client(domain)
        for attempt in range(1, self.retries.attempts + 1):
            last = attempt == self.retries.attempts
            try:
                response = await client.request(
                    method, path, content=body, headers=headers, extensions={"sni_hostname": domain}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                # Nothing was sent: trying again is safe whatever the call.
                if last:
                    raise PeerUnavailable(f"{domain}: {method} {path}: {e!r}") from e
            except httpx.TransportError as e:
                # The request may have arrived: only an idempotent call is sent again.
                if last or not idempotent:
                    raise PeerUnavailable(f"{domain}: {method} {path}: {e!r}") from e
            else:
                reply = Reply(response.status_code, response.content, tuple(response.headers.items()))
                if last or not idempotent or reply.status not in RETRY_STATUSES:
                    return reply
            await asyncio.sleep(self.retries.backoff.delay(attempt, self.rng))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
