"""Room policy (draft-ietf-mimi-room-policy): authorization of room changes and
messages, the draft's example rooms (`presets`).
The components it reads are in `mimi.components`."""

from mimi.policy.authorize import (
    Decision,
    authorize_capability,
    authorize_key_material,
    authorize_submit,
    authorize_update,
    may_receive,
    policy_problem,
)

__all__ = [
    "Decision",
    "authorize_capability",
    "authorize_key_material",
    "authorize_submit",
    "authorize_update",
    "may_receive",
    "policy_problem",
]
