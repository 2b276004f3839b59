//! Glue for `mimi_core::wire`: the provider-to-provider bodies of
//! draft-ietf-mimi-protocol. Each class is a frozen wrapper of the core value;
//! constructors check, `decode` is strict, `encode` gives the wire bytes.
//! Enum values cross as the draft's names (`"wrongEpoch"`).

use mimi_core::wire as w;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::guard;

/// The methods of a frozen wrapper `$name(core value)`: a getter for each
/// field in `get { ... }` (a clone of the core value's field), the methods in
/// the last `{ ... }`, then `__eq__` and `__repr__`.
macro_rules! value_class {
    ($name:ident, get { $($field:ident: $ty:ty),* $(,)? }, { $($body:tt)* }) => {
        #[pymethods]
        impl $name {
            $(
                #[getter]
                fn $field(&self) -> $ty {
                    self.0.$field.clone()
                }
            )*

            $($body)*

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<Self>().map(|o| o.get().0 == self.0).unwrap_or(false)
            }

            fn __repr__(&self) -> String {
                format!("{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

/// `value_class!` of a struct of `mimi_core::wire::Wire`: adds a strict
/// `decode` and `encode`.
macro_rules! wire_class {
    ($name:ident, get { $($get:tt)* }, { $($body:tt)* }) => {
        crate::wire::value_class!($name, get { $($get)* }, {
            $($body)*

            /// Strict decode of exactly one value.
            #[staticmethod]
            fn decode(data: &[u8]) -> PyResult<Self> {
                guard(|| <mimi_core::wire::$name as mimi_core::wire::Wire>::decode(data)).map(Self)
            }

            /// The TLS encoding.
            fn encode(&self) -> PyResult<Vec<u8>> {
                guard(|| mimi_core::wire::Wire::encode(&self.0))
            }
        });
    };
}

/// `wire_class!` of a struct of `mimi_core::wire::Signed`: adds `tbs`,
/// `signed` and `verify`.
macro_rules! signed_class {
    ($name:ident, get { $($get:tt)* }, { $($body:tt)* }) => {
        wire_class!($name, get { $($get)* }, {
            $($body)*

            /// The to-be-signed bytes (the draft's TBS struct).
            fn tbs(&self) -> PyResult<Vec<u8>> {
                guard(|| mimi_core::wire::Signed::tbs(&self.0))
            }

            /// A copy signed with the 32-byte Ed25519 private key.
            fn signed(&self, private_key: &[u8]) -> PyResult<Self> {
                guard(|| {
                    let key = mimi_core::SignatureKeyPair::from_private(private_key)?;
                    mimi_core::wire::Signed::signed(&self.0, &key)
                })
                .map(Self)
            }

            /// VerifyWithLabel under the key the struct names; raises InvalidSignature.
            fn verify(&self) -> PyResult<()> {
                guard(|| mimi_core::wire::Signed::verify(&self.0))
            }
        });
    };
}
pub(crate) use {value_class, wire_class};

// ---------------------------------------------------------------- Frank

/// `Frank`, §Submit a Message.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct Frank(w::Frank);

value_class!(Frank, get {
    franking_signature_ciphersuite: u16,
    franking_integrity_signature: Vec<u8>,
}, {
    #[new]
    fn new(server_frank: &[u8], franking_signature_ciphersuite: u16, franking_integrity_signature: Vec<u8>) -> PyResult<Self> {
        guard(|| w::Frank::new(server_frank, franking_signature_ciphersuite, franking_integrity_signature)).map(Self)
    }
    #[getter]
    fn server_frank(&self) -> Vec<u8> {
        self.0.server_frank.to_vec()
    }
});

fn frank(v: Option<PyRef<'_, Frank>>) -> Option<w::Frank> {
    v.map(|f| f.0.clone())
}

// ---------------------------------------------------------------- RatchetTreeOption

/// `RatchetTreeOption`, draft-mahy-mls-ratchet-tree-options.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct RatchetTreeOption(pub(crate) w::RatchetTreeOption);

wire_class!(RatchetTreeOption, get {
    ratchet_tree: Option<Vec<u8>>,
    ratchet_tree_url: Option<String>,
    tree_signature: Option<Vec<u8>>,
}, {
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
});

fn rto(v: Option<PyRef<'_, RatchetTreeOption>>) -> Option<w::RatchetTreeOption> {
    v.map(|r| r.0.clone())
}

// ---------------------------------------------------------------- FanoutMessage

/// `FanoutMessage`, §Fanout Messages and Room Events.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct FanoutMessage(w::FanoutMessage);

wire_class!(FanoutMessage, get {
    timestamp: u64,
    message: Vec<u8>,
    proposals: Vec<Vec<u8>>,
}, {
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
});

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

wire_class!(SubmitMessageRequest, get {
    app_message: Vec<u8>,
    sending_uri: String,
}, {
    #[new]
    fn new(app_message: Vec<u8>, sending_uri: String) -> PyResult<Self> {
        guard(|| w::SubmitMessageRequest::new(app_message, sending_uri)).map(Self)
    }
});

/// `SubmitMessageResponse`, §Submit a Message.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct SubmitMessageResponse(w::SubmitMessageResponse);

wire_class!(SubmitMessageResponse, get {
    accepted_timestamp: Option<u64>,
    current_epoch: Option<u64>,
}, {
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
    fn frank(&self) -> Option<Frank> {
        self.0.frank.clone().map(Frank)
    }
});

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

wire_class!(PartialGroupInfo, get {
    group_info_extensions: Vec<(u16, Vec<u8>)>,
    signature: Vec<u8>,
}, {
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
});

/// `GroupInfoOption`, §Update Room State.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct GroupInfoOption(w::GroupInfoOption);

wire_class!(GroupInfoOption, get {
    group_info: Option<Vec<u8>>,
}, {
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
    fn partial_group_info(&self) -> Option<PartialGroupInfo> {
        self.0.partial_group_info.clone().map(PartialGroupInfo)
    }
});

/// `HandshakeBundle`, §Update Room State: the whole UpdateRequest body.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct HandshakeBundle(w::HandshakeBundle);

wire_class!(HandshakeBundle, get {
    proposal_or_commit: Vec<u8>,
    welcome: Option<Vec<u8>>,
    more_proposals: Vec<Vec<u8>>,
}, {
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
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    #[getter]
    fn group_info_option(&self) -> Option<GroupInfoOption> {
        self.0.group_info_option.clone().map(GroupInfoOption)
    }
    #[getter]
    fn ratchet_tree_option(&self) -> Option<RatchetTreeOption> {
        self.0.ratchet_tree_option.clone().map(RatchetTreeOption)
    }
});

/// `UpdateRoomResponse`, §Update Room State.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct UpdateResponse(w::UpdateResponse);

wire_class!(UpdateResponse, get {
    error_description: String,
    accepted_timestamp: Option<u64>,
    current_epoch: Option<u64>,
    invalid_proposals: Vec<Vec<u8>>,
}, {
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
});

// ---------------------------------------------------------------- Fetch Key Material

/// `KeyMaterialRequest`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct KeyMaterialRequest(w::KeyMaterialRequest);

signed_class!(KeyMaterialRequest, get {
    requesting_user: String,
    target_user: String,
    room_id: String,
    acceptable_ciphersuites: Vec<u16>,
    required_capabilities: Vec<u8>,
    requester_signature_key: Vec<u8>,
    requester_credential: Vec<u8>,
    signature: Vec<u8>,
}, {
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
});

/// `ClientKeyMaterial`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
pub(crate) struct ClientKeyMaterial(w::ClientKeyMaterial);

value_class!(ClientKeyMaterial, get {
    client_uri: String,
    key_package: Option<Vec<u8>>,
    client_capabilities: Option<Vec<u8>>,
}, {
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
});

/// `KeyMaterialResponse`, §Fetch Key Material.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct KeyMaterialResponse(w::KeyMaterialResponse);

wire_class!(KeyMaterialResponse, get {
    user_uri: String,
}, {
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
    fn clients(&self) -> Vec<ClientKeyMaterial> {
        self.0.clients.iter().cloned().map(ClientKeyMaterial).collect()
    }
});

// ---------------------------------------------------------------- Claim group key information

/// `GroupInfoRequest`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct GroupInfoRequest(w::GroupInfoRequest);

signed_class!(GroupInfoRequest, get {
    cipher_suite: u16,
    requesting_signature_key: Vec<u8>,
    requesting_credential: Vec<u8>,
    group_info_public_key: Vec<u8>,
    joining_code: Option<Vec<u8>>,
    signature: Vec<u8>,
}, {
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
});

/// `GroupInfoResponse`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
pub(crate) struct GroupInfoResponse(w::GroupInfoResponse);

signed_class!(GroupInfoResponse, get {
    room_id: String,
    cipher_suite: Option<u16>,
    hub_sender: Option<Vec<u8>>,
    encrypted_groupinfo_and_tree: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
}, {
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
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
});

// ---------------------------------------------------------------- credentials

/// The basic Credential (RFC 9420 §5.3) naming `identity`.
#[pyfunction]
fn basic_credential(identity: &str) -> PyResult<Vec<u8>> {
    guard(|| w::basic_credential(identity))
}

/// The identity of a basic Credential.
#[pyfunction]
fn basic_credential_identity(credential: &[u8]) -> PyResult<String> {
    guard(|| w::basic_credential_identity(credential))
}

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
    m.add_function(wrap_pyfunction!(basic_credential, m)?)?;
    m.add_function(wrap_pyfunction!(basic_credential_identity, m)?)?;
    let enums = PyDict::new(m.py());
    for (name, values) in w::ENUMS {
        enums.set_item(name, PyTuple::new(m.py(), *values)?)?;
    }
    m.add("WIRE_ENUMS", enums)?;
    Ok(())
}
