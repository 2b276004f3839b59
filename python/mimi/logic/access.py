"""A device's access to its own provider: the hop MIMI does not define (in-cluster,
device host → its ProviderServer). A bare claim ("I am client X") proves nothing: the
provider has a secret, given at wiring and never sent to anyone, and each of its
local clients gets `device_token(secret, client)` from the deployment when its host
is created. Every call a host makes for a client carries the client's token; the
provider recomputes it (`check_device`). A host can act only for the clients it
was given tokens for, and a client of another provider has none here."""

from __future__ import annotations

import hashlib
import hmac

from mimi import ids
from mimi.errors import MimiError


def device_token(secret: bytes, client: str) -> bytes:
    """The token by which `client` is known to its provider (HMAC-SHA256 of its URI)."""
    return hmac.new(secret, client.encode(), hashlib.sha256).digest()


def check_device(secret: bytes, provider: str, client: str, token: bytes) -> None:
    """Raises MimiError unless `token` is `client`'s, and `client` is a client of `provider`."""
    if ids.provider_of(client) != provider:
        raise MimiError(f"{client} is not a client of {provider}")
    if not hmac.compare_digest(device_token(secret, client), token):
        raise MimiError(f"the token presented for {client} is not its token at {provider}")
