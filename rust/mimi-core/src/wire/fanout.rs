//! draft-ietf-mimi-protocol §Submit a Message and §Fanout Messages and Room Events.

use super::{
    encode_with, is_private_message, wire_enum, Fields, Frank, MlsMessageKind, RatchetTreeOption, Reader, Wire, Writer,
    PROTOCOL_MLS10,
};
use super::Result;
use crate::error::DecodeError;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- FanoutMessage

/// `FanoutMessage`, §Fanout Messages and Room Events.
///
/// reading: the draft selects on `protocol` (not on the wire) and on
/// `message.wire_format` with content-type cases. We put no protocol byte on
/// the wire (mls10 is implied, as in UpdateRequest) and select on what the
/// MLSMessage header says: a Welcome carries `ratchet_tree_option`; an
/// application message `optional<Frank> frank`; a proposal `moreProposals<V>`;
/// a commit `externalProposals<V>` (both in `proposals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutMessage {
    /// `uint64 timestamp`: the hub acceptance time, ms since the UNIX epoch.
    pub timestamp: u64,
    /// The MLSMessage (exact bytes).
    pub message: Vec<u8>,
    /// What `message` carries (from its header).
    pub kind: MlsMessageKind,
    /// `optional<Frank> frank` (application messages only).
    pub frank: Option<Frank>,
    /// `RatchetTreeOption ratchetTreeOption` (Welcome only, required there).
    pub ratchet_tree_option: Option<RatchetTreeOption>,
    /// `moreProposals<V>` (proposal) or `externalProposals<V>` (commit): MLSMessages.
    pub proposals: Vec<Vec<u8>>,
}

impl FanoutMessage {
    /// A checked FanoutMessage: the fields must be those of the message's kind.
    pub fn new(
        timestamp: u64,
        message: Vec<u8>,
        frank: Option<Frank>,
        ratchet_tree_option: Option<RatchetTreeOption>,
        proposals: Vec<Vec<u8>>,
    ) -> Result<Self> {
        let kind = super::mls_message_kind(&message).map_err(|e| e.within("FanoutMessage.message"))?;
        Self {
            timestamp,
            message,
            kind,
            frank,
            ratchet_tree_option,
            proposals,
        }
        .checked()
    }
}

impl Fields for FanoutMessage {
    const NAME: &'static str = "FanoutMessage";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let timestamp = r.u64("timestamp")?;
        let (message, kind) = r.mls_message("message")?;
        let mut v = Self {
            timestamp,
            message,
            kind,
            frank: None,
            ratchet_tree_option: None,
            proposals: Vec::new(),
        };
        match kind {
            MlsMessageKind::Application => v.frank = r.optional("frank", |r| r.within("frank", Frank::read))?,
            MlsMessageKind::Welcome => {
                v.ratchet_tree_option = Some(r.within("ratchetTreeOption", RatchetTreeOption::read)?)
            }
            MlsMessageKind::Proposal => v.proposals = read_proposals(r, "moreProposals")?,
            MlsMessageKind::Commit => v.proposals = read_proposals(r, "externalProposals")?,
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        let misplaced = match self.kind {
            MlsMessageKind::Application => self.ratchet_tree_option.is_some() || !self.proposals.is_empty(),
            MlsMessageKind::Welcome => {
                self.ratchet_tree_option.is_none() || self.frank.is_some() || !self.proposals.is_empty()
            }
            MlsMessageKind::Proposal | MlsMessageKind::Commit => {
                self.frank.is_some() || self.ratchet_tree_option.is_some()
            }
        };
        if misplaced {
            w.fail("FanoutMessage", format!(
                "a {} message takes {}",
                self.kind.as_str(),
                match self.kind {
                    MlsMessageKind::Application => "only frank",
                    MlsMessageKind::Welcome => "only ratchet_tree_option (required)",
                    MlsMessageKind::Proposal | MlsMessageKind::Commit => "only proposals",
                }
            ));
            return;
        }
        w.u64(self.timestamp);
        w.raw(&self.message);
        match self.kind {
            MlsMessageKind::Application => w.optional(self.frank.as_ref(), |w, f| f.write(w)),
            MlsMessageKind::Welcome => {
                if let Some(rto) = &self.ratchet_tree_option {
                    rto.write(w)
                }
            }
            MlsMessageKind::Proposal | MlsMessageKind::Commit => write_proposals(w, &self.proposals),
        }
    }
}

