//! The openmls store of one party: an in-memory map from key bytes to value
//! bytes, both in postcard, a compact binary serde format.
//!
//! openmls writes its group state here after every change: after each
//! decrypted message, the MessageSecrets (secret tree plus the serialized
//! GroupContext, tens of KiB with a MIMI participant list). In
//! `openmls_memory_storage` that is JSON, a decimal number and a comma per
//! byte; postcard writes each byte as itself.
//!
//! A key is one byte naming what is stored ([`Label`]) followed by the
//! postcard bytes of openmls' key (a group id, a public key, a tuple). A list
//! (own leaf nodes, queued proposal refs) is one entry holding its items'
//! encodings, in the order they were appended.

use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use openmls_traits::storage::{traits, StorageProvider, CURRENT_VERSION};
use serde::{de::DeserializeOwned, Serialize};
use tls_codec::{Deserialize as _, Serialize as _, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::error::{DecodeError, DecodeReason, InternalError};

/// What an entry holds: the first byte of its key. The numbers are part of
/// the export format ([`STORE_EXPORT_VERSION`]): never renumber, only add.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum Label {
    // per group
    JoinConfig = 1,
    OwnLeafNodes = 2,
    QueuedProposal = 3,
    ProposalQueueRefs = 4,
    Tree = 5,
    InterimTranscriptHash = 6,
    Context = 7,
    ConfirmationTag = 8,
    GroupState = 9,
    MessageSecrets = 10,
    ResumptionPskStore = 11,
    OwnLeafIndex = 12,
    EpochSecrets = 13,
    ApplicationExportTree = 14,
    EpochKeyPairs = 15,
    // crypto objects
    SignatureKeyPair = 16,
    EncryptionKeyPair = 17,
    KeyPackage = 18,
    Psk = 19,
}

