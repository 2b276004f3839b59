"""The MIMI components of a room's MLS app_data_dictionary (draft-ietf-mls-extensions
§app_data_dictionary): their IDs and wire structs, each in the module of the draft
section that defines it. Room state (`mimi.room`) holds them and room policy
(`mimi.policy`) evaluates changes to them; both build on this package."""

from mimi.components.assets import (
    AssetPolicy,
    AssetUploadLocation,
    DownloadPrivacy,
    DownloadPrivacyType,
    ProviderAssetUploadDomains,
)
from mimi.components.base_room_policy import BaseRoomPolicy
from mimi.components.bots import Bot, BotPolicy
from mimi.components.capabilities import Capability, ReservedCapability
from mimi.components.chat_history import HistoryPolicy
from mimi.components.join_links import JoinLinkPolicy, JoinLinks, JoinLinksUpdate
from mimi.components.link_preview import LinkPreviewPolicy
from mimi.components.logging_policy import LoggingPolicy
from mimi.components.media_type import MediaType, Parameter
from mimi.components.message_expiration import MessageExpiration
from mimi.components.metadata import RichDescription, RoomMetaData
from mimi.components.optionality import Optionality
from mimi.components.participants import ParticipantListData, ParticipantListUpdate, UserindexRolePair, UserRolePair
from mimi.components.preauth import Claim, ClaimId, PreAuthData, PreAuthRoleEntry
from mimi.components.registry import ComponentId
from mimi.components.roles import BANNED, NO_ROLE, Role, RoleData, SingleSourceRoleChangeTargets
from mimi.components.status_notifications import StatusNotificationPolicy

__all__ = [
    "BANNED",
    "NO_ROLE",
    "AssetPolicy",
    "AssetUploadLocation",
    "BaseRoomPolicy",
    "Bot",
    "BotPolicy",
    "Capability",
    "Claim",
    "ClaimId",
    "ComponentId",
    "DownloadPrivacy",
    "DownloadPrivacyType",
    "HistoryPolicy",
    "JoinLinkPolicy",
    "JoinLinks",
    "JoinLinksUpdate",
    "LinkPreviewPolicy",
    "LoggingPolicy",
    "MediaType",
    "MessageExpiration",
    "Optionality",
    "Parameter",
    "ParticipantListData",
    "ParticipantListUpdate",
    "PreAuthData",
    "PreAuthRoleEntry",
    "ProviderAssetUploadDomains",
    "ReservedCapability",
    "RichDescription",
    "Role",
    "RoleData",
    "RoomMetaData",
    "SingleSourceRoleChangeTargets",
    "StatusNotificationPolicy",
    "UserRolePair",
    "UserindexRolePair",
]
