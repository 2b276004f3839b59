"""Every claim of a body is checked against the caller the transport authenticated
(docs/guarantees.md, "Callers"): a provider that lies about its clients, or about
being a room's hub, is refused with a reason naming the mismatch where the draft's
answer has room for one, and nothing changes. The same body from the right provider
is taken. No Ray: the actors' classes are called as a transport calls them, with the
caller it authenticated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mimi import _core, content
from mimi.actors.hub import RoomHub
from mimi.actors.provider import ProviderServer
from mimi.errors import MimiError, RemoteProtocolError
from mimi.logic.client import ClientSession, commit_bundle, proposal_bundle
from mimi.logic.group_info import group_info_request, open_group_info_response
from mimi.logic.room_changes import key_material_request
from netsim import HUB, Wire, hosted_room, token

ROOM = "mimi://y.example/r/callers"
X = "mimi://x.example"  # alice's provider
LIAR = "mimi://z.example"  # a provider that forwards what is not its clients'


@pytest.fixture
def room(tmp_path: Path) -> tuple[RoomHub, ClientSession, Wire]:
    """Carol's room on y.example (the hub), with alice of x.example."""
    return hosted_room(tmp_path, ROOM)


def hub_state(hub: RoomHub) -> tuple[Any, ...]:
    """The room's group, pending proposals and log (its clock may move on)."""
    hub_room = hub.rooms[ROOM]
    return hub_room.view.export_state(), dict(hub_room.pending_removals), hub_room.sequence, hub.events(ROOM, 0, 1000)


def refused_update(hub: RoomHub, body: bytes, committer: str) -> None:
    before = hub_state(hub)
    response = _core.UpdateResponse.decode(hub.update(ROOM, LIAR, body, 2))
    assert (response.response_code, response.error_description) == ("invalidProposal", f"{LIAR} cannot submit for {committer}")
    assert hub_state(hub) == before
    assert _core.UpdateResponse.decode(hub.update(ROOM, X, body, 2)).response_code == "success"


def test_a_commit_is_taken_only_from_the_committers_provider(room) -> None:  # type: ignore[no-untyped-def]
    hub, alice, _ = room
    refused_update(hub, commit_bundle(alice.commit(ROOM)), alice.uri)


def test_a_proposal_is_taken_only_from_its_senders_provider(room) -> None:  # type: ignore[no-untyped-def]
    hub, alice, _ = room
    refused_update(hub, proposal_bundle(alice.propose_leave(ROOM)), alice.uri)


def test_an_external_join_is_taken_only_from_the_joiners_provider(room) -> None:  # type: ignore[no-untyped-def]
    # Alice's tablet: the GroupInfo is given to x.example for it, not to the liar;
    # its external commit is taken from x.example only.
    hub, _, _ = room
    tablet = ClientSession(_core.Client(f"{X}/d/alice/tablet"))
    hpke = _core.HpkeKeyPair.generate()
    request = group_info_request(tablet.client, hpke.public)
    assert _core.GroupInfoResponse.decode(hub.group_info(ROOM, LIAR, request)).status == "notAuthorized"
    claimed = open_group_info_response(hub.group_info(ROOM, X, request), ROOM, hpke.private, hub.hub_sender(ROOM)[0])
    out = tablet.join_external(ROOM, claimed.group_info, claimed.ratchet_tree)
    refused_update(hub, commit_bundle(out), tablet.uri)


def test_a_message_is_taken_only_from_its_sending_uris_provider(room) -> None:  # type: ignore[no-untyped-def]
    # SubmitMessageResponse has no field for a reason: the refusal is notAllowed.
    hub, alice, _ = room
    body = alice.send(ROOM, content.message(content.text_part("mine")))[0]
    before = hub_state(hub)
    assert [_core.SubmitMessageResponse.decode(r).status for r in hub.submit_many(ROOM, LIAR, [body], 2)] == ["notAllowed"]
    assert hub_state(hub) == before
    assert [_core.SubmitMessageResponse.decode(r).status for r in hub.submit_many(ROOM, X, [body], 2)] == ["accepted"]
    # Once accepted, its replay from another provider is refused too (not answered as a retry).
    after = hub_state(hub)
    assert [_core.SubmitMessageResponse.decode(r).status for r in hub.submit_many(ROOM, LIAR, [body], 3)] == ["notAllowed"]
    assert [_core.SubmitMessageResponse.decode(r).status for r in hub.submit_many(ROOM, X, [body], 3)] == ["accepted"]
    assert hub_state(hub) == after


def test_key_material_is_requested_only_by_the_requesters_provider_and_claimed_only_by_the_rooms_hub(  # type: ignore[no-untyped-def]
    room, tmp_path: Path
) -> None:
    hub, alice, _ = room
    request = key_material_request(alice, "mimi://w.example/u/wu", ROOM)
    before = hub_state(hub)
    answer = hub.key_material(ROOM, LIAR, request)
    assert _core.KeyMaterialResponse.decode(answer.response).user_status == "noConsent"
    assert answer.reason == f"{LIAR} cannot request key material for {alice.uri}"
    assert hub_state(hub) == before
    # The target provider hands out KeyPackages for a room only to its hub.
    target = ProviderServer("mimi://w.example", str(tmp_path / "w"), transport=Wire())
    answer = target.key_material(LIAR, request)
    assert _core.KeyMaterialResponse.decode(answer.response).user_status == "noConsentForThisRoom"
    assert answer.reason == f"{ROOM} is not a room of {LIAR}"


def test_a_room_is_notified_only_by_its_hub(room, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, alice, wire = room
    follower = ProviderServer(X, str(tmp_path / "x"), transport=Wire())
    follower.subscribe(ROOM, alice.uri, token(follower, alice.uri))
    hub.submit_many(ROOM, X, [alice.send(ROOM, content.message(content.text_part("hi")))[0]], 2)
    batch = next(n for destination, n in wire.sent if destination == X)
    envelope = (batch.previous, list(batch.sequences), batch.body, list(batch.withheld))
    with pytest.raises(RemoteProtocolError, match=f"{LIAR} is not the hub of the room") as refused:
        follower.notify(ROOM, LIAR, *envelope)
    assert refused.value.code == "forbidden"
    assert follower.progress(ROOM) == (0, {})
    follower.notify(ROOM, HUB, *envelope)
    assert follower.progress(ROOM)[0] == batch.sequences[-1]


def test_a_provider_acts_for_a_local_client_only_with_its_token(tmp_path: Path) -> None:
    # mimi.logic.access: the client URI alone is a bare claim.
    provider = ProviderServer(X, str(tmp_path), transport=Wire())
    alice, bob = f"{X}/d/alice/phone", "mimi://w.example/d/bob/phone"
    with pytest.raises(MimiError, match=f"the token presented for {alice} is not its token at {X}"):
        provider.hub_call(alice, b"alice, honestly", "submit_messages", ROOM, [b""])
    with pytest.raises(MimiError, match=f"{bob} is not a client of {X}"):
        provider.register(bob, token(provider, bob), "bob-host")
    with pytest.raises(MimiError, match="'notify' is not an endpoint of a hub"):
        provider.hub_call(alice, token(provider, alice), "notify", ROOM, [b""])
    assert provider.hosts == {}
