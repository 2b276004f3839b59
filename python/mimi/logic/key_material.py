"""`POST /keyMaterial/{targetUser}` (sans-IO): draft-ietf-mimi-protocol §Fetch Key
Material.

A client asks, through the hub of a room, for a KeyPackage of every client of a
target user, to add them to the room. Two servers decide before anything is claimed:

- the hub (`hub_refusal`): the request is signed by a client in the room's group, with
  its leaf's signature key, sent by that client's provider, and the room's policy lets
  that client add the target's clients (`mimi.policy.authorize_key_material`);
- the target provider (`provider_refusal`): the room is the calling hub's, and the
  requesting user has not claimed more than `ClaimLimit` of the target's KeyPackages
  lately (`ClaimLimiter`).

Then the target provider hands out one KeyPackage per client: a single-use one while
any is left, else the client's last-resort one (`KeyPackageStore.claim`), and answers
with `key_material_response`.

A refusal is a KeyMaterialResponse with a user code and no clients, with its reason
beside it (`KeyMaterialAnswer`): the draft's body has no field for one. A refusal
changes nothing. The readings of the draft are in docs/interop.md ("KeyMaterial").
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from mimi import _core, ids
from mimi.codes import KeyMaterialUserCode
from mimi.errors import DecodeError, InvalidSignature
from mimi.ids import UriKind
from mimi.policy import authorize_key_material
from mimi.room import Actor, RoomState


@dataclass(frozen=True, slots=True)
class KeyMaterialAnswer:
    """What a `/keyMaterial` call returns: the KeyMaterialResponse body and, for a
    refusal, why (over HTTPS in the `MIMI-Reason` header, as the `/notify` envelope
    travels in headers)."""

    response: bytes
    reason: str = ""


def refuse(code: KeyMaterialUserCode, request: _core.KeyMaterialRequest, reason: str) -> KeyMaterialAnswer:
    return KeyMaterialAnswer(_core.KeyMaterialResponse(code, request.target_user).encode(), reason)


def _authenticated(request: _core.KeyMaterialRequest) -> str | None:
    """Why the request's signature or URIs do not hold, or None."""
    try:
        request.verify()
        ids.parse(request.requesting_user, UriKind.user)
        ids.parse(request.target_user, UriKind.user)
        ids.parse(request.room_id, UriKind.room)
    except (DecodeError, InvalidSignature) as err:
        return str(err)
    return None


# -- the hub ----------------------------------------------------------------------------


def hub_refusal(
    request: _core.KeyMaterialRequest,
    room: str,
    provider: str,
    state: RoomState,
    members: Sequence[_core.Member],
) -> KeyMaterialAnswer | None:
    """None if the hub of `room` (in `state`, its group of `members`) forwards `request`,
    sent by `provider`, to the target's provider; else the refusal.

    `provider` is the calling provider, as the transport authenticated it (never a
    value from the body). noConsent: a request that is not the requesting
    user's own (signature, credential, provider); noConsentForThisRoom: the room's
    policy does not let the requester add the target's clients."""
    problem = _authenticated(request)
    if problem is not None:
        return refuse("noConsent", request, problem)
    if request.room_id != room:
        return refuse("noConsentForThisRoom", request, f"the request names {request.room_id}, not {room}")
    try:
        requester = _core.basic_credential_identity(request.requester_credential)
        requester_user = ids.user_of(requester)
    except DecodeError as err:
        return refuse("noConsent", request, f"requesterCredential is not a basic credential naming a client: {err}")
    if requester_user != request.requesting_user:
        return refuse("noConsent", request, f"{requester} is not a client of {request.requesting_user}")
    # As for /update: the transport's peer speaks only for its own users.
    if ids.provider_of(requester) != provider:
        return refuse("noConsent", request, f"{provider} cannot request key material for {requester}")
    # The signature proves the request is the requester's only with its leaf's key.
    leaf = next((m for m in members if m.identity == requester), None)
    if leaf is None or leaf.signature_key != request.requester_signature_key:
        return refuse("noConsentForThisRoom", request, f"{requester} is not in the group with that signature key")
    decision = authorize_key_material(state, Actor(requester), request.target_user)
    if not decision.allowed:
        return refuse("noConsentForThisRoom", request, decision.reason)
    return None


