//! draft-ietf-mimi-protocol §Claim group key information.

use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::{Credential, ExternalSender as MlsExternalSender};
use tls_codec::Deserialize as _;

use super::{
    basic_credential_identity, mls_basic_credential, wire_enum, Fields, MlsMessageKind, RatchetTreeOption, Reader,
    SignedFields, Wire, Writer, PROTOCOL_MLS10,
};
use super::Result;
use crate::error::DecodeError;
use crate::hpke::HpkeCiphertext;

/// The EncryptWithLabel label of GroupInfoRatchetTreeTBE (context: the room ID).
pub const GROUP_INFO_ENCRYPTION_LABEL: &str = "GroupInfo and ratchet_tree encryption";

/// `GroupInfoRequest`, §Claim group key information (protocol mls10).
///
/// reading: GroupInfoRequestTBS has `optional opaque joiningCode<V>`, the
/// request a plain `opaque joiningCode<V>`. We use `optional<opaque<V>>` in
/// both, so the request is its TBS followed by the signature, as in every
/// other signed MIMI struct.
///
/// Signed (`Signed`) by `requesting_signature_key`; binding that key to the
/// credential is the caller's check.
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
        Self {
            cipher_suite,
            requesting_signature_key,
            requesting_credential,
            group_info_public_key,
            joining_code,
            signature,
        }
        .checked()
    }
}

impl Fields for GroupInfoRequest {
    const NAME: &'static str = "GroupInfoRequest";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
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
    }

    fn write(&self, w: &mut Writer) {
        self.write_tbs(w);
        w.opaque(&self.signature);
    }
}

impl SignedFields for GroupInfoRequest {
    const LABEL: &'static str = "GroupInfoRequestTBS";

    fn write_tbs(&self, w: &mut Writer) {
        w.u8(PROTOCOL_MLS10);
        w.u16(self.cipher_suite);
        w.opaque(&self.requesting_signature_key);
        w.raw(&self.requesting_credential);
        w.opaque(&self.group_info_public_key);
        w.optional(self.joining_code.as_ref(), |w, c| w.opaque(c));
    }

    fn signature(&self) -> Result<&[u8]> {
        Ok(&self.signature)
    }

    fn set_signature(&mut self, signature: Vec<u8>) {
        self.signature = signature;
    }

    fn signature_key(&self) -> Result<&[u8]> {
        Ok(&self.requesting_signature_key)
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
///
/// A success is signed (`Signed`) by `hub_sender.signature_key`; that
/// `hub_sender` is the room's external sender is the caller's check. Other
/// codes are not signed.
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
        Self {
            room_id,
            status,
            cipher_suite,
            hub_sender,
            encrypted_groupinfo_and_tree,
            signature,
        }
        .checked()
    }
}

impl Fields for GroupInfoResponse {
    const NAME: &'static str = "GroupInfoResponse";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
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
    }

    /// A non-success response is its TBS fields alone: `struct{}` follows the status.
    fn write(&self, w: &mut Writer) {
        self.write_tbs(w);
        if let Some(sig) = &self.signature {
            w.opaque(sig);
        }
    }
}

impl SignedFields for GroupInfoResponse {
    const LABEL: &'static str = "GroupInfoResponseTBS";

    fn write_tbs(&self, w: &mut Writer) {
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
        w.u8(PROTOCOL_MLS10);
        w.opaque(self.room_id.as_bytes());
        w.u8(self.status as u8);
        if let (Some(cs), Some(sender), Some(ct)) = (self.cipher_suite, &self.hub_sender, &self.encrypted_groupinfo_and_tree) {
            w.u16(cs);
            w.raw(sender);
            w.raw(ct);
        }
    }

    fn signature(&self) -> Result<&[u8]> {
        self.signature.as_deref().ok_or_else(|| {
            DecodeError::rule("GroupInfoResponse", format!("status {} is not signed", self.status.as_str()))
        })
    }

    fn set_signature(&mut self, signature: Vec<u8>) {
        self.signature = Some(signature);
    }

    fn signature_key(&self) -> Result<&[u8]> {
        let sender = self.hub_sender.as_deref().unwrap_or_default();
        Reader::new("GroupInfoResponse.hub_sender", sender).opaque("signature_key")
    }
}

/// RFC 9420 §5.1.3 `HPKECiphertext`: two `opaque<V>`; returns its exact bytes.
fn read_hpke_ciphertext(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    r.within("encrypted_groupinfo_and_tree", |r| HpkeCiphertext::read(r)?.encode())
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
        Self { signature_key, identity }.checked()
    }
}

impl Fields for ExternalSender {
    const NAME: &'static str = "ExternalSender";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let signature_key = r.opaque("signature_key")?.to_vec();
        let credential = r.mls::<Credential>("credential", "Credential")?;
        let identity = basic_credential_identity(credential).map_err(|e| r.err("credential", e))?;
        Ok(Self { signature_key, identity })
    }

    fn write(&self, w: &mut Writer) {
        w.opaque(&self.signature_key);
        w.mls("credential", &mls_basic_credential(&self.identity));
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
        Self {
            proposal,
            hub_accepted_time,
        }
        .checked()
    }
}

impl Fields for PendingProposal {
    const NAME: &'static str = "PendingProposal";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let (proposal, kind) = r.mls_message("proposal")?;
        if kind != MlsMessageKind::Proposal {
            return Err(r.err("proposal", format!("must be a proposal, got a {}", kind.as_str())));
        }
        Ok(Self {
            proposal,
            hub_accepted_time: r.u64("hub_accepted_time")?,
        })
    }

    fn write(&self, w: &mut Writer) {
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
        Self {
            group_info,
            ratchet_tree_option,
            pending_proposals,
        }
        .checked()
    }
}

impl Fields for GroupInfoRatchetTreeTBE {
    const NAME: &'static str = "GroupInfoRatchetTreeTBE";

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

    fn write(&self, w: &mut Writer) {
        w.raw(&self.group_info);
        self.ratchet_tree_option.write(w);
        w.vector(|w| self.pending_proposals.iter().for_each(|p| p.write(w)));
    }
}
