//! Glue for `mimi_core::wire`: the provider-to-provider bodies of
//! draft-ietf-mimi-protocol. Each class is a frozen wrapper of the core value;
//! constructors check, `decode` is strict, `encode` gives the wire bytes.
//! Enum values cross as the draft's names (`"wrongEpoch"`).

use mimi_core::wire as w;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::guard;

/// The getters of a wrapper whose fields clone straight out of the core value.
macro_rules! wire_class {
    ($name:ident, $root:literal, { $($body:tt)* }) => {
        #[pymethods]
        impl $name {
            $($body)*

            /// Strict decode of exactly one value.
            #[staticmethod]
            fn decode(data: &[u8]) -> PyResult<Self> {
                guard(|| w::$name::decode(data)).map(Self)
            }

            /// The TLS encoding.
            fn encode(&self) -> PyResult<Vec<u8>> {
                guard(|| self.0.encode())
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<Self>().map(|o| o.get().0 == self.0).unwrap_or(false)
            }

            fn __repr__(&self) -> String {
                format!("{}({:?})", $root, self.0)
            }
        }
    };
}
pub(crate) use wire_class;

fn opt<T: Clone>(v: &Option<T>) -> Option<T> {
    v.clone()
}

// ---------------------------------------------------------------- Frank

/// `Frank`, §Submit a Message.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct Frank(w::Frank);

#[pymethods]
impl Frank {
    #[new]
    fn new(server_frank: &[u8], franking_signature_ciphersuite: u16, franking_integrity_signature: Vec<u8>) -> PyResult<Self> {
        guard(|| w::Frank::new(server_frank, franking_signature_ciphersuite, franking_integrity_signature)).map(Self)
    }
    #[getter]
    fn server_frank(&self) -> Vec<u8> {
        self.0.server_frank.to_vec()
    }
    #[getter]
    fn franking_signature_ciphersuite(&self) -> u16 {
        self.0.franking_signature_ciphersuite
    }
    #[getter]
    fn franking_integrity_signature(&self) -> Vec<u8> {
        self.0.franking_integrity_signature.clone()
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().map(|o| o.get().0 == self.0).unwrap_or(false)
    }
    fn __repr__(&self) -> String {
        format!("Frank({:?})", self.0)
    }
}

fn frank(v: Option<PyRef<'_, Frank>>) -> Option<w::Frank> {
    v.map(|f| f.0.clone())
}

// ---------------------------------------------------------------- RatchetTreeOption

/// `RatchetTreeOption`, draft-mahy-mls-ratchet-tree-options.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct RatchetTreeOption(pub(crate) w::RatchetTreeOption);

wire_class!(RatchetTreeOption, "RatchetTreeOption", {
    #[new]
    #[pyo3(signature = (representation, ratchet_tree=None, ratchet_tree_url=None, tree_signature=None))]
    fn new(
        representation: &str,
        ratchet_tree: Option<Vec<u8>>,
        ratchet_tree_url: Option<String>,
        tree_signature: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        guard(|| {
            let representation = w::RatchetTreeRepresentation::from_name(representation)?;
            w::RatchetTreeOption::new(representation, ratchet_tree, ratchet_tree_url, tree_signature)
        })
        .map(Self)
    }
    #[getter]
    fn representation(&self) -> &'static str {
        self.0.representation.as_str()
    }
    #[getter]
    fn ratchet_tree(&self) -> Option<Vec<u8>> {
        opt(&self.0.ratchet_tree)
    }
    #[getter]
    fn ratchet_tree_url(&self) -> Option<String> {
        opt(&self.0.ratchet_tree_url)
    }
    #[getter]
    fn tree_signature(&self) -> Option<Vec<u8>> {
        opt(&self.0.tree_signature)
    }});

fn rto(v: Option<PyRef<'_, RatchetTreeOption>>) -> Option<w::RatchetTreeOption> {
    v.map(|r| r.0.clone())
}

// ---------------------------------------------------------------- FanoutMessage

/// `FanoutMessage`, §Fanout Messages and Room Events.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct FanoutMessage(w::FanoutMessage);

