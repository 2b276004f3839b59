"""Federation between providers over HTTPS with mutual TLS at the draft's paths
(draft-ietf-mimi-protocol §Transport layer, §Directory; docs/federation.md).

Sans-IO: `directory` (the endpoints' paths, their MIMI URI parameters) and `request`
(what a request must be before a handler sees it). IO: `server` and `client`
(asyncio TLS and httptools' HTTP/1.1 parser; the client with a static peer table). `tls` makes the contexts and
reads a certificate's provider domains; `loop` runs them on a thread for synchronous
callers; `ca` is a throwaway CA for tests and demos."""

from mimi.federation.client import FederationClient, Peer, Retries, Timeouts
from mimi.federation.directory import WELL_KNOWN, Directory
from mimi.federation.loop import LoopThread
from mimi.federation.request import Call, Handler, Reply
from mimi.federation.server import FederationServer
from mimi.federation.tls import Credentials

__all__ = [
    "WELL_KNOWN",
    "Call",
    "Credentials",
    "Directory",
    "FederationClient",
    "FederationServer",
    "Handler",
    "LoopThread",
    "Peer",
    "Reply",
    "Retries",
    "Timeouts",
]
