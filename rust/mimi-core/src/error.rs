//! One error type for every operation the core exposes.
//!
//! The variants are the kinds a caller must tell apart (mapped one-to-one onto
//! `mimi.errors` by the glue): bad bytes, bad signature, wrong epoch, an MLS
//! operation refused, storage, and a bug in mimi or openmls (`Internal`).

use thiserror::Error;

/// Errors of the MIMI core.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Bytes that do not parse as the expected structure.
    #[error("decode error: {0}")]
    Decode(String),
    /// A signature that does not verify.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// A message for another epoch than the group's current one.
    #[error("wrong epoch: message is for epoch {message}, group is at epoch {group}")]
    WrongEpoch {
        /// The epoch the message names.
        message: u64,
        /// The group's current epoch.
        group: u64,
    },
    /// openmls refused the operation (invalid proposal, commit, Welcome, state).
    #[error("MLS error: {0}")]
    Mls(String),
    /// State that cannot be exported or imported.
    #[error("storage error: {0}")]
    Storage(String),
    /// A library bug: not the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of the core.
pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    pub(crate) fn mls(context: &str, err: impl std::fmt::Display) -> Self {
        CoreError::Mls(format!("{context}: {err}"))
    }

    pub(crate) fn decode(what: &str, err: impl std::fmt::Display) -> Self {
        CoreError::Decode(format!("{what}: {err}"))
    }
}

impl From<openmls::error::LibraryError> for CoreError {
    fn from(err: openmls::error::LibraryError) -> Self {
        CoreError::Internal(err.to_string())
    }
}
