//! draft-ietf-mimi-protocol §Claim group key information.

use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::{Credential, ExternalSender as MlsExternalSender};
use tls_codec::Deserialize as _;

use super::{
    checked, decode_exact, encode_with, wire_enum, MlsMessageKind, RatchetTreeOption, Reader, Writer, PROTOCOL_MLS10,
};
use super::Result;
use crate::error::{DecodeError, VerifyError};
use crate::hpke::HpkeCiphertext;
use crate::signing::{verify_with_label, SignatureKeyPair};

/// The SignWithLabel label of GroupInfoRequestTBS.
pub const GROUP_INFO_REQUEST_LABEL: &str = "GroupInfoRequestTBS";
/// The SignWithLabel label of GroupInfoResponseTBS.
pub const GROUP_INFO_RESPONSE_LABEL: &str = "GroupInfoResponseTBS";
/// The EncryptWithLabel label of GroupInfoRatchetTreeTBE (context: the room ID).
pub const GROUP_INFO_ENCRYPTION_LABEL: &str = "GroupInfo and ratchet_tree encryption";
/// RFC 9420 §5.3: `CredentialType basic(1)`.
const CREDENTIAL_BASIC: u16 = 1;

/// `GroupInfoRequest`, §Claim group key information (protocol mls10).
///
/// reading: GroupInfoRequestTBS has `optional opaque joiningCode<V>`, the
/// request a plain `opaque joiningCode<V>`. We use `optional<opaque<V>>` in
/// both, so the request is its TBS followed by the signature, as in every
/// other signed MIMI struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfoRequest {
    /// `CipherSuite cipher_suite`.
    pub cipher_suite: u16,
    /// `SignaturePublicKey requestingSignatureKey` (the key bytes).
    pub requesting_signature_key: Vec<u8>,
    /// `Credential requestingCredential` (RFC 9420 §5.3 bytes).
    pub requesting_credential: Vec<u8>,
    /// `HPKEPublicKey groupInfoPublicKey` (the key bytes).
    pub group_info_public_key: Vec<u8>,
    /// `optional<opaque joiningCode<V>>`.
    pub joining_code: Option<Vec<u8>>,
    /// `opaque signature<V>`.
    pub signature: Vec<u8>,
}

impl GroupInfoRequest {
    /// A checked request (`signature` may be empty until `signed`).
    pub fn new(
        cipher_suite: u16,
        requesting_signature_key: Vec<u8>,
        requesting_credential: Vec<u8>,
        group_info_public_key: Vec<u8>,
        joining_code: Option<Vec<u8>>,
        signature: Vec<u8>,
    ) -> Result<Self> {
        let v = Self {
            cipher_suite,
            requesting_signature_key,
            requesting_credential,
            group_info_public_key,
            joining_code,
            signature,
        };
        checked(&v, Self::encode, Self::decode)
    }

    /// Strict decode.
    pub fn decode(data: &[u8]) -> Result<Self> {
        decode_exact("GroupInfoRequest", data, |r| {
            r.protocol("protocol")?;
            let cipher_suite = r.u16("cipher_suite")?;
            let requesting_signature_key = r.opaque("requestingSignatureKey")?.to_vec();
            let requesting_credential = r.mls::<Credential>("requestingCredential", "Credential")?.to_vec();
            let group_info_public_key = r.opaque("groupInfoPublicKey")?.to_vec();
            let joining_code = r.optional("joiningCode", |r| Ok(r.opaque("joiningCode")?.to_vec()))?;
            let signature = r.opaque("signature")?.to_vec();
            Ok(Self {
                cipher_suite,
                requesting_signature_key,
                requesting_credential,
                group_info_public_key,
                joining_code,
                signature,
            })
        })
    }

