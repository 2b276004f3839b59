//! A client device: its credential (naming its client URI), its KeyPackages,
//! and its groups (openmls `MlsGroup`).
//!
//! Handshakes go out as PublicMessage so the hub can validate them; application
//! messages are PrivateMessage (draft-ietf-mimi-protocol §Relation between MIMI
//! state and cryptographic state; DESIGN.md "Protocol choices").

use std::sync::Arc;

use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair as BasicKeyPair;
use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::treesync::RatchetTree;
use tls_codec::Serialize as _;

use crate::codec;
use crate::error::{
    CreateError, DecodeError, DecodeReason, InternalError, JoinError, MergeError, ProcessError, StateError,
};
use crate::provider::Provider;
use crate::signing::SignatureKeyPair;
use crate::summary::*;
use crate::wire::mls_basic_credential;

/// Leaf capabilities every mimi client advertises: app_data_dictionary and
/// AppDataUpdate (draft-ietf-mls-extensions), beside the defaults, and
/// last_resort, which openmls requires of the leaf of a KeyPackage that carries it.
pub(crate) fn capabilities() -> Capabilities {
    Capabilities::new(
        None,
        Some(&[CIPHERSUITE]),
        Some(&[ExtensionType::AppDataDictionary, ExtensionType::LastResort]),
        Some(&[ProposalType::AppDataUpdate]),
        None,
    )
}

/// How far out of order a sender's application messages may arrive and still
/// decrypt. A hub orders the submissions that are in flight at the same time
/// as they reach it, not necessarily as the sender encrypted them (the
/// protocol gives concurrent requests no order), so a sender that pipelines
/// up to this many messages is safe. openmls' default is 5; keys of skipped
/// generations are kept until used or this many newer ones arrive
/// (docs/interop.md, "Out-of-order generations").
pub const OUT_OF_ORDER_TOLERANCE: u32 = 128;

fn sender_ratchet() -> SenderRatchetConfiguration {
    SenderRatchetConfiguration::new(OUT_OF_ORDER_TOLERANCE, 1000)
}

/// How many past epochs' message secrets a member keeps. A committer merges its
/// commit when the hub accepts it, before the application messages the hub
/// sequenced ahead of that commit have all reached it; they still decrypt with
/// their epoch's secrets. 16 covers as many commits of one member in quick
/// succession (docs/interop.md, "Past epochs").
pub const MAX_PAST_EPOCHS: usize = 16;

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(false)
        .sender_ratchet_configuration(sender_ratchet())
        .max_past_epochs(MAX_PAST_EPOCHS)
        .build()
}

/// The hub of a room as MLS external sender: its signature key and credential.
#[derive(Debug, Clone)]
pub struct ExternalSenderInfo {
    /// Ed25519 public key of the hub.
    pub signature_key: Vec<u8>,
    /// BasicCredential identity of the hub (its provider URI).
    pub identity: String,
}

/// Output of a commit this client created (pending until merged).
#[derive(Debug, Clone)]
pub struct CommitOutput {
    /// The Commit, an MLSMessage (PublicMessage).
    pub commit: Vec<u8>,
    /// The Welcome, an MLSMessage, when the commit adds clients.
    pub welcome: Option<Vec<u8>>,
    /// The GroupInfo for the new epoch, an MLSMessage (with external_pub).
    pub group_info: Vec<u8>,
    /// The ratchet tree of the new epoch (TLS-serialized RatchetTree).
    pub ratchet_tree: Vec<u8>,
}

/// A client device.
#[derive(Debug)]
pub struct Client {
    provider: Arc<Provider>,
    key: SignatureKeyPair,
    signer: Arc<BasicKeyPair>,
    client_uri: String,
}

impl Client {
    /// A client whose credential names `client_uri`, signing with `key`.
    pub fn new(client_uri: &str, key: SignatureKeyPair) -> Self {
        Self::with_provider(client_uri, key, Provider::default())
    }

    fn with_provider(client_uri: &str, key: SignatureKeyPair, provider: Provider) -> Self {
        let signer = Arc::new(key.to_openmls());
        Self {
            provider: Arc::new(provider),
            key,
            signer,
            client_uri: client_uri.to_owned(),
        }
    }

