//! HPKE for ciphersuite 0x0001 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! AES-128-GCM): key pairs and RFC 9420 §5.1.3 EncryptWithLabel /
//! DecryptWithLabel, through openmls' crypto provider.
//!
//! MIMI uses them outside any group: draft-ietf-mimi-protocol §Claim group key
//! information encrypts the GroupInfo, ratchet tree and pending proposals to the
//! requester's `groupInfoPublicKey`.
//!
//! Errors ([`HpkeError`]): malformed keys or ciphertext bytes are
//! `Malformed`; a ciphertext that does not open (wrong key, label or context,
//! or altered bytes) is `Open`.

use openmls::prelude::OpenMlsCrypto;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::types::{CryptoError, HpkeCiphertext as OpenMlsHpkeCiphertext};
use rand::rngs::OsRng;
use rand::RngCore as _;
use tls_codec::{Serialize as _, TlsSerialize, TlsSize, VLBytes};

use crate::error::{DecodeError, DecodeReason, HpkeError, InternalError};
use crate::signing::labeled;
use crate::summary::CIPHERSUITE;
use crate::wire::{Fields, Reader, Wire, Writer};

/// X25519: `Npk`, `Nsk` and `Nenc` (RFC 9180 §7.1).
const X25519_LEN: usize = 32;
/// AES-128-GCM: `Nt`, the tag every ciphertext carries.
const AEAD_TAG_LEN: usize = 16;

/// RFC 9420 §5.1.3: `struct { opaque label<V>; opaque context<V>; } EncryptContext;`
#[derive(TlsSerialize, TlsSize)]
struct EncryptContext {
    label: VLBytes,
    context: VLBytes,
}

fn encrypt_context(label: &str, context: &[u8]) -> Vec<u8> {
    EncryptContext {
        label: labeled(label),
        context: context.to_vec().into(),
    }
    .tls_serialize_detached()
    .expect("an EncryptContext always serializes")
}

/// An HPKE key pair of ciphersuite 0x0001 (X25519).
#[derive(Clone)]
pub struct HpkeKeyPair {
    private: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for HpkeKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpkeKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl HpkeKeyPair {
    /// A fresh key pair: DeriveKeyPair (RFC 9180 §7.1.3) of 32 bytes from the
    /// OS random number generator.
    pub fn generate() -> Result<Self, InternalError> {
        let mut ikm = [0u8; X25519_LEN];
        OsRng.fill_bytes(&mut ikm);
        let pair = RustCrypto::default()
            .derive_hpke_keypair(CIPHERSUITE.hpke_config(), &ikm)
            .map_err(|e| InternalError::new("HPKE DeriveKeyPair", format!("{e:?}")))?;
        Ok(Self {
            private: pair.private.to_vec(),
            public: pair.public,
        })
    }

    /// The 32-byte public key (`HPKEPublicKey`).
    pub fn public(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// The 32-byte private key.
    pub fn private(&self) -> Vec<u8> {
        self.private.clone()
    }
}

/// RFC 9420 §5.1.3 `HPKECiphertext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeCiphertext {
    /// `opaque kem_output<V>`: the encapsulated key (32 bytes for X25519).
    pub kem_output: Vec<u8>,
    /// `opaque ciphertext<V>`: the AEAD ciphertext, tag included.
    pub ciphertext: Vec<u8>,
}

impl Fields for HpkeCiphertext {
    const NAME: &'static str = "HPKECiphertext";

    /// The struct's shape only (any ciphersuite): `decrypt_with_label` checks
    /// the lengths of ciphersuite 0x0001.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            kem_output: r.opaque("kem_output")?.to_vec(),
            ciphertext: r.opaque("ciphertext")?.to_vec(),
        })
    }

    fn write(&self, w: &mut Writer) {
        w.opaque(&self.kem_output);
        w.opaque(&self.ciphertext);
    }
}

fn x25519_key<'a>(what: &'static str, key: &'a [u8]) -> Result<&'a [u8], DecodeError> {
    if key.len() != X25519_LEN {
        let reason = DecodeReason::KeyLength { what, expected: X25519_LEN, got: key.len() };
        return Err(DecodeError::new("HPKE (X25519)", reason));
    }
    Ok(key)
}

