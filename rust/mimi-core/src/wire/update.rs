//! draft-ietf-mimi-protocol §Update Room State: HandshakeBundle (the UpdateRequest
//! body), GroupInfoOption, PartialGroupInfo (draft-mahy-mls-ratchet-tree-options
//! §Conveying the GroupInfo) and the update response.

use std::collections::BTreeSet;

use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::Welcome;

use super::fanout::{read_proposals, write_proposals};
use super::{check_mls, wire_enum, Fields, MlsMessageKind, RatchetTreeOption, Reader, Writer};
use super::Result;
use crate::error::DecodeError;

/// RFC 9420 §17.3: the `ratchet_tree` extension type, which PartialGroupInfo omits.
const RATCHET_TREE_EXTENSION: u16 = 0x0002;

wire_enum! {
    /// `RatchetTreePresence`, draft-mahy-mls-ratchet-tree-options §Conveying the GroupInfo.
    RatchetTreePresence {
        NoRatchetTree = 0 => "no_ratchet_tree",
        Present = 1 => "present",
        Removed = 2 => "removed",
        Added = 3 => "added",
    }
}

/// `PartialGroupInfo`, draft-mahy-mls-ratchet-tree-options §Conveying the GroupInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialGroupInfo {
    /// `RatchetTreePresence ratchet_tree_presence`.
    pub ratchet_tree_presence: RatchetTreePresence,
    /// `Extension group_info_extensions<V>` as (extension_type, extension_data),
    /// without `ratchet_tree` and without repeated types.
    pub group_info_extensions: Vec<(u16, Vec<u8>)>,
    /// `opaque signature<V>`: the committer's GroupInfo signature.
    pub signature: Vec<u8>,
}

impl PartialGroupInfo {
    /// A checked PartialGroupInfo.
    pub fn new(
        ratchet_tree_presence: RatchetTreePresence,
        group_info_extensions: Vec<(u16, Vec<u8>)>,
        signature: Vec<u8>,
    ) -> Result<Self> {
        Self {
            ratchet_tree_presence,
            group_info_extensions,
            signature,
        }
        .checked()
    }
}

impl Fields for PartialGroupInfo {
    const NAME: &'static str = "PartialGroupInfo";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let ratchet_tree_presence = r.code::<RatchetTreePresence>("ratchet_tree_presence")?;
        let mut seen = BTreeSet::new();
        let group_info_extensions = r.vector("group_info_extensions", |r| {
            let extension_type = r.u16("group_info_extensions")?;
            // draft-mahy-mls-ratchet-tree-options §Conveying the GroupInfo:
            // "GroupInfo extensions excluding ratchet_tree"; RFC 9420 §13: no repeats.
            if extension_type == RATCHET_TREE_EXTENSION {
                return Err(r.err("group_info_extensions", "must not contain ratchet_tree (0x0002)"));
            }
            if !seen.insert(extension_type) {
                return Err(r.err(
                    "group_info_extensions",
                    format!("extension type {extension_type:#06x} appears twice"),
                ));
            }
            Ok((extension_type, r.opaque("group_info_extensions")?.to_vec()))
        })?;
        let signature = r.opaque("signature")?.to_vec();
        Ok(Self {
            ratchet_tree_presence,
            group_info_extensions,
            signature,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u8(self.ratchet_tree_presence as u8);
        w.vector(|w| {
            for (extension_type, data) in &self.group_info_extensions {
                w.u16(*extension_type);
                w.opaque(data);
            }
        });
        w.opaque(&self.signature);
    }
}

wire_enum! {
    /// `GroupInfoRepresentation`, §Update Room State.
    GroupInfoRepresentation {
        Full = 1 => "full",
        Partial = 2 => "partial",
    }
}

/// `GroupInfoOption`, §Update Room State: a whole GroupInfo or a PartialGroupInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfoOption {
    /// `GroupInfoRepresentation representation`.
    pub representation: GroupInfoRepresentation,
    /// `GroupInfo groupInfo` (full): the bare RFC 9420 GroupInfo, not an MLSMessage.
    pub group_info: Option<Vec<u8>>,
    /// `PartialGroupInfo partialGroupInfo` (partial).
    pub partial_group_info: Option<PartialGroupInfo>,
}

impl GroupInfoOption {
    /// A checked GroupInfoOption: the field must be that of `representation`.
    pub fn new(
        representation: GroupInfoRepresentation,
        group_info: Option<Vec<u8>>,
        partial_group_info: Option<PartialGroupInfo>,
    ) -> Result<Self> {
        Self {
            representation,
            group_info,
            partial_group_info,
        }
        .checked()
    }
}