/// `MLSMessage proposals<V>`: each a PublicMessage proposal.
///
/// reading: "each represented as either PublicMessage or SemiPrivateMessage"
/// and openmls knows no SemiPrivateMessage: we require proposals (content_type
/// proposal), public or private as openmls parses them.
pub(crate) fn read_proposals(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<Vec<u8>>> {
    r.vector(field, |r| {
        let (msg, kind) = r.mls_message(field)?;
        if kind != MlsMessageKind::Proposal {
            return Err(r.err(field, format!("each item must be a proposal, got a {}", kind.as_str())));
        }
        Ok(msg)
    })
}

pub(crate) fn write_proposals(w: &mut Writer, proposals: &[Vec<u8>]) {
    w.vector(|w| proposals.iter().for_each(|p| w.raw(p)));
}

/// The body of `POST /notify/{roomId}`: one or more concatenated FanoutMessages.
///
/// reading: the body is the bare concatenation (no outer length), and an empty
/// body is malformed (the hub has nothing to notify).
pub fn encode_notify(messages: &[FanoutMessage]) -> Result<Vec<u8>> {
    if messages.is_empty() {
        return Err(DecodeError::rule("notify body", "at least one FanoutMessage is required"));
    }
    encode_with(|w| messages.iter().for_each(|m| m.write(w)))
}

/// Strict decode of a `/notify` body; errors name the message's index.
pub fn decode_notify(data: &[u8]) -> Result<Vec<FanoutMessage>> {
    Ok(read_notify(data)?.into_iter().map(|(m, _)| m).collect())
}

/// A `/notify` body split into its FanoutMessages' exact bytes, each with its
/// kind, validated as strictly as `decode_notify`: the follower forwards these
/// bytes to each recipient unchanged.
pub fn split_notify(data: &[u8]) -> Result<Vec<(MlsMessageKind, &[u8])>> {
    Ok(read_notify(data)?.into_iter().map(|(m, bytes)| (m.kind, bytes)).collect())
}

/// Each FanoutMessage of a `/notify` body with its exact bytes.
fn read_notify(data: &[u8]) -> Result<Vec<(FanoutMessage, &[u8])>> {
    if data.is_empty() {
        return Err(DecodeError::rule("notify body", "empty (at least one FanoutMessage is required)"));
    }
    let mut r = Reader::new(FanoutMessage::NAME, data);
    let mut out = Vec::new();
    while !r.at_end() {
        let start = r.position();
        let m = FanoutMessage::read(&mut r)
            .map_err(|e| e.within(format!("notify body, message {}", out.len())))?;
        out.push((m, &data[start..r.position()]));
    }
    r.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------- SubmitMessageRequest

/// `SubmitMessageRequest`, §Submit a Message (protocol mls10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitMessageRequest {
    /// `MLSMessage appMessage`: a PrivateMessage with content_type application.
    pub app_message: Vec<u8>,
    /// `IdentifierURI sendingUri`: the sender's user URI.
    pub sending_uri: String,
}

impl SubmitMessageRequest {
    /// A checked request.
    pub fn new(app_message: Vec<u8>, sending_uri: String) -> Result<Self> {
        Self {
            app_message,
            sending_uri,
        }
        .checked()
    }
}

impl Fields for SubmitMessageRequest {
    const NAME: &'static str = "SubmitMessageRequest";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.protocol("protocol")?;
        let (app_message, kind) = r.mls_message("appMessage")?;
        // §Submit a Message: "an MLSMessage with a WireFormat of
        // PrivateMessage, and a content_type of application".
        if kind != MlsMessageKind::Application || !is_private_message(&app_message) {
            return Err(r.err("appMessage", "must be a PrivateMessage with content_type application"));
        }
        let sending_uri = r.within("sendingUri", |r| r.string("uri"))?;
        Ok(Self {
            app_message,
            sending_uri,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u8(PROTOCOL_MLS10);
        w.raw(&self.app_message);
        w.opaque(self.sending_uri.as_bytes());
    }
}

// ---------------------------------------------------------------- SubmitMessageResponse

wire_enum! {
    /// `SubmitResponseCode`, §Submit a Message.
    SubmitResponseCode {
        Accepted = 0 => "accepted",
        NotAllowed = 1 => "notAllowed",
        EpochTooOld = 2 => "epochTooOld",
    }
}

/// `SubmitMessageResponse`, §Submit a Message (protocol mls10).
///
/// reading: the select's `case success` is the enum's `accepted(0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitMessageResponse {
    /// `SubmitResponseCode statusCode`.
    pub status: SubmitResponseCode,
    /// `uint64 accepted_timestamp` (accepted only).
    pub accepted_timestamp: Option<u64>,
    /// `optional<Frank> frank` (accepted only).
    pub frank: Option<Frank>,
    /// `uint64 currentEpoch` (epochTooOld only).
    pub current_epoch: Option<u64>,
}

impl SubmitMessageResponse {
    /// A checked response: the fields must be those of `status`.
    pub fn new(
        status: SubmitResponseCode,
        accepted_timestamp: Option<u64>,
        frank: Option<Frank>,
        current_epoch: Option<u64>,
    ) -> Result<Self> {
        Self {
            status,
            accepted_timestamp,
            frank,
            current_epoch,
        }
        .checked()
    }
}

impl Fields for SubmitMessageResponse {
    const NAME: &'static str = "SubmitMessageResponse";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.protocol("protocol")?;
        let status = r.code::<SubmitResponseCode>("statusCode")?;
        let mut v = Self {
            status,
            accepted_timestamp: None,
            frank: None,
            current_epoch: None,
        };
        match status {
            SubmitResponseCode::Accepted => {
                v.accepted_timestamp = Some(r.u64("accepted_timestamp")?);
                v.frank = r.optional("frank", |r| r.within("frank", Frank::read))?;
            }
            SubmitResponseCode::EpochTooOld => v.current_epoch = Some(r.u64("currentEpoch")?),
            SubmitResponseCode::NotAllowed => {}
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        let ok = match self.status {
            SubmitResponseCode::Accepted => self.accepted_timestamp.is_some() && self.current_epoch.is_none(),
            SubmitResponseCode::EpochTooOld => {
                self.current_epoch.is_some() && self.accepted_timestamp.is_none() && self.frank.is_none()
            }
            SubmitResponseCode::NotAllowed => {
                self.current_epoch.is_none() && self.accepted_timestamp.is_none() && self.frank.is_none()
            }
        };
        if !ok {
            w.fail("SubmitMessageResponse", format!(
                "status {} takes {}",
                self.status.as_str(),
                match self.status {
                    SubmitResponseCode::Accepted => "accepted_timestamp (required) and frank",
                    SubmitResponseCode::EpochTooOld => "current_epoch only (required)",
                    SubmitResponseCode::NotAllowed => "no field",
                }
            ));
            return;
        }
        w.u8(PROTOCOL_MLS10);
        w.u8(self.status as u8);
        if let Some(ts) = self.accepted_timestamp {
            w.u64(ts);
            w.optional(self.frank.as_ref(), |w, f| f.write(w));
        }
        if let Some(epoch) = self.current_epoch {
            w.u64(epoch);
        }
    }
}

// ---------------------------------------------------------------- the hub's reading of submissions

/// A `/submitMessage` body as the hub reads it: what its checks need (group,
/// epoch, retry key, sender) and the bytes it sends if it accepts the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The application message's group ID (from its PrivateMessage header).
    pub group_id: Vec<u8>,
    /// The application message's epoch (from its PrivateMessage header).
    pub epoch: u64,
    /// SHA-256 of the application message: a retried message has the same one.
    pub digest: [u8; 32],
    /// `sendingUri`.
    pub sending_uri: String,
    /// The `FanoutMessage` carrying the message, stamped with its timestamp.
    pub fanout: Vec<u8>,
    /// The `SubmitMessageResponse` accepting the message at that timestamp.
    pub accepted: Vec<u8>,
}