/// EncryptWithLabel(PublicKey, Label, Context, Plaintext), RFC 9420 §5.1.3:
/// HPKE SealBase with `info` = EncryptContext and empty `aad`. Returns the
/// HPKECiphertext bytes.
pub fn encrypt_with_label(public_key: &[u8], label: &str, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HpkeError> {
    let public_key = x25519_key("public key", public_key)?;
    let sealed = RustCrypto::default()
        .hpke_seal(
            CIPHERSUITE.hpke_config(),
            public_key,
            &encrypt_context(label, context),
            b"",
            plaintext,
        )
        .map_err(|e| match e {
            CryptoError::InvalidLength => DecodeError::rule("HPKE (X25519)", "public key is not a valid X25519 key").into(),
            e => HpkeError::Seal(e),
        })?;
    Ok(HpkeCiphertext {
        kem_output: sealed.kem_output.as_slice().to_vec(),
        ciphertext: sealed.ciphertext.as_slice().to_vec(),
    }
    .encode()?)
}

/// DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext), RFC
/// 9420 §5.1.3, of HPKECiphertext bytes: HPKE OpenBase with `info` =
/// EncryptContext and empty `aad`.
pub fn decrypt_with_label(private_key: &[u8], label: &str, context: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, HpkeError> {
    let private_key = x25519_key("private key", private_key)?;
    let parsed = HpkeCiphertext::decode(ciphertext)?;
    if parsed.kem_output.len() != X25519_LEN {
        let reason = DecodeReason::Length { expected: X25519_LEN, got: parsed.kem_output.len() };
        return Err(DecodeError::new("HPKECiphertext.kem_output", reason).into());
    }
    if parsed.ciphertext.len() < AEAD_TAG_LEN {
        return Err(DecodeError::rule(
            "HPKECiphertext.ciphertext",
            format!("shorter than the {AEAD_TAG_LEN}-byte AES-128-GCM tag ({} bytes)", parsed.ciphertext.len()),
        )
        .into());
    }
    let input = OpenMlsHpkeCiphertext {
        kem_output: parsed.kem_output.into(),
        ciphertext: parsed.ciphertext.into(),
    };
    RustCrypto::default()
        .hpke_open(
            CIPHERSUITE.hpke_config(),
            &input,
            private_key,
            &encrypt_context(label, context),
            b"",
        )
        .map_err(|_| HpkeError::Open { label: label.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binds_label_and_context() {
        let pair = HpkeKeyPair::generate().unwrap();
        assert_eq!((pair.public().len(), pair.private().len()), (32, 32));
        let sealed = encrypt_with_label(&pair.public(), "L", b"room", b"plaintext").unwrap();
        // kem_output<V> (1 + 32), ciphertext<V> (1 + 9 + 16-byte tag).
        assert_eq!(sealed.len(), 33 + 26);
        assert_eq!(
            decrypt_with_label(&pair.private(), "L", b"room", &sealed).unwrap(),
            b"plaintext"
        );
        for (label, context) in [("M", b"room".as_slice()), ("L", b"other".as_slice())] {
            let e = decrypt_with_label(&pair.private(), label, context, &sealed).unwrap_err();
            assert!(matches!(e, HpkeError::Open { .. }), "{e}");
        }
        let empty = encrypt_with_label(&pair.public(), "L", b"", b"").unwrap();
        assert_eq!(decrypt_with_label(&pair.private(), "L", b"", &empty).unwrap(), b"");
    }

    #[test]
    fn wrong_key_or_altered_bytes_do_not_decrypt() {
        let (a, b) = (HpkeKeyPair::generate().unwrap(), HpkeKeyPair::generate().unwrap());
        let sealed = encrypt_with_label(&a.public(), "L", b"c", b"secret").unwrap();
        let e = decrypt_with_label(&b.private(), "L", b"c", &sealed).unwrap_err();
        assert!(
            matches!(&e, HpkeError::Open { label } if label == "L") && e.to_string().contains("decryption failed"),
            "{e}"
        );
        for at in [1, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[at] ^= 1;
            let e = decrypt_with_label(&a.private(), "L", b"c", &altered).unwrap_err();
            assert!(matches!(e, HpkeError::Open { .. }), "byte {at}: {e}");
        }
    }

    #[test]
    fn malformed_input_is_a_decode_error() {
        let pair = HpkeKeyPair::generate().unwrap();
        let sealed = encrypt_with_label(&pair.public(), "L", b"c", b"secret").unwrap();
        for cut in [0, 1, 20, 33, sealed.len() - 1] {
            let e = decrypt_with_label(&pair.private(), "L", b"c", &sealed[..cut]).unwrap_err();
            assert!(matches!(e, HpkeError::Malformed(_)), "cut {cut}: {e}");
        }
        let mut trailing = sealed.clone();
        trailing.push(0);
        let e = decrypt_with_label(&pair.private(), "L", b"c", &trailing).unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");
        let e = decrypt_with_label(&pair.private()[..31], "L", b"c", &sealed).unwrap_err();
        assert!(matches!(&e, HpkeError::Malformed(_)) && e.to_string().contains("private key"), "{e}");
        let e = encrypt_with_label(&[7; 33], "L", b"c", b"x").unwrap_err();
        assert!(matches!(&e, HpkeError::Malformed(_)) && e.to_string().contains("public key"), "{e}");
        // A 31-byte kem_output; a ciphertext without a whole tag.
        let short_kem = [&[31][..], &[0; 31], &[16], &[0; 16]].concat();
        let e = decrypt_with_label(&pair.private(), "L", b"c", &short_kem).unwrap_err();
        assert!(
            matches!(&e, HpkeError::Malformed(d) if d.at == "HPKECiphertext.kem_output"),
            "{e}"
        );
        let short_tag = [&[32][..], &[0; 32], &[2, 0, 0]].concat();
        let e = decrypt_with_label(&pair.private(), "L", b"c", &short_tag).unwrap_err();
        assert!(
            matches!(&e, HpkeError::Malformed(d) if d.at == "HPKECiphertext.ciphertext"),
            "{e}"
        );
    }
}