impl Fields for GroupInfoOption {
    const NAME: &'static str = "GroupInfoOption";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let representation = r.code::<GroupInfoRepresentation>("representation")?;
        let mut v = Self {
            representation,
            group_info: None,
            partial_group_info: None,
        };
        match representation {
            // reading: `GroupInfo groupInfo` is the bare RFC 9420 §12.4.3 struct.
            GroupInfoRepresentation::Full => {
                v.group_info = Some(r.mls::<VerifiableGroupInfo>("groupInfo", "GroupInfo")?.to_vec())
            }
            GroupInfoRepresentation::Partial => {
                v.partial_group_info = Some(r.within("partialGroupInfo", PartialGroupInfo::read)?)
            }
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        match (self.representation, &self.group_info, &self.partial_group_info) {
            (GroupInfoRepresentation::Full, Some(gi), None) => {
                w.u8(self.representation as u8);
                w.raw(gi);
            }
            (GroupInfoRepresentation::Partial, None, Some(p)) => {
                w.u8(self.representation as u8);
                p.write(w);
            }
            (r, _, _) => w.fail("GroupInfoOption", format!(
                "representation {} takes {} only",
                r.as_str(),
                match r {
                    GroupInfoRepresentation::Full => "group_info",
                    GroupInfoRepresentation::Partial => "partial_group_info",
                }
            )),
        }
    }
}

/// `HandshakeBundle`, §Update Room State: the whole `UpdateRequest` body.
///
/// reading: `UpdateRequest` selects on `room.protocol`, which is not on the
/// wire: the body is the HandshakeBundle alone. A commit carries
/// `optional<Welcome>` (bare RFC 9420 Welcome, not an MLSMessage), a
/// GroupInfoOption and a RatchetTreeOption (both required); a proposal
/// carries `moreProposals<V>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeBundle {
    /// `MLSMessage proposalOrCommit`.
    pub proposal_or_commit: Vec<u8>,
    /// Proposal or Commit (from the MLSMessage header).
    pub kind: MlsMessageKind,
    /// `optional<Welcome> welcome` (commit).
    pub welcome: Option<Vec<u8>>,
    /// `GroupInfoOption groupInfoOption` (commit, required).
    pub group_info_option: Option<GroupInfoOption>,
    /// `RatchetTreeOption ratchetTreeOption` (commit, required).
    pub ratchet_tree_option: Option<RatchetTreeOption>,
    /// `MLSMessage moreProposals<V>` (proposal).
    pub more_proposals: Vec<Vec<u8>>,
}

impl HandshakeBundle {
    /// A checked bundle: the fields must be those of the message's kind.
    pub fn new(
        proposal_or_commit: Vec<u8>,
        welcome: Option<Vec<u8>>,
        group_info_option: Option<GroupInfoOption>,
        ratchet_tree_option: Option<RatchetTreeOption>,
        more_proposals: Vec<Vec<u8>>,
    ) -> Result<Self> {
        let kind = super::mls_message_kind(&proposal_or_commit)
            .map_err(|e| e.within("HandshakeBundle.proposalOrCommit"))?;
        if !matches!(kind, MlsMessageKind::Proposal | MlsMessageKind::Commit) {
            return Err(DecodeError::rule("HandshakeBundle.proposalOrCommit", format!(
                "must be a proposal or a commit, got a {}",
                kind.as_str()
            )));
        }
        if let Some(welcome) = &welcome {
            check_mls::<Welcome>("HandshakeBundle.welcome", "Welcome", welcome)?;
        }
        Self {
            proposal_or_commit,
            kind,
            welcome,
            group_info_option,
            ratchet_tree_option,
            more_proposals,
        }
        .checked()
    }
}

impl Fields for HandshakeBundle {
    const NAME: &'static str = "HandshakeBundle";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let (proposal_or_commit, kind) = r.mls_message("proposalOrCommit")?;
        let mut v = Self {
            proposal_or_commit,
            kind,
            welcome: None,
            group_info_option: None,
            ratchet_tree_option: None,
            more_proposals: Vec::new(),
        };
        match kind {
            MlsMessageKind::Commit => {
                v.welcome = r.optional("welcome", |r| Ok(r.mls::<Welcome>("welcome", "Welcome")?.to_vec()))?;
                v.group_info_option = Some(r.within("groupInfoOption", GroupInfoOption::read)?);
                v.ratchet_tree_option = Some(r.within("ratchetTreeOption", RatchetTreeOption::read)?);
            }
            MlsMessageKind::Proposal => v.more_proposals = read_proposals(r, "moreProposals")?,
            other => {
                return Err(r.err(
                    "proposalOrCommit",
                    format!("must be a proposal or a commit, got a {}", other.as_str()),
                ))
            }
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        let ok = match self.kind {
            MlsMessageKind::Commit => {
                self.group_info_option.is_some() && self.ratchet_tree_option.is_some() && self.more_proposals.is_empty()
            }
            MlsMessageKind::Proposal => {
                self.welcome.is_none() && self.group_info_option.is_none() && self.ratchet_tree_option.is_none()
            }
            _ => false,
        };
        if !ok {
            w.fail("HandshakeBundle", format!(
                "a {} takes {}",
                self.kind.as_str(),
                match self.kind {
                    MlsMessageKind::Commit => {
                        "group_info_option and ratchet_tree_option (required) and welcome, not more_proposals"
                    }
                    MlsMessageKind::Proposal => "only more_proposals",
                    _ => "nothing (proposalOrCommit must be a proposal or a commit)",
                }
            ));
            return;
        }
        w.raw(&self.proposal_or_commit);
        match (&self.group_info_option, &self.ratchet_tree_option) {
            (Some(gio), Some(rto)) => {
                w.optional(self.welcome.as_ref(), |w, welcome| w.raw(welcome));
                gio.write(w);
                rto.write(w);
            }
            _ => write_proposals(w, &self.more_proposals),
        }
    }
}

