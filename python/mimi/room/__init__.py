"""Room state: participant list, room metadata, app_data_dictionary components
(draft-ietf-mimi-protocol §Relation between MIMI state and cryptographic state)."""

# mimi.policy's authorization imports this package's modules: load it first so
# that either package can be imported first.
import mimi.policy  # noqa: F401
from mimi.room.change import (
    Actor,
    AddClient,
    AppDataUpdate,
    AppDataUpdateOperation,
    Proposal,
    ProposedChange,
    RemoveClient,
)
from mimi.room.metadata import RichDescription, RoomMetaData
from mimi.room.participants import ParticipantListData, ParticipantListUpdate, UserindexRolePair, UserRolePair
from mimi.room.state import RoomState

__all__ = [
    "Actor",
    "AddClient",
    "AppDataUpdate",
    "AppDataUpdateOperation",
    "ParticipantListData",
    "ParticipantListUpdate",
    "Proposal",
    "ProposedChange",
    "RemoveClient",
    "RichDescription",
    "RoomMetaData",
    "RoomState",
    "UserRolePair",
    "UserindexRolePair",
]
