"""Room state: the app_data_dictionary components (`mimi.components`) and the
clients of the MLS group, and the proposed changes that move it forward
(draft-ietf-mimi-protocol §Relation between MIMI state and cryptographic state)."""

from mimi.room.change import (
    Actor,
    AddClient,
    AppDataUpdate,
    AppDataUpdateOperation,
    Proposal,
    ProposedChange,
    RemoveClient,
)
from mimi.room.state import RoomState

__all__ = [
    "Actor",
    "AddClient",
    "AppDataUpdate",
    "AppDataUpdateOperation",
    "Proposal",
    "ProposedChange",
    "RemoveClient",
    "RoomState",
]
