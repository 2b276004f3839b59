"""`/keyMaterial` under room policy (draft-ietf-mimi-protocol §Fetch Key Material):
the hub forwards a request only from a member that may add the target's clients,
the target provider serves only its caller's rooms and a bounded number of claims
per requester, and a client's last-resort KeyPackage keeps adds working once its
single-use ones are gone. Every refusal names its reason and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from mimi import _core, ids
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError
from mimi.logic.client import ClientSession
from mimi.logic.key_material import ClaimLimit, ClaimLimiter, KeyMaterialAnswer, hub_refusal, provider_refusal
from mimi.logic.room_changes import REQUIRED_CAPABILITIES
from mimi.policy import authorize_key_material
from mimi.policy.presets import PRESETS
from mimi.room import Actor
from netsim import HUB, ROOM, Net, Wire, answered, token

YAN = "mimi://y.example/d/yan/phone"  # creates the room (super_admin)
YAN_LAPTOP = "mimi://y.example/d/yan/laptop"
ZOE = "mimi://z.example/d/zoe/phone"  # a participant (ordinary user)
XIA = "mimi://x.example/d/xia/phone"  # in no room
WU, WU_LAPTOP = "mimi://z.example/d/wu/phone", "mimi://z.example/d/wu/laptop"  # in no room
WU_USER = ids.user_of(WU)


def room(preset: str = "cooperative") -> Net:
    """Yan's room of `preset` on y.example, with Zoe added as an ordinary user."""
    net = Net()
    for name, uri in (("yan", YAN), ("zoe", ZOE), ("xia", XIA)):
        net.device(name, uri)
    net.create("yan", preset)
    assert net.add_users("yan", [ZOE], [ids.user_of(ZOE)]).response_code == "success"
    return net


def request(
    session: ClientSession,
    target: str,
    *,
    user: str | None = None,
    room_id: str = ROOM,
    key: _core.SignatureKeyPair | None = None,
) -> _core.KeyMaterialRequest:
    """A KeyMaterialRequest with the session's credential, as built by `key_material_request`
    unless a field is overridden."""
    key = key or session.client.signature_key
    unsigned = _core.KeyMaterialRequest(
        user or session.user, target, room_id, [_core.CIPHERSUITE], REQUIRED_CAPABILITIES,
        key.public, _core.basic_credential(session.uri),
    )
    return _core.KeyMaterialRequest.decode(unsigned.signed(key.private).encode())


def tampered(r: _core.KeyMaterialRequest) -> _core.KeyMaterialRequest:
    signature = bytes([r.signature[0] ^ 1]) + r.signature[1:]
    return _core.KeyMaterialRequest(
        r.requesting_user, r.target_user, r.room_id, r.acceptable_ciphersuites, r.required_capabilities,
        r.requester_signature_key, r.requester_credential, signature,
    )


def at_hub(net: Net, r: _core.KeyMaterialRequest, provider: str) -> KeyMaterialAnswer | None:
    assert net.hub is not None
    return hub_refusal(r, ROOM, provider, net.hub.state, net.hub.view.members())


def status(answer: KeyMaterialAnswer) -> str:
    return _core.KeyMaterialResponse.decode(answer.response).user_status


# -- the hub: room policy ------------------------------------------------------------------

Case = Callable[[Net], tuple[_core.KeyMaterialRequest, str]]

HUB_REFUSALS: dict[str, tuple[Case, str, str]] = {
    "a client in no room": (
        lambda n: (request(n.sessions["xia"], WU_USER), "mimi://x.example"),
        "noConsentForThisRoom", f"{XIA} is not in the group",
    ),
    "sent by another provider": (
        lambda n: (request(n.sessions["zoe"], WU_USER), HUB),
        "noConsent", f"{HUB} cannot request key material for {ZOE}",
    ),
    "signed with a key that is not the requester's leaf's": (
        lambda n: (request(n.sessions["zoe"], WU_USER, key=_core.SignatureKeyPair.generate()), "mimi://z.example"),
        "noConsentForThisRoom", "with that signature key",
    ),
    "a bad signature": (
        lambda n: (tampered(request(n.sessions["zoe"], WU_USER)), "mimi://z.example"),
        "noConsent", "",
    ),
    "for another user than the credential's": (
        lambda n: (request(n.sessions["zoe"], WU_USER, user=ids.user_of(YAN)), "mimi://z.example"),
        "noConsent", f"{ZOE} is not a client of {ids.user_of(YAN)}",
    ),
    "for another room": (
        lambda n: (request(n.sessions["zoe"], WU_USER, room_id=f"{HUB}/r/other"), "mimi://z.example"),
        "noConsentForThisRoom", f"the request names {HUB}/r/other",
    ),
    "a requesting user that is a client URI": (
        lambda n: (request(n.sessions["zoe"], WU_USER, user=ZOE), "mimi://z.example"),
        "noConsent", "",
    ),
    "for another participant's clients": (
        lambda n: (request(n.sessions["zoe"], ids.user_of(YAN)), "mimi://z.example"),
        "noConsentForThisRoom", "already in the participant list",
    ),
}


