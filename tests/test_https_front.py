"""The provider's HTTPS front and `HttpsTransport` (docs/federation.md): calls
between providers over mutual TLS on 127.0.0.1 reach the endpoints with the
certificate's domain as the caller, so every claim of a body is checked against
the certificate. A certificate for z.example that claims x.example's users, or
notifies a room z.example does not host, is refused and nothing changes; the same
bodies from x.example's certificate, or from the room's hub, are taken. Refusals
raise what they raise over Ray. No Ray: the fronts call the actors' classes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content, errors
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError, PeerUnavailable, RemoteProtocolError
from mimi.federation import Credentials, FederationClient, FederationServer, LoopThread, Peer, Reply
from mimi.federation.ca import CertificateAuthority
from mimi.logic.client import ClientSession, commit_bundle
from mimi.logic.follower import Notify, Unnumbered
from mimi.logic.group_info import group_info_request, open_group_info_response
from mimi.logic.room_changes import key_material_request
from mimi.transport.front import ProviderFront
from mimi.transport.https import HttpsTransport, raised, refusal
from mimi.transport.ray import now_ms
from netsim import HUB, Wire, hosted_room, token

ROOM = "mimi://y.example/r/front"
X = "mimi://x.example"  # alice's provider, a follower of the room
LIAR = "mimi://z.example"  # its certificate is z.example's; it claims x.example's users


def done(run: Callable[[], Any]) -> Future[Any]:
    future: Future[Any] = Future()
    try:
        future.set_result(run())
    except Exception as err:
        future.set_exception(err)
    return future


@dataclass
class InProcess:
    """A provider's endpoints (its RoomHub, its ProviderServer: objects, no Ray) as
    `caller` calls them: what the front's in-cluster transport is in a deployment."""

    caller: str
    hub: RoomHub | None
    provider: ProviderServer | None

    def update(self, room: str, body: bytes) -> Future[bytes]:
        assert self.hub is not None
        return done(lambda: self.hub.update(room, self.caller, body, now_ms()))  # type: ignore[union-attr]

    def submit_messages(self, room: str, bodies: list[bytes]) -> Future[list[bytes]]:
        return done(lambda: self.hub.submit_many(room, self.caller, bodies, now_ms()))  # type: ignore[union-attr]

    def group_info(self, room: str, body: bytes) -> Future[bytes]:
        return done(lambda: self.hub.group_info(room, self.caller, body))  # type: ignore[union-attr]

    def key_material(self, room: str, body: bytes) -> Future[Any]:
        return done(lambda: self.hub.key_material(room, self.caller, body))  # type: ignore[union-attr]

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[Any]:
        return done(lambda: self.provider.key_material(self.caller, body))  # type: ignore[union-attr]

    def notify(self, follower: str, batch: Any) -> Future[int]:
        provider = self.provider
        assert provider is not None
        if isinstance(batch, Unnumbered):
            return done(lambda: provider.notify(batch.room, self.caller, None, None, batch.body, batch.withheld))
        return done(lambda: provider.notify(batch.room, self.caller, batch.previous, list(batch.sequences), batch.body, batch.withheld))

    def hub_sender(self, room: str) -> Future[tuple[bytes, str]]:
        return done(lambda: self.hub.hub_sender(room))  # type: ignore[union-attr]


@dataclass
class Federation:
    hub: RoomHub
    alice: ClientSession
    wire: Wire  # the hub's own transport: what it /notify-es
    follower: ProviderServer  # x.example's
    x: HttpsTransport  # x.example's, honest
    y: HttpsTransport  # the hub's provider
    liar: HttpsTransport  # z.example's


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    hub, alice, wire = hosted_room(tmp_path / "y", ROOM)
    follower = ProviderServer(X, str(tmp_path / "x"), transport=Wire())
    follower.subscribe(ROOM, alice.uri, token(follower, alice.uri))
    ca = CertificateAuthority.create()
    pki = tmp_path / "pki"
    pki.mkdir()
    credentials = {d: ca.issue([d], pki) for d in ("x.example", "y.example", "z.example")}
    loop = LoopThread()
    def peers_of(domain: str) -> dict[str, Path]:
        return {d: pki / "ca.pem" for d in credentials if d != domain}

    servers = {
        "y.example": FederationServer(credentials["y.example"], ProviderFront(HUB, lambda c: InProcess(c, hub, None)).handlers(), peers_of("y.example")),
        "x.example": FederationServer(credentials["x.example"], ProviderFront(X, lambda c: InProcess(c, None, follower)).handlers(), peers_of("x.example")),
    }
    peers = {d: Peer(d, f"https://127.0.0.1:{loop.run(s.start())}", pki / "ca.pem") for d, s in servers.items()}
    transports = [HttpsTransport(f"mimi://{d}", credentials[d], peers) for d in ("x.example", "y.example", "z.example")]
    yield Federation(hub, alice, wire, follower, *transports)
    for transport in transports:
        transport.close()
    for server in servers.values():
        loop.run(server.close())
    loop.close()


