"""Preauthorized users (draft-ietf-mimi-room-policy §Preauthorized Users)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.components.roles import Role
from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class ClaimId(Struct):
    credential_type: int  # MLS CredentialType (uint16)
    id: bytes

    def write(self, w: Writer) -> None:
        w.uint16(self.credential_type)
        w.opaque(self.id)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.uint16("credential_type"), r.opaque("id"))


@dataclass(frozen=True, slots=True)
class Claim(Struct):
    """A claim a requester's credential must carry (see docs/interop.md: ours carry none)."""

    claim_id: ClaimId
    claim_value: bytes

    def write(self, w: Writer) -> None:
        self.claim_id.write(w)
        w.opaque(self.claim_value)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(ClaimId.read(r), r.opaque("claim_value"))


@dataclass(frozen=True, slots=True)
class PreAuthRoleEntry(Struct):
    claimset: tuple[Claim, ...]
    target_role: Role

    def write(self, w: Writer) -> None:
        w.structs(self.claimset)
        self.target_role.write(w)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("claimset", Claim.read), Role.read(r))


@dataclass(frozen=True, slots=True)
class PreAuthData(Struct):
    """`preauth_list` component data and `PreAuthUpdate` (the same format)."""

    preauthorized_entries: tuple[PreAuthRoleEntry, ...] = ()

    def write(self, w: Writer) -> None:
        w.structs(self.preauthorized_entries)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("preauthorized_entries", PreAuthRoleEntry.read))