wire_class!(FanoutMessage, "FanoutMessage", {
    #[new]
    #[pyo3(signature = (timestamp, message, frank=None, ratchet_tree_option=None, proposals=Vec::new()))]
    fn new(
        timestamp: u64,
        message: Vec<u8>,
        frank: Option<PyRef<'_, Frank>>,
        ratchet_tree_option: Option<PyRef<'_, RatchetTreeOption>>,
        proposals: Vec<Vec<u8>>,
    ) -> PyResult<Self> {
        let (f, r) = (self::frank(frank), rto(ratchet_tree_option));
        guard(|| w::FanoutMessage::new(timestamp, message, f, r, proposals)).map(Self)
    }
    #[getter]
    fn timestamp(&self) -> u64 {
        self.0.timestamp
    }
    #[getter]
    fn message(&self) -> Vec<u8> {
        self.0.message.clone()
    }
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    #[getter]
    fn frank(&self) -> Option<Frank> {
        self.0.frank.clone().map(Frank)
    }
    #[getter]
    fn ratchet_tree_option(&self) -> Option<RatchetTreeOption> {
        self.0.ratchet_tree_option.clone().map(RatchetTreeOption)
    }
    #[getter]
    fn proposals(&self) -> Vec<Vec<u8>> {
        self.0.proposals.clone()
    }});

/// The `/notify` body of many FanoutMessages, in one crossing.
#[pyfunction]
fn encode_notify(messages: Vec<PyRef<'_, FanoutMessage>>) -> PyResult<Vec<u8>> {
    let refs: Vec<w::FanoutMessage> = messages.iter().map(|m| m.0.clone()).collect();
    guard(|| w::encode_notify(&refs))
}

/// Strict decode of a `/notify` body.
#[pyfunction]
fn decode_notify(data: &[u8]) -> PyResult<Vec<FanoutMessage>> {
    guard(|| w::decode_notify(data)).map(|v| v.into_iter().map(FanoutMessage).collect())
}

/// A `/notify` body split into (kind, exact FanoutMessage bytes), strictly validated.
#[pyfunction]
fn split_notify<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Vec<(&'static str, Bound<'py, pyo3::types::PyBytes>)>> {
    let parts = guard(|| w::split_notify(data))?;
    Ok(parts.into_iter().map(|(k, b)| (k.as_str(), pyo3::types::PyBytes::new(py, b))).collect())
}

/// What an MLSMessage carries: "application", "proposal", "commit" or "welcome".
#[pyfunction]
fn mls_message_kind(message: &[u8]) -> PyResult<&'static str> {
    guard(|| w::mls_message_kind(message)).map(|k| k.as_str())
}

// ---------------------------------------------------------------- Submit

/// `SubmitMessageRequest`, §Submit a Message.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct SubmitMessageRequest(w::SubmitMessageRequest);

wire_class!(SubmitMessageRequest, "SubmitMessageRequest", {
    #[new]
    fn new(app_message: Vec<u8>, sending_uri: String) -> PyResult<Self> {
        guard(|| w::SubmitMessageRequest::new(app_message, sending_uri)).map(Self)
    }
    #[getter]
    fn app_message(&self) -> Vec<u8> {
        self.0.app_message.clone()
    }
    #[getter]
    fn sending_uri(&self) -> String {
        self.0.sending_uri.clone()
    }});

/// `SubmitMessageResponse`, §Submit a Message.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct SubmitMessageResponse(w::SubmitMessageResponse);

wire_class!(SubmitMessageResponse, "SubmitMessageResponse", {
    #[new]
    #[pyo3(signature = (status, accepted_timestamp=None, frank=None, current_epoch=None))]
    fn new(
        status: &str,
        accepted_timestamp: Option<u64>,
        frank: Option<PyRef<'_, Frank>>,
        current_epoch: Option<u64>,
    ) -> PyResult<Self> {
        let f = self::frank(frank);
        guard(|| {
            let status = w::SubmitResponseCode::from_name(status)?;
            w::SubmitMessageResponse::new(status, accepted_timestamp, f, current_epoch)
        })
        .map(Self)
    }
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    #[getter]
    fn accepted_timestamp(&self) -> Option<u64> {
        self.0.accepted_timestamp
    }
    #[getter]
    fn frank(&self) -> Option<Frank> {
        self.0.frank.clone().map(Frank)
    }
    #[getter]
    fn current_epoch(&self) -> Option<u64> {
        self.0.current_epoch
    }});

