"""The draft's example room styles (draft-ietf-mimi-room-policy §Role examples)."""

from __future__ import annotations

import pytest

from mimi.components import Capability as C
from mimi.components import ReservedCapability as R
from mimi.policy.presets import PRESETS


@pytest.mark.parametrize(
    ("preset", "role", "name", "has", "lacks"),
    [
        ("cooperative", 2, "ordinary_user", {C.canAddParticipant, C.canChangeRoomName, R.canChangeOwnMood},
         {C.canBan, C.canChangeRoomDescription}),
        ("cooperative", 3, "group_admin", {C.canBan, C.canUnBan, C.canKick, C.canChangeRoomDescription},
         {C.canDestroyRoom}),
        ("cooperative", 4, "super_admin", {C.canDestroyRoom, C.canChangePreauthorizedUserList},
         {C.canChangeRoleDefinitions}),
        ("strictly_administered", 0, "no_role", {C.canUseJoinCode}, {C.canOpenJoin}),
        ("strictly_administered", 2, "ordinary_user", {C.canJoinIfPreauthorized, C.canChangeOwnRole},
         {C.canAddParticipant, C.canChangeRoomName}),
        ("strictly_administered", 4, "super_admin", {C.canChangeRoleDefinitions, C.canSendMLSReinitProposal}, set()),
        ("moderated", 2, "guest", {C.canReceiveMessage}, {C.canSendMessage, C.canAddOwnClient}),
        # the speaker includes the attendee's capabilities, the moderator the speaker's
        ("moderated", 4, "speaker", {C.canSendMessage, C.canAddOwnClient, C.canReceiveMessage}, {C.canBan}),
        ("moderated", 5, "moderator", {C.canSendMessage, C.canBan, R.canCreateJoinCode}, {C.canDestroyRoom}),
        ("multi_organization", 3, "org_b_user", {C.canSendMessage}, {C.canChangeOwnRole, C.canJoinIfPreauthorized}),
        ("multi_organization", 2, "org_a_user", {C.canChangeOwnRole, C.canJoinIfPreauthorized}, set()),
        ("multi_organization", 6, "org_b_admin", {C.canBan, C.canAddParticipant}, {C.canUnBan}),
        ("multi_organization", 8, "super_admin", {C.canUnBan, C.canDestroyRoom}, set()),
        ("multi_organization", 9, "policy_enforcer", {C.canRemoveParticipant, R.canChangeMlsOperationalPolicies},
         {C.canSendMessage}),
    ],
)
def test_presets_follow_the_draft(preset: str, role: int, name: str, has: set[int], lacks: set[int]) -> None:
    r = PRESETS[preset].roles.role(role)
    assert r is not None and r.role_name == name
    assert has <= set(r.role_capabilities)
    assert not lacks & set(r.role_capabilities)
    assert len(set(r.role_capabilities)) == len(r.role_capabilities)


@pytest.mark.parametrize(
    ("preset", "role", "from_role", "targets"),
    [
        ("cooperative", 2, 0, {2}),
        ("cooperative", 3, 1, {0, 2, 3}),
        ("cooperative", 5, 4, {0, 1}),
        ("moderated", 0, 0, {2, 3}),
        ("multi_organization", 5, 2, {0, 1, 5}),
        ("multi_organization", 8, 8, {0, 1, 2, 5}),
        ("multi_organization", 9, 2, set()),  # the draft's enforcer has no entry for org_a_user
    ],
)
def test_preset_role_changes(preset: str, role: int, from_role: int, targets: set[int]) -> None:
    r = PRESETS[preset].roles.role(role)
    assert r is not None
    assert {t for t in range(10) if r.may_change(from_role, t)} == targets


def test_no_capability_outside_the_registry() -> None:
    known = {int(c) for c in C} | {int(c) for c in R}
    for preset in PRESETS.values():
        for role in preset.roles.roles:
            assert set(role.role_capabilities) <= known