    /// The client URI its credential names.
    pub fn client_uri(&self) -> &str {
        &self.client_uri
    }

    /// Its signature key pair.
    pub fn signature_key(&self) -> &SignatureKeyPair {
        &self.key
    }

    fn credential_with_key(&self) -> CredentialWithKey {
        CredentialWithKey {
            credential: mls_basic_credential(&self.client_uri),
            signature_key: self.key.public().into(),
        }
    }

    /// `count` fresh single-use KeyPackages (TLS-serialized KeyPackage structs);
    /// their private keys stay in this client's store until a Welcome uses them.
    pub fn key_packages(&self, count: usize) -> Result<Vec<Vec<u8>>, CreateError> {
        (0..count).map(|_| self.key_package(KeyPackage::builder())).collect()
    }

    /// A fresh last-resort KeyPackage, marked with the `last_resort` extension
    /// (draft-ietf-mls-extensions §Last-Resort KeyPackages; RFC 9420 §16.8). A
    /// Welcome that uses it leaves its private keys in this client's store
    /// (openmls deletes only unmarked ones), so it can be used again.
    pub fn last_resort_key_package(&self) -> Result<Vec<u8>, CreateError> {
        self.key_package(KeyPackage::builder().mark_as_last_resort())
    }

    fn key_package(&self, builder: KeyPackageBuilder) -> Result<Vec<u8>, CreateError> {
        let bundle = builder
            .leaf_node_capabilities(capabilities())
            .build(CIPHERSUITE, self.provider.as_ref(), self.signer.as_ref(), self.credential_with_key())
            .map_err(CreateError::refused("KeyPackage"))?;
        Ok(bundle
            .key_package()
            .tls_serialize_detached()
            .map_err(|e| InternalError::new("serialize KeyPackage", e))?)
    }

    /// Creates a group whose GroupContext carries the hub as external sender,
    /// the required capabilities, and the initial app_data_dictionary.
    pub fn create_group(
        &self,
        group_id: &[u8],
        hub: &ExternalSenderInfo,
        app_data: &[(u16, Vec<u8>)],
    ) -> Result<Group, JoinError> {
        let mut dictionary = AppDataDictionary::new();
        for (id, data) in app_data {
            dictionary.insert(*id, data.clone());
        }
        let extensions = Extensions::from_vec(vec![
            Extension::ExternalSenders(vec![ExternalSender::new(
                hub.signature_key.clone().into(),
                mls_basic_credential(&hub.identity),
            )]),
            Extension::RequiredCapabilities(RequiredCapabilitiesExtension::new(
                &[ExtensionType::AppDataDictionary],
                &[ProposalType::AppDataUpdate],
                &[],
            )),
            Extension::AppDataDictionary(AppDataDictionaryExtension::new(dictionary)),
        ])
        .map_err(JoinError::refused("group context extensions"))?;
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(CIPHERSUITE)
            .capabilities(capabilities())
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(false)
            .sender_ratchet_configuration(sender_ratchet())
            .max_past_epochs(MAX_PAST_EPOCHS)
            .with_group_context_extensions(extensions)
            .build();
        let group = MlsGroup::new_with_group_id(
            self.provider.as_ref(),
            self.signer.as_ref(),
            &config,
            GroupId::from_slice(group_id),
            self.credential_with_key(),
        )
        .map_err(JoinError::refused("create group"))?;
        Ok(self.wrap(group))
    }

    fn wrap(&self, group: MlsGroup) -> Group {
        Group {
            provider: Arc::clone(&self.provider),
            signer: Arc::clone(&self.signer),
            group,
            pending: None,
        }
    }

