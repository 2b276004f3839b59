"""The draft's example room styles (draft-ietf-mimi-room-policy §Role examples),
ready to use when creating a room.

Where the examples are defective the reading is in docs/interop.md:
capabilities outside the registry (canRevokeVoice, canGrantVoice) are left
out; the moderated room's speaker includes the attendee's capabilities and its
moderator the speaker's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mimi.components import (
    BaseRoomPolicy,
    ParticipantListData,
    Role,
    RoleData,
    RoomMetaData,
    SingleSourceRoleChangeTargets,
    UserRolePair,
)
from mimi.components import Capability as C
from mimi.components import ReservedCapability as R
from mimi.room.state import RoomState

Cap = C | R


def _role(
    index: int,
    name: str,
    capabilities: Iterable[Cap],
    changes: Iterable[tuple[int, Iterable[int]]] = (),
    min_participants: int = 0,
    max_participants: int | None = None,
    min_active: int = 0,
    max_active: int | None = None,
) -> Role:
    return Role(
        role_index=index,
        role_name=name,
        role_capabilities=tuple(dict.fromkeys(capabilities)),
        minimum_participants_constraint=min_participants,
        maximum_participants_constraint=max_participants,
        minimum_active_participants_constraint=min_active,
        maximum_active_participants_constraint=max_active,
        authorized_role_changes=tuple(SingleSourceRoleChangeTargets(f, tuple(t)) for f, t in changes),
    )


def _among(roles: range) -> list[tuple[int, list[int]]]:
    """[(r, every other role)] for r in roles: a free hand among `roles`."""
    return [(r, [t for t in roles if t != r]) for r in roles]


NO_ROLE = _role(0, "no_role", (), max_active=0)
BANNED = _role(1, "banned", (), max_active=0)
# The role index of the cooperative and strict rooms' ordinary_user, which users
# added as plain participants get. In the moderated and multi-organization rooms
# role 2 is also a participant without admin rights (guest, org_a_user).
ORDINARY_USER = 2

_POLICY_ENFORCER_CAPS = (
    C.canRemoveParticipant,
    C.canChangeUserRole,
    C.canBan,
    C.canUnBan,
    C.canChangeRoleDefinitions,
    C.canChangePreauthorizedUserList,
    R.canChangeMlsOperationalPolicies,
    C.canDestroyRoom,
    C.canSendMLSReinitProposal,
)


def _policy_enforcer(index: int, cleanup_from: Iterable[int]) -> Role:
    """Can remove a banned user from the list (cleanup) but not restore them."""
    changes = [(0, [1]), (1, [0]), *((r, [0, 1]) for r in cleanup_from)]
    return _role(index, "policy_enforcer", _POLICY_ENFORCER_CAPS, changes, 1, 2, 0, 0)


_READ = (C.canReceiveMessage, C.canCopyMessage)
_DOWNLOAD = (C.canDownloadImage, C.canDownloadVideo, C.canDownloadAudio, C.canDownloadAttachment)
_UPLOAD = (C.canUploadImage, C.canUploadVideo, C.canUploadAudio, C.canUploadAttachment)
_LINKS = (C.canSendLink, C.canSendLinkPreview, C.canFollowLink, C.canCopyLink)
_OWN_PROFILE = (R.canChangeOwnName, R.canChangeOwnPresence, R.canChangeOwnMood, R.canChangeOwnAvatar)
# What the strict room's group_admin and the moderated room's moderator add.
_MODERATION = (
    C.canAddParticipant,
    C.canRemoveParticipant,
    C.canBan,
    C.canUnBan,
    C.canKick,
    C.canChangeUserRole,
    R.canCreateJoinCode,
    R.canDeleteJoinCode,
    C.canDeleteOtherReaction,
    C.canDeleteOtherMessage,
    C.canEditOwnTopic,
    C.canEditOtherTopic,
)
_ROOM_LOOKS = (C.canChangeRoomName, C.canChangeRoomAvatar, C.canChangeRoomSubject, C.canChangeRoomMood)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    roles: RoleData
    base: BaseRoomPolicy
    creator_role: int  # the role of the user who creates the room
    enforcer_role: int  # the hub's role when it is listed as policy enforcer

    def new_room(
        self, creator: str, room_uri: str, room_name: str = "", hub: str | None = None, members: Iterable[str] = ()
    ) -> RoomState:
        """A room whose only participant is `creator` (a user URI), plus the hub
        as policy enforcer when `hub` (its provider URI) is given."""
        participants = [UserRolePair(creator, self.creator_role)]
        if hub is not None:
            participants.append(UserRolePair(hub, self.enforcer_role))
        return RoomState.create(
            participants=ParticipantListData(tuple(participants)),
            roles=self.roles,
            base=self.base,
            metadata=RoomMetaData(room_uri=room_uri, room_name=room_name),
            members=members,
        )


def cooperative() -> Preset:
    """§Cooperatively administered room."""
    user_caps = (
        C.canAddParticipant,
        C.canRemoveParticipant,
        C.canAddOwnClient,
        C.canRemoveOwnClient,
        C.canRemoveSelf,
        C.canSendMessage,
        *_READ,
        C.canReportAbuse,
        C.canReplyToMessage,
        C.canReactToMessage,
        C.canDeleteOwnReaction,
        C.canEditOwnMessage,
        C.canDeleteOwnMessage,
        C.canStartTopic,
        C.canReplyInTopic,
        C.canEditOwnTopic,
        *_UPLOAD,
        *_DOWNLOAD,
        *_LINKS,
        *_ROOM_LOOKS,
        *_OWN_PROFILE,
    )
    admin_caps = (
        *user_caps,
        C.canBan,
        C.canUnBan,
        C.canKick,
        C.canChangeUserRole,
        C.canDeleteOtherMessage,
        C.canEditOtherTopic,
        C.canChangeRoomDescription,
    )
    super_caps = (*admin_caps, C.canChangeRoomMembershipStyle, C.canChangePreauthorizedUserList, C.canDestroyRoom)
    roles = (
        NO_ROLE,
        BANNED,
        _role(ORDINARY_USER, "ordinary_user", user_caps, [(0, [ORDINARY_USER]), (ORDINARY_USER, [0])]),
        _role(3, "group_admin", admin_caps, _among(range(4)), min_participants=1),
        _role(4, "super_admin", super_caps, _among(range(5))),
        _policy_enforcer(5, (2, 3, 4)),
    )
    return Preset("cooperative", RoleData(roles), BaseRoomPolicy(policy_component_ids=_IDS), 4, 5)


def _strict_roles() -> tuple[Role, Role, Role, Role, Role]:
    user_caps = (
        C.canAddOwnClient,
        C.canJoinIfPreauthorized,
        C.canRemoveOwnClient,
        C.canRemoveSelf,
        C.canChangeOwnRole,
        C.canSendMessage,
        *_READ,
        C.canReportAbuse,
        C.canReactToMessage,
        C.canDeleteOwnReaction,
        C.canEditOwnMessage,
        C.canDeleteOwnMessage,
        C.canStartTopic,
        C.canReplyInTopic,
        *_UPLOAD,
        *_DOWNLOAD,
        *_LINKS,
        *_OWN_PROFILE,
    )
    admin_caps = (
        *user_caps,
        *_MODERATION,
        C.canChangeRoomDescription,
        *_ROOM_LOOKS,
    )
    super_caps = (
        *admin_caps,
        C.canChangeRoomMembershipStyle,
        C.canChangeRoleDefinitions,
        C.canChangePreauthorizedUserList,
        C.canDestroyRoom,
        C.canSendMLSReinitProposal,
    )
    return (
        _role(0, "no_role", (C.canUseJoinCode,), [(0, [ORDINARY_USER])], max_active=0),
        _role(ORDINARY_USER, "ordinary_user", user_caps, [(0, [ORDINARY_USER]), (ORDINARY_USER, [0])]),
        _role(3, "group_admin", admin_caps, _among(range(4)), min_participants=1),
        _role(4, "super_admin", super_caps, _among(range(5))),
        _policy_enforcer(5, (2, 3, 4)),
    )


def strictly_administered() -> Preset:
    """§Strictly administered room."""
    no_role, user, admin, super_admin, enforcer = _strict_roles()
    roles = (no_role, BANNED, user, admin, super_admin, enforcer)
    return Preset("strictly_administered", RoleData(roles), BaseRoomPolicy(policy_component_ids=_IDS), 4, 5)


def moderated() -> Preset:
    """§Moderated room."""
    guest_caps = (
        C.canRemoveSelf,
        *_READ,
        C.canReactToMessage,
        C.canDeleteOwnReaction,
        C.canFollowLink,
        C.canCopyLink,
        C.canDownloadImage,
        C.canDownloadVideo,
        C.canDownloadAudio,
    )
    attendee_caps = (
        *guest_caps,
        C.canAddOwnClient,
        C.canJoinIfPreauthorized,
        C.canRemoveOwnClient,
        C.canChangeOwnRole,
        C.canReportAbuse,
        C.canReplyInTopic,
        C.canDownloadAttachment,
        R.canChangeOwnName,
        R.canChangeOwnPresence,
        R.canChangeOwnAvatar,
    )
    speaker_caps = (
        *attendee_caps,
        C.canSendMessage,
        C.canEditOwnMessage,
        C.canDeleteOwnMessage,
        C.canStartTopic,
        *_UPLOAD,
        C.canSendLink,
        C.canSendLinkPreview,
    )
    moderator_caps = (
        *speaker_caps,
        *_MODERATION,
        *_ROOM_LOOKS,
    )
    super_caps = (
        *moderator_caps,
        C.canChangeRoomDescription,
        C.canChangeRoomMembershipStyle,
        C.canChangeRoleDefinitions,
        C.canChangePreauthorizedUserList,
        C.canDestroyRoom,
        C.canSendMLSReinitProposal,
    )
    roles = (
        _role(0, "no_role", (C.canUseJoinCode,), [(0, [2, 3])]),
        BANNED,
        _role(2, "guest", guest_caps, [(0, [2]), (2, [0])]),
        _role(3, "attendee", attendee_caps, [(0, [3]), (3, [0])]),
        _role(4, "speaker", speaker_caps, [(0, [4]), (4, [0])]),
        _role(5, "moderator", moderator_caps, _among(range(6)), min_participants=1),
        _role(6, "super_admin", super_caps, _among(range(7))),
        _policy_enforcer(7, range(2, 7)),
    )
    return Preset("moderated", RoleData(roles), BaseRoomPolicy(policy_component_ids=_IDS), 6, 7)


def multi_organization() -> Preset:
    """§Multi-organization administered room: orgs A (host), B and C."""
    org_user = (
        C.canRemoveSelf,
        C.canAddOwnClient,
        C.canRemoveOwnClient,
        C.canSendMessage,
        *_READ,
        C.canReportAbuse,
        C.canReplyInTopic,
        C.canReactToMessage,
        C.canDeleteOwnReaction,
        C.canEditOwnMessage,
        *_LINKS,
        C.canDownloadImage,
        C.canDownloadVideo,
        C.canDownloadAudio,
        C.canDownloadAttachment,
        R.canChangeOwnName,
        R.canChangeOwnPresence,
        R.canChangeOwnAvatar,
    )
    host_extra = (C.canChangeOwnRole, C.canJoinIfPreauthorized)
    org_admin = (
        *org_user,
        C.canDeleteOwnMessage,
        C.canStartTopic,
        *_UPLOAD,
        C.canAddParticipant,
        C.canRemoveParticipant,
        C.canBan,
        C.canKick,
        C.canChangeUserRole,
    )
    super_caps = (
        *org_admin,
        *host_extra,
        C.canUnBan,
        C.canDeleteOtherReaction,
        C.canDeleteOtherMessage,
        C.canEditOwnTopic,
        C.canEditOtherTopic,
        C.canChangeRoomDescription,
        *_ROOM_LOOKS,
        C.canChangeRoomMembershipStyle,
        C.canChangeRoleDefinitions,
        C.canChangePreauthorizedUserList,
        C.canDestroyRoom,
        C.canSendMLSReinitProposal,
    )
    admin_limits = {"min_participants": 1, "max_participants": 3, "min_active": 1}
    super_changes = [
        (0, [1, 2, 3, 4, 5, 6, 7, 8]),
        (1, [0, 2, 3, 4, 5, 6, 7, 8]),
        (2, [0, 1, 5, 8]),
        (3, [0, 1, 6]),
        (4, [0, 1, 7]),
        (5, [0, 1, 2, 8]),
        (6, [0, 1, 3]),
        (7, [0, 1, 4]),
        (8, [0, 1, 2, 5]),
    ]
    roles = (
        NO_ROLE,
        BANNED,
        _role(2, "org_a_user", (*org_user, *host_extra), [(0, [2]), (2, [0])]),
        _role(3, "org_b_user", org_user, [(0, [3]), (3, [0])]),
        _role(4, "org_c_user", org_user, [(0, [4]), (4, [0])]),
        _role(5, "org_a_admin", (*org_admin, *host_extra), [(0, [2, 5]), (2, [0, 1, 5]), (5, [0, 1, 2])]),
        _role(6, "org_b_admin", org_admin, [(0, [3, 6]), (3, [0, 1, 6]), (6, [0, 1, 3])], **admin_limits),
        _role(7, "org_c_admin", org_admin, [(0, [4, 7]), (4, [0, 1, 7]), (7, [0, 1, 4])], **admin_limits),
        _role(8, "super_admin", super_caps, super_changes, min_participants=1, min_active=1),
        _policy_enforcer(9, range(3, 9)),
    )
    return Preset("multi_organization", RoleData(roles), BaseRoomPolicy(policy_component_ids=_IDS), 8, 9)


_IDS = (0x0025, 0x0026)  # roles_list, preauth_list (§Base Room policy: policy_component_ids)

PRESETS = {p.name: p for p in (cooperative(), strictly_administered(), moderated(), multi_organization())}
