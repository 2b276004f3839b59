"""Authorization, table-driven: (state, actor, change) -> (allowed, code, reason)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from mimi.codes import UpdateResponseCode
from mimi.components import (
    BaseRoomPolicy,
    Capability,
    Claim,
    ClaimId,
    ComponentId,
    ParticipantListData,
    ParticipantListUpdate,
    PreAuthData,
    PreAuthRoleEntry,
    RichDescription,
    Role,
    RoleData,
    RoomMetaData,
    SingleSourceRoleChangeTargets,
    UserindexRolePair,
    UserRolePair,
)
from mimi.components.capabilities import HUB_CHECKED
from mimi.policy.authorize import (
    Decision,
    authorize_capability,
    authorize_submit,
    authorize_update,
    may_receive,
)
from mimi.policy.presets import Preset, cooperative, moderated, strictly_administered
from mimi.room import (
    Actor,
    AddClient,
    AppDataUpdate,
    AppDataUpdateOperation,
    ProposedChange,
    RemoveClient,
    RoomState,
)

OK: UpdateResponseCode = "success"
DENY: UpdateResponseCode = "notAllowed"
INVALID: UpdateResponseCode = "invalidProposal"
UPDATE = AppDataUpdateOperation.update

HUB = "mimi://hub.example"
ROOM = "mimi://hub.example/r/clubhouse"


def user(name: str) -> str:
    return f"mimi://a.example/u/{name}"


def client(name: str, device: str = "phone") -> str:
    return f"mimi://a.example/d/{name}/{device}"


def me(name: str, device: str = "phone") -> Actor:
    return Actor(client(name, device))


HR = Claim(ClaimId(1, b"dept"), b"hr")
BOSS = Claim(ClaimId(1, b"title"), b"boss")

# alice super_admin, bob ordinary_user, cathy group_admin, frank ordinary_user,
# eve banned; everyone but eve has one client ("phone").
COOP_USERS = {"alice": 4, "bob": 2, "cathy": 3, "frank": 2, "eve": 1}


def room(
    preset: Preset = cooperative(),
    users: dict[str, int] = COOP_USERS,
    members: tuple[str, ...] | None = None,
    base: BaseRoomPolicy | None = None,
    preauth: PreAuthData = PreAuthData(),
    hub_role: int | None = None,
    roles: RoleData | None = None,
) -> RoomState:
    pairs = [UserRolePair(user(n), r) for n, r in users.items()]
    if hub_role is not None:
        pairs.append(UserRolePair(HUB, hub_role))
    if members is None:
        members = tuple(client(n) for n, r in users.items() if r != 1)
    return RoomState.create(
        participants=ParticipantListData(tuple(pairs)),
        roles=roles or preset.roles,
        base=base or preset.base,
        preauth=preauth,
        metadata=RoomMetaData(ROOM, "Club"),
        members=members,
    )


def idx(name: str, users: dict[str, int] = COOP_USERS) -> int:
    return list(users).index(name)


def pl(
    changed: tuple[tuple[int, int], ...] = (),
    removed: tuple[int, ...] = (),
    added: tuple[tuple[str, int], ...] = (),
    sender: Actor | None = None,
) -> AppDataUpdate:
    update = ParticipantListUpdate(
        tuple(UserindexRolePair(i, r) for i, r in changed),
        removed,
        tuple(UserRolePair(u, r) for u, r in added),
    )
    return AppDataUpdate(ComponentId.participant_list, UPDATE, update.encode(), sender)


def component(cid: int, value: object, sender: Actor | None = None) -> AppDataUpdate:
    return AppDataUpdate(cid, UPDATE, value.encode(), sender)  # type: ignore[attr-defined]


def commit(*proposals: object, joiner: str | None = None) -> ProposedChange:
    return ProposedChange(tuple(proposals), is_commit=True, external_joiner=joiner)  # type: ignore[arg-type]


def propose(*proposals: object) -> ProposedChange:
    return ProposedChange(tuple(proposals))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    id: str
    state: RoomState
    actor: Actor
    change: ProposedChange
    code: UpdateResponseCode
    reason: str = ""
    capability: Capability | None = None  # the capability the row exercises


COOP = room()
STRICT_USERS = {"alice": 4, "bob": 2, "cathy": 3}
PREAUTH = PreAuthData(
    (
        PreAuthRoleEntry((BOSS,), Role(3, "group_admin")),
        PreAuthRoleEntry((HR,), Role(2, "ordinary_user")),
    )
)
STRICT = room(strictly_administered(), STRICT_USERS, preauth=PREAUTH)
# role 0 with canOpenJoin to ordinary_user (2)
OPEN_ROLES = RoleData(
    (
        Role(0, "no_role", role_capabilities=(Capability.canOpenJoin,),
             authorized_role_changes=(SingleSourceRoleChangeTargets(0, (2,)),)),
        *cooperative().roles.roles[1:],
    )
)
OPEN = room(roles=OPEN_ROLES)
LIMITED_ROLES = RoleData(
    (
        *cooperative().roles.roles[:2],
        replace(cooperative().roles.roles[2], maximum_participants_constraint=3, maximum_active_participants_constraint=2),
        *cooperative().roles.roles[3:],
    )
)
DIANA = client("diana")
HELLO = RichDescription("", "en", b"hi")

CASES = [
    # --- adding users: §canAddParticipant
    Case("add user as ordinary", COOP, me("bob"), commit(pl(added=((user("diana"), 2),)), AddClient(DIANA)), OK,
         capability=Capability.canAddParticipant),
    Case("add user: role change not authorized", COOP, me("bob"), commit(pl(added=((user("diana"), 3),))), DENY,
         "authorized_role_changes do not allow 0 -> 3"),
    Case("add user: undefined role", COOP, me("alice"), commit(pl(added=((user("diana"), 9),))), INVALID,
         "role 9 is not defined"),
    Case("add user: lacking canAddParticipant", STRICT, me("bob"), commit(pl(added=((user("diana"), 2),))), DENY,
         "lacks canAddParticipant"),
    Case("client of a non-participant", COOP, me("bob"), commit(AddClient(DIANA)), DENY,
         "only with its user or by its user"),
    Case("client of another participant", COOP, me("alice"), commit(AddClient(client("bob", "laptop"))), DENY,
         "only with its user or by its user"),
    Case("client of a banned user", COOP, me("alice"), commit(AddClient(client("eve"))), DENY, "only with its user"),
    # --- removing users: §canRemoveParticipant, §canRemoveSelf
    Case("remove ordinary user with clients", COOP, me("bob"),
         commit(pl(removed=(idx("frank"),)), RemoveClient(client("frank"))), OK,
         capability=Capability.canRemoveParticipant),
    Case("remove user but leave its clients", COOP, me("bob"), commit(pl(removed=(idx("frank"),))), DENY,
         "cannot have clients"),
    Case("remove admin: not in role changes", COOP, me("bob"),
         commit(pl(removed=(idx("cathy"),)), RemoveClient(client("cathy"))), DENY, "do not allow 3 -> 0"),
    Case("remove the last admin: minimum", COOP, me("alice"),
         commit(pl(removed=(idx("cathy"),)), RemoveClient(client("cathy"))), DENY, "below its minimum 1"),
    Case("leave", COOP, me("bob"), propose(pl(removed=(idx("bob"),)), RemoveClient(client("bob"))), OK,
         capability=Capability.canRemoveSelf),
    Case("leave without canRemoveSelf", room(roles=RoleData(tuple(
        replace(r, role_capabilities=tuple(c for c in r.role_capabilities if c != Capability.canRemoveSelf))
        for r in cooperative().roles.roles))), me("bob"),
         propose(pl(removed=(idx("bob"),)), RemoveClient(client("bob"))), DENY, "lacks canRemoveSelf"),
    # --- bans: §canBan, §canUnban
    Case("ban", COOP, me("cathy"), commit(pl(changed=((idx("bob"), 1),)), RemoveClient(client("bob"))), OK,
         capability=Capability.canBan),
    Case("ban keeping the clients", COOP, me("cathy"), commit(pl(changed=((idx("bob"), 1),))), DENY,
         "cannot have clients"),
    Case("ban without canBan", COOP, me("bob"), commit(pl(changed=((idx("frank"), 1),)), RemoveClient(client("frank"))),
         DENY, "lacks canBan"),
    Case("ban without a banned role", room(roles=RoleData(tuple(
        replace(r, role_name="jail") if r.role_index == 1 else r for r in cooperative().roles.roles))),
         me("cathy"), commit(pl(changed=((idx("bob"), 1),)), RemoveClient(client("bob"))), DENY,
         'no role 1 named "banned"'),
    Case("unban", COOP, me("cathy"), commit(pl(changed=((idx("eve"), 2),))), OK, capability=Capability.canUnBan),
    Case("unban without canUnban", COOP, me("bob"), commit(pl(changed=((idx("eve"), 2),))), DENY, "lacks canUnBan"),
    Case("unban does not add clients", COOP, me("cathy"),
         commit(pl(changed=((idx("eve"), 2),)), AddClient(client("eve"))), DENY, "only with its user or by its user"),
    # --- banned users may only remove their own clients
    Case("banned removes own client", room(members=(client("alice"), client("eve"))), me("eve"),
         propose(RemoveClient(client("eve"))), OK),
    Case("banned removes itself from the list", room(members=(client("alice"), client("eve"))), me("eve"),
         propose(pl(removed=(idx("eve"),)), RemoveClient(client("eve"))), DENY, "may only remove its own clients"),
    Case("banned commits", room(members=(client("alice"), client("eve"))), me("eve"), commit(), DENY,
         "cannot commit"),
    # --- role changes: §canChangeUserRole, §canChangeOwnRole
    Case("promote", COOP, me("cathy"), commit(pl(changed=((idx("bob"), 3),))), OK,
         capability=Capability.canChangeUserRole),
    Case("promote without canChangeUserRole", COOP, me("bob"), commit(pl(changed=((idx("frank"), 3),))), DENY,
         "lacks canChangeUserRole"),
    Case("role 0 through a role change", COOP, me("alice"), commit(pl(changed=((idx("bob"), 0),))), INVALID,
         "role_index 0"),
    Case("own role change without claims", STRICT, me("bob"), commit(pl(changed=((1, 3),))), DENY,
         "no preauthorized role without credential claims"),
    Case("own role change without canChangeOwnRole", COOP, me("bob"), commit(pl(changed=((idx("bob"), 3),))), DENY,
         "lacks canChangeOwnRole"),
    # --- clients: §canAddOwnClient, §canRemoveOwnClient, §canKick
    Case("add own client", COOP, me("bob"), commit(AddClient(client("bob", "laptop"))), OK,
         capability=Capability.canAddOwnClient),
    Case("add own client lacking capability", room(moderated(), {"gus": 2, "mo": 5}), me("gus"),
         commit(AddClient(client("gus", "laptop"))), DENY, "lacks canAddOwnClient"),
    Case("remove own client", room(members=(client("alice"), client("bob"), client("bob", "laptop"))), me("bob"),
         propose(RemoveClient(client("bob", "laptop"))), OK, capability=Capability.canRemoveOwnClient),
    Case("remove own client lacking capability", room(moderated(), {"gus": 2, "mo": 5},
         members=(client("gus"), client("gus", "laptop"), client("mo"))), me("gus"),
         propose(RemoveClient(client("gus", "laptop"))), DENY, "lacks canRemoveOwnClient"),
    Case("kick", COOP, me("cathy"), commit(RemoveClient(client("bob"))), OK, capability=Capability.canKick),
    Case("kick without canKick", COOP, me("bob"), commit(RemoveClient(client("frank"))), DENY, "lacks canKick"),
    Case("remove a client not in the group", COOP, me("cathy"), commit(RemoveClient(client("bob", "tv"))), INVALID,
         "not in the group"),
    Case("add a client already in the group", COOP, me("bob"), commit(AddClient(client("bob"))), INVALID,
         "already in the group"),
    # --- joins: §canOpenJoin, §canJoinIfPreauthorized, §canUseJoinCode
    Case("open join", OPEN, me("diana"), commit(pl(added=((user("diana"), 2),)), joiner=DIANA), OK,
         capability=Capability.canOpenJoin),
    Case("open join to a role not offered", OPEN, me("diana"), commit(pl(added=((user("diana"), 3),)), joiner=DIANA),
         DENY, "neither preauthorized nor an open join"),
    Case("join without being listed", OPEN, me("diana"), commit(joiner=DIANA), DENY, "role 0 lacks canAddOwnClient"),
    Case("join without claims", STRICT, me("diana"), commit(pl(added=((user("diana"), 2),)), joiner=DIANA), DENY,
         "neither preauthorized"),
    Case("banned user cannot rejoin", room(strictly_administered(), {**STRICT_USERS, "eve": 1}, preauth=PREAUTH),
         me("eve"), commit(joiner=client("eve")), DENY, "banned"),
    Case("join codes are not checkable", STRICT, me("diana"), commit(pl(added=((user("diana"), 2),)), joiner=DIANA),
         DENY, "neither preauthorized", capability=Capability.canUseJoinCode),
    Case("new device joins externally", COOP, me("bob", "laptop"), commit(joiner=client("bob", "laptop")), OK),
    Case("external join by someone else's client", COOP, me("bob"), commit(joiner=DIANA), INVALID,
         "external join is a commit by the joining client"),
    # --- commit-wide rules
    Case("user touched twice", COOP, me("alice"),
         commit(pl(changed=((idx("bob"), 3),)), pl(removed=(idx("bob"),)), RemoveClient(client("bob"))), INVALID,
         "changed more than once"),
    Case("user changed and removed in one update", COOP, me("alice"),
         commit(pl(changed=((idx("bob"), 3),), removed=(idx("bob"),))), INVALID, "more than once"),
    Case("two metadata updates", COOP, me("bob"),
         commit(component(ComponentId.room_metadata, RoomMetaData(ROOM, "a")),
                component(ComponentId.room_metadata, RoomMetaData(ROOM, "b"))), INVALID,
         "more than one room metadata update"),
    Case("roles change with a participant change", STRICT, me("alice"),
         commit(component(ComponentId.roles_list, strictly_administered().roles), pl(changed=((1, 3),))), INVALID,
         "role definition change cannot share"),
    Case("preauth change with an addition", COOP, me("alice"),
         commit(component(ComponentId.preauth_list, PREAUTH), pl(added=((user("diana"), 2),)), AddClient(DIANA)),
         INVALID, "only with user removals"),
    Case("preauth change with a removal", COOP, me("alice"),
         commit(component(ComponentId.preauth_list, PREAUTH), pl(removed=(idx("frank"),)),
                RemoveClient(client("frank"))), OK, capability=Capability.canChangePreauthorizedUserList),
    Case("preauth naming an undefined role", COOP, me("alice"), commit(component(ComponentId.preauth_list,
         PreAuthData((PreAuthRoleEntry((HR,), Role(9, "ghost")),)))), INVALID, "preauthorized role 9 is not defined"),
    Case("preauth change without capability", COOP, me("cathy"), commit(component(ComponentId.preauth_list, PREAUTH)),
         DENY, "lacks canChangePreauthorizedUserList"),
    Case("commit by a non-member", COOP, me("diana"), commit(), DENY, "not a member"),
    # --- metadata: §Adjust metadata
    Case("rename", COOP, me("bob"), commit(component(ComponentId.room_metadata, RoomMetaData(ROOM, "New"))), OK,
         capability=Capability.canChangeRoomName),
    Case("rename without capability", STRICT, me("bob"),
         commit(component(ComponentId.room_metadata, RoomMetaData(ROOM, "New"))), DENY, "lacks canChangeRoomName"),
    Case("describe", COOP, me("cathy"), commit(component(ComponentId.room_metadata, RoomMetaData(ROOM, "Club",
         room_descriptions=(HELLO,)))), OK, capability=Capability.canChangeRoomDescription),
    Case("describe without capability", COOP, me("bob"), commit(component(ComponentId.room_metadata,
         RoomMetaData(ROOM, "Club", room_descriptions=(HELLO,)))), DENY,
         "lacks canChangeRoomDescription"),
    Case("avatar", COOP, me("bob"), commit(component(ComponentId.room_metadata,
         RoomMetaData(ROOM, "Club", room_avatar="https://a/x.png"))), OK, capability=Capability.canChangeRoomAvatar),
    Case("subject", COOP, me("bob"), commit(component(ComponentId.room_metadata,
         RoomMetaData(ROOM, "Club", room_subject="s"))), OK, capability=Capability.canChangeRoomSubject),
    Case("mood", COOP, me("bob"), commit(component(ComponentId.room_metadata,
         RoomMetaData(ROOM, "Club", room_mood="m"))), OK, capability=Capability.canChangeRoomMood),
    Case("mood without capability", STRICT, me("bob"), commit(component(ComponentId.room_metadata,
         RoomMetaData(ROOM, "Club", room_mood="m"))), DENY, "lacks canChangeRoomMood"),
    Case("room_uri is fixed", COOP, me("alice"), commit(component(ComponentId.room_metadata,
         RoomMetaData("mimi://hub.example/r/other", "Club"))), INVALID, "room_uri cannot change"),
    # --- disruptive policy changes
    Case("change role definitions", STRICT, me("alice"),
         commit(component(ComponentId.roles_list, strictly_administered().roles)), OK,
         capability=Capability.canChangeRoleDefinitions),
    Case("change role definitions without capability", COOP, me("alice"),
         commit(component(ComponentId.roles_list, cooperative().roles)), DENY, "lacks canChangeRoleDefinitions"),
    Case("roles that drop a held role", STRICT, me("alice"),
         commit(component(ComponentId.roles_list, RoleData(strictly_administered().roles.roles[:3]))), INVALID,
         "holds role 4, which is not defined"),
    Case("roles with canOpenJoin on a non-zero role", STRICT, me("alice"), commit(component(ComponentId.roles_list,
         RoleData((*strictly_administered().roles.roles, Role(9, "x", role_capabilities=(Capability.canOpenJoin,)))))),
         INVALID, "canOpenJoin on non-zero role 9"),
    Case("membership style", COOP, me("alice"),
         commit(component(ComponentId.base_room_policy, BaseRoomPolicy(max_users=50))), OK,
         capability=Capability.canChangeRoomMembershipStyle),
    Case("membership style without capability", COOP, me("cathy"),
         commit(component(ComponentId.base_room_policy, BaseRoomPolicy(max_users=50))), DENY,
         "lacks canChangeRoomMembershipStyle"),
    Case("fixed membership while users can add", COOP, me("alice"),
         commit(component(ComponentId.base_room_policy, BaseRoomPolicy(fixed_membership=True))), INVALID,
         "role 2 has canAddParticipant"),
    Case("other policy component needs canChangeOtherPolicyAttribute", STRICT, me("alice"),
         commit(AppDataUpdate(ComponentId.logging_policy, UPDATE, b"\x02")), DENY, "canChangeOtherPolicyAttribute"),
    Case("unknown component", COOP, me("alice"), commit(AppDataUpdate(0x7777, UPDATE, b"")), INVALID,
         "unknown component"),
    Case("frank_aad is not a GroupContext component", COOP, me("alice"),
         commit(AppDataUpdate(ComponentId.frank_aad, UPDATE, b"")), INVALID, "unknown component"),
    Case("malformed update bytes", COOP, me("alice"), commit(AppDataUpdate(ComponentId.participant_list, UPDATE,
         b"\x05")), INVALID, "truncated"),
    Case("remove and update one component", COOP, me("alice"),
         commit(AppDataUpdate(ComponentId.room_metadata, AppDataUpdateOperation.remove),
                component(ComponentId.room_metadata, RoomMetaData(ROOM))), INVALID, "a single remove or only updates"),
    # --- base policy: §Base Room policy
    Case("fixed membership: no additions", room(base=BaseRoomPolicy(fixed_membership=True)), me("alice"),
         commit(pl(added=((user("diana"), 2),)), AddClient(DIANA)), DENY, "users cannot be added"),
    Case("fixed membership: no leaving", room(base=BaseRoomPolicy(fixed_membership=True)), me("bob"),
         propose(pl(removed=(idx("bob"),)), RemoveClient(client("bob"))), DENY, "cannot leave"),
    Case("fixed membership: no removals", room(base=BaseRoomPolicy(fixed_membership=True)), me("bob"),
         commit(pl(removed=(idx("frank"),)), RemoveClient(client("frank"))), DENY, "cannot be removed"),
    Case("fixed membership: own clients still come and go", room(base=BaseRoomPolicy(fixed_membership=True)),
         me("bob"), commit(AddClient(client("bob", "laptop"))), OK),
    Case("single device", room(base=BaseRoomPolicy(multi_device=False)), me("bob"),
         commit(AddClient(client("bob", "laptop"))), DENY, "single-device room"),
    Case("max_clients", room(base=BaseRoomPolicy(max_clients=4)), me("bob"),
         commit(AddClient(client("bob", "laptop"))), DENY, "max_clients 4 exceeded"),
    Case("max_users counts the non-banned", room(base=BaseRoomPolicy(max_users=4)), me("bob"),
         commit(pl(added=((user("diana"), 2),)), AddClient(DIANA)), DENY, "max_users 4 exceeded"),
    Case("max_users leaves room for bans", room(base=BaseRoomPolicy(max_users=5)), me("bob"),
         commit(pl(added=((user("diana"), 2),)), AddClient(DIANA)), OK),
    # --- per-role constraints: §Role-Based Access Control
    Case("maximum participants", room(roles=LIMITED_ROLES), me("bob"),
         commit(pl(added=((user("diana"), 2), (user("gina"), 2)))), DENY, "above its maximum 3"),
    Case("maximum active participants", room(roles=LIMITED_ROLES), me("bob"),
         commit(pl(added=((user("diana"), 2),)), AddClient(DIANA)), DENY, "3 active participants, above its maximum 2"),
    Case("inactive participant within the maximum", room(roles=LIMITED_ROLES), me("bob"),
         commit(pl(added=((user("diana"), 2),))), OK),
    Case("minimum active participants", room(moderated(), {"mo": 5, "sam": 4}, roles=RoleData(tuple(
         replace(r, minimum_active_participants_constraint=1) if r.role_index == 5 else r
         for r in moderated().roles.roles))), me("mo"), propose(RemoveClient(client("mo"))), DENY,
         "below its minimum 1"),
    # --- servers (external senders)
    Case("hub as policy enforcer bans", room(hub_role=5), Actor(HUB, is_server=True),
         propose(pl(changed=((idx("bob"), 1),)), RemoveClient(client("bob"))), OK),
    Case("hub as policy enforcer cannot add", room(hub_role=5), Actor(HUB, is_server=True),
         propose(pl(added=((user("diana"), 2),))), DENY, "lacks canAddParticipant"),
    Case("preauthorization grants the hub nothing", room(preauth=PreAuthData((PreAuthRoleEntry((HR,), Role(5, "policy_enforcer")),))),
         Actor(HUB, is_server=True),
         propose(pl(removed=(idx("frank"),)), RemoveClient(client("frank"))), DENY, "lacks canRemoveParticipant"),
    Case("unlisted hub", COOP, Actor(HUB, is_server=True),
         propose(pl(removed=(idx("frank"),)), RemoveClient(client("frank"))), DENY, "lacks canRemoveParticipant"),
    Case("servers do not commit", room(hub_role=5), Actor(HUB, is_server=True), commit(), DENY, "servers cannot commit"),
    Case("franking key is the hub's", COOP, me("alice"),
         commit(AppDataUpdate(ComponentId.franking_signature_key, UPDATE, b"k")), DENY, "only the hub"),
    # --- by-reference proposals keep their sender
    Case("by reference: the proposer's authority counts", COOP, me("frank"),
         commit(pl(removed=(idx("cathy"),), sender=me("alice")), RemoveClient(client("cathy"), me("alice")),
                pl(added=((user("gina"), 3),), sender=me("alice"))), OK),
    Case("by value: the committer's authority counts", COOP, me("frank"),
         commit(pl(removed=(idx("cathy"),)), RemoveClient(client("cathy")), pl(added=((user("gina"), 3),))), DENY,
         "do not allow 3 -> 0"),
    # --- no provider policy envelope: any coherent policy its holder may set
    Case("no policy envelope", COOP, me("alice"), commit(component(ComponentId.base_room_policy,
         BaseRoomPolicy(discoverable=True, max_users=100_000, multi_device=False))), OK),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_authorize_update(case: Case) -> None:
    decision = authorize_update(case.state, case.actor, case.change)
    assert (decision.code, decision.allowed) == (case.code, case.code == OK), decision.reason
    assert case.reason in decision.reason
    if decision.allowed:
        case.state.apply(case.change)  # an allowed change applies


def test_invalid_proposals_name_the_offenders() -> None:
    change = commit(
        component(ComponentId.room_metadata, RoomMetaData(ROOM, "a")),
        AddClient(client("bob", "laptop")),
        component(ComponentId.room_metadata, RoomMetaData(ROOM, "b")),
    )
    decision = authorize_update(COOP, me("bob"), change)
    assert decision.invalid_proposals == (0, 2)


SUBMIT = [
    ("participant", COOP, user("bob"), True, "allowed", Capability.canSendMessage),
    ("a member's client URI", COOP, client("bob"), False, "is a client URI", None),
    ("a client URI not in the group", COOP, client("bob", "tv"), False, "is a client URI", None),
    ("banned", room(members=(client("alice"), client("eve"))), user("eve"), False, "banned", None),
    ("not listed", COOP, user("zed"), False, "not a participant", None),
    ("no client in the group", room(members=(client("alice"),)), user("bob"), False, "no client", None),
    ("guest lacks canSendMessage", room(moderated(), {"gus": 2, "mo": 5}), user("gus"), False,
     "lacks canSendMessage", None),
]


@pytest.mark.parametrize(("name", "state", "uri", "allowed", "reason", "capability"), SUBMIT, ids=[r[0] for r in SUBMIT])
def test_authorize_submit(
    name: str, state: RoomState, uri: str, allowed: bool, reason: str, capability: Capability | None
) -> None:
    decision = authorize_submit(state, uri)
    assert decision.allowed is allowed
    assert reason in decision.reason
    assert decision.submit_code == ("accepted" if allowed else "notAllowed")


@pytest.mark.parametrize(
    ("state", "participant", "receives"),
    [
        (COOP, user("bob"), True),
        (room(moderated(), {"gus": 2, "mo": 5}), user("gus"), True),
        (room(roles=RoleData(tuple(replace(r, role_capabilities=()) if r.role_index == 2 else r
                                   for r in cooperative().roles.roles))), user("bob"), False),
        (room(members=(client("alice"), client("eve"))), user("eve"), False),
        (COOP, user("zed"), False),
    ],
)
def test_may_receive(state: RoomState, participant: str, receives: bool) -> None:
    assert may_receive(state, participant) is receives


@pytest.mark.parametrize(
    ("actor", "allowed", "reason"),
    [
        (me("alice"), True, "allowed"),
        (me("bob"), False, "lacks canDestroyRoom"),
        (me("zed"), False, "lacks canDestroyRoom"),
    ],
)
def test_authorize_capability_destroy(actor: Actor, allowed: bool, reason: str) -> None:
    decision = authorize_capability(COOP, actor, Capability.canDestroyRoom)
    assert decision.allowed is allowed and reason in decision.reason


def test_banned_member_cannot_use_capabilities() -> None:
    state = room(members=(client("alice"), client("eve")))
    assert authorize_capability(state, me("eve"), Capability.canDestroyRoom).reason.endswith("is banned or removed")


def test_every_hub_checked_capability_has_a_row() -> None:
    covered = {c.capability for c in CASES} | {row[5] for row in SUBMIT}
    covered |= {Capability.canReceiveMessage, Capability.canDestroyRoom}  # test_may_receive, test_authorize_capability
    assert covered >= HUB_CHECKED


def test_decision_require() -> None:
    Decision(True, "allowed").require()
    with pytest.raises(Exception, match="nope"):
        Decision(False, "nope", DENY).require()

