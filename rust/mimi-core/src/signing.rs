//! Ed25519 with MLS labels (RFC 9420 §5.1.2), batch verification, RefHash.
//!
//! MIMI signs its own structures with MLS labels (e.g. "KeyMaterialRequestTBS"),
//! so these are exposed apart from any group.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use openmls::prelude::{Ciphersuite, OpenMlsCrypto, SignatureScheme};
use openmls_basic_credential::SignatureKeyPair as BasicKeyPair;
use openmls_rust_crypto::RustCrypto;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use tls_codec::{Serialize as _, TlsSerialize, TlsSize, VLBytes};

use crate::error::{DecodeError, DecodeReason, InternalError, VerifyError};

/// RFC 9420 §5.1.2: `struct { opaque label<V>; opaque content<V>; } SignContent;`
#[derive(TlsSerialize, TlsSize)]
struct SignContent {
    label: VLBytes,
    content: VLBytes,
}

/// RFC 9420 §5.2: `struct { opaque label<V>; opaque value<V>; } RefHashInput;`
#[derive(TlsSerialize, TlsSize)]
struct RefHashInput {
    label: VLBytes,
    value: VLBytes,
}

/// `"MLS 1.0 " + Label`, the label every RFC 9420 labeled operation uses.
pub(crate) fn labeled(label: &str) -> VLBytes {
    format!("MLS 1.0 {label}").into_bytes().into()
}

/// The bytes signed by SignWithLabel(key, label, content).
pub fn sign_content(label: &str, content: &[u8]) -> Vec<u8> {
    SignContent {
        label: labeled(label),
        content: content.to_vec().into(),
    }
    .tls_serialize_detached()
    .expect("a SignContent always serializes")
}

/// RefHash(label, value) for ciphersuite 0x0001 (SHA-256), RFC 9420 §5.2.
pub fn ref_hash(label: &str, value: &[u8]) -> Vec<u8> {
    let input = RefHashInput {
        label: label.as_bytes().to_vec().into(),
        value: value.to_vec().into(),
    }
    .tls_serialize_detached()
    .expect("a RefHashInput always serializes");
    Sha256::digest(input).to_vec()
}

/// An Ed25519 signature key pair (ciphersuite 0x0001's signature scheme).
#[derive(Clone)]
pub struct SignatureKeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for SignatureKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureKeyPair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl SignatureKeyPair {
    /// A fresh key pair from the OS random number generator.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(&mut OsRng),
        }
    }

    /// The key pair of a 32-byte Ed25519 private key (seed).
    pub fn from_private(private: &[u8]) -> Result<Self, DecodeError> {
        let seed: [u8; 32] = private.try_into().map_err(|_| key_length("private key", 32, private.len()))?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The 32-byte public key.
    pub fn public(&self) -> Vec<u8> {
        self.signing.verifying_key().to_bytes().to_vec()
    }

    /// The 32-byte private key (seed).
    pub fn private(&self) -> Vec<u8> {
        self.signing.to_bytes().to_vec()
    }

    /// SignWithLabel(SignatureKey, Label, Content), RFC 9420 §5.1.2.
    pub fn sign_with_label(&self, label: &str, content: &[u8]) -> Vec<u8> {
        self.signing
            .sign(&sign_content(label, content))
            .to_bytes()
            .to_vec()
    }

    /// The same key as openmls' signer type.
    pub(crate) fn to_openmls(&self) -> BasicKeyPair {
        BasicKeyPair::from_raw(SignatureScheme::ED25519, self.private(), self.public())
    }
}

fn key_length(what: &'static str, expected: usize, got: usize) -> DecodeError {
    DecodeError::new("Ed25519", DecodeReason::KeyLength { what, expected, got })
}