# -- the target provider -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimLimit:
    """How many KeyPackages of one target user one requesting user may claim in any
    `window_ms`, single-use and last-resort alike (so it bounds both the drain of the
    single-use ones and the reuse of the last-resort one). A request is served only
    if a KeyPackage for each of the target's clients fits, so a user with more
    clients than `key_packages` cannot be added: the default leaves room for several
    adds of a user with a few devices an hour, and lets no one drain faster."""

    key_packages: int = 16
    window_ms: int = 3_600_000
    # All requesting users of one calling provider together, per target user: a hub
    # can mint requesting users (and rooms of its own) at will, so the per-user limit
    # alone would not bound what one provider drains.
    per_provider: int = 64


CLAIM_LIMIT = ClaimLimit()  # the default


class ClaimLimiter:
    """KeyPackages claimed per (requesting user, target user) in the last
    `ClaimLimit.window_ms` (a sliding window). It holds only pairs with a claim in the
    window, each with at most `ClaimLimit.key_packages` entries."""

    def __init__(self, limit: ClaimLimit) -> None:
        self.limit = limit
        # (requester, target) -> (time, count) of its claims, oldest first; the pairs
        # in the order of their last claim, so expired pairs are at the front.
        self._claims: OrderedDict[tuple[str, str], deque[tuple[int, int]]] = OrderedDict()

    def claimed(self, requester: str, target: str, now: int) -> int:
        """KeyPackages of `target` that `requester` claimed in the window before `now`."""
        start = now - self.limit.window_ms
        while self._claims:
            pair, claims = next(iter(self._claims.items()))
            if claims and claims[-1][0] > start:
                break
            del self._claims[pair]
        claims = self._claims.get((requester, target), deque())
        while claims and claims[0][0] <= start:
            claims.popleft()
        return sum(count for _, count in claims)

    def __len__(self) -> int:
        """How many (requester, target) pairs it holds."""
        return len(self._claims)

    def record(self, requester: str, target: str, count: int, now: int) -> None:
        if count:
            pair = (requester, target)
            self._claims.setdefault(pair, deque()).append((now, count))
            self._claims.move_to_end(pair)


def provider_refusal(
    request: _core.KeyMaterialRequest, caller: str, clients: int, limiter: ClaimLimiter, now: int
) -> KeyMaterialAnswer | None:
    """None if the target provider serves `request` from `caller` (the calling hub's
    provider, as the transport authenticated it) for a target user with `clients`
    clients here; else the refusal. Checked before anything is claimed.

    A hub hands out KeyPackages only for its own rooms (their Welcomes come from it),
    so a request for a room of another domain gets noConsentForThisRoom. A requester,
    or the calling provider with all its requesters, over its `ClaimLimit` for this
    target gets noConsent (`ClaimLimiter` counts both: a provider URI is no user's)."""
    problem = _authenticated(request)
    if problem is not None:
        return refuse("noConsent", request, problem)
    if ids.domain(request.room_id) != ids.domain(caller):
        return refuse("noConsentForThisRoom", request, f"{request.room_id} is not a room of {caller}")
    if clients == 0:
        return refuse("userUnknown", request, f"{request.target_user} has no client here")
    limit = limiter.limit
    for requester, most in ((request.requesting_user, limit.key_packages), (caller, limit.per_provider)):
        claimed = limiter.claimed(requester, request.target_user, now)
        if claimed + clients > most:
            return refuse(
                "noConsent",
                request,
                f"{requester} claimed {claimed} KeyPackages of {request.target_user} in the last "
                f"{limit.window_ms} ms; {clients} more would pass the limit of {most}",
            )
    return None


def key_material_response(target_user: str, claimed: Sequence[tuple[str, bytes | None]]) -> KeyMaterialAnswer:
    """The answer for the target's (client, KeyPackage or None if it has none left):
    `success` if every client has one, `partialSuccess` if some have, and
    `noCompatibleMaterial` if none has, since the user codes have no "exhausted"."""
    material = [
        _core.ClientKeyMaterial("success", client, key_package=kp)
        if kp is not None
        else _core.ClientKeyMaterial("keyMaterialExhausted", client)
        for client, kp in claimed
    ]
    served = sum(1 for _, kp in claimed if kp is not None)
    status: KeyMaterialUserCode = "success" if served == len(claimed) else "partialSuccess" if served else "noCompatibleMaterial"
    reason = "" if served else f"the KeyPackages of every client of {target_user} are exhausted"
    return KeyMaterialAnswer(_core.KeyMaterialResponse(status, target_user, material).encode(), reason)
