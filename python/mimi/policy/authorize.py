"""Authorization of room changes and messages (draft-ietf-mimi-room-policy
§Role Capabilities; draft-ietf-mimi-protocol §Update Room State, §Submit a
Message, §Participant List, §Room Metadata).

The hub calls `authorize_update` for every /update and `authorize_submit` for
every /submitMessage; clients call the same functions on what they receive and
reach the same decision. Pure functions of (state, actor, change).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from mimi.codes import SubmitResponseCode, UpdateResponseCode
from mimi.components import (
    BANNED,
    NO_ROLE,
    Capability,
    ComponentId,
    ParticipantListData,
    ParticipantListUpdate,
    ReservedCapability,
    Role,
    RoomMetaData,
)
from mimi.errors import DecodeError, PolicyError
from mimi.ids import UriKind, parse, user_of
from mimi.room.change import (
    Actor,
    AddClient,
    AppDataUpdate,
    AppDataUpdateOperation,
    ProposedChange,
    RemoveClient,
)
from mimi.room.state import RoomState


@dataclass(frozen=True, slots=True)
class Decision:
    """Allow or deny, why, and the /update response code. `invalid_proposals`
    indexes `ProposedChange.proposals` for an `invalidProposal` answer."""

    allowed: bool
    reason: str
    code: UpdateResponseCode = "success"
    invalid_proposals: tuple[int, ...] = ()

    @property
    def submit_code(self) -> SubmitResponseCode:
        return "accepted" if self.allowed else "notAllowed"

    def require(self) -> None:
        """Raise PolicyError unless allowed."""
        if not self.allowed:
            raise PolicyError(self.reason)


ALLOWED = Decision(True, "allowed")


class _Deny(Exception):
    """Internal: carries the Decision out of the checks."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision


def _not_allowed(reason: str) -> _Deny:
    return _Deny(Decision(False, reason, "notAllowed"))


def _invalid(reason: str, *indexes: int) -> _Deny:
    return _Deny(Decision(False, reason, "invalidProposal", indexes))


# Which capability changes which room metadata field (§Adjust metadata).
_METADATA_CAPABILITIES = {
    "room_name": Capability.canChangeRoomName,
    "room_descriptions": Capability.canChangeRoomDescription,
    "room_avatar": Capability.canChangeRoomAvatar,
    "room_subject": Capability.canChangeRoomSubject,
    "room_mood": Capability.canChangeRoomMood,
}

