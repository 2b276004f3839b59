//! What a processed MLS message says, in plain data, for policy checks in
//! Python: who sent it, which clients it adds and removes, which app-data
//! components it updates, and the epoch it leads to.

use openmls::component::ComponentData;
use openmls::prelude::*;
use tls_codec::Serialize as _;

use crate::error::{AppDataError, DecodeError, InternalError, ProcessError};
use crate::store::StoreError;

/// The ciphersuite of every mimi group (RFC 9420 0x0001).
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// Kind of a processed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A PrivateMessage carrying application data.
    Application,
    /// A standalone proposal (from a member, the hub as external sender, or a new member).
    Proposal,
    /// A commit by another party.
    Commit,
    /// This client's own pending commit, fanned back by the hub.
    OwnCommit,
    /// This client's own PrivateMessage, fanned back (it cannot decrypt it).
    OwnMessage,
}

impl MessageKind {
    /// Stable name used across the boundary.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Application => "application",
            MessageKind::Proposal => "proposal",
            MessageKind::Commit => "commit",
            MessageKind::OwnCommit => "own_commit",
            MessageKind::OwnMessage => "own_message",
        }
    }
}

/// The sender of a message (RFC 9420 §6 Sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderInfo {
    /// "member", "external", "new_member_proposal" or "new_member_commit".
    pub kind: &'static str,
    /// Leaf index (member) or external-senders index (external).
    pub index: Option<u32>,
    /// The credential identity (the client URI) where known.
    pub identity: Option<String>,
}

/// A client an Add proposal brings in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedClient {
    /// Credential identity of the KeyPackage (the client URI).
    pub identity: String,
    /// KeyPackageRef (RFC 9420 §5.2): routes the Welcome to the providing server.
    pub key_package_ref: Vec<u8>,
    /// Signature public key of the new leaf.
    pub signature_key: Vec<u8>,
}

/// A leaf a Remove proposal takes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedClient {
    /// The removed leaf.
    pub leaf_index: u32,
    /// Its credential identity before removal.
    pub identity: String,
}

/// One AppDataUpdate proposal (draft-ietf-mls-extensions §4.7): the component
/// and its `update` bytes, or `None` for a remove operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDataChange {
    /// ComponentId (16 bits in openmls).
    pub component_id: u16,
    /// The update payload; `None` removes the component.
    pub update: Option<Vec<u8>>,
}

/// Everything a processed handshake or application message says.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// What kind of message it was.
    pub kind: Option<MessageKind>,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// Who sent it.
    pub sender: Option<SenderInfo>,
    /// authenticated_data of the framing.
    pub authenticated_data: Vec<u8>,
    /// Decrypted application data.
    pub plaintext: Option<Vec<u8>>,
    /// Clients added by Add proposals.
    pub added: Vec<AddedClient>,
    /// Leaves removed by Remove proposals.
    pub removed: Vec<RemovedClient>,
    /// AppDataUpdate proposals, in commit order.
    pub app_data: Vec<AppDataChange>,
    /// Leaves that sent Update proposals.
    pub updated: Vec<u32>,
    /// An external joiner (new_member_commit): identity and its new leaf.
    pub external_join: Option<(String, u32)>,
    /// Whether a GroupContextExtensions proposal is covered.
    pub group_context_extensions: bool,
    /// Whether the commit carries an UpdatePath.
    pub path: bool,
    /// Epoch after the commit.
    pub new_epoch: Option<u64>,
    /// Tree hash after the commit.
    pub new_tree_hash: Option<Vec<u8>>,
    /// The commit removes the processing client itself.
    pub self_removed: bool,
}

/// A group member (one client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Leaf index.
    pub leaf_index: u32,
    /// Credential identity (client URI).
    pub identity: String,
    /// Signature public key.
    pub signature_key: Vec<u8>,
}

/// The identity a credential names (BasicCredential identity, UTF-8 client URI).
pub fn identity_of(credential: &Credential) -> String {
    match BasicCredential::try_from(credential.clone()) {
        Ok(basic) => String::from_utf8_lossy(basic.identity()).into_owned(),
        Err(_) => String::from_utf8_lossy(credential.serialized_content()).into_owned(),
    }
}