    /// Joins from a Welcome (an MLSMessage) and the ratchet tree it does not carry.
    /// A group of the same ID this client was removed from gives way (it is
    /// added again); one it is still a member of refuses the Welcome.
    pub fn join_welcome(&self, welcome: &[u8], ratchet_tree: &[u8]) -> Result<Group, JoinError> {
        let welcome = codec::welcome(welcome)?;
        let tree = decode_tree(ratchet_tree)?;
        let staged = StagedWelcome::build_from_welcome(self.provider.as_ref(), &join_config(), welcome)
            .map_err(JoinError::refused("Welcome"))?
            .with_ratchet_tree(tree)
            .replace_old_group() // checked here: only a group this client was removed from
            .build()
            .map_err(JoinError::refused("Welcome"))?;
        self.make_way(staged.group_context().group_id(), "Welcome")?;
        let group = staged.into_group(self.provider.as_ref()).map_err(JoinError::refused("Welcome"))?;
        Ok(self.wrap(group))
    }

    /// Deletes the stored state of a group of `group_id` this client was removed
    /// from, so that a new group of that ID starts from nothing; refuses if it is
    /// still a member.
    fn make_way(&self, group_id: &GroupId, operation: &'static str) -> Result<(), JoinError> {
        let storage = self.provider.storage();
        let stored = MlsGroup::load(storage, group_id).map_err(JoinError::refused(operation))?;
        match stored {
            Some(group) if group.is_active() => {
                Err(JoinError::Refused { operation, source: "this client is a member of that group already".into() })
            }
            Some(_) => storage.delete_group(group_id).map_err(|e| InternalError::new("delete a left group", e).into()),
            None => Ok(()),
        }
    }

    /// Joins by external commit from a GroupInfo (an MLSMessage) and the ratchet
    /// tree. Returns the group (already in the new epoch) and the commit to
    /// submit. The group lives in a store of its own until `adopt` takes it in,
    /// once the hub accepted the commit: a refused join leaves this client's
    /// store as it was (a group it was removed from included).
    pub fn join_external(
        &self,
        group_info: &[u8],
        ratchet_tree: &[u8],
    ) -> Result<(Group, CommitOutput), JoinError> {
        let gi = verifiable_group_info(group_info)?;
        let tree = decode_tree(ratchet_tree)?;
        let provider = Arc::new(Provider::default());
        let (group, bundle) = MlsGroup::external_commit_builder()
            .with_ratchet_tree(tree)
            .with_config(join_config())
            .build_group(provider.as_ref(), gi, self.credential_with_key())
            .map_err(JoinError::refused("external commit"))?
            .leaf_node_parameters(
                LeafNodeParameters::builder()
                    .with_capabilities(capabilities())
                    .build(),
            )
            .load_psks(provider.storage())
            .map_err(JoinError::refused("external commit"))?
            .create_group_info(true)
            .build(
                provider.rand(),
                provider.crypto(),
                self.signer.as_ref(),
                |_| true,
            )
            .map_err(JoinError::refused("external commit"))?
            .finalize(provider.as_ref())
            .map_err(JoinError::refused("external commit"))?;
        let group = Group { provider, signer: Arc::clone(&self.signer), group, pending: None };
        let (commit, _welcome, group_info) = bundle.into_messages();
        let output = CommitOutput {
            commit: to_bytes(&commit)?,
            welcome: None,
            group_info: to_bytes(&group_info.ok_or_else(|| {
                InternalError::new("external commit", "produced no GroupInfo")
            })?)?,
            ratchet_tree: group.export_ratchet_tree()?,
        };
        Ok((group, output))
    }

    /// Takes a group joined by external commit into this client's store (the hub
    /// accepted the commit): a group of the same ID this client was removed from
    /// gives way, and so does one it is still a member of: openmls' external commit
    /// removes the leaf with this client's signature key, so that group is a resync's
    /// stale copy (RFC 9420 §12.4.3.2). A group of this store already is left as it is.
    pub fn adopt(&self, group: &mut Group) -> Result<(), JoinError> {
        if Arc::ptr_eq(&group.provider, &self.provider) {
            return Ok(());
        }
        let stale = group.group.group_id();
        self.provider
            .storage()
            .delete_group(stale)
            .map_err(|e| InternalError::new("delete a replaced group", e))?;
        self.provider
            .storage()
            .absorb(group.provider.storage())
            .map_err(|e| InternalError::new("adopt an external join", e))?;
        group.provider = Arc::clone(&self.provider);
        Ok(())
    }