/// One `/submitMessage` body as the hub reads it: (group_id, epoch, digest,
/// sending_uri, FanoutMessage, accepted SubmitMessageResponse).
type Submission = (Vec<u8>, u64, Vec<u8>, String, Vec<u8>, Vec<u8>);

/// Many `/submitMessage` bodies read in one crossing; None for a body that does not decode.
#[pyfunction]
fn read_submissions(bodies: Vec<Bound<'_, pyo3::types::PyBytes>>, first_timestamp: u64) -> PyResult<Vec<Option<Submission>>> {
    let bodies: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
    let read = guard(|| Ok::<_, mimi_core::InternalError>(w::read_submissions(&bodies, first_timestamp)))?;
    Ok(read
        .into_iter()
        .map(|r| r.ok().map(|s| (s.group_id, s.epoch, s.digest.to_vec(), s.sending_uri, s.fanout, s.accepted)))
        .collect())
}

// ---------------------------------------------------------------- Update Room State

/// `PartialGroupInfo`, draft-mahy-mls-ratchet-tree-options.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct PartialGroupInfo(w::PartialGroupInfo);

wire_class!(PartialGroupInfo, "PartialGroupInfo", {
    #[new]
    fn new(ratchet_tree_presence: &str, group_info_extensions: Vec<(u16, Vec<u8>)>, signature: Vec<u8>) -> PyResult<Self> {
        guard(|| {
            let presence = w::RatchetTreePresence::from_name(ratchet_tree_presence)?;
            w::PartialGroupInfo::new(presence, group_info_extensions, signature)
        })
        .map(Self)
    }
    #[getter]
    fn ratchet_tree_presence(&self) -> &'static str {
        self.0.ratchet_tree_presence.as_str()
    }
    #[getter]
    fn group_info_extensions(&self) -> Vec<(u16, Vec<u8>)> {
        self.0.group_info_extensions.clone()
    }
    #[getter]
    fn signature(&self) -> Vec<u8> {
        self.0.signature.clone()
    }
});

/// `GroupInfoOption`, §Update Room State.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct GroupInfoOption(w::GroupInfoOption);

wire_class!(GroupInfoOption, "GroupInfoOption", {
    #[new]
    #[pyo3(signature = (representation, group_info=None, partial_group_info=None))]
    fn new(
        representation: &str,
        group_info: Option<Vec<u8>>,
        partial_group_info: Option<PyRef<'_, PartialGroupInfo>>,
    ) -> PyResult<Self> {
        let partial = partial_group_info.map(|p| p.0.clone());
        guard(|| {
            let representation = w::GroupInfoRepresentation::from_name(representation)?;
            w::GroupInfoOption::new(representation, group_info, partial)
        })
        .map(Self)
    }
    #[getter]
    fn representation(&self) -> &'static str {
        self.0.representation.as_str()
    }
    #[getter]
    fn group_info(&self) -> Option<Vec<u8>> {
        opt(&self.0.group_info)
    }
    #[getter]
    fn partial_group_info(&self) -> Option<PartialGroupInfo> {
        self.0.partial_group_info.clone().map(PartialGroupInfo)
    }
});

/// `HandshakeBundle`, §Update Room State: the whole UpdateRequest body.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct HandshakeBundle(w::HandshakeBundle);

wire_class!(HandshakeBundle, "HandshakeBundle", {
    #[new]
    #[pyo3(signature = (proposal_or_commit, welcome=None, group_info_option=None, ratchet_tree_option=None, more_proposals=Vec::new()))]
    fn new(
        proposal_or_commit: Vec<u8>,
        welcome: Option<Vec<u8>>,
        group_info_option: Option<PyRef<'_, GroupInfoOption>>,
        ratchet_tree_option: Option<PyRef<'_, RatchetTreeOption>>,
        more_proposals: Vec<Vec<u8>>,
    ) -> PyResult<Self> {
        let (g, r) = (group_info_option.map(|g| g.0.clone()), rto(ratchet_tree_option));
        guard(|| w::HandshakeBundle::new(proposal_or_commit, welcome, g, r, more_proposals)).map(Self)
    }
    #[getter]
    fn proposal_or_commit(&self) -> Vec<u8> {
        self.0.proposal_or_commit.clone()
    }
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    #[getter]
    fn welcome(&self) -> Option<Vec<u8>> {
        opt(&self.0.welcome)
    }
    #[getter]
    fn group_info_option(&self) -> Option<GroupInfoOption> {
        self.0.group_info_option.clone().map(GroupInfoOption)
    }
    #[getter]
    fn ratchet_tree_option(&self) -> Option<RatchetTreeOption> {
        self.0.ratchet_tree_option.clone().map(RatchetTreeOption)
    }
    #[getter]
    fn more_proposals(&self) -> Vec<Vec<u8>> {
        self.0.more_proposals.clone()
    }
});

