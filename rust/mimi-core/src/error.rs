//! The errors of the core: one enum per operation family, as openmls has
//! `CreateCommitError` and `ProcessMessageError`.
//!
//! A variant carries what a caller can act on (the field path, the epochs,
//! the leaf, openmls' own error as the source), not a sentence. Each family
//! keeps what the caller sent that is invalid apart from a bug in mimi or
//! openmls ([`InternalError`]). The glue raises one `mimi.errors` class per
//! variant; tests/test_errors.py checks which.

use openmls::prelude::MergeCommitError;
use thiserror::Error;

use crate::store::StoreError;

// The payloads from openmls, so that callers can name them.
pub use openmls::prelude::{
    Ciphersuite, KeyPackageVerifyError, MlsGroupStateError, SignatureError as OpenMlsSignatureError, ValidationError,
};
pub use openmls_traits::types::CryptoError;

/// openmls' error behind a refusal, kept whole as the source. Where openmls
/// tells its own bugs apart in a known variant (processing, merging, KeyPackage
/// validation), they become [`InternalError`] instead.
pub type OpenMlsError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Bytes that do not decode as the expected structure, or a value whose
/// fields break its struct's rules (what constructors and encoders check).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where: the struct path and the field (`FanoutMessage.frank.server_frank`),
    /// or the object (`exported MLS state`). Empty where the error is about
    /// the whole input, not a place in it: bytes that are not the object at
    /// all, a name a caller gave for an enum value.
    pub at: String,
    /// What is wrong there.
    pub reason: DecodeReason,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at.as_str() {
            "" => write!(f, "{}", self.reason),
            at => write!(f, "{at}: {}", self.reason),
        }
    }
}

impl DecodeError {
    pub(crate) fn new(at: impl Into<String>, reason: DecodeReason) -> Self {
        Self { at: at.into(), reason }
    }

    /// A rule of the struct broken at `at` (a select's case, a MUST of the draft).
    pub(crate) fn rule(at: impl Into<String>, rule: impl std::fmt::Display) -> Self {
        Self::new(at, DecodeReason::Rule(rule.to_string()))
    }

    /// The same error, located inside `outer` (`"notify body, message 2"`).
    pub(crate) fn within(self, outer: impl std::fmt::Display) -> Self {
        let at = match self.at.as_str() {
            "" => outer.to_string(),
            inner => format!("{outer}: {inner}"),
        };
        Self { at, ..self }
    }
}