    /// Reloads a group this client is a member of from its store.
    pub fn load_group(&self, group_id: &[u8]) -> Result<Group, StateError> {
        let mut group = MlsGroup::load(self.provider.storage(), &GroupId::from_slice(group_id))
            .map_err(|source| StateError::Store { operation: "load group", source })?
            .ok_or(StateError::NoSuchGroup)?;
        // A group saved before MAX_PAST_EPOCHS kept no past epochs: today's config.
        if group.configuration() != &join_config() {
            group
                .set_configuration(self.provider.storage(), &join_config())
                .map_err(|source| StateError::Store { operation: "load group", source })?;
        }
        Ok(self.wrap(group))
    }

    /// The client's whole state (key, URI, store with every group and unused
    /// KeyPackage) as bytes.
    pub fn export_state(&self) -> Result<Vec<u8>, InternalError> {
        let state = ClientState {
            client_uri: self.client_uri.as_bytes().to_vec().into(),
            private_key: self.key.private().into(),
            store: self.provider.export_storage()?.into(),
        };
        state
            .tls_serialize_detached()
            .map_err(|e| InternalError::new("export client", e))
    }

    /// A client restored from `export_state` bytes.
    pub fn import_state(bytes: &[u8]) -> Result<Self, DecodeError> {
        let state = codec::decode::<ClientState>("exported client state", bytes)?;
        let uri = String::from_utf8(state.client_uri.into())
            .map_err(|_| DecodeError::new("exported client state.client_uri", DecodeReason::NotUtf8))?;
        let key = SignatureKeyPair::from_private(state.private_key.as_slice())?;
        let provider = Provider::import_storage(state.store.as_slice())?;
        Ok(Self::with_provider(&uri, key, provider))
    }
}

#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserialize, tls_codec::TlsSize)]
struct ClientState {
    client_uri: VLBytes,
    private_key: VLBytes,
    store: VLBytes,
}

pub(crate) fn decode_tree(bytes: &[u8]) -> Result<RatchetTreeIn, DecodeError> {
    codec::decode("ratchet tree", bytes)
}

pub(crate) fn encode_tree(tree: &RatchetTree) -> Result<Vec<u8>, InternalError> {
    tree.tls_serialize_detached().map_err(|e| InternalError::new("serialize ratchet tree", e))
}

pub(crate) fn verifiable_group_info(bytes: &[u8]) -> Result<VerifiableGroupInfo, DecodeError> {
    match codec::decode::<MlsMessageIn>("GroupInfo MLSMessage", bytes)?.extract() {
        MlsMessageBodyIn::GroupInfo(gi) => Ok(gi),
        _ => Err(DecodeError::rule("MLSMessage", "not a GroupInfo")),
    }
}

/// A processed message waiting for the caller's policy decision.
#[derive(Debug)]
enum Pending {
    Commit(Box<StagedCommit>),
    OwnCommit,
    Proposal(Box<QueuedProposal>),
}

/// One client's view of one group.
#[derive(Debug)]
pub struct Group {
    provider: Arc<Provider>,
    signer: Arc<BasicKeyPair>,
    group: MlsGroup,
    pending: Option<Pending>,
}

impl Group {
    /// The store this group's state lives in (tests look inside).
    #[cfg(test)]
    pub(crate) fn store(&self) -> &crate::store::Store {
        self.provider.storage()
    }

    /// The group ID.
    pub fn group_id(&self) -> Vec<u8> {
        self.group.group_id().as_slice().to_vec()
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.group.epoch().as_u64()
    }

    /// The epoch authenticator (RFC 9420 §8.7) of the current epoch.
    pub fn epoch_authenticator(&self) -> Vec<u8> {
        self.group.epoch_authenticator().as_slice().to_vec()
    }

    /// MLS-Exporter(label, context, length).
    pub fn export_secret(&self, label: &str, context: &[u8], length: usize) -> Result<Vec<u8>, CreateError> {
        self.group
            .export_secret(self.provider.crypto(), label, context, length)
            .map_err(CreateError::refused("exporter"))
    }

    /// The tree hash of the current epoch.
    pub fn tree_hash(&self) -> Vec<u8> {
        self.group.public_group().group_context().tree_hash().to_vec()
    }