@pytest.mark.parametrize("case", HUB_REFUSALS)
def test_the_hub_refuses_with_the_drafts_code_and_a_reason(case: str) -> None:
    net = room()
    make, code, reason = HUB_REFUSALS[case]
    refusal = at_hub(net, *make(net))
    assert refusal is not None
    assert status(refusal) == code and reason in refusal.reason and refusal.reason
    assert _core.KeyMaterialResponse.decode(refusal.response).clients == []


def test_the_hub_forwards_what_the_room_policy_allows() -> None:
    net = room()
    assert at_hub(net, request(net.sessions["zoe"], WU_USER), "mimi://z.example") is None  # canAddParticipant
    assert at_hub(net, request(net.sessions["yan"], ids.user_of(YAN)), HUB) is None  # canAddOwnClient


def test_an_ordinary_user_of_a_strict_room_may_fetch_only_its_own_clients() -> None:
    """draft-ietf-mimi-room-policy §Strictly administered room: ordinary users lack
    canAddParticipant but hold canAddOwnClient."""
    net = room("strictly_administered")
    zoe = net.sessions["zoe"]
    refusal = at_hub(net, request(zoe, WU_USER), "mimi://z.example")
    assert refusal is not None and status(refusal) == "noConsentForThisRoom"
    assert "lacks canAddParticipant" in refusal.reason
    assert at_hub(net, request(zoe, zoe.user), "mimi://z.example") is None


def test_policy_refuses_adds_a_role_cannot_make() -> None:
    net = room()
    assert net.hub is not None
    state = net.hub.state
    fixed = replace(state, base=replace(state.base, fixed_membership=True))
    assert "fixed-membership" in authorize_key_material(fixed, Actor(ZOE), WU_USER).reason
    no_own_clients = PRESETS["cooperative"].roles.roles
    stripped = tuple(
        replace(r, role_capabilities=tuple(c for c in r.role_capabilities if c != 2)) for r in no_own_clients
    )  # 2: canAddOwnClient
    without = replace(state, roles=replace(state.roles, roles=stripped))
    assert "lacks canAddOwnClient" in authorize_key_material(without, Actor(ZOE), ids.user_of(ZOE)).reason
    assert authorize_key_material(state, Actor(ZOE), ids.user_of(ZOE)).allowed


# -- the target provider: its caller's rooms, a bounded number of claims --------------------


def test_claims_are_counted_per_requester_and_target_in_a_sliding_window() -> None:
    limiter = ClaimLimiter(ClaimLimit(key_packages=3, window_ms=1000))
    limiter.record("a", "t", 2, now=100)
    limiter.record("a", "t", 1, now=600)
    limiter.record("b", "t", 1, now=600)
    assert limiter.claimed("a", "t", 1099) == 3
    assert limiter.claimed("a", "t", 1100) == 1  # the claims at 100 left the window
    assert limiter.claimed("a", "u", 1100) == 0 and limiter.claimed("b", "t", 1100) == 1
    assert len(limiter) == 2
    assert limiter.claimed("a", "t", 1600) == 0 and len(limiter) == 0  # nothing kept past the window


def test_memory_holds_only_the_pairs_claiming_in_the_window() -> None:
    limiter = ClaimLimiter(ClaimLimit(key_packages=3, window_ms=1000))
    for i in range(10_000):
        limiter.record(f"r{i}", "t", 1, now=i)
        limiter.claimed(f"r{i}", "t", now=i)
    assert len(limiter) == 1000


@pytest.fixture(scope="module")
def zoe() -> ClientSession:
    return ClientSession(_core.Client(ZOE))


def test_the_target_provider_refuses_with_a_reason(zoe: ClientSession) -> None:
    limiter = ClaimLimiter(ClaimLimit(key_packages=3, window_ms=1000))
    limiter.record(zoe.user, WU_USER, 2, now=0)
    r = request(zoe, WU_USER)
    refusals = {
        "noConsent": provider_refusal(tampered(r), HUB, 1, limiter, 10),
        "noConsentForThisRoom": provider_refusal(r, "mimi://q.example", 1, limiter, 10),
        "userUnknown": provider_refusal(r, HUB, 0, limiter, 10),
    }
    for code, refusal in refusals.items():
        assert refusal is not None and status(refusal) == code and refusal.reason, code
    assert provider_refusal(r, HUB, 1, limiter, 10) is None
    over = provider_refusal(r, HUB, 2, limiter, 10)
    assert over is not None and status(over) == "noConsent"
    assert over.reason == (
        f"{zoe.user} claimed 2 KeyPackages of {WU_USER} in the last 1000 ms; 2 more would pass the limit of 3"
    )
    assert provider_refusal(r, HUB, 2, limiter, 1000) is None  # the window moved on