def hub_state(hub: RoomHub) -> tuple[Any, ...]:
    hub_room = hub.rooms[ROOM]
    return hub_room.view.export_state(), dict(hub_room.pending_removals), hub_room.sequence, hub.events(ROOM, 0, 1000)


def test_a_commit_is_taken_only_from_the_committers_certificate(federation: Federation) -> None:
    f = federation
    body = commit_bundle(f.alice.commit(ROOM))
    before = hub_state(f.hub)
    response = _core.UpdateResponse.decode(f.liar.update(ROOM, body).result(10))
    assert (response.response_code, response.error_description) == ("invalidProposal", f"{LIAR} cannot submit for {f.alice.uri}")
    assert hub_state(f.hub) == before
    assert _core.UpdateResponse.decode(f.x.update(ROOM, body).result(10)).response_code == "success"


def test_a_message_is_taken_only_from_its_sending_uris_certificate(federation: Federation) -> None:
    f = federation
    body = f.alice.send(ROOM, content.message(content.text_part("mine")))[0]
    before = hub_state(f.hub)
    [refused] = f.liar.submit_messages(ROOM, [body]).result(10)
    assert _core.SubmitMessageResponse.decode(refused).status == "notAllowed"
    assert hub_state(f.hub) == before
    [accepted] = f.x.submit_messages(ROOM, [body]).result(10)
    assert _core.SubmitMessageResponse.decode(accepted).status == "accepted"


def test_concurrent_submits_are_answered_each_by_its_callers_rights(federation: Federation) -> None:
    """The front hands concurrent /submitMessage requests to the hub together (one
    batch per peer and room): each still gets its own answer, and a refusal of the
    whole batch (an unknown room) reaches each of its requests."""
    f = federation
    bodies = [f.alice.send(ROOM, content.message(content.text_part(f"m{i}")))[0] for i in range(40)]
    forged = f.liar.submit_messages(ROOM, bodies[:20])
    honest = f.x.submit_messages(ROOM, bodies)
    assert {_core.SubmitMessageResponse.decode(a).status for a in forged.result(10)} == {"notAllowed"}
    assert [_core.SubmitMessageResponse.decode(a).status for a in honest.result(10)] == ["accepted"] * 40
    with pytest.raises(MimiError, match="no such room"):
        f.x.submit_messages(f"{HUB}/r/none", bodies[:8]).result(10)


def test_key_material_for_another_providers_requester_is_refused_with_its_reason(federation: Federation) -> None:
    f = federation
    request = key_material_request(f.alice, "mimi://w.example/u/wu", ROOM)
    before = hub_state(f.hub)
    answer = f.liar.key_material(ROOM, request).result(10)
    assert _core.KeyMaterialResponse.decode(answer.response).user_status == "noConsent"
    assert answer.reason == f"{LIAR} cannot request key material for {f.alice.uri}"  # in a MIMI-Reason header
    assert hub_state(f.hub) == before
    # The target side: x.example hands out KeyPackages for a room only to its hub.
    answer = f.liar.claim_key_material(X, request).result(10)
    assert _core.KeyMaterialResponse.decode(answer.response).user_status == "noConsentForThisRoom"
    assert answer.reason == f"{ROOM} is not a room of {LIAR}"


