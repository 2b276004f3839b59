//! The hub's view of a room's group (openmls `PublicGroup`): it validates every
//! proposal and commit (signature, epoch, tree) without group secrets, reports
//! what each changes so room policy can be checked before merging, keeps the
//! latest verified GroupInfo and the ratchet tree for `/groupInfo`, and issues
//! Remove proposals as the group's external sender.

use openmls::prelude::*;
use openmls::treesync::RatchetTree;
use tls_codec::{Serialize as _, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::client::{decode_tree, encode_tree, verifiable_group_info};
use crate::codec;
use crate::error::{CreateError, DecodeError, InternalError, JoinError, MergeError, ProcessError, StateError};
use crate::provider::Provider;
use crate::signing::SignatureKeyPair;
use crate::summary::*;

#[derive(Debug)]
enum HubPending {
    Commit {
        staged: Box<StagedCommit>,
        group_info: Vec<u8>,
    },
    Proposal(Box<QueuedProposal>),
}

/// The hub's public view of one group.
#[derive(Debug)]
pub struct HubView {
    provider: Provider,
    group: PublicGroup,
    group_info: Vec<u8>,
    pending: Option<HubPending>,
}

#[derive(TlsSerialize, TlsDeserialize, TlsSize)]
struct HubState {
    group_id: VLBytes,
    group_info: VLBytes,
    store: VLBytes,
}

impl HubView {
    /// Starts tracking a group from a GroupInfo (MLSMessage) and its ratchet
    /// tree: verifies the GroupInfo signature, the tree hash and every leaf.
    pub fn from_group_info(group_info: &[u8], ratchet_tree: &[u8]) -> Result<Self, JoinError> {
        let gi = verifiable_group_info(group_info)?;
        let tree = decode_tree(ratchet_tree)?;
        let provider = Provider::default();
        let (group, _) = PublicGroup::from_external(
            provider.crypto(),
            provider.storage(),
            tree,
            gi,
            ProposalStore::default(),
        )
        .map_err(JoinError::refused("GroupInfo and ratchet tree"))?;
        Ok(Self {
            provider,
            group,
            group_info: group_info.to_vec(),
            pending: None,
        })
    }

    /// The group ID.
    pub fn group_id(&self) -> Vec<u8> {
        self.group.group_id().as_slice().to_vec()
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.group.group_context().epoch().as_u64()
    }

    /// The tree hash of the current epoch.
    pub fn tree_hash(&self) -> Vec<u8> {
        self.group.group_context().tree_hash().to_vec()
    }

    /// The TLS-serialized GroupContext of the current epoch.
    pub fn group_context(&self) -> Result<Vec<u8>, InternalError> {
        self.group
            .group_context()
            .tls_serialize_detached()
            .map_err(|e| InternalError::new("serialize GroupContext", e))
    }

    /// The members (clients).
    pub fn members(&self) -> Vec<MemberInfo> {
        members_of(self.group.members())
    }

    /// The app_data_dictionary of the current GroupContext.
    pub fn app_data(&self) -> Vec<(u16, Vec<u8>)> {
        dictionary_of(self.group.group_context())
    }

    /// The latest verified GroupInfo (MLSMessage), for `/groupInfo`.
    pub fn group_info(&self) -> Vec<u8> {
        self.group_info.clone()
    }

    /// The ratchet tree of the current epoch, for `/groupInfo` and Welcomes.
    pub fn export_ratchet_tree(&self) -> Result<Vec<u8>, InternalError> {
        encode_tree(&self.group.export_ratchet_tree())
    }

    /// The current ratchet tree as openmls' type.
    pub fn ratchet_tree(&self) -> RatchetTree {
        self.group.export_ratchet_tree()
    }

    /// A Remove proposal for `leaf_index`, signed by the hub as the group's
    /// external sender (the key must be in the external_senders extension).
    /// Feed it to `process` and `merge` to cache it like any proposal.
    pub fn propose_remove(&self, leaf_index: u32, hub_key: &SignatureKeyPair) -> Result<Vec<u8>, CreateError> {
        let public = hub_key.public();
        let index = self
            .group
            .group_context()
            .extensions()
            .external_senders()
            .and_then(|senders| {
                senders
                    .iter()
                    .position(|s| {
                        // ExternalSender starts with `opaque signature_key<V>`;
                        // openmls keeps the getter private.
                        let bytes = s.tls_serialize_detached().unwrap_or_default();
                        bytes.get(1..33) == Some(public.as_slice()) && bytes.first() == Some(&32)
                    })
            })
            .ok_or(CreateError::NotExternalSender)?;
        if self.group.leaf(LeafNodeIndex::new(leaf_index)).is_none() {
            return Err(CreateError::NotAMember(leaf_index));
        }
        let msg = ExternalProposal::new_remove::<Provider>(
            LeafNodeIndex::new(leaf_index),
            self.group.group_id().clone(),
            self.group.group_context().epoch(),
            &hub_key.to_openmls(),
            SenderExtensionIndex::new(index as u32),
        )
        .map_err(CreateError::refused("external Remove"))?;
        Ok(to_bytes(&msg)?)
    }

    /// Validates a proposal or commit (PublicMessage) without changing state.
    ///
    /// A commit must come with the GroupInfo of its new epoch: the hub cannot
    /// make one, and serves it to joiners (draft-ietf-mimi-protocol §Update
    /// Room State). The GroupInfo must be signed by the committer and name
    /// exactly the GroupContext the commit leads to. `resolver` computes new
    /// app-data component values when the commit covers AppDataUpdate proposals.
    /// On success the result is held until `merge` or `discard`.
    pub fn process(
        &mut self,
        message: &[u8],
        group_info: Option<&[u8]>,
        resolver: Option<&mut AppDataResolver<'_>>,
    ) -> Result<Summary, ProcessError> {
        let msg = protocol_message(message)?;
        if msg.group_id() != self.group.group_id() {
            return Err(ProcessError::OtherGroup);
        }
        check_epoch(&msg, self.group.group_context().epoch())?;
        // The hub cannot check a commit's confirmation_tag (it lacks the epoch's
        // confirmation key), and the signature does not cover it: it is held to the
        // one in the GroupInfo, which the committer signed (`check_group_info`).
        let confirmation_tag = match &msg {
            ProtocolMessage::PublicMessage(m) => m.confirmation_tag().map(|t| t.tls_serialize_detached()),
            ProtocolMessage::PrivateMessage(_) => None,
        }
        .transpose()
        .map_err(|e| InternalError::new("serialize confirmation_tag", e))?;
        let processed = self
            .group
            .process_message(self.provider.crypto(), msg)
            .map_err(public_processing_error)?;
        let group = &self.group;
        let identity_at = |leaf: LeafNodeIndex| group.leaf(leaf).map(|l| identity_of(l.credential()));
        let mut summary = Summary {
            epoch: processed.epoch().as_u64(),
            authenticated_data: processed.aad().to_vec(),
            ..Summary::default()
        };
        let sender = processed.sender().clone();
        let sender_identity = match &sender {
            Sender::Member(leaf) => identity_at(*leaf),
            _ => None,
        };
        summary.sender = Some(sender_info(&sender, sender_identity));
        let crypto = self.provider.crypto();
        let pending = match processed.into_content() {
            ProcessedMessageContent::ProposalMessage(q)
            | ProcessedMessageContent::ExternalJoinProposalMessage(q) => {
                summary.kind = Some(MessageKind::Proposal);
                add_proposal_to_summary(&mut summary, q.proposal(), &sender, crypto, &identity_at)?;
                HubPending::Proposal(q)
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                self.check_commit(&mut summary, &sender, staged, group_info, confirmation_tag.as_deref(), &identity_at)?
            }
            ProcessedMessageContent::UnresolvedAppDataCommit(unresolved) => {
                let covered: Vec<AppDataChange> =
                    unresolved.app_data_update_proposals().map(app_data_change).collect();
                let old = dictionary_of(self.group.group_context());
                let updates = resolve_app_data(
                    self.group.group_context().extensions().app_data_dictionary().map(|e| e.dictionary()),
                    &old,
                    &covered,
                    resolver,
                )?;
                let staged = self
                    .group
                    .stage_app_data_commit(crypto, *unresolved, updates)
                    .map_err(stage_error)?;
                self.check_commit(
                    &mut summary,
                    &sender,
                    Box::new(staged),
                    group_info,
                    confirmation_tag.as_deref(),
                    &identity_at,
                )?
            }
            _ => return Err(ProcessError::NotHandshake),
        };
        self.pending = Some(pending);
        Ok(summary)
    }

    fn check_commit(
        &self,
        summary: &mut Summary,
        sender: &Sender,
        staged: Box<StagedCommit>,
        group_info: Option<&[u8]>,
        confirmation_tag: Option<&[u8]>,
        identity_at: &dyn Fn(LeafNodeIndex) -> Option<String>,
    ) -> Result<HubPending, ProcessError> {
        summary.kind = Some(MessageKind::Commit);
        let crypto = self.provider.crypto();
        for q in staged.queued_proposals() {
            add_proposal_to_summary(summary, q.proposal(), q.sender(), crypto, identity_at)?;
        }
        summary.path = staged.update_path_leaf_node().is_some();
        summary.new_epoch = Some(staged.group_context().epoch().as_u64());
        summary.new_tree_hash = Some(staged.group_context().tree_hash().to_vec());
        let committer = match sender {
            Sender::Member(leaf) => *leaf,
            Sender::NewMemberCommit => {
                let leaf = self.group.ext_commit_sender_index(&staged).map_err(InternalError::from)?;
                let identity = staged
                    .update_path_leaf_node()
                    .map(|l| identity_of(l.credential()))
                    .unwrap_or_default();
                summary.external_join = Some((identity, leaf.u32()));
                leaf
            }
            _ => return Err(ProcessError::SenderCannotCommit),
        };
        let group_info = group_info.ok_or(ProcessError::MissingGroupInfo)?;
        self.check_group_info(&staged, committer, group_info, confirmation_tag)?;
        Ok(HubPending::Commit {
            staged,
            group_info: group_info.to_vec(),
        })
    }

    /// The GroupInfo must be signed by the committer's (new) leaf key, carry
    /// external_pub (so new devices can join), name the staged GroupContext and
    /// carry the commit's confirmation_tag (TLS-encoded, as in the commit).
    fn check_group_info(
        &self,
        staged: &StagedCommit,
        committer: LeafNodeIndex,
        bytes: &[u8],
        confirmation_tag: Option<&[u8]>,
    ) -> Result<(), ProcessError> {
        let gi = verifiable_group_info(bytes)?;
        let payload = gi
            .unsigned_payload()
            .map_err(|e| DecodeError::rule("GroupInfo", format!("no signed content: {e}")))?;
        // GroupInfoTBS ends with `uint32 signer` (RFC 9420 §12.4.3).
        let signer = payload
            .get(payload.len().saturating_sub(4)..)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| DecodeError::rule("GroupInfo.signer", "too short"))?;
        if signer != committer.u32() {
            return Err(ProcessError::GroupInfoSigner { signer, committer: committer.u32() });
        }
        // GroupInfoTBS: ... `MAC confirmation_tag; uint32 signer;` (RFC 9420 §12.4.3).
        // openmls keeps the GroupInfo's getter private; the two encodings compare.
        let before_signer = &payload[..payload.len() - 4];
        let same_tag = confirmation_tag.is_some_and(|tag| before_signer.ends_with(tag));
        if !same_tag {
            return Err(ProcessError::GroupInfoConfirmationTag);
        }
        let key = match staged.update_path_leaf_node() {
            Some(leaf) => leaf.signature_key().clone(),
            // openmls validated the commit: a member committer has a leaf.
            None => self
                .group
                .leaf(committer)
                .ok_or_else(|| InternalError::new("committer", format!("no leaf at {}", committer.u32())))?
                .signature_key()
                .clone(),
        };
        let key = key.into_signature_public_key_enriched(CIPHERSUITE.signature_algorithm());
        gi.verify_no_out(self.provider.crypto(), &key)
            .map_err(|_| ProcessError::GroupInfoSignature)?;
        if gi.group_context() != staged.group_context() {
            return Err(ProcessError::GroupInfoContext);
        }
        if gi.extensions().external_pub().is_none() {
            return Err(ProcessError::GroupInfoExternalPub);
        }
        Ok(())
    }

    /// Applies what `process` held: merges the commit (and keeps its GroupInfo)
    /// or caches the proposal for the next commit.
    pub fn merge(&mut self) -> Result<(), MergeError> {
        match self.pending.take() {
            None => Err(MergeError::NothingToMerge),
            Some(HubPending::Commit { staged, group_info }) => {
                self.group
                    .merge_commit(self.provider.storage(), *staged)
                    .map_err(MergeError::of_commit("merge commit"))?;
                self.group_info = group_info;
                Ok(())
            }
            Some(HubPending::Proposal(q)) => self
                .group
                .add_proposal(self.provider.storage(), *q)
                .map_err(|source| MergeError::Store { operation: "cache proposal", source }),
        }
    }

    /// Forgets what `process` held (policy refused it).
    pub fn discard(&mut self) {
        self.pending = None;
    }

    /// Proposals cached for the next commit, as (sender leaf or None, kind).
    pub fn cached_proposals(&self) -> Result<Summary, StateError> {
        let mut summary = Summary::default();
        let group = &self.group;
        let identity_at = |leaf: LeafNodeIndex| group.leaf(leaf).map(|l| identity_of(l.credential()));
        let queued: Vec<QueuedProposal> = self
            .group
            .queued_proposals(self.provider.storage())
            .map_err(|source| StateError::Store { operation: "read cached proposals", source })?
            .into_iter()
            .map(|(_, q)| q)
            .collect();
        for q in &queued {
            add_proposal_to_summary(&mut summary, q.proposal(), q.sender(), self.provider.crypto(), &identity_at)?;
        }
        Ok(summary)
    }

    /// The view's whole state as bytes (group, cached proposals, GroupInfo).
    pub fn export_state(&self) -> Result<Vec<u8>, InternalError> {
        HubState {
            group_id: self.group_id().into(),
            group_info: self.group_info.clone().into(),
            store: self.provider.export_storage()?.into(),
        }
        .tls_serialize_detached()
        .map_err(|e| InternalError::new("export hub view", e))
    }

    /// A view restored from `export_state` bytes.
    pub fn import_state(bytes: &[u8]) -> Result<Self, StateError> {
        let state = codec::decode::<HubState>("exported hub state", bytes)?;
        let provider = Provider::import_storage(state.store.as_slice())?;
        let group = PublicGroup::load(provider.storage(), &GroupId::from_slice(state.group_id.as_slice()))
            .map_err(|source| StateError::Store { operation: "load public group", source })?
            .ok_or(StateError::NoSuchGroup)?;
        Ok(Self {
            provider,
            group,
            group_info: state.group_info.into(),
            pending: None,
        })
    }
}