    /// The TLS encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| {
            self.write_tbs(w);
            w.opaque(&self.signature);
        })
    }

    /// The GroupInfoRequestTBS bytes.
    pub fn tbs(&self) -> Result<Vec<u8>> {
        encode_with(|w| self.write_tbs(w))
    }

    /// The request signed by `key` (SignWithLabel "GroupInfoRequestTBS").
    pub fn signed(&self, key: &SignatureKeyPair) -> Result<Self> {
        Ok(Self {
            signature: key.sign_with_label(GROUP_INFO_REQUEST_LABEL, &self.tbs()?),
            ..self.clone()
        })
    }

    /// VerifyWithLabel under `requesting_signature_key` (binding the key to
    /// the credential is the caller's check).
    pub fn verify(&self) -> Result<(), VerifyError> {
        verify_with_label(&self.requesting_signature_key, GROUP_INFO_REQUEST_LABEL, &self.tbs()?, &self.signature)
    }

    fn write_tbs(&self, w: &mut Writer) {
        w.u8(PROTOCOL_MLS10);
        w.u16(self.cipher_suite);
        w.opaque(&self.requesting_signature_key);
        w.raw(&self.requesting_credential);
        w.opaque(&self.group_info_public_key);
        w.optional(self.joining_code.as_ref(), |w, c| w.opaque(c));
    }
}

wire_enum! {
    /// `GroupInfoCode`, §Claim group key information.
    GroupInfoCode {
        Success = 1 => "success",
        NotAuthorized = 2 => "notAuthorized",
        NoSuchRoom = 3 => "noSuchRoom",
    }
}

/// `GroupInfoResponse`, §Claim group key information.
///
/// reading: `Protocol version` is the protocol the selects name; `opaque
/// room_id<V>` is the room URI (UTF-8); `HPKECiphertext` is RFC 9420's
/// `struct { opaque kem_output<V>; opaque ciphertext<V>; }`, kept as its bytes.
/// A non-success carries `struct{}` after the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfoResponse {
    /// `opaque room_id<V>`.
    pub room_id: String,
    /// `GroupInfoCode status`.
    pub status: GroupInfoCode,
    /// `CipherSuite cipher_suite` (success).
    pub cipher_suite: Option<u16>,
    /// `ExternalSender hub_sender` (success; RFC 9420 §12.1.8.1 bytes).
    pub hub_sender: Option<Vec<u8>>,
    /// `HPKECiphertext encrypted_groupinfo_and_tree` (success; bytes).
    pub encrypted_groupinfo_and_tree: Option<Vec<u8>>,
    /// `opaque signature<V>` (success).
    pub signature: Option<Vec<u8>>,
}

impl GroupInfoResponse {
    /// A checked response: success takes all four fields (signature may be
    /// empty until `signed`), other codes none.
    pub fn new(
        room_id: String,
        status: GroupInfoCode,
        cipher_suite: Option<u16>,
        hub_sender: Option<Vec<u8>>,
        encrypted_groupinfo_and_tree: Option<Vec<u8>>,
        signature: Option<Vec<u8>>,
    ) -> Result<Self> {
        let v = Self {
            room_id,
            status,
            cipher_suite,
            hub_sender,
            encrypted_groupinfo_and_tree,
            signature,
        };
        checked(&v, Self::encode, Self::decode)
    }

    /// Strict decode.
    pub fn decode(data: &[u8]) -> Result<Self> {
        decode_exact("GroupInfoResponse", data, |r| {
            r.protocol("version")?;
            let room_id = r.string("room_id")?;
            let status = r.code::<GroupInfoCode>("status")?;
            let mut v = Self {
                room_id,
                status,
                cipher_suite: None,
                hub_sender: None,
                encrypted_groupinfo_and_tree: None,
                signature: None,
            };
            if status == GroupInfoCode::Success {
                v.cipher_suite = Some(r.u16("cipher_suite")?);
                v.hub_sender = Some(r.mls::<MlsExternalSender>("hub_sender", "ExternalSender")?.to_vec());
                v.encrypted_groupinfo_and_tree = Some(read_hpke_ciphertext(r)?);
                v.signature = Some(r.opaque("signature")?.to_vec());
            }
            Ok(v)
        })
    }

