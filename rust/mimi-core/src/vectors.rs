//! MLS interop test vectors (welcome, passive-client-*): a client built from a
//! vector's private keys instead of keys it generated.
//!
//! openmls has no public constructor for a `KeyPackageBundle` (its `new` is
//! test-only); the bundle implements serde `Deserialize`, so it is assembled
//! from its serde form with openmls' own field names. That relies on the
//! internals of openmls =0.9.2 (pinned in Cargo.toml); the tests below fail
//! if that shape changes. For test vectors only: the keys of a real client
//! never leave it.

use openmls::prelude::*;
use openmls::schedule::PreSharedKeyId;
use openmls_traits::storage::StorageProvider as _;
use openmls_traits::types::HpkePrivateKey;
use serde_json::json;
use tls_codec::{Deserialize as _, Serialize as _, VLBytes};

use crate::client::decode_tree;
use crate::codec;
use crate::error::{CodecError, DecodeError, InternalError, StateError, VectorError};
use crate::provider::Provider;
use crate::signing::SignatureKeyPair;
use crate::summary::CIPHERSUITE;
use crate::{Client, Group};

/// A vector's KeyPackage (an MLSMessage) and the private keys behind it.
#[derive(Debug, Clone, Copy)]
pub struct InjectedKeys<'a> {
    /// MLSMessage(KeyPackage).
    pub key_package: &'a [u8],
    /// HPKE private key of the KeyPackage's init_key.
    pub init_priv: &'a [u8],
    /// HPKE private key of the leaf's encryption_key.
    pub encryption_priv: &'a [u8],
    /// Ed25519 private key of the leaf's signature_key.
    pub signature_priv: &'a [u8],
}

/// What a Welcome says once decrypted and its GroupInfo signature verified.
#[derive(Debug, Clone)]
pub struct DecryptedWelcome {
    /// The GroupContext of the GroupInfo (TLS-serialized).
    pub group_context: Vec<u8>,
    /// The group ID.
    pub group_id: Vec<u8>,
    /// The epoch the Welcome joins.
    pub epoch: u64,
}

/// The join configuration of a passive client: it follows commits of any
/// implementation, so it accepts PublicMessage and PrivateMessage handshakes
/// and keeps resumption PSKs that later commits may reference.
fn passive_join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .number_of_resumption_psks(16)
        .build()
}

fn key_package(bytes: &[u8], crypto: &impl OpenMlsCrypto) -> Result<KeyPackage, VectorError> {
    let MlsMessageBodyIn::KeyPackage(key_package) = codec::decode::<MlsMessageIn>("KeyPackage MLSMessage", bytes)?.extract()
    else {
        return Err(DecodeError::rule("MLSMessage", "not a KeyPackage").into());
    };
    let key_package = match key_package.clone().validate(crypto, ProtocolVersion::Mls10) {
        Ok(key_package) => key_package,
        // The vectors' KeyPackages have expired. `validate` checks the lifetime
        // against the wall clock last, after both signatures, the version, the
        // key separation and the extensions (openmls 0.9.2
        // key_package_in.rs:194-200); with those passed, take the package as is,
        // as `skip_lifetime_validation` does for the tree's leaves. openmls
        // offers no public conversion without that check (`into_unchecked`
        // needs feature `unchecked-conversions`), so go through serde.
        Err(KeyPackageVerifyError::LifetimeError(_)) => unexpired(&key_package, bytes)?,
        Err(e) => return Err(CodecError::from(e).into()),
    };
    if key_package.ciphersuite() != CIPHERSUITE {
        return Err(VectorError::Ciphersuite(key_package.ciphersuite()));
    }
    Ok(key_package)
}