/// What is wrong with the bytes at a [`DecodeError`]'s place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeReason {
    /// Fewer bytes left than the field needs.
    #[error("truncated: needs {needs} bytes, {left} left")]
    Truncated {
        /// Bytes the field needs.
        needs: usize,
        /// Bytes left.
        left: usize,
    },
    /// A vector longer than the bytes left.
    #[error("truncated: vector of {len} bytes, {left} left")]
    TruncatedVector {
        /// The vector's length prefix.
        len: usize,
        /// Bytes left.
        left: usize,
    },
    /// RFC 9420 §2.1.2: a length prefix cut short.
    #[error("truncated length prefix")]
    TruncatedPrefix,
    /// RFC 9420 §2.1.2: the prefix `0b11` is reserved.
    #[error("length prefix 0b11 is reserved")]
    ReservedPrefix,
    /// RFC 9420 §2.1.2: a length not in its shortest encoding.
    #[error("non-minimal length prefix for {0}")]
    NonMinimalPrefix(usize),
    /// RFC 9420 §2.1.2: a length of 2^30 bytes or more cannot be encoded.
    #[error("length {0} exceeds the RFC 9420 varint range")]
    TooLong(usize),
    /// Bytes after the last field.
    #[error("{0} trailing byte(s) after the last field")]
    Trailing(usize),
    /// RFC 9420 §2.1.3: `optional<T>` has a presence byte 0 or 1.
    #[error("optional presence byte must be 0 or 1, got {0}")]
    Presence(u8),
    /// A string that is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// An enum value the draft does not define.
    #[error("unknown {enum_name} value {value}")]
    UnknownValue {
        /// The enum (`UpdateResponseCode`, `Protocol`, ...).
        enum_name: &'static str,
        /// The byte on the wire.
        value: u8,
    },
    /// An enum value's name the draft does not define (from a caller).
    #[error("unknown {enum_name} {name:?}; known: {}", known.join(", "))]
    UnknownName {
        /// The enum.
        enum_name: &'static str,
        /// The name given.
        name: String,
        /// The names the draft defines.
        known: &'static [&'static str],
    },
    /// A fixed-size field of another size.
    #[error("must be {expected} bytes, got {got}")]
    Length {
        /// The size the field must have.
        expected: usize,
        /// The size it has.
        got: usize,
    },
    /// A key or signature of another size than its algorithm's.
    #[error("{what} must be {expected} bytes, got {got}")]
    KeyLength {
        /// `public key`, `private key` or `signature`.
        what: &'static str,
        /// The algorithm's size.
        expected: usize,
        /// The size it has.
        got: usize,
    },
    /// An embedded RFC 9420 struct that openmls does not parse.
    #[error("not a valid {what}: {error}")]
    Mls {
        /// The struct (`KeyPackage`, `MLSMessage`, ...).
        what: &'static str,
        /// tls_codec's error.
        error: tls_codec::Error,
    },
    /// A rule of the struct broken: a select's case, a MUST of the draft.
    #[error("{0}")]
    Rule(String),
}

/// A bug in mimi or openmls: never the caller's input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("internal error: {what}: {detail}")]
pub struct InternalError {
    /// What failed (`serialize MLSMessage`, `openmls`).
    pub what: &'static str,
    /// The failing library's account.
    pub detail: String,
}

impl InternalError {
    pub(crate) fn new(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Self { what, detail: detail.to_string() }
    }
}

impl From<openmls::error::LibraryError> for InternalError {
    fn from(err: openmls::error::LibraryError) -> Self {
        Self::new("openmls", err)
    }
}

/// VerifyWithLabel (RFC 9420 §5.1.2), alone or of a signed MIMI struct.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A key or signature of the wrong size or shape, or a struct that has no
    /// signed form.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// The signature does not verify under the key with this label.
    #[error("{label} signature does not verify")]
    DoesNotVerify {
        /// The label, without "MLS 1.0 ".
        label: String,
    },
}

/// EncryptWithLabel and DecryptWithLabel (RFC 9420 §5.1.3).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HpkeError {
    /// A key or HPKECiphertext of the wrong size or shape.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// HPKE could not seal to the public key.
    #[error("EncryptWithLabel: {0:?}")]
    Seal(CryptoError),
    /// The ciphertext does not open: another key, label or context, or altered bytes.
    #[error("DecryptWithLabel ({label:?}): decryption failed (wrong key, label or context, or altered ciphertext)")]
    Open {
        /// The label, without "MLS 1.0 ".
        label: String,
    },
}

/// Reading MLS objects outside any group: strict decode and re-encode,
/// message headers, KeyPackages and their references.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The bytes do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A KeyPackage that does not validate (RFC 9420 §10.1: signatures,
    /// version, ciphersuite, key separation, lifetime).
    #[error("KeyPackage: {0}")]
    InvalidKeyPackage(KeyPackageVerifyError),
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<KeyPackageVerifyError> for CodecError {
    fn from(err: KeyPackageVerifyError) -> Self {
        match err {
            KeyPackageVerifyError::LibraryError(e) => Self::Internal(e.into()),
            other => Self::InvalidKeyPackage(other),
        }
    }
}