/// `UpdateRoomResponse`, §Update Room State.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct UpdateResponse(w::UpdateResponse);

wire_class!(UpdateResponse, "UpdateResponse", {
    #[new]
    #[pyo3(signature = (response_code, error_description=String::new(), accepted_timestamp=None, current_epoch=None, invalid_proposals=Vec::new()))]
    fn new(
        response_code: &str,
        error_description: String,
        accepted_timestamp: Option<u64>,
        current_epoch: Option<u64>,
        invalid_proposals: Vec<Vec<u8>>,
    ) -> PyResult<Self> {
        guard(|| {
            let code = w::UpdateResponseCode::from_name(response_code)?;
            w::UpdateResponse::new(code, error_description, accepted_timestamp, current_epoch, invalid_proposals)
        })
        .map(Self)
    }
    #[getter]
    fn response_code(&self) -> &'static str {
        self.0.response_code.as_str()
    }
    #[getter]
    fn error_description(&self) -> String {
        self.0.error_description.clone()
    }
    #[getter]
    fn accepted_timestamp(&self) -> Option<u64> {
        self.0.accepted_timestamp
    }
    #[getter]
    fn current_epoch(&self) -> Option<u64> {
        self.0.current_epoch
    }
    #[getter]
    fn invalid_proposals(&self) -> Vec<Vec<u8>> {
        self.0.invalid_proposals.clone()
    }
});

// ---------------------------------------------------------------- Fetch Key Material

fn key(private_key: &[u8]) -> Result<mimi_core::SignatureKeyPair, mimi_core::DecodeError> {
    mimi_core::SignatureKeyPair::from_private(private_key)
}

/// `KeyMaterialRequest`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct KeyMaterialRequest(w::KeyMaterialRequest);

wire_class!(KeyMaterialRequest, "KeyMaterialRequest", {
    #[new]
    #[pyo3(signature = (requesting_user, target_user, room_id, acceptable_ciphersuites, required_capabilities, requester_signature_key, requester_credential, signature=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        requesting_user: String,
        target_user: String,
        room_id: String,
        acceptable_ciphersuites: Vec<u16>,
        required_capabilities: Vec<u8>,
        requester_signature_key: Vec<u8>,
        requester_credential: Vec<u8>,
        signature: Vec<u8>,
    ) -> PyResult<Self> {
        guard(|| {
            w::KeyMaterialRequest::new(
                requesting_user,
                target_user,
                room_id,
                acceptable_ciphersuites,
                required_capabilities,
                requester_signature_key,
                requester_credential,
                signature,
            )
        })
        .map(Self)
    }
    /// The KeyMaterialRequestTBS bytes.
    fn tbs(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.tbs())
    }
    /// A copy signed with the 32-byte Ed25519 private key.
    fn signed(&self, private_key: &[u8]) -> PyResult<Self> {
        guard(|| self.0.signed(&key(private_key)?)).map(Self)
    }
    /// VerifyWithLabel under requester_signature_key; raises InvalidSignature.
    fn verify(&self) -> PyResult<()> {
        guard(|| self.0.verify())
    }
    #[getter]
    fn requesting_user(&self) -> String {
        self.0.requesting_user.clone()
    }
    #[getter]
    fn target_user(&self) -> String {
        self.0.target_user.clone()
    }
    #[getter]
    fn room_id(&self) -> String {
        self.0.room_id.clone()
    }
    #[getter]
    fn acceptable_ciphersuites(&self) -> Vec<u16> {
        self.0.acceptable_ciphersuites.clone()
    }
    #[getter]
    fn required_capabilities(&self) -> Vec<u8> {
        self.0.required_capabilities.clone()
    }
    #[getter]
    fn requester_signature_key(&self) -> Vec<u8> {
        self.0.requester_signature_key.clone()
    }
    #[getter]
    fn requester_credential(&self) -> Vec<u8> {
        self.0.requester_credential.clone()
    }
    #[getter]
    fn signature(&self) -> Vec<u8> {
        self.0.signature.clone()
    }
});