    /// This client's leaf index.
    pub fn own_leaf_index(&self) -> u32 {
        self.group.own_leaf_index().u32()
    }

    /// The members (clients) of the group.
    pub fn members(&self) -> Vec<MemberInfo> {
        members_of(self.group.members())
    }

    /// The app_data_dictionary of the current GroupContext.
    pub fn app_data(&self) -> Vec<(u16, Vec<u8>)> {
        dictionary_of(self.group.public_group().group_context())
    }

    fn old_dictionary(&self) -> Option<AppDataDictionary> {
        self.group
            .public_group()
            .group_context()
            .extensions()
            .app_data_dictionary()
            .map(|e| e.dictionary().clone())
    }

    /// Whether this client is still an active member.
    pub fn is_active(&self) -> bool {
        self.group.is_active()
    }

    /// The ratchet tree of the current epoch.
    pub fn export_ratchet_tree(&self) -> Result<Vec<u8>, InternalError> {
        encode_tree(&self.group.export_ratchet_tree())
    }

    /// A GroupInfo for the current epoch (with external_pub), as MLSMessage.
    pub fn export_group_info(&self) -> Result<Vec<u8>, CreateError> {
        let msg = self
            .group
            .export_group_info(self.provider.crypto(), self.signer.as_ref(), false)
            .map_err(CreateError::refused("GroupInfo"))?;
        Ok(to_bytes(&msg)?)
    }

    /// Encrypts application data as a PrivateMessage (MLSMessage bytes).
    pub fn encrypt(&mut self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CreateError> {
        self.group.set_aad(aad.to_vec());
        let msg = self
            .group
            .create_message(self.provider.as_ref(), self.signer.as_ref(), plaintext)
            .map_err(CreateError::refused("encrypt"))?;
        Ok(to_bytes(&msg)?)
    }

    /// Creates a commit over the pending proposals plus these adds, removes and
    /// AppDataUpdate proposals. The commit stays pending until
    /// `merge_pending_commit` (after the hub accepts it) or `clear_pending_commit`.
    pub fn commit(
        &mut self,
        add_key_packages: &[Vec<u8>],
        remove_leaves: &[u32],
        app_data: &[AppDataChange],
        force_path: bool,
        resolver: Option<&mut AppDataResolver<'_>>,
    ) -> Result<CommitOutput, CreateError> {
        let key_packages = add_key_packages
            .iter()
            .map(|bytes| codec::key_package(bytes, self.provider.crypto()))
            .collect::<Result<Vec<_>, _>>()?;
        let proposals = app_data.iter().map(|c| {
            Proposal::AppDataUpdate(Box::new(match &c.update {
                Some(data) => AppDataUpdateProposal::update(c.component_id, data.clone()),
                None => AppDataUpdateProposal::remove(c.component_id),
            }))
        });
        let old = self.app_data();
        let old_dict = self.old_dictionary();
        let mut stage = self
            .group
            .commit_builder()
            .propose_adds(key_packages)
            .propose_removals(remove_leaves.iter().map(|i| LeafNodeIndex::new(*i)))
            .add_proposals(proposals)
            .force_self_update(force_path)
            .load_psks(self.provider.storage())
            .map_err(CreateError::refused("commit"))?
            .create_group_info(true);
        let covered: Vec<AppDataChange> = stage.app_data_update_proposals().map(app_data_change).collect();
        let updates = resolve_app_data(
            old_dict.as_ref(),
            &old,
            &covered,
            resolver,
        )?;
        if updates.is_some() {
            stage.with_app_data_dictionary_updates(updates);
        }
        let bundle = stage
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                self.signer.as_ref(),
                |_| true,
            )
            .map_err(CreateError::refused("commit"))?
            .stage_commit(self.provider.as_ref())
            .map_err(CreateError::refused("commit"))?;
        let tree = self
            .group
            .pending_commit()
            .ok_or_else(|| InternalError::new("commit", "left no pending commit"))?
            .export_ratchet_tree(self.provider.crypto(), self.group.export_ratchet_tree())
            .map_err(|e| InternalError::new("ratchet tree of the pending commit", e))?
            .ok_or_else(|| InternalError::new("commit", "pending commit has no tree"))?;
        let (commit, welcome, group_info) = bundle.into_messages();
        Ok(CommitOutput {
            commit: to_bytes(&commit)?,
            welcome: welcome.as_ref().map(to_bytes).transpose()?,
            group_info: to_bytes(&group_info.ok_or_else(|| {
                InternalError::new("commit", "produced no GroupInfo")
            })?)?,
            ratchet_tree: encode_tree(&tree)?,
        })
    }