/// The `KeyPackage` of a verified `KeyPackageIn` (same serde form), checked
/// to encode to the bytes it came from.
fn unexpired(key_package: &KeyPackageIn, message: &[u8]) -> Result<KeyPackage, InternalError> {
    let value = serde_json::to_value(key_package).map_err(|e| InternalError::new("KeyPackage serde form", e))?;
    let key_package: KeyPackage = serde_json::from_value(value)
        .map_err(|e| InternalError::new("KeyPackage serde form changed in openmls", e))?;
    let encoded = key_package
        .tls_serialize_detached()
        .map_err(|e| InternalError::new("serialize KeyPackage", e))?;
    // MLSMessage = version(2) wire_format(2) KeyPackage
    if message.get(4..) != Some(encoded.as_slice()) {
        return Err(InternalError::new("KeyPackage", "changed in the serde conversion"));
    }
    Ok(key_package)
}

/// Checks an HPKE private key against its public key: what is sealed to the
/// public key opens with the private key.
fn check_hpke_pair(
    crypto: &impl OpenMlsCrypto,
    public: &[u8],
    private: &[u8],
    key: (&'static str, &'static str),
) -> Result<(), VectorError> {
    let (private_name, public_name) = key;
    let sealed = crypto
        .hpke_seal(CIPHERSUITE.hpke_config(), public, b"mimi key check", b"", b"probe")
        .map_err(VectorError::refused(public_name))?;
    match crypto.hpke_open(CIPHERSUITE.hpke_config(), &sealed, private, b"mimi key check", b"") {
        Ok(opened) if opened == b"probe" => Ok(()),
        _ => Err(VectorError::KeyMismatch { private: private_name, public: public_name }),
    }
}

/// The serde form of openmls' `KeyPackageBundle` (0.9.2, src/key_packages/mod.rs):
/// `{ key_package, private_init_key: HpkePrivateKey, private_encryption_key:
/// EncryptionPrivateKey { key: HpkePrivateKey } }`.
fn bundle_json(key_package: &KeyPackage, init_priv: &[u8], encryption_priv: &[u8]) -> Result<serde_json::Value, InternalError> {
    let to_value = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| InternalError::new("KeyPackageBundle serde form", e));
    Ok(json!({
        "key_package": to_value(serde_json::to_value(key_package))?,
        "private_init_key": to_value(serde_json::to_value(HpkePrivateKey::from(init_priv)))?,
        "private_encryption_key": {
            "key": to_value(serde_json::to_value(HpkePrivateKey::from(encryption_priv)))?,
        },
    }))
}

fn key_package_bundle(value: serde_json::Value) -> Result<KeyPackageBundle, InternalError> {
    serde_json::from_value(value).map_err(|e| InternalError::new("KeyPackageBundle serde form changed in openmls", e))
}

/// Writes the bundle where a Welcome naming its KeyPackage finds it.
fn store_bundle(provider: &Provider, key_package: &KeyPackage, bundle: &KeyPackageBundle) -> Result<(), VectorError> {
    let hash_ref = key_package.hash_ref(provider.crypto()).map_err(InternalError::from)?;
    provider
        .storage()
        .write_key_package(&hash_ref, bundle)
        .map_err(|source| StateError::Store { operation: "write KeyPackage", source }.into())
}

/// Checks the keys against the KeyPackage (RFC 9420 interop "Passive Client
/// Scenarios": the private keys correspond to signature_key, encryption_key and
/// init_key) and writes the bundle into `provider`'s store, where a Welcome
/// naming the KeyPackage finds it.
fn inject(provider: &Provider, keys: &InjectedKeys<'_>) -> Result<SignatureKeyPair, VectorError> {
    let crypto = provider.crypto();
    let key_package = key_package(keys.key_package, crypto)?;
    let signer = SignatureKeyPair::from_private(keys.signature_priv)?;
    if signer.public() != key_package.leaf_node().signature_key().as_slice() {
        return Err(VectorError::KeyMismatch { private: "signature_priv", public: "signature_key" });
    }
    check_hpke_pair(crypto, key_package.hpke_init_key().key().as_slice(), keys.init_priv, INIT_KEY)?;
    // openmls keeps EncryptionKey's bytes crate-private; its TLS form is HPKEPublicKey.
    let encryption_key = key_package
        .leaf_node()
        .encryption_key()
        .tls_serialize_detached()
        .map_err(|e| InternalError::new("serialize encryption_key", e))?;
    let encryption_key =
        VLBytes::tls_deserialize_exact(&encryption_key).map_err(|e| InternalError::new("encryption_key", e))?;
    check_hpke_pair(crypto, encryption_key.as_slice(), keys.encryption_priv, ("encryption_priv", "encryption_key"))?;
    let bundle = key_package_bundle(bundle_json(&key_package, keys.init_priv, keys.encryption_priv)?)?;
    store_bundle(provider, &key_package, &bundle)?;
    Ok(signer)
}

