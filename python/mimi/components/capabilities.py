"""Role capabilities (draft-ietf-mimi-room-policy §Role Capabilities, §IANA "MIMI Role Capabilities")."""

from __future__ import annotations

from enum import IntEnum


class Capability(IntEnum):
    """Every non-reserved capability of the registry, by its registered name."""

    # §Membership Capabilities
    canAddParticipant = 0x0000
    canRemoveParticipant = 0x0001
    canAddOwnClient = 0x0002
    canRemoveOwnClient = 0x0003
    canOpenJoin = 0x0004
    canJoinIfPreauthorized = 0x0005
    canRemoveSelf = 0x0006
    canUseJoinCode = 0x0009
    canBan = 0x000A
    canUnBan = 0x000B
    canUnban = 0x000B  # the draft's text spells it both ways; an alias of canUnBan
    canKick = 0x000C
    canChangeUserRole = 0x000F
    canChangeOwnRole = 0x0010
    # §Message Capabilities
    canSendMessage = 0x0100
    canReceiveMessage = 0x0101
    canCopyMessage = 0x0102
    canReportAbuse = 0x0103
    canReplyToMessage = 0x0104
    canReactToMessage = 0x0105
    canEditReaction = 0x0106
    canDeleteOwnReaction = 0x0107
    canDeleteOtherReaction = 0x0108
    canEditOwnMessage = 0x0109
    canDeleteOwnMessage = 0x010A
    canDeleteOtherMessage = 0x010B
    canStartTopic = 0x010C
    canReplyInTopic = 0x010D
    canEditOwnTopic = 0x010E
    canEditOtherTopic = 0x010F
    # §Asset Capabilities
    canUploadImage = 0x0200
    canUploadAudio = 0x0201
    canUploadVideo = 0x0202
    canUploadAttachment = 0x0203
    canDownloadImage = 0x0204
    canDownloadAudio = 0x0205
    canDownloadVideo = 0x0206
    canDownloadAttachment = 0x0207
    canSendLink = 0x0208
    canSendLinkPreview = 0x0209
    canFollowLink = 0x020A
    canCopyLink = 0x020B
    # §Adjust metadata
    canChangeRoomName = 0x0300
    canChangeRoomDescription = 0x0301
    canChangeRoomAvatar = 0x0302
    canChangeRoomSubject = 0x0303
    canChangeRoomMood = 0x0304
    # §Real-time media
    canStartCall = 0x0400
    canJoinCall = 0x0401
    canSendAudio = 0x0402
    canReceiveAudio = 0x0403
    canSendVideo = 0x0404
    canReceiveVideo = 0x0405
    canShareScreen = 0x0406
    canViewSharedScreen = 0x0407
    # §Disruptive Policy Changes
    canDestroyRoom = 0x0501
    canChangeRoomMembershipStyle = 0x0502
    canChangeRoleDefinitions = 0x0503
    canChangePreauthorizedUserList = 0x0504
    canSendMLSReinitProposal = 0x0601


class ReservedCapability(IntEnum):
    """Registered as reserved (§Reserved Capabilities); the example roles still list some."""

    canCreateJoinCode = 0x0007
    canDeleteJoinCode = 0x0008
    canKnock = 0x000D
    canAcceptKnock = 0x000E
    canCreateSubgroup = 0x0011
    canSendDirectMessage = 0x0110
    canTargetMessage = 0x0111
    canChangeOwnName = 0x0380
    canChangeOwnPresence = 0x0381
    canChangeOwnMood = 0x0382
    canChangeOwnAvatar = 0x0383
    canCreateRoom = 0x0500
    canChangeOtherPolicyAttribute = 0x0505
    canChangeMlsOperationalPolicies = 0x0600
    canSendMLSUpdateProposal = 0x0602
    canSendMLSPSKProposal = 0x0603
    canSendMLSExternalProposal = 0x0604
    canSendMLSExternalCommit = 0x0605


# §IANA: 0xF000-0xFFFF are for private use.
PRIVATE_USE = range(0xF000, 0x10000)

# What the hub can check (§Message Capabilities: "The Hub can enforce whether a
# member can send a message ... The other capabilities ... only by other clients").
# Not here, with canUseJoinCode: canJoinIfPreauthorized and canChangeOwnRole (no
# credential carries claims) and canSendMLSReinitProposal (no ReInit is ever sent
# or acted on); docs/interop.md.
HUB_CHECKED: frozenset[Capability] = frozenset(
    {
        Capability.canAddParticipant,
        Capability.canRemoveParticipant,
        Capability.canAddOwnClient,
        Capability.canRemoveOwnClient,
        Capability.canOpenJoin,
        Capability.canRemoveSelf,
        Capability.canBan,
        Capability.canUnBan,
        Capability.canKick,
        Capability.canChangeUserRole,
        Capability.canSendMessage,
        Capability.canReceiveMessage,
        Capability.canChangeRoomName,
        Capability.canChangeRoomDescription,
        Capability.canChangeRoomAvatar,
        Capability.canChangeRoomSubject,
        Capability.canChangeRoomMood,
        Capability.canDestroyRoom,
        Capability.canChangeRoomMembershipStyle,
        Capability.canChangeRoleDefinitions,
        Capability.canChangePreauthorizedUserList,
    }
)