/// Errors of the store (openmls wraps them in its own errors).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A value that does not encode, or stored bytes that do not decode.
    #[error("stored value: {0}")]
    Codec(#[from] postcard::Error),
    /// The same for the join config, stored as JSON.
    #[error("stored join config: {0}")]
    Json(#[from] serde_json::Error),
    /// A thread panicked while it held the store.
    #[error("store lock poisoned")]
    Poisoned,
    /// The proposal queue names a proposal that is not stored: a bug.
    #[error("queued proposal missing from the store")]
    MissingProposal,
}

type StoreResult<T> = std::result::Result<T, StoreError>;

/// The store of one party; its content can be exported as bytes and imported.
#[derive(Debug, Default)]
pub struct Store {
    entries: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn storage_key(label: Label, key: &impl Serialize) -> StoreResult<Vec<u8>> {
    Ok(postcard::to_extend(key, vec![label as u8])?)
}

/// The value's bytes, appended to `buffer`. Postcard, but for openmls'
/// MlsGroupJoinConfig: its PastEpochDeletionPolicy deserializes an
/// `#[serde(untagged)]` enum, which needs a self-describing format. That
/// small value is written once per group: JSON.
fn encode(label: Label, value: &impl Serialize, mut buffer: Vec<u8>) -> StoreResult<Vec<u8>> {
    match label {
        Label::JoinConfig => serde_json::to_writer(&mut buffer, value)?,
        _ => buffer = postcard::to_extend(value, buffer)?,
    }
    Ok(buffer)
}

fn decode<V: DeserializeOwned>(label: Label, bytes: &[u8]) -> StoreResult<V> {
    match label {
        Label::JoinConfig => Ok(serde_json::from_slice(bytes)?),
        _ => Ok(postcard::from_bytes(bytes)?),
    }
}

impl Store {
    fn entries(&self) -> StoreResult<RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>>> {
        self.entries.read().map_err(|_| StoreError::Poisoned)
    }

    fn entries_mut(&self) -> StoreResult<RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>>> {
        self.entries.write().map_err(|_| StoreError::Poisoned)
    }

    fn write(&self, label: Label, key: &impl Serialize, value: &impl Serialize) -> StoreResult<()> {
        let key = storage_key(label, key)?;
        let mut entries = self.entries_mut()?;
        // MessageSecrets (tens of KiB) is rewritten after every message: size
        // the new buffer like the old value instead of growing it step by step.
        let capacity = entries.get(&key).map_or(0, Vec::len);
        let value = encode(label, value, Vec::with_capacity(capacity))?;
        entries.insert(key, value);
        Ok(())
    }

    fn read<V: DeserializeOwned>(&self, label: Label, key: &impl Serialize) -> StoreResult<Option<V>> {
        let key = storage_key(label, key)?;
        match self.entries()?.get(&key) {
            Some(bytes) => Ok(Some(decode(label, bytes)?)),
            None => Ok(None),
        }
    }

    fn delete(&self, label: Label, key: &impl Serialize) -> StoreResult<()> {
        let key = storage_key(label, key)?;
        self.entries_mut()?.remove(&key);
        Ok(())
    }

    /// The list's items; empty if there is no list.
    fn read_list<V: DeserializeOwned>(&self, label: Label, key: &impl Serialize) -> StoreResult<Vec<V>> {
        let items: Vec<Vec<u8>> = self.read(label, key)?.unwrap_or_default();
        items.iter().map(|item| Ok(postcard::from_bytes(item)?)).collect()
    }

    /// Changes a list under the write lock, so that concurrent changes are not lost.
    fn update_list(
        &self,
        label: Label,
        key: &impl Serialize,
        change: impl FnOnce(&mut Vec<Vec<u8>>),
    ) -> StoreResult<()> {
        let key = storage_key(label, key)?;
        let mut entries = self.entries_mut()?;
        let mut items: Vec<Vec<u8>> = match entries.get(&key) {
            Some(bytes) => postcard::from_bytes(bytes)?,
            None => Vec::new(),
        };
        change(&mut items);
        entries.insert(key, postcard::to_allocvec(&items)?);
        Ok(())
    }

    fn append(&self, label: Label, key: &impl Serialize, item: &impl Serialize) -> StoreResult<()> {
        let item = postcard::to_allocvec(item)?;
        self.update_list(label, key, |items| items.push(item))
    }

    /// Removes the first item equal to `item`; a missing item is no error.
    fn remove_item(&self, label: Label, key: &impl Serialize, item: &impl Serialize) -> StoreResult<()> {
        let item = postcard::to_allocvec(item)?;
        self.update_list(label, key, |items| {
            if let Some(position) = items.iter().position(|stored| *stored == item) {
                items.remove(position);
            }
        })
    }
}

/// The labels of what is stored per group: each key starts with the group ID.
const GROUP_LABELS: [Label; 15] = [
    Label::JoinConfig,
    Label::OwnLeafNodes,
    Label::QueuedProposal,
    Label::ProposalQueueRefs,
    Label::Tree,
    Label::InterimTranscriptHash,
    Label::Context,
    Label::ConfirmationTag,
    Label::GroupState,
    Label::MessageSecrets,
    Label::ResumptionPskStore,
    Label::OwnLeafIndex,
    Label::EpochSecrets,
    Label::ApplicationExportTree,
    Label::EpochKeyPairs,
];

impl Store {
    /// Deletes every entry of one group's state (every epoch's key pairs and
    /// queued proposal too, which openmls' own `MlsGroup::delete` leaves), so
    /// that a new group of the same ID starts from nothing. A key of a group is
    /// its label, then the group ID's postcard bytes (length first: no other
    /// ID's bytes start with them), then the rest of a tuple key.
    pub(crate) fn delete_group(&self, group_id: &impl Serialize) -> StoreResult<()> {
        let prefixes = GROUP_LABELS.iter().map(|&label| storage_key(label, group_id)).collect::<StoreResult<Vec<_>>>()?;
        self.entries_mut()?.retain(|key, _| !prefixes.iter().any(|prefix| key.starts_with(prefix)));
        Ok(())
    }

    /// Copies every entry of `other` into this store (replacing equal keys).
    pub(crate) fn absorb(&self, other: &Store) -> StoreResult<()> {
        let theirs = other.entries()?.clone();
        self.entries_mut()?.extend(theirs);
        Ok(())
    }
}

#[derive(Debug, TlsSerialize, TlsDeserialize, TlsSize)]
struct ExportEntry {
    key: VLBytes,
    value: VLBytes,
}

/// Exported state: a format version, then the store's entries sorted by key
/// (so equal states export to equal bytes).
#[derive(Debug, TlsSerialize, TlsDeserialize, TlsSize)]
struct StoreExport {
    version: u16,
    entries: Vec<ExportEntry>,
}

/// Version 1 was `openmls_memory_storage`'s JSON entries; 2 is this store's
/// postcard entries (keyed by [`Label`], for openmls' storage version 1).
const STORE_EXPORT_VERSION: u16 = 2;

impl Store {
    /// The store's content, as bytes.
    pub fn export(&self) -> Result<Vec<u8>, InternalError> {
        let entries = self
            .entries()
            .map_err(|e| InternalError::new("read the store", e))?
            .iter()
            .map(|(key, value)| ExportEntry { key: key.clone().into(), value: value.clone().into() })
            .collect();
        StoreExport { version: STORE_EXPORT_VERSION, entries }
            .tls_serialize_detached()
            .map_err(|e| InternalError::new("export the store", e))
    }

    /// A store holding exactly what `export` produced.
    pub fn import(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "exported MLS state";
        let export = StoreExport::tls_deserialize_exact(bytes)
            .map_err(|error| DecodeError::new(WHAT, DecodeReason::Mls { what: "StoreExport", error }))?;
        if export.version != STORE_EXPORT_VERSION {
            return Err(DecodeError::rule(
                WHAT,
                format!("format version {}, expected {STORE_EXPORT_VERSION}", export.version),
            ));
        }
        let entries = export.entries.into_iter().map(|e| (e.key.into(), e.value.into())).collect();
        Ok(Self { entries: RwLock::new(entries) })
    }
}

impl StorageProvider<CURRENT_VERSION> for Store {
    type Error = StoreError;

    // ---- group state: writers

    fn write_mls_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        config: &MlsGroupJoinConfig,
    ) -> StoreResult<()> {
        self.write(Label::JoinConfig, group_id, config)
    }

    fn append_own_leaf_node<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        leaf_node: &LeafNode,
    ) -> StoreResult<()> {
        self.append(Label::OwnLeafNodes, group_id, leaf_node)
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> StoreResult<()> {
        self.write(Label::QueuedProposal, &(group_id, proposal_ref), proposal)?;
        self.append(Label::ProposalQueueRefs, group_id, proposal_ref)
    }

    fn write_tree<GroupId: traits::GroupId<CURRENT_VERSION>, TreeSync: traits::TreeSync<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        tree: &TreeSync,
    ) -> StoreResult<()> {
        self.write(Label::Tree, group_id, tree)
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        interim_transcript_hash: &InterimTranscriptHash,
    ) -> StoreResult<()> {
        self.write(Label::InterimTranscriptHash, group_id, interim_transcript_hash)
    }

    fn write_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_context: &GroupContext,
    ) -> StoreResult<()> {
        self.write(Label::Context, group_id, group_context)
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        confirmation_tag: &ConfirmationTag,
    ) -> StoreResult<()> {
        self.write(Label::ConfirmationTag, group_id, confirmation_tag)
    }

    fn write_group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_state: &GroupState,
    ) -> StoreResult<()> {
        self.write(Label::GroupState, group_id, group_state)
    }

    fn write_message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        message_secrets: &MessageSecrets,
    ) -> StoreResult<()> {
        self.write(Label::MessageSecrets, group_id, message_secrets)
    }

    fn write_resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        resumption_psk_store: &ResumptionPskStore,
    ) -> StoreResult<()> {
        self.write(Label::ResumptionPskStore, group_id, resumption_psk_store)
    }

    fn write_own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        own_leaf_index: &LeafNodeIndex,
    ) -> StoreResult<()> {
        self.write(Label::OwnLeafIndex, group_id, own_leaf_index)
    }

    fn write_group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_epoch_secrets: &GroupEpochSecrets,
    ) -> StoreResult<()> {
        self.write(Label::EpochSecrets, group_id, group_epoch_secrets)
    }

    fn write_application_export_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ApplicationExportTree: traits::ApplicationExportTree<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        application_export_tree: &ApplicationExportTree,
    ) -> StoreResult<()> {
        self.write(Label::ApplicationExportTree, group_id, application_export_tree)
    }

    // ---- crypto objects: writers

    fn write_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
        signature_key_pair: &SignatureKeyPair,
    ) -> StoreResult<()> {
        self.write(Label::SignatureKeyPair, public_key, signature_key_pair)
    }

    fn write_encryption_key_pair<
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
        key_pair: &HpkeKeyPair,
    ) -> StoreResult<()> {
        self.write(Label::EncryptionKeyPair, public_key, key_pair)
    }

    fn write_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
        key_pairs: &[HpkeKeyPair],
    ) -> StoreResult<()> {
        self.write(Label::EpochKeyPairs, &(group_id, epoch, leaf_index), &key_pairs)
    }

    fn write_key_package<
        HashReference: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &HashReference,
        key_package: &KeyPackage,
    ) -> StoreResult<()> {
        self.write(Label::KeyPackage, hash_ref, key_package)
    }

    fn write_psk<PskId: traits::PskId<CURRENT_VERSION>, PskBundle: traits::PskBundle<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
        psk: &PskBundle,
    ) -> StoreResult<()> {
        self.write(Label::Psk, psk_id, psk)
    }

    // ---- group state: readers

    fn mls_group_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<MlsGroupJoinConfig>> {
        self.read(Label::JoinConfig, group_id)
    }

    fn own_leaf_nodes<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Vec<LeafNode>> {
        self.read_list(Label::OwnLeafNodes, group_id)
    }

    fn queued_proposal_refs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Vec<ProposalRef>> {
        self.read_list(Label::ProposalQueueRefs, group_id)
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Vec<(ProposalRef, QueuedProposal)>> {
        self.queued_proposal_refs(group_id)?
            .into_iter()
            .map(|proposal_ref: ProposalRef| {
                let proposal = self
                    .read(Label::QueuedProposal, &(group_id, &proposal_ref))?
                    .ok_or(StoreError::MissingProposal)?;
                Ok((proposal_ref, proposal))
            })
            .collect()
    }

    fn tree<GroupId: traits::GroupId<CURRENT_VERSION>, TreeSync: traits::TreeSync<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<TreeSync>> {
        self.read(Label::Tree, group_id)
    }

    fn group_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<GroupContext>> {
        self.read(Label::Context, group_id)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<InterimTranscriptHash>> {
        self.read(Label::InterimTranscriptHash, group_id)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<ConfirmationTag>> {
        self.read(Label::ConfirmationTag, group_id)
    }

    fn group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<GroupState>> {
        self.read(Label::GroupState, group_id)
    }

    fn message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<MessageSecrets>> {
        self.read(Label::MessageSecrets, group_id)
    }

    fn resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<ResumptionPskStore>> {
        self.read(Label::ResumptionPskStore, group_id)
    }

    fn own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<LeafNodeIndex>> {
        self.read(Label::OwnLeafIndex, group_id)
    }

    fn group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<GroupEpochSecrets>> {
        self.read(Label::EpochSecrets, group_id)
    }

    fn application_export_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ApplicationExportTree: traits::ApplicationExportTree<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<Option<ApplicationExportTree>> {
        self.read(Label::ApplicationExportTree, group_id)
    }

    // ---- crypto objects: readers

    fn signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> StoreResult<Option<SignatureKeyPair>> {
        self.read(Label::SignatureKeyPair, public_key)
    }

    fn encryption_key_pair<
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
    ) -> StoreResult<Option<HpkeKeyPair>> {
        self.read(Label::EncryptionKeyPair, public_key)
    }

    fn encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> StoreResult<Vec<HpkeKeyPair>> {
        let key_pairs = self.read(Label::EpochKeyPairs, &(group_id, epoch, leaf_index))?;
        Ok(key_pairs.unwrap_or_default())
    }

    fn key_package<
        KeyPackageRef: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> StoreResult<Option<KeyPackage>> {
        self.read(Label::KeyPackage, hash_ref)
    }

    fn psk<PskBundle: traits::PskBundle<CURRENT_VERSION>, PskId: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
    ) -> StoreResult<Option<PskBundle>> {
        self.read(Label::Psk, psk_id)
    }

    // ---- group state: deleters

    fn remove_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> StoreResult<()> {
        self.remove_item(Label::ProposalQueueRefs, group_id, proposal_ref)?;
        self.delete(Label::QueuedProposal, &(group_id, proposal_ref))
    }

    fn delete_own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::OwnLeafNodes, group_id)
    }

    fn delete_group_config<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::JoinConfig, group_id)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(&self, group_id: &GroupId) -> StoreResult<()> {
        self.delete(Label::Tree, group_id)
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::ConfirmationTag, group_id)
    }

    fn delete_group_state<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::GroupState, group_id)
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::Context, group_id)
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::InterimTranscriptHash, group_id)
    }

    fn delete_message_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::MessageSecrets, group_id)
    }

    fn delete_all_resumption_psk_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::ResumptionPskStore, group_id)
    }

    fn delete_own_leaf_index<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::OwnLeafIndex, group_id)
    }

    fn delete_group_epoch_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::EpochSecrets, group_id)
    }

    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        for proposal_ref in self.queued_proposal_refs::<GroupId, ProposalRef>(group_id)? {
            self.delete(Label::QueuedProposal, &(group_id, proposal_ref))?;
        }
        self.delete(Label::ProposalQueueRefs, group_id)
    }

    fn delete_application_export_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ApplicationExportTree: traits::ApplicationExportTree<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> StoreResult<()> {
        self.delete(Label::ApplicationExportTree, group_id)
    }

    // ---- crypto objects: deleters

    fn delete_signature_key_pair<SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>>(
        &self,
        public_key: &SignaturePublicKey,
    ) -> StoreResult<()> {
        self.delete(Label::SignatureKeyPair, public_key)
    }

    fn delete_encryption_key_pair<EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>>(
        &self,
        public_key: &EncryptionKey,
    ) -> StoreResult<()> {
        self.delete(Label::EncryptionKeyPair, public_key)
    }

    fn delete_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> StoreResult<()> {
        self.delete(Label::EpochKeyPairs, &(group_id, epoch, leaf_index))
    }

    fn delete_key_package<KeyPackageRef: traits::HashReference<CURRENT_VERSION>>(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> StoreResult<()> {
        self.delete(Label::KeyPackage, hash_ref)
    }

    fn delete_psk<PskKey: traits::PskId<CURRENT_VERSION>>(&self, psk_id: &PskKey) -> StoreResult<()> {
        self.delete(Label::Psk, psk_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Client, ExternalSenderInfo, Group};
    use crate::signing::SignatureKeyPair;

    fn entries_labelled(store: &Store, label: Label) -> usize {
        let entries = store.entries().unwrap();
        entries.keys().filter(|key| key[0] == label as u8).count()
    }

    #[test]
    fn lists_append_remove_and_delete() {
        let store = Store::default();
        let (group, other) = (b"group".to_vec(), b"other".to_vec());
        let list = |key: &Vec<u8>| store.read_list::<String>(Label::OwnLeafNodes, key).unwrap();
        assert!(list(&group).is_empty(), "no list reads as empty");

        for item in ["a", "b", "a"] {
            store.append(Label::OwnLeafNodes, &group, &item).unwrap();
        }
        store.append(Label::OwnLeafNodes, &other, &"x").unwrap();
        assert_eq!(list(&group), ["a", "b", "a"], "appended in order, duplicates kept");

        store.remove_item(Label::OwnLeafNodes, &group, &"a").unwrap();
        assert_eq!(list(&group), ["b", "a"], "only the first equal item goes");
        store.remove_item(Label::OwnLeafNodes, &group, &"missing").unwrap();
        assert_eq!(list(&group), ["b", "a"], "removing a missing item changes nothing");

        store.delete(Label::OwnLeafNodes, &group).unwrap();
        assert!(list(&group).is_empty());
        assert_eq!(list(&other), ["x"], "another key's list is untouched");
        // The same key under another label is another entry.
        assert!(store.read_list::<String>(Label::ProposalQueueRefs, &other).unwrap().is_empty());
    }

    #[test]
    fn export_import_gives_equal_bytes() {
        let (first, second) = (Store::default(), Store::default());
        first.write(Label::Tree, &b"g1".to_vec(), &vec![1u8, 2, 3]).unwrap();
        first.append(Label::OwnLeafNodes, &b"g1".to_vec(), &7u32).unwrap();
        first.write(Label::Context, &b"g2".to_vec(), &"context").unwrap();
        // The same content written in another order.
        second.write(Label::Context, &b"g2".to_vec(), &"context").unwrap();
        second.append(Label::OwnLeafNodes, &b"g1".to_vec(), &7u32).unwrap();
        second.write(Label::Tree, &b"g1".to_vec(), &vec![1u8, 2, 3]).unwrap();

        let bytes = first.export().unwrap();
        assert_eq!(second.export().unwrap(), bytes);
        let imported = Store::import(&bytes).unwrap();
        assert_eq!(imported.export().unwrap(), bytes);
        let tree: Option<Vec<u8>> = imported.read(Label::Tree, &b"g1".to_vec()).unwrap();
        assert_eq!(tree, Some(vec![1, 2, 3]));
    }

    #[test]
    fn import_refuses_another_format_version() {
        let old = StoreExport { version: 1, entries: vec![] }.tls_serialize_detached().unwrap();
        let e = Store::import(&old).unwrap_err();
        assert_eq!(e.reason, DecodeReason::Rule("format version 1, expected 2".into()), "{e}");
        assert!(Store::import(b"\x00").is_err());
    }

    fn hub() -> ExternalSenderInfo {
        ExternalSenderInfo { signature_key: SignatureKeyPair::generate().public(), identity: "mimi://a.example".into() }
    }

    fn client(device: &str) -> Client {
        Client::new(&format!("mimi://{device}/phone"), SignatureKeyPair::generate())
    }

    /// `client` added to the group of `member`, by Welcome.
    fn added(member: &mut Group, client: &Client) -> Group {
        let out = member.commit(&client.key_packages(1).unwrap(), &[], &[], false, None).unwrap();
        member.merge_pending_commit().unwrap();
        client.join_welcome(out.welcome.as_ref().unwrap(), &out.ratchet_tree).unwrap()
    }

    fn restart(client: &Client, group: &Group) -> (Client, Group) {
        let client = Client::import_state(&client.export_state().unwrap()).unwrap();
        let group = client.load_group(&group.group_id()).unwrap();
        (client, group)
    }

    fn delivered(sender: &mut Group, receiver: &mut Group, text: &[u8]) -> Vec<u8> {
        let message = sender.encrypt(text, b"").unwrap();
        receiver.process(&message, None).unwrap().plaintext.unwrap()
    }

    /// A group's life through this store, with restarts from exported state:
    /// between messages (the secret tree must come back) and between a
    /// proposal and the commit that covers it (the proposal queue must).
    #[test]
    fn mls_group_through_the_store_and_restarts() {
        let (alice, bob, carol) = (client("a.example/d/alice"), client("b.example/d/bob"), client("c.example/d/carol"));
        let mut a = alice.create_group(b"room", &hub(), &[]).unwrap();
        let mut b = added(&mut a, &bob);
        assert_eq!(entries_labelled(b.store(), Label::KeyPackage), 0, "the Welcome used up Bob's KeyPackage");
        assert_eq!(delivered(&mut a, &mut b, b"one"), b"one");

        let (alice, mut a) = restart(&alice, &a);
        let (_bob, mut b) = restart(&bob, &b);
        assert_eq!(alice.export_state().unwrap(), restart(&alice, &a).0.export_state().unwrap());
        assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
        assert_eq!(delivered(&mut a, &mut b, b"two"), b"two");
        assert_eq!(delivered(&mut b, &mut a, b"three"), b"three");

        // Bob proposes to leave; Alice stores the proposal and restarts.
        let leave = b.propose_leave().unwrap();
        a.process(&leave, None).unwrap();
        a.merge().unwrap();
        assert_eq!(entries_labelled(a.store(), Label::QueuedProposal), 1);
        let (alice, mut a) = restart(&alice, &a);

        // Alice's next commit covers the restored proposal and adds Carol.
        let out = a.commit(&carol.key_packages(1).unwrap(), &[], &[], false, None).unwrap();
        a.merge_pending_commit().unwrap();
        assert_eq!(entries_labelled(a.store(), Label::QueuedProposal), 0);
        assert_eq!(entries_labelled(a.store(), Label::ProposalQueueRefs), 0);
        assert!(b.process(&out.commit, None).unwrap().self_removed);
        b.merge().unwrap();
        assert!(!b.is_active());
        let mut c = carol.join_welcome(out.welcome.as_ref().unwrap(), &out.ratchet_tree).unwrap();
        let members: Vec<String> = a.members().into_iter().map(|m| m.identity).collect();
        assert_eq!(members, ["mimi://a.example/d/alice/phone", "mimi://c.example/d/carol/phone"]);
        assert_eq!(delivered(&mut a, &mut c, b"five"), b"five");

        let (_alice, mut a) = restart(&alice, &a);
        assert_eq!(a.epoch(), 2);
        assert_eq!(delivered(&mut c, &mut a, b"six"), b"six");
    }
    /// A client removed from a group joins it again, by Welcome and by external
    /// commit: the old group gives way, with nothing of it left in the store. An
    /// external join the hub refused leaves the store as it was; a Welcome to a
    /// group the client is still a member of is refused.
    #[test]
    fn a_removed_client_joins_again() {
        let (alice, bob) = (client("a.example/d/alice"), client("b.example/d/bob"));
        let mut a = alice.create_group(b"room", &hub(), &[]).unwrap();
        let _member = added(&mut a, &bob);

        let join = |client: &Client, member: &Group| {
            client.join_external(&member.export_group_info().unwrap(), &member.export_ratchet_tree().unwrap()).unwrap()
        };
        // An external join the hub refuses, here while Bob is a member: his store is untouched.
        let before = bob.export_state().unwrap();
        let (refused, _) = join(&bob, &a);
        assert_eq!(bob.export_state().unwrap(), before);
        drop(refused);
        // One the hub accepts is a resync (RFC 9420 §12.4.3.2): his old leaf is removed
        // and his group replaced.
        let (mut resync, out) = join(&bob, &a);
        a.process(&out.commit, None).unwrap();
        a.merge().unwrap();
        bob.adopt(&mut resync).unwrap();
        assert_eq!(a.members().len(), 2);
        let (bob, mut b) = restart(&bob, &resync);
        assert_eq!(b.epoch_authenticator(), a.epoch_authenticator());
        assert_eq!(delivered(&mut a, &mut b, b"resynced"), b"resynced");

        let remove = |a: &mut Group, b: &mut Group| {
            let out = a.commit(&[], &[b.own_leaf_index()], &[], false, None).unwrap();
            a.merge_pending_commit().unwrap();
            assert!(b.process(&out.commit, None).unwrap().self_removed);
            b.merge().unwrap();
            assert!(!b.is_active());
        };
        remove(&mut a, &mut b);
        let removed = bob.export_state().unwrap();
        let mut b = added(&mut a, &bob);
        assert_eq!(delivered(&mut a, &mut b, b"welcome back"), b"welcome back");
        let (bob, mut b) = restart(&bob, &b);
        assert_eq!((b.epoch(), b.epoch_authenticator()), (a.epoch(), a.epoch_authenticator()));
        assert_eq!(delivered(&mut b, &mut a, b"glad to be"), b"glad to be");
        assert_eq!(entries_labelled(b.store(), Label::EpochKeyPairs), 1, "nothing of the old group's epochs");
        assert_ne!(bob.export_state().unwrap(), removed);

        // Removed again, Bob joins by external commit: refused once, then accepted.
        remove(&mut a, &mut b);
        let removed = bob.export_state().unwrap();
        let (refused, _) = join(&bob, &a);
        drop(refused);
        assert_eq!(bob.export_state().unwrap(), removed, "a refused join leaves no trace");
        let (mut b, out) = join(&bob, &a);
        a.process(&out.commit, None).unwrap();
        a.merge().unwrap();
        bob.adopt(&mut b).unwrap();
        let (_bob, mut b) = restart(&bob, &b);
        assert_eq!(b.epoch_authenticator(), a.epoch_authenticator());
        assert_eq!(delivered(&mut a, &mut b, b"and again"), b"and again");

        // A Welcome to a group of an ID Carol is a member of is refused.
        let carol = client("c.example/d/carol");
        let _own = carol.create_group(b"room", &hub(), &[]).unwrap();
        let out = a.commit(&carol.key_packages(1).unwrap(), &[], &[], false, None).unwrap();
        let e = carol.join_welcome(out.welcome.as_ref().unwrap(), &out.ratchet_tree).unwrap_err();
        assert!(e.to_string().contains("a member of that group already"), "{e}");
    }
}
