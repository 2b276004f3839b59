"""How servers reach each other. The logic and actors speak only the protocol's
bodies (bytes); a transport carries them. In one Ray cluster, `RayTransport`
calls the peers' actor methods; between deployments an HTTPS transport (mutual
TLS, the draft's paths) takes its place without touching the logic.

A transport speaks for one provider, its `domain`, fixed when the deployment
wires it: that is the caller identity the peer's endpoint sees (over HTTPS, the
domain of the client certificate). No endpoint takes its caller from an argument
or a body; the peer checks every claim of a body against it (docs/guarantees.md,
"Callers"). Hubs are found by the room's provider domain through the transport's
directory, never by a name a client knows.

Every call returns a `concurrent.futures.Future` of the peer's answer (an endpoint
that refuses raises from `result()`), so callers keep calls in flight without
knowing what carries them."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from mimi.logic.follower import Notify, Unnumbered
from mimi.logic.key_material import KeyMaterialAnswer


class Transport(Protocol):
    """The server-to-server endpoints of draft-ietf-mimi-protocol, called as `domain`."""

    domain: str  # the provider this transport speaks for: the caller its peers see

    def update(self, room: str, body: bytes) -> Future[bytes]:
        """POST /update/{roomId} to the room's hub: a HandshakeBundle; its UpdateResponse."""

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        """POST /submitMessage/{roomId} to the room's hub, once per body, in order
        (in one Ray call); the SubmitMessageResponse of each."""

    def group_info(self, room: str, body: bytes) -> Future[bytes]:
        """POST /groupInfo/{roomId} to the room's hub: a GroupInfoRequest; its response."""

    def key_material(self, room: str, body: bytes) -> Future[KeyMaterialAnswer]:
        """POST /keyMaterial/{targetUser} to the hub of the KeyMaterialRequest's room,
        which decides and forwards it (`claim_key_material`)."""

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        """POST /keyMaterial/{targetUser} from a room's hub to the target user's provider."""

    def notify(self, follower: str, batch: Notify | Unnumbered) -> Future[int]:
        """POST /notify/{roomId} from a room's hub to a follower: one batch with its
        ordering envelope (docs/interop.md, "Notify"), or without one as a peer hub
        that ignores it sends it (`Unnumbered`); how many deliveries it made."""

    # Beyond the draft, which leaves room creation and the hub's signing key to the
    # hub's provider: a remote client creates a room on its hub, and verifies the
    # hub's GroupInfoResponse signature with its key.

    def reserve(self, room: str) -> Future[tuple[bytes, str]]:
        """The external-sender key and identity of the hub of a room to be created."""

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> Future[None]:
        """Creates the room on its hub from its first GroupInfo and ratchet tree."""

    def hub_sender(self, room: str) -> Future[tuple[bytes, str]]:
        """The room's external sender (its hub): signature key and identity."""