    /// Applies this client's pending commit (the hub accepted it).
    pub fn merge_pending_commit(&mut self) -> Result<(), MergeError> {
        const MERGE: &str = "merge pending commit";
        self.group.merge_pending_commit(self.provider.as_ref()).map_err(|e| match e {
            MergePendingCommitError::MlsGroupStateError(MlsGroupStateError::LibraryError(e)) => {
                MergeError::Internal(e.into())
            }
            MergePendingCommitError::MlsGroupStateError(state) => MergeError::GroupState(state),
            MergePendingCommitError::MergeCommitError(e) => MergeError::of_commit(MERGE)(e),
        })
    }

    /// Forgets the message secrets of every past epoch but the `keep` most recent.
    /// Once this member has processed the room's events up to a commit, no message
    /// of an epoch before that commit can come any more (docs/interop.md, "Past epochs").
    pub fn forget_past_epochs(&mut self, keep: usize) -> Result<(), MergeError> {
        let policy = if keep == 0 {
            PastEpochDeletion::delete_all()
        } else {
            // Nothing was kept before 1970: only the cap applies.
            PastEpochDeletion::before_timestamp(std::time::SystemTime::UNIX_EPOCH).max_past_epochs(keep)
        };
        self.group
            .delete_past_epoch_secrets(self.provider.as_ref(), policy)
            .map_err(|DeletePastEpochSecretsError::StorageError(source)| MergeError::Store {
                operation: "forget past epochs",
                source,
            })
    }

    /// Drops this client's pending commit (the hub refused it).
    pub fn clear_pending_commit(&mut self) -> Result<(), MergeError> {
        self.group
            .clear_pending_commit(self.provider.storage())
            .map_err(|source| MergeError::Store { operation: "clear pending commit", source })
    }

    /// A standalone AppDataUpdate proposal (PublicMessage).
    pub fn propose_app_data(&mut self, change: &AppDataChange) -> Result<Vec<u8>, CreateError> {
        let op = match &change.update {
            Some(data) => AppDataUpdateOperation::Update(data.clone().into()),
            None => AppDataUpdateOperation::Remove,
        };
        let (msg, _) = self
            .group
            .propose_app_data_update(self.provider.as_ref(), self.signer.as_ref(), change.component_id, op)
            .map_err(CreateError::refused("AppDataUpdate proposal"))?;
        Ok(to_bytes(&msg)?)
    }

    /// A Remove proposal for this client's own leaf (leaving the group); the
    /// next commit by another member covers it.
    pub fn propose_leave(&mut self) -> Result<Vec<u8>, CreateError> {
        let msg = self
            .group
            .leave_group(self.provider.as_ref(), self.signer.as_ref())
            .map_err(CreateError::refused("leave"))?;
        Ok(to_bytes(&msg)?)
    }

