//! The one place core errors become Python's: each variant of each core error
//! enum maps to one class of `mimi.errors` (Python owns the classes). The
//! matches are exhaustive, so a new variant cannot compile until its class is
//! chosen; tests/test_errors.py checks the class of a sample of each.

use mimi_core as core;
use mimi_core::error as e;
use pyo3::prelude::*;

mod py {
    pyo3::import_exception!(mimi.errors, DecodeError);
    pyo3::import_exception!(mimi.errors, InvalidSignature);
    pyo3::import_exception!(mimi.errors, WrongEpoch);
    pyo3::import_exception!(mimi.errors, MlsError);
    pyo3::import_exception!(mimi.errors, StorageError);
    pyo3::import_exception!(mimi.errors, InternalError);
}

/// The `mimi.errors` classes the core's errors are raised as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Class {
    Decode,
    InvalidSignature,
    WrongEpoch,
    Mls,
    Storage,
    Internal,
}

impl Class {
    pub(crate) fn raise(self, message: String) -> PyErr {
        match self {
            Class::Decode => py::DecodeError::new_err(message),
            Class::InvalidSignature => py::InvalidSignature::new_err(message),
            Class::WrongEpoch => py::WrongEpoch::new_err(message),
            Class::Mls => py::MlsError::new_err(message),
            Class::Storage => py::StorageError::new_err(message),
            Class::Internal => py::InternalError::new_err(message),
        }
    }
}

/// A core error enum whose variants each have their class.
pub(crate) trait Classified: std::fmt::Display + Sized {
    fn class(&self) -> Class;

    /// The exception: the variant's class, the error's message.
    fn into_pyerr(self) -> PyErr {
        self.class().raise(self.to_string())
    }
}

impl Classified for e::DecodeError {
    fn class(&self) -> Class {
        Class::Decode
    }
}

impl Classified for e::InternalError {
    fn class(&self) -> Class {
        Class::Internal
    }
}

impl Classified for e::VerifyError {
    fn class(&self) -> Class {
        match self {
            e::VerifyError::Malformed(_) => Class::Decode,
            e::VerifyError::DoesNotVerify { .. } => Class::InvalidSignature,
        }
    }
}

impl Classified for e::HpkeError {
    fn class(&self) -> Class {
        match self {
            e::HpkeError::Malformed(_) => Class::Decode,
            e::HpkeError::Seal(_) | e::HpkeError::Open { .. } => Class::Mls,
        }
    }
}

