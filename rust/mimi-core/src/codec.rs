//! Strict decode and re-encode of MLS wire structs (RFC 9420 §6, §7, §12), for
//! conformance checks: our bytes must equal the interop vectors' bytes.

use openmls::prelude::*;
use openmls::treesync::RatchetTreeIn;

use crate::error::{CodecError, DecodeError, DecodeReason, InternalError};
use crate::wire::MlsMessageKind;

/// `bytes` as exactly one MLS struct `T` (no trailing bytes).
pub(crate) fn decode<T: tls_codec::Deserialize>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    T::tls_deserialize_exact(bytes).map_err(|error| DecodeError::new("", DecodeReason::Mls { what, error }))
}

fn roundtrip<T: tls_codec::Deserialize + tls_codec::Serialize>(what: &'static str, bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    Ok(decode::<T>(what, bytes)?
        .tls_serialize_detached()
        .map_err(|e| InternalError::new("re-encode a decoded MLS struct", e))?)
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
pub fn reencode(kind: &str, bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    match kind {
        "mls_message" => roundtrip::<MlsMessageIn>("MLSMessage", bytes),
        "key_package" => roundtrip::<KeyPackageIn>("KeyPackage", bytes),
        "ratchet_tree" => roundtrip::<RatchetTreeIn>("ratchet tree", bytes),
        "proposal" => roundtrip::<ProposalIn>("Proposal", bytes),
        other => Err(DecodeError::new("", DecodeReason::UnknownName { enum_name: "struct kind", name: other.to_owned(), known: KINDS }).into()),
    }
}

/// The routing header of a protocol MLSMessage (PublicMessage or PrivateMessage):
/// group ID, epoch and content type, read without any group state. The hub uses
/// it to refuse an application message for a stale epoch before fanning it out.
pub fn message_header(bytes: &[u8]) -> Result<(Vec<u8>, u64, MlsMessageKind), DecodeError> {
    let msg = crate::summary::protocol_message(bytes)?;
    let kind = match msg.content_type() {
        ContentType::Application => MlsMessageKind::Application,
        ContentType::Proposal => MlsMessageKind::Proposal,
        ContentType::Commit => MlsMessageKind::Commit,
    };
    Ok((msg.group_id().as_slice().to_vec(), msg.epoch().as_u64(), kind))
}

/// The KeyPackageRefs a Welcome (MLSMessage) is encrypted to, in order: they
/// route it to the providers and clients that supplied those KeyPackages
/// (draft-ietf-mimi-protocol §Fanout Messages and Room Events).
pub fn welcome_key_package_refs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
    Ok(welcome(bytes)?.secrets().iter().map(|s| s.new_member().as_slice().to_vec()).collect())
}

/// The Welcome an MLSMessage carries.
pub(crate) fn welcome(bytes: &[u8]) -> Result<Welcome, DecodeError> {
    match decode::<MlsMessageIn>("Welcome MLSMessage", bytes)?.extract() {
        MlsMessageBodyIn::Welcome(welcome) => Ok(welcome),
        _ => Err(DecodeError::rule("MLSMessage", "not a Welcome")),
    }
}

/// A KeyPackage (TLS-serialized KeyPackage struct), validated (RFC 9420 §10.1).
pub(crate) fn key_package(bytes: &[u8], crypto: &impl OpenMlsCrypto) -> Result<KeyPackage, CodecError> {
    Ok(decode::<KeyPackageIn>("KeyPackage", bytes)?.validate(crypto, ProtocolVersion::Mls10)?)
}

/// The KeyPackageRef of a KeyPackage (TLS-serialized KeyPackage struct).
pub fn key_package_ref(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    let crypto = openmls_rust_crypto::RustCrypto::default();
    let kp = key_package(bytes, &crypto)?;
    Ok(kp.hash_ref(&crypto).map_err(InternalError::from)?.as_slice().to_vec())
}