pub(crate) fn members_of(members: impl Iterator<Item = Member>) -> Vec<MemberInfo> {
    members
        .map(|m| MemberInfo {
            leaf_index: m.index.u32(),
            identity: identity_of(&m.credential),
            signature_key: m.signature_key,
        })
        .collect()
}

pub(crate) fn sender_info(sender: &Sender, identity: Option<String>) -> SenderInfo {
    match sender {
        Sender::Member(i) => SenderInfo {
            kind: "member",
            index: Some(i.u32()),
            identity,
        },
        Sender::External(i) => SenderInfo {
            kind: "external",
            index: Some(external_index(i)),
            identity,
        },
        Sender::NewMemberProposal => SenderInfo {
            kind: "new_member_proposal",
            index: None,
            identity,
        },
        Sender::NewMemberCommit => SenderInfo {
            kind: "new_member_commit",
            index: None,
            identity,
        },
    }
}

fn external_index(i: &SenderExtensionIndex) -> u32 {
    // The index is a uint32 on the wire (RFC 9420 §6); openmls keeps its getter private.
    let bytes = i.tls_serialize_detached().unwrap_or_default();
    bytes.try_into().map(u32::from_be_bytes).unwrap_or(u32::MAX)
}

pub(crate) fn app_data_change(p: &AppDataUpdateProposal) -> AppDataChange {
    AppDataChange {
        component_id: p.component_id(),
        update: match p.operation() {
            AppDataUpdateOperation::Update(data) => Some(data.as_slice().to_vec()),
            AppDataUpdateOperation::Remove => None,
        },
    }
}

/// Fills the proposal lists of `summary` from one proposal.
/// `identity_at` names the client at a leaf before the change.
pub(crate) fn add_proposal_to_summary(
    summary: &mut Summary,
    proposal: &Proposal,
    sender: &Sender,
    crypto: &impl OpenMlsCrypto,
    identity_at: &dyn Fn(LeafNodeIndex) -> Option<String>,
) -> Result<(), InternalError> {
    match proposal {
        Proposal::Add(add) => {
            let kp = add.key_package();
            summary.added.push(AddedClient {
                identity: identity_of(kp.leaf_node().credential()),
                key_package_ref: kp.hash_ref(crypto)?.as_slice().to_vec(),
                signature_key: kp.leaf_node().signature_key().as_slice().to_vec(),
            });
        }
        Proposal::Remove(remove) => {
            let leaf = remove.removed();
            summary.removed.push(RemovedClient {
                leaf_index: leaf.u32(),
                identity: identity_at(leaf).unwrap_or_default(),
            });
        }
        Proposal::SelfRemove => {
            if let Sender::Member(leaf) = sender {
                summary.removed.push(RemovedClient {
                    leaf_index: leaf.u32(),
                    identity: identity_at(*leaf).unwrap_or_default(),
                });
            }
        }
        Proposal::Update(_) => {
            if let Sender::Member(leaf) = sender {
                summary.updated.push(leaf.u32());
            }
        }
        Proposal::AppDataUpdate(p) => summary.app_data.push(app_data_change(p)),
        Proposal::GroupContextExtensions(_) => summary.group_context_extensions = true,
        _ => {}
    }
    Ok(())
}

/// Resolver of AppDataUpdate proposals: given the component's current values
/// (`old`) and the covered proposals in order, returns the new value of every
/// touched component (`None` removes it). The component semantics live with the
/// caller (the room-policy code), shared by clients and hub. It refuses with
/// `AppDataError::Refused`.
pub type AppDataResolver<'a> = dyn FnMut(&[(u16, Vec<u8>)], &[AppDataChange]) -> Result<AppDataValues, AppDataError> + 'a;

/// What a resolver returns: the new value of each touched component (`None` removes it).
pub type AppDataValues = Vec<(u16, Option<Vec<u8>>)>;