def test_a_room_is_notified_only_by_its_hubs_certificate(federation: Federation) -> None:
    f = federation
    [accepted] = f.x.submit_messages(ROOM, [f.alice.send(ROOM, content.message(content.text_part("hi")))[0]]).result(10)
    assert _core.SubmitMessageResponse.decode(accepted).status == "accepted"
    batch = next(n for destination, n in f.wire.sent if destination == X)
    with pytest.raises(RemoteProtocolError, match=f"{LIAR} is not the hub of the room") as refused:
        f.liar.notify(X, batch).result(10)
    assert refused.value.code == "forbidden"  # the class and code it has over Ray
    assert f.follower.progress(ROOM) == (0, {})
    assert f.y.notify(X, batch).result(10) == 1  # the envelope travels in MIMI-* headers
    assert f.follower.progress(ROOM)[0] == batch.sequences[-1]
    assert f.y.notify(X, batch).result(10) == 0  # a repeat: acknowledged, not delivered again


def test_a_peer_hub_that_sends_no_envelope_still_notifies(federation: Federation) -> None:
    """The draft's /notify body alone (no MIMI-* headers), as a peer that ignores our
    envelope sends it: delivered in arrival order, only from the room's hub."""
    f = federation
    [accepted] = f.x.submit_messages(ROOM, [f.alice.send(ROOM, content.message(content.text_part("hi")))[0]]).result(10)
    assert _core.SubmitMessageResponse.decode(accepted).status == "accepted"
    batch = next(n for destination, n in f.wire.sent if destination == X)

    async def post(sender: HttpsTransport) -> Reply:
        client = FederationClient(sender.credentials, sender.peers)
        try:
            return await client.call("x.example", "notify", {"roomId": ROOM}, batch.body)
        finally:
            await client.aclose()

    refused = asyncio.run(post(f.liar))
    assert refused.status == 400 and f"{LIAR} is not the hub of the room" in refused.body.decode()
    assert f.follower.progress(ROOM) == (0, {})
    reply = asyncio.run(post(f.y))
    assert reply.status == 200 and dict(reply.headers)["mimi-delivered"] == "1"
    assert f.follower.progress(ROOM)[0] == len(batch.sequences)  # numbered 1.. here, as they came


def test_a_room_not_hosted_by_the_called_provider_or_a_path_the_body_contradicts_is_refused(federation: Federation) -> None:
    # z.example posts y.example's room to x.example's front, at the path x's directory names.
    f = federation

    async def post(request: tuple[str, dict[str, str], bytes], to: str = "x.example") -> Reply:
        client = FederationClient(f.liar.credentials, f.liar.peers)
        try:
            return await client.call(to, *request)
        finally:
            await client.aclose()

    reply = asyncio.run(post(("update", {"roomId": ROOM}, b"\x00")))
    assert (reply.status, reply.body.decode()) == (404, f"{ROOM} is not hosted by {X}")
    # A KeyMaterialRequest posted at another target user's path.
    request = key_material_request(f.alice, "mimi://y.example/u/carol", ROOM)
    before = hub_state(f.hub)
    reply = asyncio.run(post(("keyMaterial", {"targetUser": "mimi://y.example/u/mallory"}, request), to="y.example"))
    assert (reply.status, reply.body.decode()) == (400, "the path names mimi://y.example/u/mallory, the body mimi://y.example/u/carol")
    assert hub_state(f.hub) == before
    assert f.follower.progress(ROOM) == (0, {})
    # Rooms are made only on their creator's own provider.
    with pytest.raises(MimiError, match="a room is created on its creator's own provider"):
        f.x.reserve(ROOM)


def test_an_external_joiner_gets_the_hubs_key_and_group_info_over_https(federation: Federation) -> None:
    # hubSender (beyond the draft, at its own directory name) and /groupInfo, then
    # the external commit: taken from the joiner's provider only.
    f = federation
    tablet = ClientSession(_core.Client(f"{X}/d/alice/tablet"))
    hpke = _core.HpkeKeyPair.generate()
    request = group_info_request(tablet.client, hpke.public)
    assert _core.GroupInfoResponse.decode(f.liar.group_info(ROOM, request).result(10)).status == "notAuthorized"
    key, identity = f.x.hub_sender(ROOM).result(10)
    assert (key, identity) == f.hub.hub_sender(ROOM)
    claimed = open_group_info_response(f.x.group_info(ROOM, request).result(10), ROOM, hpke.private, key)
    body = commit_bundle(tablet.join_external(ROOM, claimed.group_info, claimed.ratchet_tree))
    assert _core.UpdateResponse.decode(f.liar.update(ROOM, body).result(10)).response_code == "invalidProposal"
    assert _core.UpdateResponse.decode(f.x.update(ROOM, body).result(10)).response_code == "success"