wire_enum! {
    /// `UpdateResponseCode`, §Update Room State.
    UpdateResponseCode {
        Success = 0 => "success",
        WrongEpoch = 1 => "wrongEpoch",
        NotAllowed = 2 => "notAllowed",
        InvalidProposal = 3 => "invalidProposal",
    }
}

/// `UpdateRoomResponse`, §Update Room State.
///
/// reading: `string errorDescription` is UTF-8 in `opaque<V>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateResponse {
    /// `UpdateResponseCode responseCode`.
    pub response_code: UpdateResponseCode,
    /// `string errorDescription`.
    pub error_description: String,
    /// `uint64 accepted_timestamp` (success only).
    pub accepted_timestamp: Option<u64>,
    /// `uint64 currentEpoch` (wrongEpoch only).
    pub current_epoch: Option<u64>,
    /// `ProposalRef invalidProposals<V>` (invalidProposal only).
    pub invalid_proposals: Vec<Vec<u8>>,
}

impl UpdateResponse {
    /// A checked response: the fields must be those of `response_code`.
    pub fn new(
        response_code: UpdateResponseCode,
        error_description: String,
        accepted_timestamp: Option<u64>,
        current_epoch: Option<u64>,
        invalid_proposals: Vec<Vec<u8>>,
    ) -> Result<Self> {
        Self {
            response_code,
            error_description,
            accepted_timestamp,
            current_epoch,
            invalid_proposals,
        }
        .checked()
    }
}

impl Fields for UpdateResponse {
    const NAME: &'static str = "UpdateRoomResponse";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let response_code = r.code::<UpdateResponseCode>("responseCode")?;
        let error_description = r.string("errorDescription")?;
        let mut v = Self {
            response_code,
            error_description,
            accepted_timestamp: None,
            current_epoch: None,
            invalid_proposals: Vec::new(),
        };
        match response_code {
            UpdateResponseCode::Success => v.accepted_timestamp = Some(r.u64("accepted_timestamp")?),
            UpdateResponseCode::WrongEpoch => v.current_epoch = Some(r.u64("currentEpoch")?),
            UpdateResponseCode::InvalidProposal => {
                v.invalid_proposals = r.vector("invalidProposals", |r| Ok(r.opaque("invalidProposals")?.to_vec()))?
            }
            UpdateResponseCode::NotAllowed => {}
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        use UpdateResponseCode as C;
        let (ts, epoch, refs) = (
            self.accepted_timestamp.is_some(),
            self.current_epoch.is_some(),
            !self.invalid_proposals.is_empty(),
        );
        let ok = match self.response_code {
            C::Success => ts && !epoch && !refs,
            C::WrongEpoch => !ts && epoch && !refs,
            C::InvalidProposal => !ts && !epoch,
            C::NotAllowed => !ts && !epoch && !refs,
        };
        if !ok {
            w.fail("UpdateRoomResponse", format!(
                "responseCode {} takes {}",
                self.response_code.as_str(),
                match self.response_code {
                    C::Success => "accepted_timestamp (required)",
                    C::WrongEpoch => "current_epoch (required)",
                    C::InvalidProposal => "invalid_proposals only",
                    C::NotAllowed => "no field but error_description",
                }
            ));
            return;
        }
        w.u8(self.response_code as u8);
        w.opaque(self.error_description.as_bytes());
        if let Some(ts) = self.accepted_timestamp {
            w.u64(ts);
        }
        if let Some(epoch) = self.current_epoch {
            w.u64(epoch);
        }
        if self.response_code == C::InvalidProposal {
            w.vector(|w| self.invalid_proposals.iter().for_each(|p| w.opaque(p)));
        }
    }
}
