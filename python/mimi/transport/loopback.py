"""Providers on one host federated over HTTPS on 127.0.0.1 (the demo, tests and
benchmarks): a throwaway CA made at start (`federation.ca`), a certificate per
provider domain, each provider's front (`ProviderFront`) on its own ephemeral
port, and the static peer table of them all. The fronts run on one loop thread of
this process; the providers' servers reach each other only through them
(`HttpsTransport`), whatever Ray they share."""

from __future__ import annotations

from pathlib import Path

from mimi import ids
from mimi.federation import Credentials, FederationServer, LoopThread, Peer
from mimi.federation.ca import CertificateAuthority
from mimi.transport.front import ProviderFront
from mimi.transport.https import HttpsTransport


class LoopbackFederation:
    def __init__(self, providers: list[str], directory: Path) -> None:
        """`providers`: their URIs; the CA's files go to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.create()
        self.credentials: dict[str, Credentials] = {ids.domain(p): ca.issue([ids.domain(p)], directory) for p in providers}
        self.loop = LoopThread("https-fronts")
        self.servers: dict[str, FederationServer] = {}
        self.peers: dict[str, Peer] = {}
        for provider in providers:
            domain = ids.domain(provider)
            # Every peer connects from 127.0.0.1: one address, so only the global cap applies.
            peers = {d: c.ca_bundle for d, c in self.credentials.items() if d != domain}
            server = FederationServer(
                self.credentials[domain], ProviderFront(provider).handlers(), peers, max_connections_per_address=1024
            )
            port = self.loop.run(server.start("127.0.0.1", 0))
            self.servers[domain] = server
            self.peers[domain] = Peer(domain, f"https://127.0.0.1:{port}", self.credentials[domain].ca_bundle)

    def transport(self, provider: str) -> HttpsTransport:
        """What `provider`'s servers speak through (`Deployment.transport`)."""
        domain = ids.domain(provider)
        return HttpsTransport(provider, self.credentials[domain], {d: p for d, p in self.peers.items() if d != domain})

    def requests(self) -> dict[str, tuple[int, int]]:
        """Per provider: (connections, requests) its front served."""
        return {domain: (server.connections, server.requests) for domain, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            self.loop.run(server.close())
        self.loop.close()