def test_a_malformed_body_is_refused_as_over_ray_and_changes_nothing(federation: Federation) -> None:
    f = federation
    before = hub_state(f.hub)
    assert _core.UpdateResponse.decode(f.x.update(ROOM, b"\x00\x01").result(10)).response_code == "invalidProposal"
    assert hub_state(f.hub) == before
    f.x.submit_messages(ROOM, [f.alice.send(ROOM, content.message(content.text_part("hi")))[0]]).result(10)
    batch = next(n for destination, n in f.wire.sent if destination == X)
    cut = Notify(batch.room, batch.previous, batch.sequences, batch.body[:-2])
    with pytest.raises(RemoteProtocolError, match="body") as refused:  # answered 400, raised again here
        f.y.notify(X, cut).result(10)
    assert refused.value.code == "badRequest"
    assert f.follower.progress(ROOM) == (0, {})


def test_a_peer_the_front_cannot_authenticate_reaches_no_endpoint(federation: Federation, tmp_path: Path) -> None:
    # End to end through the providers' front (the layer's own tests cover each refusal):
    # x.example's name from a CA the hub does not trust fails the handshake; z.example's
    # certificate under `From: mimi@x.example` gets 403 (already for the directory). Nothing
    # reaches the hub.
    f = federation
    body = commit_bundle(f.alice.commit(ROOM))
    before = hub_state(f.hub)
    untrusted = CertificateAuthority.create("someone else's CA").issue(["x.example"], tmp_path)
    stranger = HttpsTransport(X, untrusted, f.x.peers)
    with pytest.raises(PeerUnavailable):
        stranger.update(ROOM, body).result(30)
    stranger.close()
    liar = f.liar.credentials
    pretender = HttpsTransport(X, Credentials("x.example", liar.cert, liar.key, liar.ca_bundle), f.x.peers)
    with pytest.raises(PeerUnavailable, match=r"403 b.From names x\.example but the client certificate authenticates z\.example"):
        pretender.update(ROOM, body).result(30)
    pretender.close()
    assert hub_state(f.hub) == before


class _RayError(Exception):
    """Stands for one of Ray's own errors (an actor restarting or gone)."""


_RayError.__module__ = "ray.exceptions"


@pytest.mark.parametrize(
    ("err", "status", "cls"),
    [
        (errors.DecodeError("truncated"), 400, errors.DecodeError),
        (errors.PolicyError("not allowed"), 403, errors.PolicyError),
        (errors.WrongEpoch("epoch 3"), 409, errors.WrongEpoch),
        (errors.MimiError("no such room on mimi://y.example: r"), 409, errors.MimiError),
        (errors.InternalError("a bug"), 500, errors.InternalError),
        (_RayError("restarting"), 503, errors.PeerUnavailable),
        (ValueError("a bug of ours"), 500, errors.InternalError),
    ],
)
def test_a_refusal_is_raised_again_as_the_class_it_was(err: Exception, status: int, cls: type[Exception]) -> None:
    reply = refusal(err)
    assert reply.status == status
    again = raised("y.example", "update", reply)
    assert type(again) is cls and str(err) in str(again)


def test_a_protocol_error_keeps_its_code_and_a_peer_that_names_no_class_is_a_protocol_error() -> None:
    again = raised("y.example", "notify", refusal(RemoteProtocolError("who are you", "forbidden")))
    assert isinstance(again, RemoteProtocolError) and again.code == "forbidden"
    plain = raised("y.example", "notify", Reply(400, b"bad envelope"))
    assert isinstance(plain, RemoteProtocolError) and str(plain) == "bad envelope"
