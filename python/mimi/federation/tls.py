"""TLS for provider-to-provider HTTPS (draft-ietf-mimi-protocol §Transport layer):
TLS 1.3 only, mutually authenticated, and the peer's provider domain taken from its
certificate's SAN dNSNames (RFC 6125 §6.4), never from its subject CN."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def server_context(credentials: Credentials) -> ssl.SSLContext:
    """Requires a client certificate that chains to the CA bundle: a peer without one
    fails the handshake and never sends a request."""
    context = _context(ssl.PROTOCOL_TLS_SERVER, credentials, credentials.ca_bundle)
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