    /// The TLS encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| {
            let parts = [
                self.cipher_suite.is_some(),
                self.hub_sender.is_some(),
                self.encrypted_groupinfo_and_tree.is_some(),
                self.signature.is_some(),
            ];
            let ok = if self.status == GroupInfoCode::Success {
                parts.iter().all(|p| *p)
            } else {
                parts.iter().all(|p| !*p)
            };
            if !ok {
                w.fail("GroupInfoResponse", format!(
                    "status {} takes {}",
                    self.status.as_str(),
                    if self.status == GroupInfoCode::Success {
                        "cipher_suite, hub_sender, encrypted_groupinfo_and_tree and signature"
                    } else {
                        "no field"
                    }
                ));
                return;
            }
            self.write_tbs(w);
            if let Some(sig) = &self.signature {
                w.opaque(sig);
            }
        })
    }

    /// The GroupInfoResponseTBS bytes (success only).
    pub fn tbs(&self) -> Result<Vec<u8>> {
        if self.status != GroupInfoCode::Success {
            return Err(DecodeError::rule(
                "GroupInfoResponse",
                format!("status {} is not signed", self.status.as_str()),
            ));
        }
        encode_with(|w| self.write_tbs(w))
    }

    /// The response signed by the hub's `key` (SignWithLabel "GroupInfoResponseTBS").
    pub fn signed(&self, key: &SignatureKeyPair) -> Result<Self> {
        Ok(Self {
            signature: Some(key.sign_with_label(GROUP_INFO_RESPONSE_LABEL, &self.tbs()?)),
            ..self.clone()
        })
    }

    /// VerifyWithLabel under `hub_sender.signature_key`. That `hub_sender` is
    /// the room's external sender is the caller's check.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let sender = self.hub_sender.as_deref().unwrap_or_default();
        let key = hub_signature_key(sender)?;
        verify_with_label(
            &key,
            GROUP_INFO_RESPONSE_LABEL,
            &self.tbs()?,
            self.signature.as_deref().unwrap_or_default(),
        )
    }

    fn write_tbs(&self, w: &mut Writer) {
        w.u8(PROTOCOL_MLS10);
        w.opaque(self.room_id.as_bytes());
        w.u8(self.status as u8);
        if let (Some(cs), Some(sender), Some(ct)) = (self.cipher_suite, &self.hub_sender, &self.encrypted_groupinfo_and_tree) {
            w.u16(cs);
            w.raw(sender);
            w.raw(ct);
        }
    }
}

/// RFC 9420 §5.1.3 `HPKECiphertext`: two `opaque<V>`; returns its exact bytes.
fn read_hpke_ciphertext(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    r.within("encrypted_groupinfo_and_tree", |r| HpkeCiphertext::read(r)?.encode())
}

/// The `signature_key` opening an ExternalSender (RFC 9420 §12.1.8.1).
fn hub_signature_key(sender: &[u8]) -> Result<Vec<u8>> {
    let mut r = Reader::new("GroupInfoResponse.hub_sender", sender);
    Ok(r.opaque("signature_key")?.to_vec())
}

// ---------------------------------------------------------------- credentials

/// RFC 9420 §5.3 `Credential` of type basic(1) naming `identity` (a MIMI URI,
/// UTF-8): the credential of a client (its client URI) and of a hub (its
/// provider URI).
pub fn basic_credential(identity: &str) -> Result<Vec<u8>> {
    encode_with(|w| write_basic_credential(w, identity))
}

fn write_basic_credential(w: &mut Writer, identity: &str) {
    w.u16(CREDENTIAL_BASIC);
    w.opaque(identity.as_bytes());
}

/// The identity a basic Credential names; any other credential type, or an
/// identity that is not UTF-8, is a `Decode` error.
pub fn basic_credential_identity(credential: &[u8]) -> Result<String> {
    decode_exact("Credential", credential, read_basic_credential)
}

fn read_basic_credential(r: &mut Reader<'_>) -> Result<String> {
    match r.u16("credential_type")? {
        CREDENTIAL_BASIC => r.string("identity"),
        t => Err(r.err("credential_type", format!("only basic(1) names an identity, got {t}"))),
    }
}

/// RFC 9420 §12.1.8.1 `ExternalSender`, with the basic credential MIMI gives a
/// hub: `struct { SignaturePublicKey signature_key; Credential credential; }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSender {
    /// `SignaturePublicKey signature_key` (the key bytes).
    pub signature_key: Vec<u8>,
    /// The identity of the basic `credential` (the hub's provider URI).
    pub identity: String,
}

impl ExternalSender {
    /// A checked ExternalSender.
    pub fn new(signature_key: Vec<u8>, identity: String) -> Result<Self> {
        let v = Self { signature_key, identity };
        checked(&v, Self::encode, Self::decode)
    }

    /// Strict decode (the credential must be basic).
    pub fn decode(data: &[u8]) -> Result<Self> {
        decode_exact("ExternalSender", data, Self::read)
    }