fn verifying_key(public: &[u8]) -> Result<VerifyingKey, DecodeError> {
    let bytes: [u8; 32] = public.try_into().map_err(|_| key_length("public key", 32, public.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| DecodeError::rule("Ed25519", "public key is not a valid point"))
}

fn signature(bytes: &[u8]) -> Result<Signature, DecodeError> {
    Signature::from_slice(bytes).map_err(|_| key_length("signature", 64, bytes.len()))
}

/// VerifyWithLabel(VerificationKey, Label, Content, SignatureValue), RFC 9420 §5.1.2.
pub fn verify_with_label(public: &[u8], label: &str, content: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    let key = verifying_key(public)?;
    let sig = signature(sig)?;
    key.verify(&sign_content(label, content), &sig)
        .map_err(|_| VerifyError::DoesNotVerify { label: label.to_owned() })
}

/// One item of a batch verification.
#[derive(Debug, Clone)]
pub struct VerifyItem<'a> {
    /// Ed25519 public key, 32 bytes.
    pub public: &'a [u8],
    /// MLS label, without the "MLS 1.0 " prefix.
    pub label: &'a str,
    /// The content that was signed.
    pub content: &'a [u8],
    /// The 64-byte signature.
    pub signature: &'a [u8],
}

/// Verifies many signatures at once: `result[i]` says whether item `i` verifies.
///
/// One batch equation checks all of them (about half the cost of single
/// verifies); only when it fails is each item checked on its own, to say which.
/// A malformed key or signature is `false`, not an error, so one bad item
/// cannot hide the verdicts on the others.
pub fn verify_batch(items: &[VerifyItem<'_>]) -> Vec<bool> {
    let parsed: Vec<Option<(VerifyingKey, Signature, Vec<u8>)>> = items
        .iter()
        .map(|item| {
            let key = verifying_key(item.public).ok()?;
            let sig = signature(item.signature).ok()?;
            Some((key, sig, sign_content(item.label, item.content)))
        })
        .collect();
    if parsed.iter().all(Option::is_some) && !parsed.is_empty() {
        let all: Vec<&(VerifyingKey, Signature, Vec<u8>)> = parsed.iter().flatten().collect();
        let messages: Vec<&[u8]> = all.iter().map(|(_, _, m)| m.as_slice()).collect();
        let signatures: Vec<Signature> = all.iter().map(|(_, s, _)| *s).collect();
        let keys: Vec<VerifyingKey> = all.iter().map(|(k, _, _)| *k).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return vec![true; items.len()];
        }
    }
    parsed
        .iter()
        .map(|p| match p {
            Some((key, sig, msg)) => key.verify(msg, sig).is_ok(),
            None => false,
        })
        .collect()
}

/// KeyPackageRef / ProposalRef style hashes through openmls' crypto, to
/// cross-check `ref_hash` against the library (used in tests).
pub fn hash_sha256(data: &[u8]) -> Result<Vec<u8>, InternalError> {
    RustCrypto::default()
        .hash(Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.hash_algorithm(), data)
        .map_err(|e| InternalError::new("hash", format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_with_label() {
        let key = SignatureKeyPair::generate();
        let sig = key.sign_with_label("KeyMaterialRequestTBS", b"hello");
        verify_with_label(&key.public(), "KeyMaterialRequestTBS", b"hello", &sig).unwrap();
        assert!(matches!(
            verify_with_label(&key.public(), "OtherTBS", b"hello", &sig),
            Err(VerifyError::DoesNotVerify { .. })
        ));
    }

    #[test]
    fn batch_names_the_bad_item() {
        let key = SignatureKeyPair::generate();
        let sigs: Vec<Vec<u8>> = (0..4u8).map(|i| key.sign_with_label("L", &[i])).collect();
        let public = key.public();
        let contents: Vec<[u8; 1]> = vec![[0], [1], [9], [3]];
        let items: Vec<VerifyItem<'_>> = (0..4)
            .map(|i| VerifyItem {
                public: &public,
                label: "L",
                content: &contents[i],
                signature: &sigs[i],
            })
            .collect();
        assert_eq!(verify_batch(&items), vec![true, true, false, true]);
    }

    #[test]
    fn ref_hash_matches_sha256_of_input() {
        let h = ref_hash("MLS 1.0 KeyPackage Reference", b"abc");
        assert_eq!(h.len(), 32);
    }
}