TARGET = "mimi://z.example"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[ProviderServer, dict[str, _core.Client]]]:
    """Wu's provider: his phone published 2 single-use KeyPackages and a last-resort
    one, his laptop 1 single-use one and none of last resort."""
    server = ProviderServer(TARGET, str(tmp_path / "target"), ClaimLimit(key_packages=6, window_ms=60_000))
    devices = {uri: _core.Client(uri) for uri in (WU, WU_LAPTOP)}
    for uri in devices:
        server.register(uri, token(server, uri), "wu-host")
    phone, laptop = devices[WU], devices[WU_LAPTOP]
    assert server.publish_key_packages(WU, token(server, WU), phone.key_packages(2), phone.last_resort_key_package()) == 2
    assert server.publish_key_packages(WU_LAPTOP, token(server, WU_LAPTOP), laptop.key_packages(1)) == 1
    yield server, devices


def served(answer: KeyMaterialAnswer) -> dict[str, bytes | None]:
    return {c.client_uri: c.key_package for c in _core.KeyMaterialResponse.decode(answer.response).clients}


def counts(server: ProviderServer) -> tuple[int, int, dict[bytes, str]]:
    return server.key_packages.remaining(WU), server.key_packages.remaining(WU_LAPTOP), dict(server.follower.welcome_routes)


def test_the_last_resort_key_package_is_handed_out_once_the_single_use_ones_are_gone(target, zoe) -> None:  # type: ignore[no-untyped-def]
    server, _ = target
    body = request(zoe, WU_USER).encode()
    first, second, third = (server.key_material(HUB, body) for _ in range(3))
    assert status(first) == "success" and not first.reason
    assert status(second) == "partialSuccess"  # the phone's last single-use one; the laptop has none left
    assert served(second)[WU_LAPTOP] is None
    assert status(third) == "partialSuccess"
    last_resort = served(third)[WU]
    assert last_resort is not None and last_resort not in (served(first)[WU], served(second)[WU])
    assert served(server.key_material(HUB, body))[WU] == last_resort  # never deleted on claim
    assert counts(server)[:2] == (0, 0)
    # Its Welcome is routed to the phone each time it is used.
    assert server.follower.welcome_routes[_core.key_package_ref(last_resort)] == WU


def test_a_requester_over_its_limit_claims_nothing(target, zoe) -> None:  # type: ignore[no-untyped-def]
    server, devices = target
    for uri, client in devices.items():
        server.publish_key_packages(uri, token(server, uri), client.key_packages(10))
    body = request(zoe, WU_USER).encode()
    for _ in range(3):  # 2 clients each: 6 single-use KeyPackages, the limit
        assert status(server.key_material(HUB, body)) == "success"
    before = counts(server)
    refused = server.key_material(HUB, body)
    assert status(refused) == "noConsent" and "pass the limit of 6" in refused.reason
    assert counts(server) == before
    other = ClientSession(_core.Client("mimi://y.example/d/ann/phone"))  # another requester has its own budget
    assert status(server.key_material(HUB, request(other, WU_USER).encode())) == "success"


