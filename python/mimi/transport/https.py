"""The transport between deployments: the draft's endpoints over HTTPS with mutual
TLS (`mimi.federation`), at the paths each peer's directory names. Calls to this
provider's own rooms and users stay in-cluster (`RayTransport`): only calls
between providers cross HTTPS, and there the caller identity is our certificate's.

What a body does not carry travels in `MIMI-*` headers (docs/interop.md, "HTTPS"):
the `/notify` ordering envelope, a `/keyMaterial` refusal's reason, and an
endpoint's refusal (its error class), so that a refusal raises the same exception
here as over Ray and the logic cannot tell the transports apart.

A transport is created where the deployment is wired and pickled into the actor
that uses it: it holds only its settings until its first call, which starts its
loop and client in that process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TypeVar

from mimi import errors, ids
from mimi.errors import MimiError, PeerUnavailable, RemoteProtocolError
from mimi.federation import Credentials, FederationClient, LoopThread, Peer, Reply
from mimi.federation.directory import PARAMETERS
from mimi.logic.follower import Notify, Unnumbered
from mimi.logic.key_material import KeyMaterialAnswer
from mimi.transport import Transport
from mimi.transport.ray import RayTransport

T = TypeVar("T")

# The /notify envelope (docs/interop.md, "Fanout ordering") and what answers carry.
SEQUENCES, PREVIOUS, WITHHELD = "mimi-sequences", "mimi-previous", "mimi-withheld"
DELIVERED = "mimi-delivered"  # how many deliveries a /notify made (the hub's flow control)
REASON = "mimi-reason"  # why a /keyMaterial was refused: the KeyMaterialResponse has no field for it
ERROR, ERROR_CODE = "mimi-error", "mimi-error-code"  # a refusal's exception class and protocol code

# Beyond the draft (docs/interop.md, "HTTPS"): the room's external sender, served at
# its own directory name; room creation never crosses providers.
HUB_SENDER = "hubSender"

# Requests in flight to one peer, each on a kept-alive connection of its own (HTTP/1.1):
# concurrent /submitMessage requests share the hub's durable commit, so a disk whose sync
# takes tens of milliseconds under load still accepts thousands a second. Below the
# receivers' out-of-order tolerance of 128 (docs/interop.md, "Out-of-order generations").
CONNECTIONS_PER_PEER = 32


def envelope(batch: Notify | Unnumbered) -> dict[str, str]:
    headers = {SEQUENCES: ",".join(map(str, batch.sequences)), PREVIOUS: str(batch.previous)} if isinstance(batch, Notify) else {}
    if batch.withheld:
        headers[WITHHELD] = " ".join(batch.withheld)  # user URIs hold no space
    return headers


def notify_of(room: str, headers: Mapping[str, str], body: bytes) -> Notify | Unnumbered:
    """The `/notify` call whose envelope `headers` carry, or an `Unnumbered` one if
    they carry none (a peer hub that ignores our envelope); RemoteProtocolError if it
    is half there or malformed (`Notify` checks its bounds)."""
    withheld = tuple(headers[WITHHELD].split(" ")) if headers.get(WITHHELD) else ()
    if SEQUENCES not in headers and PREVIOUS not in headers:
        return Unnumbered(room, body, withheld)
    try:
        sequences = tuple(int(s) for s in headers[SEQUENCES].split(","))
        previous = int(headers[PREVIOUS])
    except (KeyError, ValueError) as err:
        raise RemoteProtocolError(f"notify for {room}: the envelope's {SEQUENCES}/{PREVIOUS} headers: {err!r}", "badRequest") from None
    return Notify(room, previous, sequences, body, withheld)


# A refusal's status: the peer's fault (400), the room's policy (403), an unknown room
# (404, `NotHosted`), anything else refused on purpose (409); a bug is 500.
STATUS: dict[type[MimiError], int] = {
    errors.DecodeError: 400, errors.RemoteProtocolError: 400, errors.InvalidSignature: 400, errors.WrongEpoch: 409,
    errors.PolicyError: 403, errors.MlsError: 400, errors.InternalError: 500, errors.StorageError: 500,
    errors.PeerUnavailable: 503,
}


class NotHosted(MimiError):
    """A call for a room this provider does not host."""


def refusal(err: BaseException) -> Reply:
    """The answer that carries `err` to the caller, who raises it again (`raised`)."""
    cause = getattr(err, "cause", None)  # a Ray task's error wraps what the actor raised
    if isinstance(cause, BaseException):
        err = cause
    if not isinstance(err, MimiError):
        # Ray's own (an actor restarting or gone) say "not now": 503, which a caller retries.
        unavailable = type(err).__module__.startswith("ray.")
        err = (PeerUnavailable if unavailable else errors.InternalError)(f"{type(err).__name__}: {err}")
    name = "MimiError" if isinstance(err, NotHosted) else type(err).__name__
    status = 404 if isinstance(err, NotHosted) else next((s for c, s in STATUS.items() if isinstance(err, c)), 409)
    headers = [("content-type", "text/plain; charset=utf-8"), (ERROR, name)]
    if isinstance(err, RemoteProtocolError):
        headers.append((ERROR_CODE, err.code))
    return Reply(status, str(err).encode(errors="replace"), tuple(headers))


def raised(domain: str, endpoint: str, reply: Reply) -> MimiError:
    """The exception a refusal stands for, of the class its peer named when it is
    one of mimi's, else a RemoteProtocolError (a peer that names none)."""
    headers = {name.lower(): value for name, value in reply.headers}
    message = reply.body.decode(errors="replace")
    cls = getattr(errors, headers.get(ERROR, ""), None)
    if reply.status in (502, 503, 504) and cls is None:
        return PeerUnavailable(f"{domain}: {endpoint}: {reply.status} {message}")
    if cls is RemoteProtocolError or not (isinstance(cls, type) and issubclass(cls, MimiError)):
        return RemoteProtocolError(message or f"{domain}: {endpoint}: {reply.status}", headers.get(ERROR_CODE, "invalid"))
    err: MimiError = cls(message)
    return err