/// `ClientKeyMaterial`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct ClientKeyMaterial(w::ClientKeyMaterial);

#[pymethods]
impl ClientKeyMaterial {
    #[new]
    #[pyo3(signature = (client_status, client_uri, key_package=None, client_capabilities=None))]
    fn new(
        client_status: &str,
        client_uri: String,
        key_package: Option<Vec<u8>>,
        client_capabilities: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        guard(|| {
            let status = w::KeyMaterialClientCode::from_name(client_status)?;
            w::ClientKeyMaterial::new(status, client_uri, key_package, client_capabilities)
        })
        .map(Self)
    }
    #[getter]
    fn client_status(&self) -> &'static str {
        self.0.client_status.as_str()
    }
    #[getter]
    fn client_uri(&self) -> String {
        self.0.client_uri.clone()
    }
    #[getter]
    fn key_package(&self) -> Option<Vec<u8>> {
        opt(&self.0.key_package)
    }
    #[getter]
    fn client_capabilities(&self) -> Option<Vec<u8>> {
        opt(&self.0.client_capabilities)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().map(|o| o.get().0 == self.0).unwrap_or(false)
    }
    fn __repr__(&self) -> String {
        format!("ClientKeyMaterial({:?})", self.0)
    }
}

/// `KeyMaterialResponse`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct KeyMaterialResponse(w::KeyMaterialResponse);

wire_class!(KeyMaterialResponse, "KeyMaterialResponse", {
    #[new]
    #[pyo3(signature = (user_status, user_uri, clients=Vec::new()))]
    fn new(user_status: &str, user_uri: String, clients: Vec<PyRef<'_, ClientKeyMaterial>>) -> PyResult<Self> {
        let clients: Vec<w::ClientKeyMaterial> = clients.iter().map(|c| c.0.clone()).collect();
        guard(|| {
            let status = w::KeyMaterialUserCode::from_name(user_status)?;
            w::KeyMaterialResponse::new(status, user_uri, clients)
        })
        .map(Self)
    }
    #[getter]
    fn user_status(&self) -> &'static str {
        self.0.user_status.as_str()
    }
    #[getter]
    fn user_uri(&self) -> String {
        self.0.user_uri.clone()
    }
    #[getter]
    fn clients(&self) -> Vec<ClientKeyMaterial> {
        self.0.clients.iter().cloned().map(ClientKeyMaterial).collect()
    }
});

// ---------------------------------------------------------------- Claim group key information

/// `GroupInfoRequest`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct GroupInfoRequest(w::GroupInfoRequest);

wire_class!(GroupInfoRequest, "GroupInfoRequest", {
    #[new]
    #[pyo3(signature = (cipher_suite, requesting_signature_key, requesting_credential, group_info_public_key, joining_code=None, signature=Vec::new()))]
    fn new(
        cipher_suite: u16,
        requesting_signature_key: Vec<u8>,
        requesting_credential: Vec<u8>,
        group_info_public_key: Vec<u8>,
        joining_code: Option<Vec<u8>>,
        signature: Vec<u8>,
    ) -> PyResult<Self> {
        guard(|| {
            w::GroupInfoRequest::new(
                cipher_suite,
                requesting_signature_key,
                requesting_credential,
                group_info_public_key,
                joining_code,
                signature,
            )
        })
        .map(Self)
    }
    /// The GroupInfoRequestTBS bytes.
    fn tbs(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.tbs())
    }
    /// A copy signed with the 32-byte Ed25519 private key.
    fn signed(&self, private_key: &[u8]) -> PyResult<Self> {
        guard(|| self.0.signed(&key(private_key)?)).map(Self)
    }
    /// VerifyWithLabel under requesting_signature_key; raises InvalidSignature.
    fn verify(&self) -> PyResult<()> {
        guard(|| self.0.verify())
    }
    #[getter]
    fn cipher_suite(&self) -> u16 {
        self.0.cipher_suite
    }
    #[getter]
    fn requesting_signature_key(&self) -> Vec<u8> {
        self.0.requesting_signature_key.clone()
    }
    #[getter]
    fn requesting_credential(&self) -> Vec<u8> {
        self.0.requesting_credential.clone()
    }
    #[getter]
    fn group_info_public_key(&self) -> Vec<u8> {
        self.0.group_info_public_key.clone()
    }
    #[getter]
    fn joining_code(&self) -> Option<Vec<u8>> {
        opt(&self.0.joining_code)
    }
    #[getter]
    fn signature(&self) -> Vec<u8> {
        self.0.signature.clone()
    }
});

