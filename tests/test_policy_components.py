"""Encodings of every MIMI app_data_dictionary component: round trips, known
bytes, strict decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimi.components import (
    AssetPolicy,
    AssetUploadLocation,
    BaseRoomPolicy,
    Bot,
    BotPolicy,
    Capability,
    Claim,
    ClaimId,
    ComponentId,
    DownloadPrivacy,
    DownloadPrivacyType,
    HistoryPolicy,
    JoinLinkPolicy,
    JoinLinks,
    JoinLinksUpdate,
    LinkPreviewPolicy,
    LoggingPolicy,
    MediaType,
    MessageExpiration,
    Optionality,
    Parameter,
    ParticipantListData,
    ParticipantListUpdate,
    PreAuthData,
    PreAuthRoleEntry,
    ProviderAssetUploadDomains,
    ReservedCapability,
    RichDescription,
    Role,
    RoleData,
    RoomMetaData,
    SingleSourceRoleChangeTargets,
    StatusNotificationPolicy,
    UserindexRolePair,
    UserRolePair,
)
from mimi.errors import DecodeError, PolicyError
from mimi.tls_codec import Struct

ADMIN = Role(
    role_index=3,
    role_name="group_admin",
    role_description="runs the room",
    role_capabilities=(Capability.canBan, Capability.canSendMessage, ReservedCapability.canChangeOwnName, 0xF001),
    minimum_participants_constraint=1,
    maximum_participants_constraint=None,
    minimum_active_participants_constraint=0,
    maximum_active_participants_constraint=7,
    authorized_role_changes=(SingleSourceRoleChangeTargets(0, (1, 2, 3)), SingleSourceRoleChangeTargets(2, ())),
)
CLAIM = Claim(ClaimId(credential_type=2, id=bytes.fromhex("06035504")), b"HR")

SAMPLES: list[Struct] = [
    RoleData(()),
    RoleData((Role(0, "no_role"), Role(1, "banned"), ADMIN)),
    PreAuthData(),
    PreAuthData((PreAuthRoleEntry((CLAIM, Claim(ClaimId(1, b"sub"), b"x")), ADMIN),)),
    BaseRoomPolicy(),
    BaseRoomPolicy(True, True, "mimi://a.example/r/parent", False, 2, 9, True, True, True, (0x25, 0x26)),
    StatusNotificationPolicy(Optionality.required, Optionality.forbidden),
    JoinLinkPolicy(True, "https://a.example/join", True, 86400),
    JoinLinks((b"link-1", b"")),
    JoinLinksUpdate((0, 2), (b"new",)),
    LinkPreviewPolicy(),
    LinkPreviewPolicy(
        Optionality.optional, Optionality.required, Optionality.forbidden, Optionality.required, ("https://p",)
    ),
    AssetPolicy(),
    AssetPolicy(
        AssetUploadLocation.hub,
        (ProviderAssetUploadDomains("a.example", ("up.a.example",)),),
        DownloadPrivacy((DownloadPrivacyType.ohttp,), (DownloadPrivacyType.direct,), DownloadPrivacyType.ohttp),
        1,
        2,
        3,
        1 << 40,
        (MediaType(b"text/markdown", (Parameter(b"charset", b"utf-8"),)),),
        (MediaType(b"image/png"),),
    ),
    LoggingPolicy(),
    LoggingPolicy(Optionality.required, ("mimi://a.example/d/log/1",), "https://m", ""),
    HistoryPolicy(),
    HistoryPolicy(Optionality.optional, (3, 4), True, 3600),
    BotPolicy((Bot(b"poker", b"deals", "https://bot", False, 5, True, True),)),
    MessageExpiration(),
    MessageExpiration(Optionality.required, 60, 600, None),
    MessageExpiration(Optionality.optional, 60, 600, 300),
    ParticipantListData(),
    ParticipantListData((UserRolePair("mimi://a.example/u/alice", 4), UserRolePair("mimi://b.example/u/bob", 2))),
    ParticipantListUpdate((UserindexRolePair(0, 3),), (1,), (UserRolePair("mimi://c.example/u/cathy", 2),)),
    RoomMetaData(),
    RoomMetaData(
        "mimi://a.example/r/clubhouse",
        "Club House",
        (RichDescription("", "en", b"hi"), RichDescription("text/markdown", "fr", b"*salut*")),
        "https://a.example/avatar.png",
        "weekly",
        "happy",
    ),
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip(value: Struct) -> None:
    encoded = value.encode()
    assert type(value).decode(encoded) == value
    assert type(value).decode(encoded).encode() == encoded


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_truncation_and_trailing_bytes_raise(value: Struct) -> None:
    encoded = value.encode()
    with pytest.raises(DecodeError):
        type(value).decode(encoded + b"\x00")
    with pytest.raises(DecodeError):
        type(value).decode(encoded[:-1])


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (
            RoleData((Role(2, "u", "", (Capability.canSendMessage,), 0, None, 1, 5, (SingleSourceRoleChangeTargets(0, (2,)),)),)),
            "22" "00000002" "0175" "00" "020100" "00000000" "00" "00000001" "0100000005" "09" "00000000" "0400000002",
        ),
        (
            ParticipantListData((UserRolePair("mimi://a.example/u/al", 2),)),
            "1a" "15" + b"mimi://a.example/u/al".hex() + "00000002",
        ),
        (
            BaseRoomPolicy(parent_dependent=True, parent_room="mimi://p", max_users=3),
            "00" "01" "0908" + b"mimi://p".hex() + "01" "00" "0100000003" "00" "00" "00" "00",
        ),
        (StatusNotificationPolicy(Optionality.optional, Optionality.forbidden), "0002"),
        (LoggingPolicy(), "02"),
    ],
)
def test_known_bytes(value: Struct, hex_bytes: str) -> None:
    assert value.encode().hex() == hex_bytes


@pytest.mark.parametrize(
    ("kind", "hex_bytes", "message"),
    [
        (BaseRoomPolicy, "02" "00" "00" "01" "00" "00" "00" "00" "00" "00", "fixed_membership: bool must be 0 or 1"),
        (BaseRoomPolicy, "00" "01" "06" "0161" "0162" "01" "00" "00" "00" "00" "00" "00", "zero or one non-empty"),
        (StatusNotificationPolicy, "0003", "unknown Optionality value 3"),
        (AssetPolicy, "03", "unknown AssetUploadLocation"),
        (RoomMetaData, "00" "0261" "00", "NUL in UTF8String"),
        (RoleData, "08" "00000002" "01ff" "00" "00", "role_name: invalid UTF-8"),
        (ParticipantListData, "0c" "0161" "00000002" "0161" "00000003", "more than once"),
        (LinkPreviewPolicy, "00000002" "00", "trailing"),
        (RoleData, "4001" "00", "non-minimal"),
    ],
)
def test_strict_decoding_rejects(kind: type[Struct], hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        kind.decode(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: LoggingPolicy(Optionality.forbidden, ("mimi://a.example/d/log/1",)),
            "LoggingPolicy.logging is forbidden: logging_clients must be empty",
        ),
        (
            lambda: HistoryPolicy(Optionality.forbidden, max_time_period=5),
            "HistoryPolicy.history_sharing is forbidden: max_time_period must be empty",
        ),
        (
            lambda: MessageExpiration(Optionality.forbidden, default_expiration_duration=1),
            "MessageExpiration.expiring_messages is forbidden: default_expiration_duration must be empty",
        ),
        (
            lambda: LinkPreviewPolicy(link_preview_proxy_use=Optionality.forbidden, link_preview_proxy=("https://p",)),
            "LinkPreviewPolicy.link_preview_proxy_use is forbidden: link_preview_proxy must be empty",
        ),
    ],
)
def test_forbidden_selects_carry_no_fields(build: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        build()  # type: ignore[operator]


def test_component_ids() -> None:
    assert {c.name: c.value for c in ComponentId} == {
        "frank_aad": 0x20,
        "franking_signature_key": 0x21,
        "participant_list": 0x22,
        "room_metadata": 0x23,
        "mls_operational_policy": 0x24,
        "roles_list": 0x25,
        "preauth_list": 0x26,
        "base_room_policy": 0x27,
        "status_notification_policy": 0x28,
        "join_link_policy": 0x29,
        "join_links": 0x2A,
        "link_preview_policy": 0x2B,
        "asset_policy": 0x2C,
        "logging_policy": 0x2D,
        "chat_history_policy": 0x2E,
        "bot_policy": 0x2F,
        "message_expiration_policy": 0x30,
    }


@pytest.mark.parametrize(
    ("capability", "value"),
    [
        (Capability.canAddParticipant, 0x0000),
        (Capability.canUseJoinCode, 0x0009),
        (Capability.canUnban, 0x000B),
        (Capability.canChangeOwnRole, 0x0010),
        (Capability.canSendMessage, 0x0100),
        (Capability.canEditOtherTopic, 0x010F),
        (Capability.canCopyLink, 0x020B),
        (Capability.canChangeRoomName, 0x0300),
        (Capability.canViewSharedScreen, 0x0407),
        (Capability.canDestroyRoom, 0x0501),
        (Capability.canSendMLSReinitProposal, 0x0601),
    ],
)
def test_capability_values(capability: Capability, value: int) -> None:
    assert capability == value


def test_capability_registry_is_complete_and_disjoint_from_reserved() -> None:
    assert len(Capability) == 59  # the registry's non-reserved rows; canUnban aliases canUnBan
    assert Capability.canUnban is Capability.canUnBan
    assert not {int(c) for c in Capability} & {int(c) for c in ReservedCapability}


DECODABLE = sorted({type(v) for v in SAMPLES}, key=lambda t: t.__name__)


@pytest.mark.parametrize("kind", DECODABLE, ids=lambda t: t.__name__)
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(kind: type[Struct], data: bytes) -> None:
    try:
        value = kind.decode(data)
    except DecodeError:
        return
    assert value.encode() == data  # what decodes re-encodes to the same bytes