class HttpsTransport:
    """`Transport` over HTTPS as provider `domain` (a provider URI), whose
    certificate is `credentials`'; `peers` is the static peer table by domain."""

    def __init__(self, domain: str, credentials: Credentials, peers: Mapping[str, Peer]) -> None:
        if ids.domain(domain) != credentials.domain:
            raise MimiError(f"{domain} cannot speak with a certificate for {credentials.domain}")
        self.domain = domain
        self.credentials = credentials
        self.peers = dict(peers)
        self._started: tuple[LoopThread, FederationClient, RayTransport] | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type[HttpsTransport], tuple[str, Credentials, dict[str, Peer]]]:
        """Pickled as its settings: the process that unpickles it starts its own loop."""
        return HttpsTransport, (self.domain, self.credentials, self.peers)

    def _parts(self) -> tuple[LoopThread, FederationClient, RayTransport]:
        with self._lock:
            if self._started is None:
                self._started = (LoopThread(f"https:{self.credentials.domain}"),
                                 FederationClient(self.credentials, self.peers, connections_per_peer=CONNECTIONS_PER_PEER),
                                 RayTransport(self.domain))
            return self._started

    def _local(self, target: str) -> Transport | None:
        """The in-cluster transport when `target` (a URI) is this provider's."""
        return self._parts()[2] if ids.domain(target) == self.credentials.domain else None

    async def _call(self, client: FederationClient, domain: str, endpoint: str, param: str, body: bytes,
                    headers: Mapping[str, str] | None = None, idempotent: bool = True) -> Reply:
        """POST to `domain`'s `endpoint`; its answer, or the refusal it stands for raised."""
        params = {PARAMETERS[endpoint][0]: param}
        reply = await client.call(domain, endpoint, params, body, headers=headers, idempotent=idempotent)
        if reply.status != 200:
            raise raised(domain, endpoint, reply)
        return reply

    def _post(self, target: str, endpoint: str, param: str, body: bytes, answer: Callable[[Reply], T],
              headers: Mapping[str, str] | None = None, *, idempotent: bool = True) -> Future[T]:
        """`_call` to the provider of `target` (a URI), its answer read by `answer`."""
        loop, client, _ = self._parts()

        async def call() -> T:
            return answer(await self._call(client, ids.domain(target), endpoint, param, body, headers, idempotent))

        return loop.submit(call())

    def update(self, room: str, body: bytes) -> Future[bytes]:
        local = self._local(room)
        if local is not None:
            return local.update(room, body)
        return self._post(room, "update", room, body, _body)

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        local = self._local(room)
        if local is not None:
            return local.submit_messages(room, bodies)
        loop, client, _ = self._parts()
        domain = ids.domain(room)

        async def all_of() -> list[bytes]:
            # One request per body, concurrently (at most CONNECTIONS_PER_PEER in flight):
            # the hub logs those that arrive together in one commit and sequences them as
            # they arrive, which receivers take within their out-of-order tolerance
            # (docs/interop.md, "Out-of-order generations"). Answers in the bodies' order.
            replies = await asyncio.gather(*(self._call(client, domain, "submitMessage", room, body) for body in bodies))
            return [reply.body for reply in replies]

        return loop.submit(all_of())

    def group_info(self, room: str, body: bytes) -> Future[bytes]:
        local = self._local(room)
        if local is not None:
            return local.group_info(room, body)
        return self._post(room, "groupInfo", room, body, _body)

    def key_material(self, room: str, body: bytes) -> Future[KeyMaterialAnswer]:
        local = self._local(room)
        return local.key_material(room, body) if local is not None else self._key_material(room, body)

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        local = self._local(target_provider)
        if local is not None:
            return local.claim_key_material(target_provider, body)
        return self._key_material(target_provider, body)

    def _key_material(self, provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        """POST /keyMaterial/{targetUser} to the provider of `provider` (a URI): the
        room's hub, or the target user's. Not idempotent: the target claims KeyPackages."""
        from mimi import _core

        target = _core.KeyMaterialRequest.decode(body).target_user
        return self._post(provider, "keyMaterial", target, body, _answer, idempotent=False)

    def notify(self, follower: str, batch: Notify | Unnumbered) -> Future[int]:
        local = self._local(follower)
        if local is not None:
            return local.notify(follower, batch)
        # A follower processes a repeated batch once: retrying is safe.
        return self._post(follower, "notify", batch.room, batch.body, _delivered, envelope(batch))

    def reserve(self, room: str) -> Future[tuple[bytes, str]]:
        return self._own(room).reserve(room)

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> Future[None]:
        return self._own(room).create_room(room, group_info, ratchet_tree)

    def _own(self, room: str) -> Transport:
        """Rooms are created only on their creator's own provider (docs/interop.md, "HTTPS")."""
        local = self._local(room)
        if local is None:
            raise MimiError(f"{room} is not {self.domain}'s: a room is created on its creator's own provider")
        return local

    def hub_sender(self, room: str) -> Future[tuple[bytes, str]]:
        local = self._local(room)
        if local is not None:
            return local.hub_sender(room)
        return self._post(room, HUB_SENDER, room, b"", _external_sender)

    def close(self) -> None:
        with self._lock:
            started, self._started = self._started, None
        if started is not None:
            loop, client, _ = started
            loop.run(client.aclose())
            loop.close()


def _body(reply: Reply) -> bytes:
    return reply.body


def _answer(reply: Reply) -> KeyMaterialAnswer:
    return KeyMaterialAnswer(reply.body, dict(reply.headers).get(REASON, ""))


def _delivered(reply: Reply) -> int:
    return int(dict(reply.headers).get(DELIVERED, "0"))


def _external_sender(reply: Reply) -> tuple[bytes, str]:
    from mimi import _core

    sender = _core.ExternalSender.decode(reply.body)
    return sender.signature_key, sender.identity
