"""A device's room changes (sans-IO): the commits by which a member adds, removes and
changes the roles of participants, with their participant-list updates
(draft-ietf-mimi-protocol §Participant List Changes), and the KeyMaterialRequest by
which it asks for a user's KeyPackages (§Fetch Key Material). `ClientHost`, the
tests, the benches and the load generators make them here, and send what they
return to the room's hub through the device's provider."""

from __future__ import annotations

from collections.abc import Sequence

from mimi import _core, ids
from mimi.components import ComponentId, ParticipantListUpdate, UserindexRolePair, UserRolePair
from mimi.logic.client import ClientSession
from mimi.policy.presets import ORDINARY_USER

# RequiredCapabilities of every mimi group: app_data_dictionary (0x0006) and AppDataUpdate (0x0008).
REQUIRED_CAPABILITIES = b"\x02\x00\x06\x02\x00\x08\x00"


def key_material_request(session: ClientSession, target_user: str, room: str) -> bytes:
    """A KeyMaterialRequest from this client's user, with its credential, signed by this client."""
    key = session.client.signature_key
    request = _core.KeyMaterialRequest(
        session.user, target_user, room, [_core.CIPHERSUITE], REQUIRED_CAPABILITIES,
        key.public, _core.basic_credential(session.uri),
    )
    return request.signed(key.private).encode()


def key_packages_to_add(session: ClientSession, room: str, response: _core.KeyMaterialResponse) -> list[bytes]:
    """The KeyPackages a KeyMaterialResponse handed out, but for clients already in
    the group (the committer's own device)."""
    members = {m.identity for m in session.rooms[room].group.members()}
    return [c.key_package for c in response.clients if c.key_package is not None and c.client_uri not in members]


def participants(update: ParticipantListUpdate) -> tuple[int, bytes]:
    """The AppDataUpdate of the participant list that `update` makes."""
    return (ComponentId.participant_list, update.encode())


def index_of(session: ClientSession, room: str, user: str) -> int:
    return [p.user for p in session.state_of(room).participants.participants].index(user)


def add_users(session: ClientSession, room: str, users: Sequence[str], key_packages: Sequence[bytes]) -> _core.CommitOutput:
    """Adds `users` not yet participants as ordinary participants, with the clients
    of `key_packages`."""
    added = [u for u in users if u not in session.state_of(room).participants.roles()]
    update = ParticipantListUpdate(added_participants=tuple(UserRolePair(u, ORDINARY_USER) for u in added))
    return session.commit(room, key_packages, app_data=[participants(update)] if added else [])


def change_component(session: ClientSession, room: str, component_id: int, data: bytes) -> _core.CommitOutput:
    """A new value of one room component (the room metadata or a policy component)."""
    return session.commit(room, app_data=[(component_id, data)])


def set_role(session: ClientSession, room: str, user: str, role: int) -> _core.CommitOutput:
    update = ParticipantListUpdate(changed_role_participants=(UserindexRolePair(index_of(session, room, user), role),))
    return session.commit(room, app_data=[participants(update)])


def remove_user(session: ClientSession, room: str, user: str) -> _core.CommitOutput:
    """Removes a participant and every client of theirs still in the group."""
    leaves = [m.leaf_index for m in session.rooms[room].group.members() if ids.user_of(m.identity) == user]
    update = ParticipantListUpdate(removed_indices=(index_of(session, room, user),))
    return session.commit(room, removes=leaves, app_data=[participants(update)])


def commit_pending(session: ClientSession, room: str) -> _core.CommitOutput:
    """Commits the pending proposals; a user whose last client left also leaves the
    participant list."""
    state = session.state_of(room)
    leaving_clients = session.pending_leaves.get(room, ())
    leaving = {ids.user_of(c) for c in leaving_clients}
    remaining = {ids.user_of(c) for c in state.members if c not in leaving_clients}
    gone = [i for i, p in enumerate(state.participants.participants) if p.user in leaving and p.user not in remaining]
    return session.commit(room, app_data=[participants(ParticipantListUpdate(removed_indices=tuple(gone)))] if gone else [])
