//! Strict decode and re-encode of MLS wire structs (RFC 9420 §6, §7, §12), for
//! conformance checks: our bytes must equal the interop vectors' bytes.

use openmls::prelude::*;
use openmls::treesync::RatchetTreeIn;

use crate::error::{CoreError, Result};

fn roundtrip<T: tls_codec::Deserialize + tls_codec::Serialize>(what: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    T::tls_deserialize_exact(bytes)
        .map_err(|e| CoreError::decode(what, e))?
        .tls_serialize_detached()
        .map_err(|e| CoreError::Internal(format!("re-encode {what}: {e}")))
}

/// The struct kinds `reencode` knows, by the names the interop vectors use.
pub const KINDS: &[&str] = &[
    "mls_message",
    "key_package",
    "ratchet_tree",
    "proposal",
];

/// Decodes `bytes` as the named struct (exactly: no trailing bytes) and encodes
/// it again. `kind` is one of `KINDS`.
pub fn reencode(kind: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    match kind {
        "mls_message" => roundtrip::<MlsMessageIn>("MLSMessage", bytes),
        "key_package" => roundtrip::<KeyPackageIn>("KeyPackage", bytes),
        "ratchet_tree" => roundtrip::<RatchetTreeIn>("ratchet tree", bytes),
        "proposal" => roundtrip::<ProposalIn>("Proposal", bytes),
        other => Err(CoreError::Decode(format!(
            "unknown struct kind {other:?}; known: {}",
            KINDS.join(", ")
        ))),
    }
}
