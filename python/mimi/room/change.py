"""A proposed change to a room, as the MLS layer reports it.

Built from the facts of a verified handshake message: the AppDataUpdate
proposals (component_id, op, bytes), the client URIs of Add proposals and of
removed leaves, and who sent each proposal. A commit's by-reference
proposals keep their own sender; a by-value proposal has `sender=None`
(the committer).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mimi.ids import UriKind, parse, user_of


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a client (its client URI) or a server acting as an MLS external
    sender (its provider URI, which is also its "user" in the participant list)."""

    uri: str
    is_server: bool = False

    def __post_init__(self) -> None:
        parse(self.uri, UriKind.provider if self.is_server else UriKind.client)

    @property
    def user(self) -> str:
        return self.uri if self.is_server else user_of(self.uri)


class AppDataUpdateOperation(IntEnum):
    """draft-ietf-mls-extensions §Updating Application Data in the GroupContext."""

    invalid = 0
    update = 1
    remove = 2


@dataclass(frozen=True, slots=True)
class AppDataUpdate:
    component_id: int
    op: AppDataUpdateOperation
    update: bytes = b""
    sender: Actor | None = None


@dataclass(frozen=True, slots=True)
class AddClient:
    """An MLS Add of the client whose credential names `client`."""

    client: str
    sender: Actor | None = None


@dataclass(frozen=True, slots=True)
class RemoveClient:
    """An MLS Remove (or SelfRemove) of the leaf whose credential names `client`."""

    client: str
    sender: Actor | None = None


Proposal = AppDataUpdate | AddClient | RemoveClient


@dataclass(frozen=True, slots=True)
class ProposedChange:
    """The proposals of one /update: a commit's proposal list, or a proposal and
    its `moreProposals`. `external_joiner` is the client URI of an external commit's
    committer, who joins by it."""

    proposals: tuple[Proposal, ...] = ()
    is_commit: bool = False
    external_joiner: str | None = None

    @property
    def resync(self) -> bool:
        """An external commit by a member that removes its own old leaf: it rejoins
        (RFC 9420 §12.4.3.2), which changes no one's membership."""
        joiner = self.external_joiner
        return joiner is not None and any(isinstance(p, RemoveClient) and p.client == joiner for p in self.proposals)
