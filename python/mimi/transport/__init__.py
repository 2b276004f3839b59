"""How servers reach each other. The logic and actors speak only the protocol's
bodies (bytes); a transport carries them. In one Ray cluster, `RayTransport`
calls the peers' actor methods; between deployments an HTTPS transport (mutual
TLS, the draft's paths) takes its place without touching the logic."""

from __future__ import annotations

from typing import Any, Protocol

from mimi.logic.follower import Notify
from mimi.logic.key_material import KeyMaterialAnswer


class Transport(Protocol):
    def key_material(self, caller: str, target_provider: str, body: bytes) -> KeyMaterialAnswer:
        """POST /keyMaterial/{targetUser} from the hub of provider `caller`: a
        KeyMaterialRequest; returns the KeyMaterialResponse and a refusal's reason."""

    def notify(self, follower: str, batch: Notify) -> Any:
        """POST /notify/{roomId}: one batch; returns a handle `answered()` resolves."""

    def answered(self, handles: list[Any], wait: float) -> tuple[list[tuple[Any, bool]], list[Any]]:
        """Which notify handles completed within `wait` seconds, and whether each
        succeeded (False: resend, the follower may have lost it); the rest are pending."""