impl Classified for e::CodecError {
    fn class(&self) -> Class {
        match self {
            e::CodecError::Decode(_) => Class::Decode,
            e::CodecError::InvalidKeyPackage(_) => Class::Mls,
            e::CodecError::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::JoinError {
    fn class(&self) -> Class {
        match self {
            e::JoinError::Decode(_) => Class::Decode,
            e::JoinError::Refused { .. } => Class::Mls,
            e::JoinError::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::AppDataError {
    fn class(&self) -> Class {
        match self {
            e::AppDataError::NoResolver | e::AppDataError::Refused => Class::Mls,
        }
    }
}

impl Classified for e::CreateError {
    fn class(&self) -> Class {
        match self {
            e::CreateError::KeyPackage(inner) => inner.class(),
            e::CreateError::Refused { .. } | e::CreateError::NotExternalSender | e::CreateError::NotAMember(_) => {
                Class::Mls
            }
            e::CreateError::AppData(inner) => inner.class(),
            e::CreateError::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::ProcessError {
    fn class(&self) -> Class {
        use e::ProcessError as P;
        match self {
            P::Decode(_) => Class::Decode,
            P::WrongEpoch { .. } => Class::WrongEpoch,
            P::InvalidSignature(_) | P::GroupInfoSignature => Class::InvalidSignature,
            P::OtherGroup
            | P::Rejected(_)
            | P::NotHandshake
            | P::SenderCannotCommit
            | P::MissingGroupInfo
            | P::GroupInfoSigner { .. }
            | P::GroupInfoContext
            | P::GroupInfoConfirmationTag
            | P::GroupInfoExternalPub => Class::Mls,
            P::AppData(inner) => inner.class(),
            P::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::MergeError {
    fn class(&self) -> Class {
        match self {
            // The caller's order of calls is wrong: a bug in mimi, not a peer's doing.
            e::MergeError::NothingToMerge => Class::Internal,
            e::MergeError::GroupState(_) => Class::Mls,
            e::MergeError::Store { .. } => Class::Storage,
            e::MergeError::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::StateError {
    fn class(&self) -> Class {
        match self {
            e::StateError::Decode(_) => Class::Decode,
            e::StateError::Store { .. } | e::StateError::NoSuchGroup => Class::Storage,
            e::StateError::Internal(_) => Class::Internal,
        }
    }
}

impl Classified for e::VectorError {
    fn class(&self) -> Class {
        match self {
            e::VectorError::Codec(inner) => inner.class(),
            e::VectorError::Ciphersuite(_) | e::VectorError::KeyMismatch { .. } | e::VectorError::Refused { .. } => {
                Class::Mls
            }
            e::VectorError::GroupInfoSignature(_) => Class::InvalidSignature,
            e::VectorError::State(inner) => inner.class(),
        }
    }
}

// ---------------------------------------------------------------- samples for the test

fn decode() -> e::DecodeError {
    e::DecodeError { at: "T.field".into(), reason: e::DecodeReason::Trailing(1) }
}

fn internal() -> e::InternalError {
    e::InternalError { what: "test", detail: "a bug".into() }
}

fn source() -> e::OpenMlsError {
    "refused".into()
}

fn store() -> core::store::StoreError {
    core::store::StoreError::Poisoned
}

/// A variant's name (`Enum::Variant`) and the exception of a sample of it.
type Sample = (&'static str, fn() -> PyErr);

/// One sample of every variant of every core error enum: what
/// `_raise_core_error` raises and tests/test_errors.py checks.
pub(crate) const SAMPLES: &[Sample] = &[
    ("DecodeError", || decode().into_pyerr()),
    ("InternalError", || internal().into_pyerr()),
    ("VerifyError::Malformed", || e::VerifyError::Malformed(decode()).into_pyerr()),
    ("VerifyError::DoesNotVerify", || e::VerifyError::DoesNotVerify { label: "L".into() }.into_pyerr()),
    ("HpkeError::Malformed", || e::HpkeError::Malformed(decode()).into_pyerr()),
    ("HpkeError::Seal", || e::HpkeError::Seal(e::CryptoError::HpkeEncryptionError).into_pyerr()),
    ("HpkeError::Open", || e::HpkeError::Open { label: "L".into() }.into_pyerr()),
    ("CodecError::Decode", || e::CodecError::Decode(decode()).into_pyerr()),
    ("CodecError::InvalidKeyPackage", || {
        e::CodecError::InvalidKeyPackage(e::KeyPackageVerifyError::InvalidSignature).into_pyerr()
    }),
    ("CodecError::Internal", || e::CodecError::Internal(internal()).into_pyerr()),
    ("JoinError::Decode", || e::JoinError::Decode(decode()).into_pyerr()),
    ("JoinError::Refused", || e::JoinError::Refused { operation: "Welcome", source: source() }.into_pyerr()),
    ("JoinError::Internal", || e::JoinError::Internal(internal()).into_pyerr()),
    ("AppDataError::NoResolver", || e::AppDataError::NoResolver.into_pyerr()),
    ("AppDataError::Refused", || e::AppDataError::Refused.into_pyerr()),
    ("CreateError::KeyPackage", || e::CreateError::KeyPackage(e::CodecError::Decode(decode())).into_pyerr()),
    ("CreateError::Refused", || e::CreateError::Refused { operation: "commit", source: source() }.into_pyerr()),
    ("CreateError::NotExternalSender", || e::CreateError::NotExternalSender.into_pyerr()),
    ("CreateError::NotAMember", || e::CreateError::NotAMember(7).into_pyerr()),
    ("CreateError::AppData", || e::CreateError::AppData(e::AppDataError::NoResolver).into_pyerr()),
    ("CreateError::Internal", || e::CreateError::Internal(internal()).into_pyerr()),
    ("ProcessError::Decode", || e::ProcessError::Decode(decode()).into_pyerr()),
    ("ProcessError::OtherGroup", || e::ProcessError::OtherGroup.into_pyerr()),
    ("ProcessError::WrongEpoch", || e::ProcessError::WrongEpoch { message: 1, group: 2 }.into_pyerr()),
    ("ProcessError::InvalidSignature", || {
        e::ProcessError::InvalidSignature(e::ValidationError::InvalidSignature).into_pyerr()
    }),
    ("ProcessError::Rejected", || e::ProcessError::Rejected(source()).into_pyerr()),
    ("ProcessError::NotHandshake", || e::ProcessError::NotHandshake.into_pyerr()),
    ("ProcessError::SenderCannotCommit", || e::ProcessError::SenderCannotCommit.into_pyerr()),
    ("ProcessError::MissingGroupInfo", || e::ProcessError::MissingGroupInfo.into_pyerr()),
    ("ProcessError::GroupInfoSigner", || e::ProcessError::GroupInfoSigner { signer: 1, committer: 0 }.into_pyerr()),
    ("ProcessError::GroupInfoSignature", || e::ProcessError::GroupInfoSignature.into_pyerr()),
    ("ProcessError::GroupInfoContext", || e::ProcessError::GroupInfoContext.into_pyerr()),
    ("ProcessError::GroupInfoConfirmationTag", || e::ProcessError::GroupInfoConfirmationTag.into_pyerr()),
    ("ProcessError::GroupInfoExternalPub", || e::ProcessError::GroupInfoExternalPub.into_pyerr()),
    ("ProcessError::AppData", || e::ProcessError::AppData(e::AppDataError::Refused).into_pyerr()),
    ("ProcessError::Internal", || e::ProcessError::Internal(internal()).into_pyerr()),
    ("MergeError::NothingToMerge", || e::MergeError::NothingToMerge.into_pyerr()),
    ("MergeError::GroupState", || e::MergeError::GroupState(e::MlsGroupStateError::UseAfterEviction).into_pyerr()),
    ("MergeError::Store", || e::MergeError::Store { operation: "store proposal", source: store() }.into_pyerr()),
    ("MergeError::Internal", || e::MergeError::Internal(internal()).into_pyerr()),
    ("StateError::Decode", || e::StateError::Decode(decode()).into_pyerr()),
    ("StateError::Store", || e::StateError::Store { operation: "load group", source: store() }.into_pyerr()),
    ("StateError::NoSuchGroup", || e::StateError::NoSuchGroup.into_pyerr()),
    ("StateError::Internal", || e::StateError::Internal(internal()).into_pyerr()),
    ("VectorError::Codec", || e::VectorError::Codec(e::CodecError::Internal(internal())).into_pyerr()),
    ("VectorError::Ciphersuite", || {
        e::VectorError::Ciphersuite(e::Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519).into_pyerr()
    }),
    ("VectorError::KeyMismatch", || {
        e::VectorError::KeyMismatch { private: "init_priv", public: "init_key" }.into_pyerr()
    }),
    ("VectorError::GroupInfoSignature", || {
        e::VectorError::GroupInfoSignature(e::OpenMlsSignatureError::VerificationError).into_pyerr()
    }),
    ("VectorError::Refused", || e::VectorError::Refused { operation: "Welcome", source: source() }.into_pyerr()),
    ("VectorError::State", || e::VectorError::State(e::StateError::NoSuchGroup).into_pyerr()),
];