# Which capability changes which policy component (§Disruptive Policy Changes);
# components with no registered capability use the reserved ones named for them.
_COMPONENT_CAPABILITIES: dict[int, Capability | ReservedCapability] = {
    ComponentId.roles_list: Capability.canChangeRoleDefinitions,
    ComponentId.preauth_list: Capability.canChangePreauthorizedUserList,
    ComponentId.base_room_policy: Capability.canChangeRoomMembershipStyle,
    ComponentId.mls_operational_policy: ReservedCapability.canChangeMlsOperationalPolicies,
    ComponentId.status_notification_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.join_link_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.link_preview_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.asset_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.logging_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.chat_history_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.bot_policy: ReservedCapability.canChangeOtherPolicyAttribute,
    ComponentId.message_expiration_policy: ReservedCapability.canChangeOtherPolicyAttribute,
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One participant-list operation: `user` goes from one role to another (0 = not listed)."""

    user: str
    from_role: int
    to_role: int
    sender: Actor
    proposal: int  # index in ProposedChange.proposals


@dataclass(slots=True)
class _Acting:
    """An actor's standing in the current state."""

    actor: Actor
    role: Role
    listed: bool
    restricted: bool = field(default=False)  # banned or removed, with clients still in the group


def _role(state: RoomState, index: int) -> Role:
    """The role definition; an undefined role has no capabilities."""
    return state.roles.role(index) or Role(index, "")


def _acting(state: RoomState, actor: Actor) -> _Acting:
    """A requester not in the participant list acts with role 0: no credential carries
    the claims §Preauthorized Users would match (docs/interop.md)."""
    user = actor.user
    listed = any(p.user == user for p in state.participants.participants)
    index = state.role_of(user)
    # draft-ietf-mimi-protocol §Update Room State: a removed or banned participant's
    # clients may only send Remove/SelfRemove for its own clients.
    restricted = not actor.is_server and index in (NO_ROLE, BANNED) and actor.uri in state.members
    if listed and index == BANNED:
        restricted = True
    return _Acting(actor, _role(state, index), listed, restricted)


def authorize_update(state: RoomState, actor: Actor, change: ProposedChange) -> Decision:
    """Decide one /update: a commit (actor = committer) or proposals (actor = sender).

    Proposals with their own `sender` (a commit's by-reference proposals) are
    authorized against that sender; the commit-wide rules apply to all of them.
    """
    try:
        _authorize(state, actor, change)
    except _Deny as deny:
        return deny.decision
    return ALLOWED


def _authorize(state: RoomState, actor: Actor, change: ProposedChange) -> None:
    committer = _acting(state, actor)
    if change.is_commit:
        # draft-ietf-mimi-protocol §Proposal-commit paradigm: only clients commit.
        if actor.is_server:
            raise _not_allowed("servers cannot commit")
        # §Update Room State: a removed or banned participant cannot commit.
        if committer.restricted:
            raise _not_allowed(f"{actor.user} is banned or removed and cannot commit")
    if change.external_joiner is not None:
        if not change.is_commit or change.external_joiner != actor.uri:
            raise _invalid("an external join is a commit by the joining client")
        if actor.uri in state.members and not change.resync:
            raise _invalid(f"{actor.uri} is already in the group")
    elif change.is_commit and actor.uri not in state.members:
        raise _not_allowed(f"{actor.uri} is not a member of the group")

    try:
        after = state.apply(change)
    except (PolicyError, DecodeError) as e:
        raise _invalid(str(e)) from None

    senders = {i: _acting(state, p.sender) if p.sender else committer for i, p in enumerate(change.proposals)}
    transitions = list(_transitions(state, change, senders))
    _check_commit_rules(change, transitions)
    for i, p in enumerate(change.proposals):
        sender = senders[i]
        if sender.restricted and not (isinstance(p, RemoveClient) and user_of(p.client) == sender.actor.user):
            raise _not_allowed(f"{sender.actor.user} is banned or removed: it may only remove its own clients")
    for t in transitions:
        _authorize_transition(state, after, t, senders[t.proposal])
    _authorize_clients(state, change, transitions, senders, committer)
    for i, p in enumerate(change.proposals):
        if isinstance(p, AppDataUpdate) and p.component_id != ComponentId.participant_list:
            _authorize_component(state, after, p, i, senders[i])
    _check_constraints(state, after, transitions)


def _transitions(state: RoomState, change: ProposedChange, senders: dict[int, _Acting]) -> Iterator[Transition]:
    """The participant-list operations of each participant_list AppDataUpdate, in order."""
    current = state.participants
    for i, p in enumerate(change.proposals):
        if not (isinstance(p, AppDataUpdate) and p.component_id == ComponentId.participant_list):
            continue
        before = current.roles()
        # Validity was established by state.apply.
        current = current.apply(ParticipantListUpdate.decode(p.update))
        after = current.roles()
        for user in before.keys() | after.keys():
            old, new = before.get(user, NO_ROLE), after.get(user, NO_ROLE)
            if old != new:
                yield Transition(user, old, new, senders[i].actor, i)


def _check_commit_rules(change: ProposedChange, transitions: list[Transition]) -> None:
    # draft-ietf-mimi-protocol §Participant List: one operation per user per commit.
    touched = Counter(t.user for t in transitions)
    for user, count in touched.items():
        if count > 1:
            raise _invalid(f"{user} is changed more than once", *(t.proposal for t in transitions if t.user == user))
    updates = [(i, p) for i, p in enumerate(change.proposals) if isinstance(p, AppDataUpdate)]
    # draft-ietf-mimi-protocol §Room Metadata: one metadata update per commit.
    metadata = [i for i, p in updates if p.component_id == ComponentId.room_metadata]
    if len(metadata) > 1:
        raise _invalid("more than one room metadata update", *metadata)
    roles = [i for i, p in updates if p.component_id == ComponentId.roles_list]
    preauth = [i for i, p in updates if p.component_id == ComponentId.preauth_list]
    # draft-ietf-mimi-room-policy §Role-Based Access Control: not with any participant list change.
    if roles and transitions:
        raise _invalid("a role definition change cannot share a commit with participant list changes", *roles)
    # draft-ietf-mimi-room-policy §Preauthorized Users: only with user removals.
    if preauth and any(t.to_role != NO_ROLE for t in transitions):
        raise _invalid("a preauthorization change can share a commit only with user removals", *preauth)


def _authorize_transition(state: RoomState, after: RoomState, t: Transition, sender: _Acting) -> None:
    """draft-ietf-mimi-room-policy §Membership Capabilities, for one participant-list operation."""
    role = sender.role
    if t.to_role != NO_ROLE and state.roles.role(t.to_role) is None:
        raise _invalid(f"role {t.to_role} is not defined", t.proposal)
    fixed = state.base.fixed_membership
    if t.user == sender.actor.user:
        if t.from_role == NO_ROLE:
            _authorize_join(state, t)
        elif t.to_role == NO_ROLE:
            # §Base Room policy: in fixed-membership rooms users cannot leave.
            if fixed:
                raise _not_allowed("fixed-membership room: participants cannot leave")
            _need(role, Capability.canRemoveSelf, "leave")
            _need_change(role, t, "canRemoveSelf")
        else:
            # §canChangeOwnRole: only to the first preauthorized role the credential's
            # claims match, and no credential carries claims (docs/interop.md).
            _need(role, Capability.canChangeOwnRole, "change its own role")
            raise _not_allowed(f"own role change to {t.to_role}: no preauthorized role without credential claims")
        return
    if t.to_role == BANNED:
        _need(role, Capability.canBan, f"ban {t.user}")
        _need_banned_role(state)
        _need_change(role, t, "canBan")
    elif t.from_role == BANNED and t.to_role != NO_ROLE:
        _need(role, Capability.canUnBan, f"unban {t.user}")
        _need_banned_role(state)
        _need_change(role, t, "canUnBan")
    elif t.from_role == NO_ROLE:
        if fixed:
            raise _not_allowed("fixed-membership room: users cannot be added")
        _need(role, Capability.canAddParticipant, f"add {t.user}")
        _need_change(role, t, "canAddParticipant")
    elif t.to_role == NO_ROLE:
        if fixed:
            raise _not_allowed("fixed-membership room: participants cannot be removed")
        _need(role, Capability.canRemoveParticipant, f"remove {t.user}")
        _need_change(role, t, "canRemoveParticipant")
    else:
        _need(role, Capability.canChangeUserRole, f"change the role of {t.user}")
        _need_change(role, t, "canChangeUserRole")


def _authorize_join(state: RoomState, t: Transition) -> None:
    """§canOpenJoin: a user adds itself. §canJoinIfPreauthorized needs credential
    claims, which no credential carries (docs/interop.md)."""
    if state.base.fixed_membership:
        raise _not_allowed("fixed-membership room: users cannot be added")
    no_role = _role(state, NO_ROLE)
    if no_role.has(Capability.canOpenJoin) and no_role.may_change(NO_ROLE, t.to_role):
        return
    raise _not_allowed(f"{t.user} may not join as role {t.to_role}: neither preauthorized nor an open join")


def _need(role: Role, capability: Capability | ReservedCapability, action: str) -> None:
    if not role.has(capability):
        raise _not_allowed(f"role {role.role_index} lacks {capability.name} to {action}")


def _need_change(role: Role, t: Transition, capability: str) -> None:
    if not role.may_change(t.from_role, t.to_role):
        raise _not_allowed(
            f"{capability}: role {role.role_index}'s authorized_role_changes do not allow "
            f"{t.from_role} -> {t.to_role} for {t.user}"
        )


def _need_banned_role(state: RoomState) -> None:
    # §canBan: role 1 must exist and be named "banned".
    if not state.roles.banned_role_exists():
        raise _not_allowed('no role 1 named "banned" in this room')


def _authorize_clients(
    state: RoomState,
    change: ProposedChange,
    transitions: list[Transition],
    senders: dict[int, _Acting],
    committer: _Acting,
) -> None:
    """MLS Adds and Removes: §canAddOwnClient, §canRemoveOwnClient, §canKick, and the
    client removals a user removal or ban implies."""
    joined = {t.user for t in transitions if t.from_role == NO_ROLE}
    leaving = {t.user for t in transitions if t.to_role in (NO_ROLE, BANNED)}
    adds: list[tuple[int, str, _Acting]] = [
        (i, p.client, senders[i]) for i, p in enumerate(change.proposals) if isinstance(p, AddClient)
    ]
    if change.external_joiner is not None and not change.resync:
        adds.append((-1, change.external_joiner, committer))
    for i, client, sender in adds:
        user = user_of(client)
        if user in joined:
            continue  # §canAddParticipant: adding the user authorizes adding its clients
        if user != sender.actor.user:
            # Only §canAddParticipant adds another user's clients, with the user itself.
            raise _not_allowed(f"{client} can be added only with its user or by its user")
        _need(sender.role, Capability.canAddOwnClient, f"add its client {client}")
        if i >= 0 and sender.actor.uri not in state.members:
            raise _not_allowed("Add of an own client by a client that is not a member")
    for i, p in enumerate(change.proposals):
        if not isinstance(p, RemoveClient) or (change.resync and p.client == change.external_joiner):
            continue
        user, sender = user_of(p.client), senders[i]
        if user in leaving or (user == sender.actor.user and sender.restricted):
            continue
        if user == sender.actor.user:
            _need(sender.role, Capability.canRemoveOwnClient, f"remove its client {p.client}")
        else:
            _need(sender.role, Capability.canKick, f"remove {user}'s client {p.client}")


def _authorize_component(state: RoomState, after: RoomState, p: AppDataUpdate, index: int, sender: _Acting) -> None:
    """Updates of components other than the participant list."""
    role = sender.role
    cid = p.component_id
    if cid == ComponentId.room_metadata:
        _authorize_metadata(state.metadata, after.metadata, role, index)
    elif cid == ComponentId.franking_signature_key:
        # Hub-managed (draft-ietf-mimi-protocol §Message Franking).
        if not sender.actor.is_server:
            raise _not_allowed("only the hub changes the franking signature key")
    elif cid == ComponentId.join_links:
        # §Join Link policies: creating and deleting join codes (reserved capabilities).
        update = p.op is AppDataUpdateOperation.update
        _need(role, ReservedCapability.canCreateJoinCode if update else ReservedCapability.canDeleteJoinCode, "change join links")
    elif cid in _COMPONENT_CAPABILITIES:
        _need(role, _COMPONENT_CAPABILITIES[cid], f"change {ComponentId(cid).name}")
        _check_policy(after, index)
    else:
        raise _invalid(f"component {cid:#06x} cannot be changed by AppDataUpdate", index)


def _authorize_metadata(before: RoomMetaData | None, after: RoomMetaData | None, role: Role, index: int) -> None:
    """draft-ietf-mimi-room-policy §Adjust metadata: one capability per changed field."""
    old, new = before or RoomMetaData(), after or RoomMetaData()
    if old.room_uri and new.room_uri != old.room_uri:
        raise _invalid("room_uri cannot change", index)
    for name, capability in _METADATA_CAPABILITIES.items():
        if getattr(old, name) != getattr(new, name):
            _need(role, capability, f"change {name}")


def _check_policy(after: RoomState, index: int) -> None:
    problem = policy_problem(after)
    if problem is not None:
        raise _invalid(problem, index)


def policy_problem(state: RoomState) -> str | None:
    """Why the room's policy is incoherent with itself or its participant list, or None."""
    problem = state.roles.problem() or state.base.problem()
    if problem is not None:
        return problem
    for p in state.participants.participants:
        if state.roles.role(p.role_index) is None:
            return f"{p.user} holds role {p.role_index}, which is not defined"
    if state.base.fixed_membership:
        # §Base Room policy: no non-zero, non-banned role may add participants.
        for role in state.roles.roles:
            if role.role_index not in (NO_ROLE, BANNED) and role.has(Capability.canAddParticipant):
                return f"fixed-membership room: role {role.role_index} has canAddParticipant"
    for entry in state.preauth.preauthorized_entries:
        if state.roles.role(entry.target_role.role_index) is None:
            return f"preauthorized role {entry.target_role.role_index} is not defined"
    return None


def _check_constraints(state: RoomState, after: RoomState, transitions: list[Transition]) -> None:
    """Post-state checks: who may have clients, and every min/max constraint that
    this change moved in the wrong direction (§Role-Based Access Control,
    §Base Room policy; draft-ietf-mimi-protocol §Update Room State)."""
    before_active, after_active = state.active_users(), after.active_users()
    after_roles = after.participants.roles()
    # Clients may be in the group only for participants that are not banned;
    # a removed or banned user has no clients left after the change.
    for user in after_active - before_active | {t.user for t in transitions}:
        if user in after_active and after_roles.get(user, NO_ROLE) in (NO_ROLE, BANNED):
            raise _not_allowed(f"{user} is not a participant (or is banned) and cannot have clients in the group")
    base = after.base
    before_clients = Counter(user_of(c) for c in state.members)
    after_clients = Counter(user_of(c) for c in after.members)
    if not base.multi_device:
        for user, n in after_clients.items():
            if n > 1 and n > before_clients[user]:
                raise _not_allowed(f"single-device room: {user} would have {n} clients")
    if base.max_clients is not None and len(after.members) > max(base.max_clients, len(state.members)):
        raise _not_allowed(f"max_clients {base.max_clients} exceeded")
    non_banned = [_non_banned(state.participants), _non_banned(after.participants)]
    if base.max_users is not None and non_banned[1] > max(base.max_users, non_banned[0]):
        raise _not_allowed(f"max_users {base.max_users} exceeded")
    for active in (False, True):
        _check_role_counts(
            after,
            _per_role(state.participants, before_active if active else None),
            _per_role(after.participants, after_active if active else None),
            active,
        )


def _check_role_counts(after: RoomState, before: Counter[int], now: Counter[int], active: bool) -> None:
    """§Role-Based Access Control: min/max (active) participants per role."""
    kind = "active participants" if active else "participants"
    for index in before.keys() | now.keys():
        role = after.roles.role(index)
        if role is None:
            continue
        if active:
            low, high = role.minimum_active_participants_constraint, role.maximum_active_participants_constraint
        else:
            low, high = role.minimum_participants_constraint, role.maximum_participants_constraint
        n, was = now[index], before[index]
        if n < was and n < low:
            raise _not_allowed(f"role {index} would have {n} {kind}, below its minimum {low}")
        if high is not None and n > was and n > high:
            raise _not_allowed(f"role {index} would have {n} {kind}, above its maximum {high}")


def _non_banned(participants: ParticipantListData) -> int:
    return sum(1 for p in participants.participants if p.role_index != BANNED)


def _per_role(participants: ParticipantListData, active: frozenset[str] | None) -> Counter[int]:
    """Participants per role; only those with clients when `active` is given."""
    return Counter(p.role_index for p in participants.participants if active is None or p.user in active)


def authorize_capability(state: RoomState, actor: Actor, capability: Capability) -> Decision:
    """Whether the actor's role holds `capability` (e.g. canDestroyRoom)."""
    acting = _acting(state, actor)
    if acting.restricted:
        return Decision(False, f"{actor.user} is banned or removed", "notAllowed")
    try:
        _need(acting.role, capability, "act")
    except _Deny as deny:
        return deny.decision
    return ALLOWED


def authorize_key_material(state: RoomState, requester: Actor, target_user: str) -> Decision:
    """Whether the client `requester` may claim KeyPackages of `target_user`'s clients
    for this room (draft-ietf-mimi-protocol §Fetch Key Material). KeyPackages serve
    only an Add, so the requester must be able to commit one (a member) and hold what
    adding those clients takes (draft-ietf-mimi-room-policy §Membership Capabilities,
    "Adding"): canAddOwnClient for its own user's clients; for another user,
    canAddParticipant, since only adding that user to the participant list
    authorizes adding its clients (`_authorize_clients`)."""
    acting = _acting(state, requester)
    try:
        # §Update Room State: only members commit, and a restricted one only its removal.
        if requester.uri not in state.members:
            raise _not_allowed(f"{requester.uri} is not a member of the group")
        if acting.restricted:
            raise _not_allowed(f"{requester.user} is banned or removed")
        if target_user == requester.user:
            _need(acting.role, Capability.canAddOwnClient, "add its own clients")
        elif target_user in state.participants.roles():
            raise _not_allowed(f"{target_user} is already in the participant list: only its own clients add its clients")
        elif state.base.fixed_membership:
            raise _not_allowed("fixed-membership room: users cannot be added")
        else:
            _need(acting.role, Capability.canAddParticipant, f"add {target_user}")
            # §canAddParticipant: an entry from role 0 names the roles it may add to.
            if not any(e.from_role_index == NO_ROLE and e.target_role_indexes for e in acting.role.authorized_role_changes):
                raise _not_allowed(f"canAddParticipant: role {acting.role.role_index}'s authorized_role_changes add no user")
    except _Deny as deny:
        return deny.decision
    return ALLOWED


def authorize_submit(state: RoomState, sending_uri: str) -> Decision:
    """draft-ietf-mimi-protocol §Submit a Message: `sendingUri` is "a user URI in
    the participant list", whose role holds canSendMessage. A client URI is
    refused, as an independent implementation refuses it (docs/interop.md)."""
    kind = parse(sending_uri, UriKind.user, UriKind.client).kind
    if kind is UriKind.client:
        return Decision(False, f"sendingUri {sending_uri} is a client URI; §Submit a Message needs a user URI", "notAllowed")
    user = sending_uri
    index = state.role_of(user)
    if index in (NO_ROLE, BANNED):
        return Decision(False, f"{user} is not a participant (or is banned)", "notAllowed")
    if user not in state.active_users():
        return Decision(False, f"{user} has no client in the group", "notAllowed")
    if not _role(state, index).has(Capability.canSendMessage):
        return Decision(False, f"role {index} lacks canSendMessage", "notAllowed")
    return ALLOWED


def may_receive(state: RoomState, user: str) -> bool:
    """§Message Capabilities: whether `user` (a listed participant, not banned,
    whose role holds canReceiveMessage) is owed the room's application messages.
    The hub withholds them from the clients of any other user (`HubRoom`)."""
    index = state.role_of(user)
    return index not in (NO_ROLE, BANNED) and _role(state, index).has(Capability.canReceiveMessage)