/// The app_data_dictionary of a group context, as (component, data) pairs.
pub(crate) fn dictionary_of(context: &GroupContext) -> Vec<(u16, Vec<u8>)> {
    context
        .extensions()
        .app_data_dictionary()
        .map(|ext| {
            ext.dictionary()
                .entries()
                .map(|e| (e.id(), e.data().to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the resolver and turns its answer into openmls' AppDataUpdates.
pub(crate) fn resolve_app_data(
    old_dict: Option<&AppDataDictionary>,
    old: &[(u16, Vec<u8>)],
    proposals: &[AppDataChange],
    resolver: Option<&mut AppDataResolver<'_>>,
) -> Result<Option<AppDataUpdates>, AppDataError> {
    if proposals.is_empty() {
        return Ok(None);
    }
    let resolver = resolver.ok_or(AppDataError::NoResolver)?;
    let values = resolver(old, proposals)?;
    let mut updater = AppDataDictionaryUpdater::new(old_dict);
    for (id, value) in values {
        match value {
            Some(data) => updater.set(ComponentData::from_parts(id, data.into())),
            None => updater.remove(&id),
        }
    }
    Ok(updater.changes())
}

/// Decodes an MLSMessage and returns its protocol message (Public/PrivateMessage).
pub(crate) fn protocol_message(bytes: &[u8]) -> Result<ProtocolMessage, DecodeError> {
    crate::codec::decode::<MlsMessageIn>("MLSMessage", bytes)?
        .try_into_protocol_message()
        .map_err(|e| DecodeError::rule("MLSMessage", format!("not a PublicMessage or PrivateMessage: {e}")))
}

/// The epoch check every processing path does first (RFC 9420 §6.3.2 / ValSem002).
pub(crate) fn check_epoch(message: &ProtocolMessage, group_epoch: GroupEpoch) -> Result<(), ProcessError> {
    if message.epoch() != group_epoch {
        return Err(ProcessError::WrongEpoch {
            message: message.epoch().as_u64(),
            group: group_epoch.as_u64(),
        });
    }
    Ok(())
}

/// Serializes an outgoing MLSMessage.
pub(crate) fn to_bytes(msg: &MlsMessageOut) -> Result<Vec<u8>, InternalError> {
    msg.tls_serialize_detached().map_err(|e| InternalError::new("serialize MLSMessage", e))
}

/// Maps openmls' validation errors onto the kinds callers tell apart: a
/// signature or membership tag that fails is an authentication failure
/// (`InvalidSignature`); an epoch mismatch is `WrongEpoch` (checked earlier with
/// both epochs named); the rest is a refused message.
fn validation_error(err: ValidationError) -> ProcessError {
    match err {
        ValidationError::InvalidSignature | ValidationError::InvalidMembershipTag => ProcessError::InvalidSignature(err),
        ValidationError::LibraryError(e) => ProcessError::Internal(e.into()),
        other => ProcessError::Rejected(Box::new(other)),
    }
}

/// Maps a member's processing error.
pub(crate) fn member_processing_error(err: ProcessMessageError<StoreError>) -> ProcessError {
    match err {
        ProcessMessageError::ValidationError(v) => validation_error(v),
        ProcessMessageError::LibraryError(e) => ProcessError::Internal(e.into()),
        other => ProcessError::Rejected(Box::new(other)),
    }
}

/// Maps the hub view's processing error.
pub(crate) fn public_processing_error(err: PublicProcessMessageError) -> ProcessError {
    match err {
        PublicProcessMessageError::ValidationError(v) => validation_error(v),
        PublicProcessMessageError::LibraryError(e) => ProcessError::Internal(e.into()),
        other => ProcessError::Rejected(Box::new(other)),
    }
}

/// Maps an error staging a commit (after AppDataUpdate resolution).
pub(crate) fn stage_error(err: StageCommitError) -> ProcessError {
    match err {
        StageCommitError::LibraryError(e) => ProcessError::Internal(e.into()),
        other => ProcessError::Rejected(Box::new(other)),
    }
}