/// `GroupInfoResponse`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct GroupInfoResponse(w::GroupInfoResponse);

wire_class!(GroupInfoResponse, "GroupInfoResponse", {
    #[new]
    #[pyo3(signature = (room_id, status, cipher_suite=None, hub_sender=None, encrypted_groupinfo_and_tree=None, signature=None))]
    fn new(
        room_id: String,
        status: &str,
        cipher_suite: Option<u16>,
        hub_sender: Option<Vec<u8>>,
        encrypted_groupinfo_and_tree: Option<Vec<u8>>,
        signature: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        guard(|| {
            let status = w::GroupInfoCode::from_name(status)?;
            w::GroupInfoResponse::new(room_id, status, cipher_suite, hub_sender, encrypted_groupinfo_and_tree, signature)
        })
        .map(Self)
    }
    /// The GroupInfoResponseTBS bytes (success only).
    fn tbs(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.tbs())
    }
    /// A copy signed with the hub's 32-byte Ed25519 private key.
    fn signed(&self, private_key: &[u8]) -> PyResult<Self> {
        guard(|| self.0.signed(&key(private_key)?)).map(Self)
    }
    /// VerifyWithLabel under hub_sender's signature key; raises InvalidSignature.
    fn verify(&self) -> PyResult<()> {
        guard(|| self.0.verify())
    }
    #[getter]
    fn room_id(&self) -> String {
        self.0.room_id.clone()
    }
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    #[getter]
    fn cipher_suite(&self) -> Option<u16> {
        self.0.cipher_suite
    }
    #[getter]
    fn hub_sender(&self) -> Option<Vec<u8>> {
        opt(&self.0.hub_sender)
    }
    #[getter]
    fn encrypted_groupinfo_and_tree(&self) -> Option<Vec<u8>> {
        opt(&self.0.encrypted_groupinfo_and_tree)
    }
    #[getter]
    fn signature(&self) -> Option<Vec<u8>> {
        opt(&self.0.signature)
    }
});

/// Adds the wire classes and functions to `mimi._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Frank>()?;
    m.add_class::<RatchetTreeOption>()?;
    m.add_class::<FanoutMessage>()?;
    m.add_class::<SubmitMessageRequest>()?;
    m.add_class::<SubmitMessageResponse>()?;
    m.add_class::<PartialGroupInfo>()?;
    m.add_class::<GroupInfoOption>()?;
    m.add_class::<HandshakeBundle>()?;
    m.add_class::<UpdateResponse>()?;
    m.add_class::<KeyMaterialRequest>()?;
    m.add_class::<ClientKeyMaterial>()?;
    m.add_class::<KeyMaterialResponse>()?;
    m.add_class::<GroupInfoRequest>()?;
    m.add_class::<GroupInfoResponse>()?;
    // §Update Room State: the UpdateRequest body is one HandshakeBundle.
    m.add("UpdateRequest", m.getattr("HandshakeBundle")?)?;
    m.add_function(wrap_pyfunction!(encode_notify, m)?)?;
    m.add_function(wrap_pyfunction!(decode_notify, m)?)?;
    m.add_function(wrap_pyfunction!(split_notify, m)?)?;
    m.add_function(wrap_pyfunction!(mls_message_kind, m)?)?;
    m.add_function(wrap_pyfunction!(read_submissions, m)?)?;
    let enums = PyDict::new(m.py());
    for (name, values) in w::ENUMS {
        enums.set_item(name, PyTuple::new(m.py(), *values)?)?;
    }
    m.add("WIRE_ENUMS", enums)?;
    Ok(())
}
