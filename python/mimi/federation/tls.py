"""TLS for provider-to-provider HTTPS (draft-ietf-mimi-protocol §Transport layer):
TLS 1.3 only, mutually authenticated, and the peer's provider domain taken from its
certificate's SAN dNSNames (RFC 6125 §6.4), never from its subject CN."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature


@dataclass(frozen=True, slots=True)
class Credentials:
    """This provider's certificate and key (PEM files) and the CA bundle its peers'
    certificates must chain to."""

    domain: str
    cert: Path
    key: Path
    ca_bundle: Path


def _context(protocol: int, credentials: Credentials, ca_bundle: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(credentials.cert, credentials.key)
    context.load_verify_locations(cafile=ca_bundle)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_context(credentials: Credentials, peer_bundles: Iterable[Path] = ()) -> ssl.SSLContext:
    """Requires a client certificate that chains to the CA bundle or to one of the
    peers' bundles: a peer without one fails the handshake and never sends a request.
    Which peer's CA it chains to is `PeerCAs`' to check, per domain: OpenSSL trusts
    the union."""
    context = _context(ssl.PROTOCOL_TLS_SERVER, credentials, credentials.ca_bundle)
    for bundle in set(peer_bundles) - {credentials.ca_bundle}:
        context.load_verify_locations(cafile=bundle)
    context.set_alpn_protocols(["http/1.1"])
    return context


def client_context(credentials: Credentials, ca_bundle: Path) -> ssl.SSLContext:
    """Presents our certificate and checks the server's against `ca_bundle` (the peer
    table's) and against the target domain: the hostname check matches SAN dNSNames
    only, the CN fallback off."""
    context = _context(ssl.PROTOCOL_TLS_CLIENT, credentials, ca_bundle)
    context.check_hostname = True
    context.hostname_checks_common_name = False
    context.set_alpn_protocols(["http/1.1"])
    return context


def certificate_domains(peercert: Mapping[str, Any] | None) -> frozenset[str]:
    """The provider domains a verified certificate authenticates: its SAN dNSNames,
    lowercased (`SSLObject.getpeercert()`'s form). Wildcards are not provider names
    and are ignored, as is the subject CN (RFC 6125 §6.4.4)."""
    if not peercert:
        return frozenset()
    return frozenset(
        value.lower() for kind, value in peercert.get("subjectAltName", ()) if kind == "DNS" and "*" not in value
    )


class PeerCAs:
    """The server's peer table: per peer domain, the CA certificates of its bundle.
    A client certificate authenticates a domain only if one of that domain's own CAs
    issued it; another peer's CA, trusted for its own names, cannot vouch for it.

    Python 3.11's ssl gives the leaf only, not the chain it verified (that is
    `get_verified_chain`, 3.13): so the leaf must be issued directly by a certificate
    of the peer's bundle (an intermediate CA is listed in the bundle). OpenSSL has
    already checked the chain, validity and key usage to one of the bundles; this
    checks the issuer's name and signature against the peer's own."""

    def __init__(self, peers: Mapping[str, Path]) -> None:
        self.bundles = dict(peers)
        self.cas = {domain: x509.load_pem_x509_certificates(bundle.read_bytes()) for domain, bundle in peers.items()}

    def vouched(self, leaf_der: bytes | None, names: frozenset[str]) -> frozenset[str]:
        """The names among `names` (the leaf's SAN dNSNames) whose own CAs issued it."""
        if not leaf_der:
            return frozenset()
        leaf = x509.load_der_x509_certificate(leaf_der)
        return frozenset(name for name in names if any(_issued(leaf, ca) for ca in self.cas.get(name, ())))


def _issued(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