    /// The TLS encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| self.write(w))
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let signature_key = r.opaque("signature_key")?.to_vec();
        let credential = r.mls::<Credential>("credential", "Credential")?;
        let identity = basic_credential_identity(credential).map_err(|e| r.err("credential", e))?;
        Ok(Self { signature_key, identity })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.opaque(&self.signature_key);
        write_basic_credential(w, &self.identity);
    }
}

// ---------------------------------------------------------------- GroupInfoRatchetTreeTBE

/// `PendingProposal`, §Claim group key information: a proposal the hub
/// accepted during the current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingProposal {
    /// `MLSMessage proposal` (exact bytes; content_type proposal).
    pub proposal: Vec<u8>,
    /// `uint64 hub_accepted_time` (milliseconds since the UNIX epoch).
    pub hub_accepted_time: u64,
}

impl PendingProposal {
    /// A checked PendingProposal: `proposal` must be a proposal MLSMessage.
    pub fn new(proposal: Vec<u8>, hub_accepted_time: u64) -> Result<Self> {
        let v = Self {
            proposal,
            hub_accepted_time,
        };
        checked(&v, Self::encode, Self::decode)
    }

    /// Strict decode.
    pub fn decode(data: &[u8]) -> Result<Self> {
        decode_exact("PendingProposal", data, Self::read)
    }

    /// The TLS encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| self.write(w))
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let (proposal, kind) = r.mls_message("proposal")?;
        if kind != MlsMessageKind::Proposal {
            return Err(r.err("proposal", format!("must be a proposal, got a {}", kind.as_str())));
        }
        Ok(Self {
            proposal,
            hub_accepted_time: r.u64("hub_accepted_time")?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.raw(&self.proposal);
        w.u64(self.hub_accepted_time);
    }
}

/// `GroupInfoRatchetTreeTBE`, §Claim group key information: what the hub
/// encrypts to the requester's `groupInfoPublicKey`.
///
/// reading: `GroupInfo groupInfo` is the bare RFC 9420 §12.4.3 struct (as in
/// GroupInfoOption), and "without embedded ratchet_tree" is enforced: a
/// ratchet_tree extension (0x0002) is a decode error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfoRatchetTreeTBE {
    /// `GroupInfo groupInfo` (bare, no ratchet_tree extension).
    pub group_info: Vec<u8>,
    /// `RatchetTreeOption ratchetTreeOption`.
    pub ratchet_tree_option: RatchetTreeOption,
    /// `PendingProposal pending_proposals<V>`.
    pub pending_proposals: Vec<PendingProposal>,
}

impl GroupInfoRatchetTreeTBE {
    /// A checked value.
    pub fn new(
        group_info: Vec<u8>,
        ratchet_tree_option: RatchetTreeOption,
        pending_proposals: Vec<PendingProposal>,
    ) -> Result<Self> {
        let v = Self {
            group_info,
            ratchet_tree_option,
            pending_proposals,
        };
        checked(&v, Self::encode, Self::decode)
    }

    /// Strict decode.
    pub fn decode(data: &[u8]) -> Result<Self> {
        decode_exact("GroupInfoRatchetTreeTBE", data, Self::read)
    }

    /// The TLS encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| {
            w.raw(&self.group_info);
            self.ratchet_tree_option.write(w);
            w.vector(|w| self.pending_proposals.iter().for_each(|p| p.write(w)));
        })
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let group_info = r.mls::<VerifiableGroupInfo>("groupInfo", "GroupInfo")?;
        // draft-ietf-mimi-protocol §Claim group key information: "without
        // embedded ratchet_tree"; the tree travels in ratchetTreeOption.
        let parsed =
            VerifiableGroupInfo::tls_deserialize_exact(group_info).map_err(|e| r.err("groupInfo", format!("{e:?}")))?;
        if parsed.extensions().ratchet_tree().is_some() {
            return Err(r.err("groupInfo", "must not embed a ratchet_tree extension (0x0002)"));
        }
        let group_info = group_info.to_vec();
        let ratchet_tree_option = r.within("ratchetTreeOption", RatchetTreeOption::read)?;
        let pending_proposals = r.vector("pending_proposals", |r| {
            r.within("pending_proposals", PendingProposal::read)
        })?;
        Ok(Self {
            group_info,
            ratchet_tree_option,
            pending_proposals,
        })
    }
}
