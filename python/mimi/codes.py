"""The values of the wire enums, as `Literal` types named after the enums.

These are the response and status codes and the other one-byte enums of
draft-ietf-mimi-protocol and draft-mahy-mls-ratchet-tree-options, spelled as
the drafts spell them, plus `MlsMessageKind`, which says what an MLSMessage
carries. mimi-core defines them (`rust/mimi-core/src/wire*`) and the extension
lists their values in `_core.WIRE_ENUMS`. tests/test_codes.py checks every type
here against that list, value for value and in wire order. `_core.pyi` types
its parameters and properties with these, so mypy flags a misspelled code.

They are here, not in `_core.pyi`: stubtest accepts a type alias in a stub
only if the module has a matching runtime object, and a `Literal` is not one.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

# draft-mahy-mls-ratchet-tree-options
RatchetTreeRepresentation: TypeAlias = Literal["full", "httpsUri", "outOfBand", "distributionService"]
RatchetTreePresence: TypeAlias = Literal["no_ratchet_tree", "present", "removed", "added"]

# draft-ietf-mimi-protocol §Update Room State
GroupInfoRepresentation: TypeAlias = Literal["full", "partial"]
UpdateResponseCode: TypeAlias = Literal["success", "wrongEpoch", "notAllowed", "invalidProposal"]

# §Submit a Message
SubmitResponseCode: TypeAlias = Literal["accepted", "notAllowed", "epochTooOld"]

# §Fetch Key Material
KeyMaterialUserCode: TypeAlias = Literal[
    "success",
    "partialSuccess",
    "incompatibleProtocol",
    "noCompatibleMaterial",
    "userUnknown",
    "noConsent",
    "noConsentForThisRoom",
    "userDeleted",
]
KeyMaterialClientCode: TypeAlias = Literal["success", "keyMaterialExhausted", "nothingCompatible"]

# §Claim group key information
GroupInfoCode: TypeAlias = Literal["success", "notAuthorized", "noSuchRoom"]

# What an MLSMessage carries (from its header)
MlsMessageKind: TypeAlias = Literal["application", "proposal", "commit", "welcome"]