impl Submission {
    /// Reads one `SubmitMessageRequest` body (strictly) for acceptance at `timestamp`.
    pub fn read(body: &[u8], timestamp: u64) -> Result<Self> {
        let request = SubmitMessageRequest::decode(body)?;
        let (group_id, epoch, _) = super::read_header(&request.app_message)?
            .framed
            .ok_or_else(|| DecodeError::rule("SubmitMessageRequest.appMessage", "no PrivateMessage header"))?;
        let (group_id, digest) = (group_id.to_vec(), Sha256::digest(&request.app_message).into());
        // The request's decode checked the message (a PrivateMessage application
        // message): both values are well formed by construction, no round trip needed.
        let fanout = FanoutMessage {
            timestamp,
            message: request.app_message,
            kind: MlsMessageKind::Application,
            frank: None,
            ratchet_tree_option: None,
            proposals: Vec::new(),
        }
        .encode()?;
        let accepted = SubmitMessageResponse {
            status: SubmitResponseCode::Accepted,
            accepted_timestamp: Some(timestamp),
            frank: None,
            current_epoch: None,
        }
        .encode()?;
        Ok(Self {
            group_id,
            epoch,
            digest,
            sending_uri: request.sending_uri,
            fanout,
            accepted,
        })
    }
}

/// Reads many `/submitMessage` bodies at once (the hub's batch path): body `i`
/// is stamped `first_timestamp + i`, as the hub's clock ticks once per body,
/// accepted or not. A body that does not decode is an error in its place and
/// changes nothing for the others.
pub fn read_submissions<B: AsRef<[u8]>>(bodies: &[B], first_timestamp: u64) -> Vec<Result<Submission>> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let timestamp = first_timestamp
                .checked_add(i as u64)
                .ok_or_else(|| DecodeError::rule("timestamp", format!("{first_timestamp} + {i} overflows")))?;
            Submission::read(body.as_ref(), timestamp)
        })
        .collect()
}