def test_a_provider_minting_requesters_is_held_to_its_own_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A hub can mint requesting users at will; all of a calling provider's requesters
    together claim at most `per_provider` KeyPackages of a target in the window."""
    server = ProviderServer(TARGET, str(tmp_path / "target"), ClaimLimit(key_packages=2, window_ms=60_000, per_provider=3))
    phone = _core.Client(WU)
    server.register(WU, token(server, WU), "wu-host")
    server.publish_key_packages(WU, token(server, WU), phone.key_packages(10))
    minted = [ClientSession(_core.Client(f"{HUB}/d/minted{i}/phone")) for i in range(5)]
    answers = [server.key_material(HUB, request(m, WU_USER).encode()) for m in minted]
    assert [status(a) for a in answers] == ["success"] * 3 + ["noConsent"] * 2
    assert f"{HUB} claimed 3 KeyPackages of {WU_USER}" in answers[3].reason
    assert server.key_packages.remaining(WU) == 7
    other = ClientSession(_core.Client("mimi://q.example/d/ann/phone"))  # another provider has its own budget
    r = request(other, WU_USER, room_id="mimi://q.example/r/room")
    assert status(server.key_material("mimi://q.example", r.encode())) == "success"


def test_the_claim_window_survives_a_restart(target, zoe, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, devices = target
    for uri, client in devices.items():
        server.publish_key_packages(uri, token(server, uri), client.key_packages(10))
    body = request(zoe, WU_USER).encode()
    for _ in range(3):
        assert status(server.key_material(HUB, body)) == "success"
    server.key_packages.close()
    server.inbox.close()
    again = ProviderServer(TARGET, str(tmp_path / "target"), ClaimLimit(key_packages=6, window_ms=60_000))
    before = counts(again)
    refused = again.key_material(HUB, body)
    assert status(refused) == "noConsent" and "claimed 6 KeyPackages" in refused.reason
    assert counts(again) == before
    later = ProviderServer(TARGET, str(tmp_path / "target"), ClaimLimit(key_packages=6, window_ms=1))
    assert status(later.key_material(HUB, body)) == "success"  # a window that has passed: forgotten


def test_a_request_for_a_room_of_another_domain_claims_nothing(target, zoe) -> None:  # type: ignore[no-untyped-def]
    server, _ = target
    before = counts(server)
    refused = server.key_material("mimi://q.example", request(zoe, WU_USER).encode())
    assert status(refused) == "noConsentForThisRoom" and refused.reason == f"{ROOM} is not a room of mimi://q.example"
    assert counts(server) == before


# -- the hub and the target provider wired together (no Ray) --------------------------------


class Direct(Wire):
    """A hub transport that calls the target providers' endpoints in process."""

    def __init__(self, providers: dict[str, ProviderServer]) -> None:
        super().__init__()
        self.providers = providers

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        return answered(self.providers[target_provider].key_material(self.domain, body))


def test_a_non_participant_cannot_drain_a_users_key_packages_through_the_hub(target, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, _ = target
    hub = RoomHub(HUB, str(tmp_path / "hub"), Direct({TARGET: server}))
    yan, xia = ClientSession(_core.Client(YAN)), ClientSession(_core.Client(XIA))
    key, _ = hub.reserve(ROOM)
    state = PRESETS["cooperative"].new_room(yan.user, ROOM, hub=HUB, members=[yan.uri])
    group = yan.create_room(ROOM, b"drain", key, HUB, state)
    hub.create_room(ROOM, group.export_group_info(), group.export_ratchet_tree())
    hub_state, before = hub.store.load_state(ROOM), counts(server)
    for _ in range(5):
        refused = hub.key_material(ROOM, "mimi://x.example", request(xia, WU_USER).encode())
        assert status(refused) == "noConsentForThisRoom" and refused.reason == f"{XIA} is not in the group with that signature key"
    assert counts(server) == before and hub.store.load_state(ROOM) == hub_state
    # The room's creator may add Wu: his KeyPackages are claimed, their Welcome routed.
    answer = hub.key_material(ROOM, HUB, request(yan, WU_USER).encode())
    assert status(answer) == "success"
    assert counts(server)[:2] == (1, 0)


class Silent(Wire):
    """A target provider that never answers /keyMaterial."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[Future[KeyMaterialAnswer]] = []

    def claim_key_material(self, target_provider: str, body: bytes) -> Future[KeyMaterialAnswer]:
        self.waiting.append(Future())
        return self.waiting[-1]


def test_a_target_provider_that_does_not_answer_holds_few_hub_threads_briefly(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A slow target provider must not take the hub's threads from the room's /update
    and /submitMessage: CLAIMS_IN_FLIGHT wait at most CLAIM_TIMEOUT_S, more are refused."""
    monkeypatch.setattr(RoomHub, "CLAIMS_IN_FLIGHT", 2)
    monkeypatch.setattr(RoomHub, "CLAIM_TIMEOUT_S", 0.2)
    silent = Silent()
    hub = RoomHub(HUB, str(tmp_path / "hub"), silent)
    yan = ClientSession(_core.Client(YAN))
    key, _ = hub.reserve(ROOM)
    group = yan.create_room(ROOM, b"slow", key, HUB, PRESETS["cooperative"].new_room(yan.user, ROOM, hub=HUB, members=[yan.uri]))
    hub.create_room(ROOM, group.export_group_info(), group.export_ratchet_tree())
    body = request(yan, WU_USER).encode()
    with ThreadPoolExecutor(3) as pool:
        calls = [pool.submit(hub.key_material, ROOM, HUB, body) for _ in range(2)]
        while len(silent.waiting) < 2:
            time.sleep(0.01)
        with pytest.raises(MimiError, match="2 /keyMaterial claims are in flight at this hub"):
            hub.key_material(ROOM, HUB, body)
        for call in calls:
            with pytest.raises(MimiError, match=f"{TARGET} did not answer /keyMaterial in 0.2 s"):
                call.result()
    assert hub.store.load_state(ROOM) is not None and hub.rooms[ROOM].welcome_routes == {}
