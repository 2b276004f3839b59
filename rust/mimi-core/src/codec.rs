//! Strict decode and re-encode of MLS wire structs (RFC 9420 §6, §7, §12), for
//! conformance checks: our bytes must equal the interop vectors' bytes.

use openmls::prelude::*;
use openmls::treesync::RatchetTreeIn;
use tls_codec::Deserialize as _;

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

/// The routing header of a protocol MLSMessage (PublicMessage or PrivateMessage):
/// group ID, epoch and content type, read without any group state. The hub uses
/// it to refuse an application message for a stale epoch before fanning it out.
pub fn message_header(bytes: &[u8]) -> Result<(Vec<u8>, u64, &'static str)> {
    let msg = crate::summary::protocol_message(bytes)?;
    let kind = match msg.content_type() {
        ContentType::Application => "application",
        ContentType::Proposal => "proposal",
        ContentType::Commit => "commit",
    };
    Ok((msg.group_id().as_slice().to_vec(), msg.epoch().as_u64(), kind))
}

/// The KeyPackageRefs a Welcome (MLSMessage) is encrypted to, in order: they
/// route it to the providers and clients that supplied those KeyPackages
/// (draft-ietf-mimi-protocol §Fanout Messages and Room Events).
pub fn welcome_key_package_refs(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let msg = MlsMessageIn::tls_deserialize_exact(bytes).map_err(|e| CoreError::decode("Welcome MLSMessage", e))?;
    match msg.extract() {
        MlsMessageBodyIn::Welcome(welcome) => Ok(welcome
            .secrets()
            .iter()
            .map(|s| s.new_member().as_slice().to_vec())
            .collect()),
        _ => Err(CoreError::Decode("MLSMessage is not a Welcome".into())),
    }
}

/// The KeyPackageRef of a KeyPackage (TLS-serialized KeyPackage struct).
pub fn key_package_ref(bytes: &[u8]) -> Result<Vec<u8>> {
    let crypto = openmls_rust_crypto::RustCrypto::default();
    let kp = KeyPackageIn::tls_deserialize_exact(bytes)
        .map_err(|e| CoreError::decode("KeyPackage", e))?
        .validate(&crypto, ProtocolVersion::Mls10)
        .map_err(|e| CoreError::mls("KeyPackage", e))?;
    Ok(kp.hash_ref(&crypto)?.as_slice().to_vec())
}
