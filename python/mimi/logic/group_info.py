"""`POST /groupInfo/{roomId}` (sans-IO): draft-ietf-mimi-protocol §Claim group key
information.

A client that joins by external commit asks the hub for the room's GroupInfo. It
signs a GroupInfoRequest with its signature key and credential and names an HPKE
public key; the hub, if the room's policy lets that client in, encrypts the bare
GroupInfo, the ratchet tree and the proposals pending in the epoch to that key
(EncryptWithLabel, label "GroupInfo and ratchet_tree encryption", context the room
ID) and signs the answer as the group's external sender. The client checks the
signer is the hub it expects, decrypts, and has what `Client.join_external` needs.

Three functions, one per step; none reads a clock or a socket. The readings of the
draft are in docs/interop.md ("GroupInfo endpoint").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mimi import _core, ids
from mimi.errors import DecodeError, InvalidSignature, PolicyError, RemoteProtocolError
from mimi.logic.framing import bare_group_info, group_info_message
from mimi.policy import authorize_update
from mimi.room import Actor, ProposedChange, RemoveClient, RoomState


@dataclass(frozen=True, slots=True)
class ClaimedGroupInfo:
    """What a GroupInfoResponse gives the requester: enough to join by external commit."""

    group_info: bytes  # MLSMessage, as `Client.join_external` takes it
    ratchet_tree: bytes
    pending_proposals: tuple[tuple[bytes, int], ...]  # (proposal MLSMessage, hub_accepted_time ms)


def may_join_externally(state: RoomState | None, client: str) -> bool:
    """The room policy's verdict on `client`'s external commit, as the hub will judge
    it: a member's rejoins (a resync, removing its old leaf: docs/interop.md,
    "Rejoining a diverged group"), anyone else's joins."""
    if state is None:
        return False
    resync = (RemoveClient(client),) if client in state.members else ()
    change = ProposedChange(resync, is_commit=True, external_joiner=client)
    return authorize_update(state, Actor(client), change).allowed


def group_info_request(client: _core.Client, group_info_public_key: bytes, joining_code: bytes | None = None) -> bytes:
    """A GroupInfoRequest body signed by `client`, with the client's own credential
    (a basic credential naming its client URI, as in its leaf)."""
    key = client.signature_key
    request = _core.GroupInfoRequest(
        _core.CIPHERSUITE,
        key.public,
        _core.basic_credential(client.client_uri),
        group_info_public_key,
        joining_code,
    )
    return request.signed(key.private).encode()


def answer_group_info_request(
    request: bytes,
    room: str,
    view: _core.HubView | None,
    hub_key: _core.SignatureKeyPair,
    hub_identity: str,
    pending: Sequence[tuple[bytes, int]],
    authorize: Callable[[str], bool],
    *,
    provider: str,
) -> bytes:
    """The hub's GroupInfoResponse body to `request`, sent by `provider` (the
    authenticated provider URI) for `room`; `view` is the room's group or None if
    the hub hosts no such room. `pending` are the proposals accepted in the current
    epoch with their accepted time; `authorize(client_uri)` is the room policy's
    verdict on the requesting client.

    notAuthorized: a body that does not decode, a signature that does not verify, a
    credential that is not a basic credential naming a client of `provider`, another
    ciphersuite, a client `authorize` refuses, or a groupInfoPublicKey that cannot
    be encrypted to. The refusal says nothing more, so it reveals nothing."""
    if view is None:
        return _core.GroupInfoResponse(room, "noSuchRoom").encode()
    try:
        parsed = _core.GroupInfoRequest.decode(request)
        parsed.verify()
        client = _core.basic_credential_identity(parsed.requesting_credential)
        allowed = (
            parsed.cipher_suite == _core.CIPHERSUITE
            # BasicCredential proves nothing by itself: the provider that sent the
            # request answers for its own clients only (as for /update).
            and ids.is_client(client)
            and ids.provider_of(client) == provider
            and authorize(client)
        )
    except (DecodeError, InvalidSignature):
        allowed = False
    if not allowed:
        return _core.GroupInfoResponse(room, "notAuthorized").encode()
    tbe = _core.GroupInfoRatchetTreeTBE(
        bare_group_info(view.group_info()),
        _core.RatchetTreeOption("full", ratchet_tree=view.export_ratchet_tree()),
        [_core.PendingProposal(proposal, accepted) for proposal, accepted in pending],
    )
    try:
        sealed = _core.encrypt_with_label(
            parsed.group_info_public_key, _core.GROUP_INFO_ENCRYPTION_LABEL, room.encode(), tbe.encode()
        )
    except DecodeError:
        return _core.GroupInfoResponse(room, "notAuthorized").encode()
    hub_sender = _core.ExternalSender(hub_key.public, hub_identity).encode()
    response = _core.GroupInfoResponse(room, "success", _core.CIPHERSUITE, hub_sender, sealed, b"")
    return response.signed(hub_key.private).encode()


def open_group_info_response(
    response: bytes, room: str, group_info_private_key: bytes, expected_hub_key: bytes
) -> ClaimedGroupInfo:
    """Checks and decrypts the hub's answer to our request for `room`.

    Raises DecodeError (malformed), PolicyError (notAuthorized, noSuchRoom),
    RemoteProtocolError (an answer for another room or ciphersuite, or without a
    full ratchet tree), InvalidSignature (not signed by `expected_hub_key`, the
    room's external sender) and MlsError (does not decrypt with our key)."""
    parsed = _core.GroupInfoResponse.decode(response)
    if parsed.room_id != room:
        raise RemoteProtocolError(f"GroupInfoResponse is for {parsed.room_id}, not {room}")
    if parsed.status != "success":
        raise PolicyError(f"the hub refused the GroupInfo of {room}: {parsed.status}")
    assert parsed.hub_sender is not None and parsed.encrypted_groupinfo_and_tree is not None
    if _core.ExternalSender.decode(parsed.hub_sender).signature_key != expected_hub_key:
        raise InvalidSignature(f"GroupInfoResponse for {room} is not from the room's hub")
    parsed.verify()
    if parsed.cipher_suite != _core.CIPHERSUITE:
        raise RemoteProtocolError(f"GroupInfoResponse in ciphersuite {parsed.cipher_suite}")
    plaintext = _core.decrypt_with_label(
        group_info_private_key, _core.GROUP_INFO_ENCRYPTION_LABEL, room.encode(), parsed.encrypted_groupinfo_and_tree
    )
    tbe = _core.GroupInfoRatchetTreeTBE.decode(plaintext)
    tree = tbe.ratchet_tree_option.ratchet_tree
    if tree is None:
        # The requester has no other way to the tree: only `full` lets it join.
        raise RemoteProtocolError(f"GroupInfo of {room} without a full ratchet tree")
    pending = tuple((p.proposal, p.hub_accepted_time) for p in tbe.pending_proposals)
    return ClaimedGroupInfo(group_info_message(tbe.group_info), tree, pending)