/// The vector's init key and the KeyPackage's.
const INIT_KEY: (&str, &str) = ("init_priv", "init_key");

/// Decrypts a Welcome with the injected init key and verifies its GroupInfo's
/// signature with `signer_pub` (interop vector "Welcome").
///
/// The vector's other check, recomputing the GroupInfo's confirmation_tag from
/// the joiner_secret, is not reachable: openmls keeps the joiner_secret private
/// and checks the tag only when staging the join, which needs the ratchet tree
/// this vector does not carry.
pub fn decrypt_welcome(
    key_package: &[u8],
    init_priv: &[u8],
    welcome_bytes: &[u8],
    signer_pub: &[u8],
) -> Result<DecryptedWelcome, VectorError> {
    let provider = Provider::default();
    let crypto = provider.crypto();
    let kp = self::key_package(key_package, crypto)?;
    check_hpke_pair(crypto, kp.hpke_init_key().key().as_slice(), init_priv, INIT_KEY)?;
    // Decrypting a Welcome uses the init key only; the vector has no leaf key.
    let bundle = key_package_bundle(bundle_json(&kp, init_priv, &[])?)?;
    store_bundle(&provider, &kp, &bundle)?;
    let processed = ProcessedWelcome::new_from_welcome(&provider, &passive_join_config(), codec::welcome(welcome_bytes)?)
        .map_err(VectorError::refused("Welcome"))?;
    let group_info = processed.unverified_group_info();
    let signer_key = OpenMlsSignaturePublicKey::new(signer_pub.to_vec().into(), CIPHERSUITE.signature_algorithm())
        .map_err(VectorError::refused("signer_pub"))?;
    // RFC 9420 §12.4.3.1: verify the GroupInfo signature.
    group_info
        .verify_no_out(crypto, &signer_key)
        .map_err(VectorError::GroupInfoSignature)?;
    let context = group_info.group_context();
    Ok(DecryptedWelcome {
        group_context: context
            .tls_serialize_detached()
            .map_err(|e| InternalError::new("serialize GroupContext", e))?,
        group_id: context.group_id().as_slice().to_vec(),
        epoch: context.epoch().as_u64(),
    })
}

/// Joins from a Welcome as the vector's passive client: injects its keys and
/// external PSKs (psk_id, psk), joins with `ratchet_tree` unless the Welcome
/// carries the tree, without checking leaf lifetimes (the vectors' KeyPackages
/// have expired). Returns the client and its group.
pub fn join_passive(
    keys: &InjectedKeys<'_>,
    external_psks: &[(Vec<u8>, Vec<u8>)],
    welcome_bytes: &[u8],
    ratchet_tree: Option<&[u8]>,
) -> Result<(Client, Group), VectorError> {
    let provider = Provider::default();
    let signer = inject(&provider, keys)?;
    for (psk_id, psk) in external_psks {
        // The nonce is not part of the stored key: an empty one names it.
        PreSharedKeyId::external(psk_id.clone(), Vec::new())
            .store(&provider, psk)
            .map_err(VectorError::refused("store PSK"))?;
    }
    let mut join = StagedWelcome::build_from_welcome(&provider, &passive_join_config(), codec::welcome(welcome_bytes)?)
        .map_err(VectorError::refused("Welcome"))?
        .skip_lifetime_validation();
    if let Some(tree) = ratchet_tree {
        join = join.with_ratchet_tree(decode_tree(tree)?);
    }
    let group = join
        .build()
        .map_err(VectorError::refused("Welcome"))?
        .into_group(&provider)
        .map_err(VectorError::refused("Welcome"))?;
    // A client over this store: the same bytes `Client::export_state` writes.
    let state = ClientState {
        client_uri: b"passive-client".to_vec().into(),
        private_key: signer.private().into(),
        store: provider.export_storage()?.into(),
    }
    .tls_serialize_detached()
    .map_err(|e| InternalError::new("client state", e))?;
    let client = Client::import_state(&state)?;
    let group = client.load_group(group.group_id().as_slice())?;
    Ok((client, group))
}