    /// Processes an incoming MLSMessage. Application data is returned at once;
    /// a proposal or commit is validated and held until `merge` or `discard`,
    /// so the caller can check room policy first. Bad input leaves state as it was.
    pub fn process(
        &mut self,
        message: &[u8],
        resolver: Option<&mut AppDataResolver<'_>>,
    ) -> Result<Summary, ProcessError> {
        let msg = protocol_message(message)?;
        if msg.group_id() != self.group.group_id() {
            return Err(ProcessError::OtherGroup);
        }
        // An application message of a past epoch decrypts with the secrets kept for it.
        let past_application = msg.content_type() == ContentType::Application && msg.epoch() < self.group.epoch();
        if !past_application {
            check_epoch(&msg, self.group.epoch())?;
        }
        let processed = self
            .group
            .process_message(self.provider.as_ref(), msg)
            .map_err(member_processing_error)?;
        let group = &self.group;
        let identity_at = |leaf: LeafNodeIndex| group.member(leaf).map(identity_of);
        let mut summary = Summary {
            epoch: processed.epoch().as_u64(),
            authenticated_data: processed.aad().to_vec(),
            ..Summary::default()
        };
        // The credential the message was verified with: for a message of a past epoch
        // that leaf may since hold another member, or none.
        let sender_identity = match processed.sender() {
            Sender::Member(_) => Some(identity_of(processed.credential())),
            _ => None,
        };
        summary.sender = Some(sender_info(processed.sender(), sender_identity));
        let sender = processed.sender().clone();
        let pending = match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => {
                summary.kind = Some(MessageKind::Application);
                summary.plaintext = Some(app.into_bytes());
                None
            }
            ProcessedMessageContent::ProposalMessage(q)
            | ProcessedMessageContent::ExternalJoinProposalMessage(q) => {
                summary.kind = Some(MessageKind::Proposal);
                add_proposal_to_summary(&mut summary, q.proposal(), &sender, self.provider.crypto(), &identity_at)?;
                Some(Pending::Proposal(q))
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                self.summarize_commit(&mut summary, &staged, &identity_at)?;
                Some(Pending::Commit(staged))
            }
            ProcessedMessageContent::UnresolvedAppDataCommit(unresolved) => {
                let covered: Vec<AppDataChange> =
                    unresolved.app_data_update_proposals().map(app_data_change).collect();
                let old = dictionary_of(self.group.public_group().group_context());
                let old_dict = self.old_dictionary();
                let updates = resolve_app_data(
                    old_dict.as_ref(),
                    &old,
                    &covered,
                    resolver,
                )?;
                let staged = self
                    .group
                    .stage_app_data_commit(self.provider.as_ref(), *unresolved, updates)
                    .map_err(stage_error)?;
                self.summarize_commit(&mut summary, &staged, &identity_at)?;
                Some(Pending::Commit(Box::new(staged)))
            }
            ProcessedMessageContent::OwnPendingCommit => {
                summary.kind = Some(MessageKind::OwnCommit);
                Some(Pending::OwnCommit)
            }
            ProcessedMessageContent::OwnPrivateMessage => {
                summary.kind = Some(MessageKind::OwnMessage);
                None
            }
        };
        self.pending = pending;
        Ok(summary)
    }

    fn summarize_commit(
        &self,
        summary: &mut Summary,
        staged: &StagedCommit,
        identity_at: &dyn Fn(LeafNodeIndex) -> Option<String>,
    ) -> Result<(), InternalError> {
        summary.kind = Some(MessageKind::Commit);
        for q in staged.queued_proposals() {
            add_proposal_to_summary(summary, q.proposal(), q.sender(), self.provider.crypto(), identity_at)?;
        }
        summary.path = staged.update_path_leaf_node().is_some();
        summary.new_epoch = Some(staged.group_context().epoch().as_u64());
        summary.new_tree_hash = Some(staged.group_context().tree_hash().to_vec());
        summary.self_removed = staged.self_removed();
        if let Some(SenderInfo { kind: "new_member_commit", .. }) = summary.sender {
            if let Some(leaf) = staged.update_path_leaf_node() {
                summary.external_join = Some((identity_of(leaf.credential()), u32::MAX));
            }
        }
        Ok(())
    }

    /// Applies what `process` held: merges the commit or stores the proposal.
    pub fn merge(&mut self) -> Result<(), MergeError> {
        match self.pending.take() {
            None => Err(MergeError::NothingToMerge),
            Some(Pending::Commit(staged)) => self
                .group
                .merge_staged_commit(self.provider.as_ref(), *staged)
                .map_err(MergeError::of_commit("merge commit")),
            Some(Pending::OwnCommit) => self.merge_pending_commit(),
            Some(Pending::Proposal(q)) => self
                .group
                .store_pending_proposal(self.provider.storage(), *q)
                .map_err(|source| MergeError::Store { operation: "store proposal", source }),
        }
    }

    /// Forgets what `process` held (the caller's policy refused it).
    pub fn discard(&mut self) {
        self.pending = None;
    }
}

