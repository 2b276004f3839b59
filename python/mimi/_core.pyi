"""Typed API of the Rust extension `mimi._core` (rust/mimi-py over rust/mimi-core).

MLS objects cross the boundary as TLS-serialized `bytes` (MLSMessage for Commit,
Welcome, GroupInfo, proposals and application messages; KeyPackage and
RatchetTree as their own structs). Errors are the classes of `mimi.errors`.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Final, final

from mimi.codes import (
    GroupInfoCode,
    GroupInfoRepresentation,
    KeyMaterialClientCode,
    KeyMaterialUserCode,
    MlsMessageKind,
    RatchetTreePresence,
    RatchetTreeRepresentation,
    SubmitResponseCode,
    UpdateResponseCode,
)

__all__ = [
    "CIPHERSUITE",
    "GROUP_INFO_ENCRYPTION_LABEL",
    "MLS_STRUCT_KINDS",
    "WIRE_ENUMS",
    "_CORE_ERROR_KINDS",
    "AddedClient",
    "Client",
    "ClientKeyMaterial",
    "CommitOutput",
    "DecryptedWelcome",
    "ExternalSender",
    "FanoutMessage",
    "Frank",
    "Group",
    "GroupInfoOption",
    "GroupInfoRatchetTreeTBE",
    "GroupInfoRequest",
    "GroupInfoResponse",
    "HandshakeBundle",
    "HpkeKeyPair",
    "HubView",
    "KeyMaterialRequest",
    "KeyMaterialResponse",
    "Member",
    "PartialGroupInfo",
    "PendingProposal",
    "Processed",
    "RatchetTreeOption",
    "RemovedClient",
    "SignatureKeyPair",
    "SubmitMessageRequest",
    "SubmitMessageResponse",
    "UpdateRequest",
    "UpdateResponse",
    "_raise_core_error",
    "basic_credential",
    "basic_credential_identity",
    "decode_notify",
    "decrypt_welcome_with_keys",
    "decrypt_with_label",
    "encode_notify",
    "encrypt_with_label",
    "join_with_injected_keys",
    "key_package_ref",
    "message_header",
    "mls_message_kind",
    "read_submissions",
    "reencode",
    "ref_hash",
    "sign_with_label_many",
    "split_notify",
    "verify_batch",
    "verify_with_label",
    "welcome_key_package_refs",
]

CIPHERSUITE: Final[int]
MLS_STRUCT_KINDS: Final[list[str]]

# resolve(old component values, covered AppDataUpdate proposals) -> new values (None removes)
_AppDataResolver = Callable[[dict[int, bytes], list[tuple[int, bytes | None]]], Mapping[int, bytes | None]]

@final
class SignatureKeyPair:
    """An Ed25519 key pair (ciphersuite 0x0001's signature scheme)."""

    @staticmethod
    def generate() -> SignatureKeyPair: ...
    @staticmethod
    def from_private(private: bytes) -> SignatureKeyPair: ...
    @property
    def public(self) -> bytes: ...
    @property
    def private(self) -> bytes: ...
    def sign_with_label(self, label: str, content: bytes) -> bytes:
        """SignWithLabel (RFC 9420 §5.1.2); `label` without the "MLS 1.0 " prefix."""

def verify_with_label(public_key: bytes, label: str, content: bytes, signature: bytes) -> None:
    """VerifyWithLabel (RFC 9420 §5.1.2); raises InvalidSignature or DecodeError."""

def verify_batch(items: Sequence[tuple[bytes, str, bytes, bytes]]) -> list[bool]:
    """Verifies many (public_key, label, content, signature) at once; one verdict each."""

def sign_with_label_many(key: SignatureKeyPair, label: str, contents: Sequence[bytes]) -> list[bytes]:
    """SignWithLabel over many contents in one call (benchmarks the binding overhead)."""

def ref_hash(label: str, value: bytes) -> bytes:
    """RefHash (RFC 9420 §5.2) for ciphersuite 0x0001."""

def reencode(kind: str, data: bytes) -> bytes:
    """Decodes `data` strictly as the MLS struct `kind` (see MLS_STRUCT_KINDS) and encodes it again."""

def message_header(message: bytes) -> tuple[bytes, int, MlsMessageKind]:
    """(group_id, epoch, content type) of a PublicMessage or PrivateMessage MLSMessage."""

def welcome_key_package_refs(welcome: bytes) -> list[bytes]:
    """The KeyPackageRefs a Welcome (MLSMessage) is encrypted to."""

def key_package_ref(key_package: bytes) -> bytes:
    """The KeyPackageRef (RFC 9420 §5.2) of a KeyPackage."""

_CORE_ERROR_KINDS: Final[list[str]]
"""Every variant of every core error enum (`Enum::Variant`): `_raise_core_error` raises a sample of each."""

def _raise_core_error(kind: str) -> None:
    """Raises the sample of a core error variant (or a core panic, for "panic"): tests check its class."""

@final
class Member:
    @property
    def leaf_index(self) -> int: ...
    @property
    def identity(self) -> str: ...
    @property
    def signature_key(self) -> bytes: ...

@final
class AddedClient:
    @property
    def identity(self) -> str: ...
    @property
    def key_package_ref(self) -> bytes: ...
    @property
    def signature_key(self) -> bytes: ...

@final
class RemovedClient:
    @property
    def leaf_index(self) -> int: ...
    @property
    def identity(self) -> str: ...

@final
class Processed:
    """What a processed message says. `kind`: application, proposal, commit, own_commit,
    own_message (this client's own PrivateMessage fanned back)."""

    @property
    def kind(self) -> str: ...
    @property
    def epoch(self) -> int: ...
    @property
    def sender_kind(self) -> str: ...
    @property
    def sender_index(self) -> int | None: ...
    @property
    def sender_identity(self) -> str | None: ...
    @property
    def authenticated_data(self) -> bytes: ...
    @property
    def plaintext(self) -> bytes | None: ...
    @property
    def added(self) -> list[AddedClient]: ...
    @property
    def removed(self) -> list[RemovedClient]: ...
    @property
    def app_data(self) -> list[tuple[int, bytes | None]]: ...
    @property
    def updated(self) -> list[int]: ...
    @property
    def external_join(self) -> tuple[str, int] | None: ...
    @property
    def group_context_extensions(self) -> bool: ...
    @property
    def path(self) -> bool: ...
    @property
    def new_epoch(self) -> int | None: ...
    @property
    def new_tree_hash(self) -> bytes | None: ...
    @property
    def self_removed(self) -> bool: ...

@final
class CommitOutput:
    @property
    def commit(self) -> bytes: ...
    @property
    def welcome(self) -> bytes | None: ...
    @property
    def group_info(self) -> bytes: ...
    @property
    def ratchet_tree(self) -> bytes: ...

@final
class Client:
    """A client device: a credential naming its client URI, KeyPackages, groups."""

    def __new__(cls, client_uri: str, signature_key: SignatureKeyPair | None = None) -> Client: ...
    @property
    def client_uri(self) -> str: ...
    @property
    def signature_key(self) -> SignatureKeyPair: ...
    def key_packages(self, count: int) -> list[bytes]: ...
    def last_resort_key_package(self) -> bytes:
        """A KeyPackage marked last_resort (draft-ietf-mls-extensions §Last-Resort KeyPackages):
        reusable, its private keys kept after a Welcome uses it."""
    def create_group(
        self,
        group_id: bytes,
        hub_signature_key: bytes,
        hub_identity: str,
        app_data: Mapping[int, bytes] | None = None,
    ) -> Group: ...
    def join_welcome(self, welcome: bytes, ratchet_tree: bytes) -> Group: ...
    def join_external(self, group_info: bytes, ratchet_tree: bytes) -> tuple[Group, CommitOutput]: ...
    def adopt(self, group: Group) -> None: ...
    def load_group(self, group_id: bytes) -> Group: ...
    def export_state(self) -> bytes: ...
    @staticmethod
    def import_state(state: bytes) -> Client: ...

@final
class Group:
    """One client's view of one MLS group."""

    @property
    def group_id(self) -> bytes: ...
    @property
    def epoch(self) -> int: ...
    @property
    def epoch_authenticator(self) -> bytes: ...
    @property
    def tree_hash(self) -> bytes: ...
    @property
    def own_leaf_index(self) -> int: ...
    @property
    def is_active(self) -> bool: ...
    def members(self) -> list[Member]: ...
    def app_data(self) -> dict[int, bytes]: ...
    def export_ratchet_tree(self) -> bytes: ...
    def export_group_info(self) -> bytes: ...
    def export_secret(self, label: str, context: bytes, length: int) -> bytes: ...
    def encrypt(self, plaintext: bytes, aad: bytes = ...) -> bytes: ...
    def commit(
        self,
        adds: Sequence[bytes] = ...,
        removes: Sequence[int] = ...,
        app_data: Sequence[tuple[int, bytes | None]] = ...,
        force_path: bool = False,
        resolve: _AppDataResolver | None = None,
    ) -> CommitOutput: ...
    def merge_pending_commit(self) -> None: ...
    def clear_pending_commit(self) -> None: ...
    def forget_past_epochs(self, keep: int) -> None: ...
    def propose_app_data(self, component_id: int, update: bytes | None) -> bytes: ...
    def propose_leave(self) -> bytes: ...
    def process(self, message: bytes, resolve: _AppDataResolver | None = None) -> Processed: ...
    def merge(self) -> None: ...
    def discard(self) -> None: ...

@final
class HubView:
    """The hub's public view of a group: validates without group secrets."""

    @staticmethod
    def from_group_info(group_info: bytes, ratchet_tree: bytes) -> HubView: ...
    @staticmethod
    def import_state(state: bytes) -> HubView: ...
    def export_state(self) -> bytes: ...
    @property
    def group_id(self) -> bytes: ...
    @property
    def epoch(self) -> int: ...
    @property
    def tree_hash(self) -> bytes: ...
    def group_context(self) -> bytes: ...
    def members(self) -> list[Member]: ...
    def app_data(self) -> dict[int, bytes]: ...
    def group_info(self) -> bytes: ...
    def export_ratchet_tree(self) -> bytes: ...
    def propose_remove(self, leaf_index: int, hub_key: SignatureKeyPair) -> bytes: ...
    def process(
        self,
        message: bytes,
        group_info: bytes | None = None,
        resolve: _AppDataResolver | None = None,
    ) -> Processed: ...
    def merge(self) -> None: ...
    def discard(self) -> None: ...
    def cached_proposals(self) -> Processed: ...

# MLS interop test vectors only: a client from a vector's private keys.

@final
class DecryptedWelcome:
    """A Welcome decrypted with a vector's init key; its GroupInfo signature verified."""

    @property
    def group_context(self) -> bytes: ...
    @property
    def group_id(self) -> bytes: ...
    @property
    def epoch(self) -> int: ...

def decrypt_welcome_with_keys(key_package: bytes, init_priv: bytes, welcome: bytes, signer_pub: bytes) -> DecryptedWelcome:
    """Decrypts `welcome` (MLSMessage) for `key_package` (MLSMessage) and verifies the GroupInfo with `signer_pub`."""

def join_with_injected_keys(
    key_package: bytes,
    init_priv: bytes,
    encryption_priv: bytes,
    signature_priv: bytes,
    welcome: bytes,
    ratchet_tree: bytes | None = None,
    external_psks: Sequence[tuple[bytes, bytes]] = ...,
) -> tuple[Client, Group]:
    """Joins as a passive client holding the vector's keys and external PSKs (psk_id, psk); leaf lifetimes unchecked."""

# ---------------------------------------------------------------- wire (draft-ietf-mimi-protocol bodies)
# Embedded MLS objects are `bytes`; enum values are the draft's names, typed
# by the `Literal`s of mimi.codes (checked against WIRE_ENUMS). Every
# `decode` is strict and raises DecodeError naming the struct and the field;
# constructors check the fields against the select they belong to.

WIRE_ENUMS: Final[dict[str, tuple[str, ...]]]
"""Each enum whose values cross as names (the drafts' codes and MlsMessageKind): its values in wire order."""

def mls_message_kind(message: bytes) -> MlsMessageKind:
    """What an MLSMessage carries: "application", "proposal", "commit" or "welcome"."""

@final
class Frank:
    """`Frank` (§Submit a Message): the hub's franking of an application message."""

    def __new__(cls, server_frank: bytes, franking_signature_ciphersuite: int, franking_integrity_signature: bytes) -> Frank: ...
    @property
    def server_frank(self) -> bytes: ...
    @property
    def franking_signature_ciphersuite(self) -> int: ...
    @property
    def franking_integrity_signature(self) -> bytes: ...

@final
class RatchetTreeOption:
    """`RatchetTreeOption` (draft-mahy-mls-ratchet-tree-options).

    `representation`: "full" (ratchet_tree), "httpsUri" (ratchet_tree_url,
    tree_signature), "outOfBand" (tree_signature), "distributionService".
    """

    def __new__(
        cls,
        representation: RatchetTreeRepresentation,
        ratchet_tree: bytes | None = None,
        ratchet_tree_url: str | None = None,
        tree_signature: bytes | None = None,
    ) -> RatchetTreeOption: ...
    @staticmethod
    def decode(data: bytes) -> RatchetTreeOption: ...
    def encode(self) -> bytes: ...
    @property
    def representation(self) -> RatchetTreeRepresentation: ...
    @property
    def ratchet_tree(self) -> bytes | None: ...
    @property
    def ratchet_tree_url(self) -> str | None: ...
    @property
    def tree_signature(self) -> bytes | None: ...

@final
class FanoutMessage:
    """`FanoutMessage` (§Fanout Messages and Room Events).

    `kind` comes from the MLSMessage: an application message may carry `frank`,
    a welcome requires `ratchet_tree_option`, a proposal or commit carries
    `proposals` (moreProposals / externalProposals).
    """

    def __new__(
        cls,
        timestamp: int,
        message: bytes,
        frank: Frank | None = None,
        ratchet_tree_option: RatchetTreeOption | None = None,
        proposals: Sequence[bytes] = ...,
    ) -> FanoutMessage: ...
    @staticmethod
    def decode(data: bytes) -> FanoutMessage: ...
    def encode(self) -> bytes: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def message(self) -> bytes: ...
    @property
    def kind(self) -> MlsMessageKind: ...
    @property
    def frank(self) -> Frank | None: ...
    @property
    def ratchet_tree_option(self) -> RatchetTreeOption | None: ...
    @property
    def proposals(self) -> list[bytes]: ...

def encode_notify(messages: Sequence[FanoutMessage]) -> bytes:
    """The `/notify` body: the FanoutMessages concatenated (at least one)."""

def split_notify(data: bytes) -> list[tuple[MlsMessageKind, bytes]]:
    """A `/notify` body as (kind, exact FanoutMessage bytes) pairs, validated like `decode_notify`."""

def decode_notify(data: bytes) -> list[FanoutMessage]:
    """Strict decode of a `/notify` body; errors name the message's index."""

@final
class SubmitMessageRequest:
    """`SubmitMessageRequest` (§Submit a Message): a PrivateMessage application message."""

    def __new__(cls, app_message: bytes, sending_uri: str) -> SubmitMessageRequest: ...
    @staticmethod
    def decode(data: bytes) -> SubmitMessageRequest: ...
    def encode(self) -> bytes: ...
    @property
    def app_message(self) -> bytes: ...
    @property
    def sending_uri(self) -> str: ...

@final
class SubmitMessageResponse:
    """`SubmitMessageResponse`: status "accepted" (accepted_timestamp, frank), "notAllowed",
    "epochTooOld" (current_epoch)."""

    def __new__(
        cls,
        status: SubmitResponseCode,
        accepted_timestamp: int | None = None,
        frank: Frank | None = None,
        current_epoch: int | None = None,
    ) -> SubmitMessageResponse: ...
    @staticmethod
    def decode(data: bytes) -> SubmitMessageResponse: ...
    def encode(self) -> bytes: ...
    @property
    def status(self) -> SubmitResponseCode: ...
    @property
    def accepted_timestamp(self) -> int | None: ...
    @property
    def frank(self) -> Frank | None: ...
    @property
    def current_epoch(self) -> int | None: ...

def read_submissions(
    bodies: Sequence[bytes], first_timestamp: int
) -> list[tuple[bytes, int, bytes, str, bytes, bytes] | None]:
    """`/submitMessage` bodies read in one crossing, body i stamped `first_timestamp + i`:
    per body None if it does not decode, else (group_id, epoch, SHA-256 of the app
    message, sending_uri, FanoutMessage, "accepted" SubmitMessageResponse)."""

@final
class PartialGroupInfo:
    """`PartialGroupInfo` (draft-mahy-mls-ratchet-tree-options): `ratchet_tree_presence` is
    "no_ratchet_tree", "present", "removed" or "added"; extensions are (type, data), no ratchet_tree."""

    def __new__(cls, ratchet_tree_presence: RatchetTreePresence, group_info_extensions: Sequence[tuple[int, bytes]], signature: bytes) -> PartialGroupInfo: ...
    @staticmethod
    def decode(data: bytes) -> PartialGroupInfo: ...
    def encode(self) -> bytes: ...
    @property
    def ratchet_tree_presence(self) -> RatchetTreePresence: ...
    @property
    def group_info_extensions(self) -> list[tuple[int, bytes]]: ...
    @property
    def signature(self) -> bytes: ...

@final
class GroupInfoOption:
    """`GroupInfoOption`: "full" (group_info: a bare GroupInfo, not an MLSMessage) or "partial"."""

    def __new__(
        cls,
        representation: GroupInfoRepresentation,
        group_info: bytes | None = None,
        partial_group_info: PartialGroupInfo | None = None,
    ) -> GroupInfoOption: ...
    @staticmethod
    def decode(data: bytes) -> GroupInfoOption: ...
    def encode(self) -> bytes: ...
    @property
    def representation(self) -> GroupInfoRepresentation: ...
    @property
    def group_info(self) -> bytes | None: ...
    @property
    def partial_group_info(self) -> PartialGroupInfo | None: ...

@final
class HandshakeBundle:
    """`HandshakeBundle` (§Update Room State), the whole `/update` body.

    A commit takes group_info_option and ratchet_tree_option (required) and an optional
    bare Welcome (not an MLSMessage); a proposal takes more_proposals (MLSMessages).
    """

    def __new__(
        cls,
        proposal_or_commit: bytes,
        welcome: bytes | None = None,
        group_info_option: GroupInfoOption | None = None,
        ratchet_tree_option: RatchetTreeOption | None = None,
        more_proposals: Sequence[bytes] = ...,
    ) -> HandshakeBundle: ...
    @staticmethod
    def decode(data: bytes) -> HandshakeBundle: ...
    def encode(self) -> bytes: ...
    @property
    def proposal_or_commit(self) -> bytes: ...
    @property
    def kind(self) -> MlsMessageKind: ...
    @property
    def welcome(self) -> bytes | None: ...
    @property
    def group_info_option(self) -> GroupInfoOption | None: ...
    @property
    def ratchet_tree_option(self) -> RatchetTreeOption | None: ...
    @property
    def more_proposals(self) -> list[bytes]: ...

UpdateRequest = HandshakeBundle

@final
class UpdateResponse:
    """`UpdateRoomResponse`: "success" (accepted_timestamp), "wrongEpoch" (current_epoch),
    "notAllowed", "invalidProposal" (invalid_proposals: ProposalRefs)."""

    def __new__(
        cls,
        response_code: UpdateResponseCode,
        error_description: str = ...,
        accepted_timestamp: int | None = None,
        current_epoch: int | None = None,
        invalid_proposals: Sequence[bytes] = ...,
    ) -> UpdateResponse: ...
    @staticmethod
    def decode(data: bytes) -> UpdateResponse: ...
    def encode(self) -> bytes: ...
    @property
    def response_code(self) -> UpdateResponseCode: ...
    @property
    def error_description(self) -> str: ...
    @property
    def accepted_timestamp(self) -> int | None: ...
    @property
    def current_epoch(self) -> int | None: ...
    @property
    def invalid_proposals(self) -> list[bytes]: ...

@final
class KeyMaterialRequest:
    """`KeyMaterialRequest` (§Fetch Key Material), signed with SignWithLabel "KeyMaterialRequestTBS".

    required_capabilities and requester_credential are RFC 9420 struct bytes.
    """

    def __new__(
        cls,
        requesting_user: str,
        target_user: str,
        room_id: str,
        acceptable_ciphersuites: Sequence[int],
        required_capabilities: bytes,
        requester_signature_key: bytes,
        requester_credential: bytes,
        signature: bytes = ...,
    ) -> KeyMaterialRequest: ...
    @staticmethod
    def decode(data: bytes) -> KeyMaterialRequest: ...
    def encode(self) -> bytes: ...
    def tbs(self) -> bytes: ...
    def signed(self, private_key: bytes) -> KeyMaterialRequest: ...
    def verify(self) -> None:
        """VerifyWithLabel under requester_signature_key; raises InvalidSignature (DecodeError if malformed)."""
    @property
    def requesting_user(self) -> str: ...
    @property
    def target_user(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def acceptable_ciphersuites(self) -> list[int]: ...
    @property
    def required_capabilities(self) -> bytes: ...
    @property
    def requester_signature_key(self) -> bytes: ...
    @property
    def requester_credential(self) -> bytes: ...
    @property
    def signature(self) -> bytes: ...

@final
class ClientKeyMaterial:
    """`ClientKeyMaterial`: "success" (key_package: a bare KeyPackage), "keyMaterialExhausted",
    "nothingCompatible" (optional client_capabilities: Capabilities bytes)."""

    def __new__(
        cls,
        client_status: KeyMaterialClientCode,
        client_uri: str,
        key_package: bytes | None = None,
        client_capabilities: bytes | None = None,
    ) -> ClientKeyMaterial: ...
    @property
    def client_status(self) -> KeyMaterialClientCode: ...
    @property
    def client_uri(self) -> str: ...
    @property
    def key_package(self) -> bytes | None: ...
    @property
    def client_capabilities(self) -> bytes | None: ...

@final
class KeyMaterialResponse:
    """`KeyMaterialResponse`: user_status is a KeyMaterialUserCode name ("success", "partialSuccess", ...)."""

    def __new__(cls, user_status: KeyMaterialUserCode, user_uri: str, clients: Sequence[ClientKeyMaterial] = ...) -> KeyMaterialResponse: ...
    @staticmethod
    def decode(data: bytes) -> KeyMaterialResponse: ...
    def encode(self) -> bytes: ...
    @property
    def user_status(self) -> KeyMaterialUserCode: ...
    @property
    def user_uri(self) -> str: ...
    @property
    def clients(self) -> list[ClientKeyMaterial]: ...

@final
class GroupInfoRequest:
    """`GroupInfoRequest` (§Claim group key information), signed with "GroupInfoRequestTBS"."""

    def __new__(
        cls,
        cipher_suite: int,
        requesting_signature_key: bytes,
        requesting_credential: bytes,
        group_info_public_key: bytes,
        joining_code: bytes | None = None,
        signature: bytes = ...,
    ) -> GroupInfoRequest: ...
    @staticmethod
    def decode(data: bytes) -> GroupInfoRequest: ...
    def encode(self) -> bytes: ...
    def tbs(self) -> bytes: ...
    def signed(self, private_key: bytes) -> GroupInfoRequest: ...
    def verify(self) -> None: ...
    @property
    def cipher_suite(self) -> int: ...
    @property
    def requesting_signature_key(self) -> bytes: ...
    @property
    def requesting_credential(self) -> bytes: ...
    @property
    def group_info_public_key(self) -> bytes: ...
    @property
    def joining_code(self) -> bytes | None: ...
    @property
    def signature(self) -> bytes: ...

@final
class GroupInfoResponse:
    """`GroupInfoResponse`: status "success" (all fields; signed with "GroupInfoResponseTBS" by
    hub_sender's key), "notAuthorized" or "noSuchRoom" (no field)."""

    def __new__(
        cls,
        room_id: str,
        status: GroupInfoCode,
        cipher_suite: int | None = None,
        hub_sender: bytes | None = None,
        encrypted_groupinfo_and_tree: bytes | None = None,
        signature: bytes | None = None,
    ) -> GroupInfoResponse: ...
    @staticmethod
    def decode(data: bytes) -> GroupInfoResponse: ...
    def encode(self) -> bytes: ...
    def tbs(self) -> bytes: ...
    def signed(self, private_key: bytes) -> GroupInfoResponse: ...
    def verify(self) -> None:
        """VerifyWithLabel under hub_sender's signature key (check hub_sender is the room's external sender)."""
    @property
    def room_id(self) -> str: ...
    @property
    def status(self) -> GroupInfoCode: ...
    @property
    def cipher_suite(self) -> int | None: ...
    @property
    def hub_sender(self) -> bytes | None: ...
    @property
    def encrypted_groupinfo_and_tree(self) -> bytes | None: ...
    @property
    def signature(self) -> bytes | None: ...

# ---------------------------------------------------------------- end of wire

# ---------------------------------------------------------------- hpke (EncryptWithLabel; §Claim group key information)

GROUP_INFO_ENCRYPTION_LABEL: Final[str]  # "GroupInfo and ratchet_tree encryption"

@final
class HpkeKeyPair:
    """An HPKE key pair of ciphersuite 0x0001 (X25519, 32-byte keys)."""

    @staticmethod
    def generate() -> HpkeKeyPair: ...
    @property
    def public(self) -> bytes: ...
    @property
    def private(self) -> bytes: ...

def encrypt_with_label(public_key: bytes, label: str, context: bytes, plaintext: bytes) -> bytes:
    """EncryptWithLabel (RFC 9420 §5.1.3), `label` without "MLS 1.0 "; returns HPKECiphertext bytes.
    A public key that is not 32 bytes raises DecodeError."""

def decrypt_with_label(private_key: bytes, label: str, context: bytes, ciphertext: bytes) -> bytes:
    """DecryptWithLabel (RFC 9420 §5.1.3) of HPKECiphertext bytes. Malformed bytes or keys raise
    DecodeError; a ciphertext that does not open (wrong key, label, context; altered) raises MlsError."""

def basic_credential(identity: str) -> bytes:
    """The RFC 9420 §5.3 Credential of type basic naming `identity` (a MIMI URI)."""

def basic_credential_identity(credential: bytes) -> str:
    """The identity of a basic Credential; another type, or a non-UTF-8 identity, raises DecodeError."""

@final
class ExternalSender:
    """RFC 9420 §12.1.8.1 `ExternalSender` with a basic credential (a hub: its provider URI)."""

    def __new__(cls, signature_key: bytes, identity: str) -> ExternalSender: ...
    @staticmethod
    def decode(data: bytes) -> ExternalSender: ...
    def encode(self) -> bytes: ...
    @property
    def signature_key(self) -> bytes: ...
    @property
    def identity(self) -> str: ...

@final
class PendingProposal:
    """`PendingProposal`: a proposal MLSMessage the hub accepted this epoch, and when (ms)."""

    def __new__(cls, proposal: bytes, hub_accepted_time: int) -> PendingProposal: ...
    @staticmethod
    def decode(data: bytes) -> PendingProposal: ...
    def encode(self) -> bytes: ...
    @property
    def proposal(self) -> bytes: ...
    @property
    def hub_accepted_time(self) -> int: ...

@final
class GroupInfoRatchetTreeTBE:
    """`GroupInfoRatchetTreeTBE`: the bare GroupInfo (no ratchet_tree extension), the tree, pending proposals."""

    def __new__(
        cls, group_info: bytes, ratchet_tree_option: RatchetTreeOption, pending_proposals: Sequence[PendingProposal] = ...
    ) -> GroupInfoRatchetTreeTBE: ...
    @staticmethod
    def decode(data: bytes) -> GroupInfoRatchetTreeTBE: ...
    def encode(self) -> bytes: ...
    @property
    def group_info(self) -> bytes: ...
    @property
    def ratchet_tree_option(self) -> RatchetTreeOption: ...
    @property
    def pending_proposals(self) -> list[PendingProposal]: ...

# ---------------------------------------------------------------- end of hpke