/// The layout of `Client::export_state` (client.rs), which is the only public
/// way to give a `Client` a store of our making.
#[derive(tls_codec::TlsSerialize, tls_codec::TlsSize)]
struct ClientState {
    client_uri: VLBytes,
    private_key: VLBytes,
    store: VLBytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_case(file: &str) -> serde_json::Value {
        // As tests/conftest.py: `../shared` beside the checkout, or MIMI_SHARED.
        let shared = std::env::var_os("MIMI_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
        let path = shared.join("vectors/mls").join(file);
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("JSON");
        cases.into_iter().find(|c| c["cipher_suite"] == 1).expect("a ciphersuite 1 case")
    }

    fn hex_field(case: &serde_json::Value, name: &str) -> Vec<u8> {
        hex::decode(case[name].as_str().expect("hex string")).expect("hex")
    }

    /// The pinned serde shape of `KeyPackageBundle`: what we assemble is what
    /// openmls itself serializes, field for field.
    #[test]
    fn key_package_bundle_serde_shape_is_pinned() {
        let case = first_case("passive-client-welcome.json");
        let provider = Provider::default();
        let kp = key_package(&hex_field(&case, "key_package"), provider.crypto()).unwrap();
        let init_priv = hex_field(&case, "init_priv");
        let value = bundle_json(&kp, &init_priv, &hex_field(&case, "encryption_priv")).unwrap();
        let bundle = key_package_bundle(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&bundle).unwrap(), value);
        assert_eq!(bundle.init_private_key().as_ref(), init_priv.as_slice());
        assert_eq!(bundle.key_package(), &kp);
    }

    #[test]
    fn passive_client_joins_first_welcome_case() {
        let case = first_case("passive-client-welcome.json");
        let (kp, init, enc, sig) = (
            hex_field(&case, "key_package"),
            hex_field(&case, "init_priv"),
            hex_field(&case, "encryption_priv"),
            hex_field(&case, "signature_priv"),
        );
        let keys = InjectedKeys { key_package: &kp, init_priv: &init, encryption_priv: &enc, signature_priv: &sig };
        let tree = case["ratchet_tree"].as_str().map(|t| hex::decode(t).unwrap());
        let (_client, group) = join_passive(&keys, &[], &hex_field(&case, "welcome"), tree.as_deref()).unwrap();
        assert_eq!(group.epoch_authenticator(), hex_field(&case, "initial_epoch_authenticator"));
    }

    /// Our copy of the `Client::export_state` layout stays in step with it.
    #[test]
    fn client_state_layout_matches_export_state() {
        let key = SignatureKeyPair::generate();
        let client = Client::new("mimi://example.com/u/alice/d1", key.clone());
        let store = Provider::default().export_storage().unwrap();
        let ours = ClientState {
            client_uri: client.client_uri().as_bytes().to_vec().into(),
            private_key: key.private().into(),
            store: store.into(),
        }
        .tls_serialize_detached()
        .unwrap();
        assert_eq!(ours, client.export_state().unwrap());
    }
}
