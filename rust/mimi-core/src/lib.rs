//! mimi-core: the Rust core of mimi, a MIMI runtime.
//!
//! MLS over openmls (client groups and the hub's public view of each group),
//! Ed25519 with MLS labels and batch verification. Knows nothing of Python;
//! `rust/mimi-py` exposes it as `mimi._core`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod error;
pub mod hpke;
pub mod hub;
pub mod provider;
pub mod signing;
pub mod store;
pub mod summary;
pub mod vectors;
pub mod wire;

pub use client::{Client, CommitOutput, ExternalSenderInfo, Group};
pub use error::{
    AppDataError, CodecError, CreateError, DecodeError, DecodeReason, HpkeError, InternalError, JoinError, MergeError,
    ProcessError, StateError, VectorError, VerifyError,
};
pub use hub::HubView;
pub use signing::{ref_hash, verify_batch, verify_with_label, SignatureKeyPair, VerifyItem};
pub use summary::*;