/// Becoming a member, or the hub starting to follow a group: creating it,
/// joining by Welcome or by external commit, a view from a GroupInfo.
#[derive(Debug, Error)]
pub enum JoinError {
    /// A Welcome, GroupInfo or ratchet tree that does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// openmls refused (a Welcome for no KeyPackage of ours, a tree that does
    /// not match the GroupInfo, ...).
    #[error("{operation}: {source}")]
    Refused {
        /// What was attempted (`Welcome`, `external commit`, ...).
        operation: &'static str,
        /// openmls' error.
        source: OpenMlsError,
    },
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// AppDataUpdate proposals (draft-ietf-mls-extensions) a commit covers:
/// their new values come from the caller's resolver.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AppDataError {
    /// The commit covers AppDataUpdate proposals and no resolver was given.
    #[error("the commit covers AppDataUpdate proposals but no resolver was given")]
    NoResolver,
    /// The resolver refused the proposals (it keeps its own reason).
    #[error("the app-data resolver refused the proposals")]
    Refused,
}

/// Making something from a group this party is in: KeyPackages, a commit,
/// proposals, application messages, a GroupInfo, an exported secret.
#[derive(Debug, Error)]
pub enum CreateError {
    /// A KeyPackage to add that cannot be used.
    #[error("KeyPackage to add: {0}")]
    KeyPackage(#[from] CodecError),
    /// openmls refused (removing a leaf that is empty, a proposal the group's
    /// extensions do not allow, ...).
    #[error("{operation}: {source}")]
    Refused {
        /// What was attempted (`commit`, `encrypt`, ...).
        operation: &'static str,
        /// openmls' error.
        source: OpenMlsError,
    },
    /// The hub's key is not among the group's external senders, so it cannot
    /// propose.
    #[error("this key is not an external sender of the group")]
    NotExternalSender,
    /// A leaf to remove that holds no member.
    #[error("leaf {0} is not a member")]
    NotAMember(u32),
    /// The covered AppDataUpdate proposals cannot be resolved.
    #[error(transparent)]
    AppData(#[from] AppDataError),
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Processing an incoming proposal, commit or application message (a member's
/// group or the hub's view).
#[derive(Debug, Error)]
pub enum ProcessError {
    /// Not an MLSMessage, or not a PublicMessage or PrivateMessage.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The message names another group.
    #[error("message is for another group")]
    OtherGroup,
    /// RFC 9420 §6.3.2 (ValSem002): the message is for another epoch.
    #[error("wrong epoch: message is for epoch {message}, group is at epoch {group}")]
    WrongEpoch {
        /// The epoch the message names.
        message: u64,
        /// The group's current epoch.
        group: u64,
    },
    /// A signature or membership tag that does not verify.
    #[error("invalid signature: {0}")]
    InvalidSignature(ValidationError),
    /// openmls refused the message (RFC 9420 validation, a PrivateMessage that
    /// does not decrypt, a commit that does not apply).
    #[error("message rejected: {0}")]
    Rejected(OpenMlsError),
    /// The hub was given an application message: it processes handshakes only.
    #[error("the hub only processes proposals and commits")]
    NotHandshake,
    /// A commit from an external sender or a new member's proposal sender.
    #[error("commit from a sender that cannot commit")]
    SenderCannotCommit,
    /// draft-ietf-mimi-protocol §Update Room State: the hub needs the
    /// GroupInfo of the commit's new epoch.
    #[error("a commit must be accompanied by the GroupInfo of its new epoch")]
    MissingGroupInfo,
    /// The GroupInfo is not signed by the committer's leaf.
    #[error("GroupInfo is signed by leaf {signer}, not by the committer (leaf {committer})")]
    GroupInfoSigner {
        /// The leaf the GroupInfo names as signer.
        signer: u32,
        /// The committer's leaf.
        committer: u32,
    },
    /// The GroupInfo's signature does not verify under the committer's key.
    #[error("GroupInfo signature does not verify")]
    GroupInfoSignature,
    /// The GroupInfo names another GroupContext than the commit leads to.
    #[error("GroupInfo does not name the GroupContext the commit leads to")]
    GroupInfoContext,
    /// The commit's confirmation_tag is not the one its GroupInfo carries (signed
    /// by the committer): members would refuse the commit.
    #[error("the commit's confirmation_tag differs from its GroupInfo's")]
    GroupInfoConfirmationTag,
    /// The GroupInfo has no external_pub, so new devices could not join.
    #[error("GroupInfo lacks the external_pub extension")]
    GroupInfoExternalPub,
    /// The covered AppDataUpdate proposals cannot be resolved.
    #[error(transparent)]
    AppData(#[from] AppDataError),
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Applying what was processed or committed, or dropping a pending commit.
#[derive(Debug, Error)]
pub enum MergeError {
    /// `merge` with nothing `process` held: the caller's bug, not the peer's.
    #[error("nothing processed to merge")]
    NothingToMerge,
    /// The group cannot change any more: this client was removed from it.
    #[error("merge pending commit: {0}")]
    GroupState(MlsGroupStateError),
    /// The store could not write the merged state, keep a proposal or drop a commit.
    #[error("{operation}: {source}")]
    Store {
        /// What was attempted.
        operation: &'static str,
        /// The store's error.
        source: StoreError,
    },
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl MergeError {
    /// openmls merges a staged commit it validated: only the store or a bug can fail.
    pub(crate) fn of_commit(operation: &'static str) -> impl FnOnce(MergeCommitError<StoreError>) -> Self {
        move |e| match e {
            MergeCommitError::StorageError(source) => Self::Store { operation, source },
            MergeCommitError::LibraryError(e) => Self::Internal(e.into()),
        }
    }
}

/// A party's state as bytes: export, import, loading a group from it.
#[derive(Debug, Error)]
pub enum StateError {
    /// Exported bytes that do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The store could not be read.
    #[error("{operation}: {source}")]
    Store {
        /// What was attempted.
        operation: &'static str,
        /// The store's error.
        source: StoreError,
    },
    /// The state holds no group with that ID.
    #[error("no such group in this state")]
    NoSuchGroup,
    /// A bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// A client made from an MLS interop vector's private keys (vectors.rs).
#[derive(Debug, Error)]
pub enum VectorError {
    /// The vector's KeyPackage, Welcome or tree does not decode or validate.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The vector's KeyPackage is not of ciphersuite 0x0001.
    #[error("KeyPackage ciphersuite {0:?} is not supported")]
    Ciphersuite(Ciphersuite),
    /// A private key of the vector is not that of the KeyPackage's public key.
    #[error("{private} does not match the KeyPackage's {public}")]
    KeyMismatch {
        /// The vector's field (`init_priv`, ...).
        private: &'static str,
        /// The KeyPackage's key.
        public: &'static str,
    },
    /// The Welcome's GroupInfo signature does not verify under the vector's key.
    #[error("GroupInfo: {0}")]
    GroupInfoSignature(OpenMlsSignatureError),
    /// openmls refused.
    #[error("{operation}: {source}")]
    Refused {
        /// What was attempted.
        operation: &'static str,
        /// openmls' error.
        source: OpenMlsError,
    },
    /// The state the client is made of.
    #[error(transparent)]
    State(#[from] StateError),
}

/// `map_err(Family::refused("what was attempted"))`: openmls refused, its error kept whole.
macro_rules! refused {
    ($($family:ident),+) => {$(
        impl $family {
            pub(crate) fn refused<E>(operation: &'static str) -> impl FnOnce(E) -> Self
            where
                E: std::error::Error + Send + Sync + 'static,
            {
                move |e| Self::Refused { operation, source: Box::new(e) }
            }
        }
    )+};
}
refused!(JoinError, CreateError, VectorError);

impl From<DecodeError> for VectorError {
    fn from(err: DecodeError) -> Self {
        Self::Codec(err.into())
    }
}

impl From<InternalError> for VectorError {
    fn from(err: InternalError) -> Self {
        Self::Codec(err.into())
    }
}
