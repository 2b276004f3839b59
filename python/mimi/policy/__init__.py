"""Room policy (draft-ietf-mimi-room-policy): capabilities, roles, policy components."""

from mimi.policy.authorize import (
    Decision,
    SubmitResponseCode,
    UpdateResponseCode,
    authorize_capability,
    authorize_submit,
    authorize_update,
    may_receive,
    policy_problem,
)
from mimi.policy.base import BaseRoomPolicy
from mimi.policy.capabilities import Capability, ReservedCapability
from mimi.policy.component import ComponentId, Optionality
from mimi.policy.preauth import Claim, ClaimId, PreAuthData, PreAuthRoleEntry
from mimi.policy.roles import BANNED, NO_ROLE, Role, RoleData, SingleSourceRoleChangeTargets

__all__ = [
    "Decision",
    "SubmitResponseCode",
    "UpdateResponseCode",
    "authorize_capability",
    "authorize_submit",
    "authorize_update",
    "may_receive",
    "policy_problem",
    "BANNED",
    "NO_ROLE",
    "BaseRoomPolicy",
    "Capability",
    "Claim",
    "ClaimId",
    "ComponentId",
    "Optionality",
    "PreAuthData",
    "PreAuthRoleEntry",
    "ReservedCapability",
    "Role",
    "RoleData",
    "SingleSourceRoleChangeTargets",
]
