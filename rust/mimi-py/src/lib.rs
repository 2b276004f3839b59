//! `mimi._core`: PyO3 glue over `mimi-core`. Converts, calls, maps errors; no logic.
//!
//! Every entry point runs under `guard`, so a Rust panic reaches Python as
//! `mimi.errors.InternalError`, never as a `PanicException`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mimi_core as core;
use pyo3::prelude::*;
use pyo3::types::PyDict;

mod errors;
mod hpke;
mod vectors;
mod wire;

use errors::{Class, Classified};

/// Runs a core call: its error becomes its `mimi.errors` class, a panic an
/// `InternalError`.
pub(crate) fn guard<T, E: Classified>(f: impl FnOnce() -> Result<T, E>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(Classified::into_pyerr),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Class::Internal.raise(format!("panic in mimi-core: {what}")))
        }
    }
}

/// Raises the sample of the core error variant `kind` (one of
/// `_CORE_ERROR_KINDS`), or panics in the core for `"panic"`, so tests can
/// check the class each reaches Python as.
#[pyfunction]
fn _raise_core_error(kind: &str) -> PyResult<()> {
    let sample = errors::SAMPLES.iter().find(|(name, _)| *name == kind).map(|(_, raise)| raise);
    match (kind, sample) {
        ("panic", _) => guard(|| -> Result<(), core::InternalError> { panic!("test panic") }),
        (_, Some(raise)) => Err(raise()),
        (_, None) => Err(Class::Decode.raise(format!("unknown core error kind {kind:?}"))),
    }
}

// ---------------------------------------------------------------- signing

/// An Ed25519 signature key pair.
#[pyclass(module = "mimi._core", frozen)]
struct SignatureKeyPair(core::SignatureKeyPair);

#[pymethods]
impl SignatureKeyPair {
    #[staticmethod]
    fn generate() -> Self {
        Self(core::SignatureKeyPair::generate())
    }

    #[staticmethod]
    fn from_private(private: &[u8]) -> PyResult<Self> {
        guard(|| core::SignatureKeyPair::from_private(private)).map(Self)
    }

    #[getter]
    fn public(&self) -> Vec<u8> {
        self.0.public()
    }

    #[getter]
    fn private(&self) -> Vec<u8> {
        self.0.private()
    }

    fn sign_with_label(&self, label: &str, content: &[u8]) -> Vec<u8> {
        self.0.sign_with_label(label, content)
    }

    fn __repr__(&self) -> String {
        format!("SignatureKeyPair(public={})", hex(&self.0.public()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[pyfunction]
fn verify_with_label(public_key: &[u8], label: &str, content: &[u8], signature: &[u8]) -> PyResult<()> {
    guard(|| core::verify_with_label(public_key, label, content, signature))
}

/// One signature to check: (public_key, label, content, signature).
type SignedItem = (Vec<u8>, String, Vec<u8>, Vec<u8>);

#[pyfunction]
fn verify_batch(py: Python<'_>, items: Vec<SignedItem>) -> PyResult<Vec<bool>> {
    py.detach(|| {
        guard(|| {
            let refs: Vec<core::VerifyItem<'_>> = items
                .iter()
                .map(|(public, label, content, signature)| core::VerifyItem {
                    public,
                    label,
                    content,
                    signature,
                })
                .collect();
            Ok::<_, core::InternalError>(core::verify_batch(&refs))
        })
    })
}

#[pyfunction]
fn sign_with_label_many(key: &SignatureKeyPair, label: &str, contents: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    contents.iter().map(|c| key.0.sign_with_label(label, c)).collect()
}

/// Decodes `data` strictly as the named MLS struct and encodes it again.
#[pyfunction]
fn reencode(kind: &str, data: &[u8]) -> PyResult<Vec<u8>> {
    guard(|| core::codec::reencode(kind, data))
}

/// (group_id, epoch, content type) of a PublicMessage or PrivateMessage.
#[pyfunction]
fn message_header(message: &[u8]) -> PyResult<(Vec<u8>, u64, &'static str)> {
    guard(|| core::codec::message_header(message)).map(|(group_id, epoch, kind)| (group_id, epoch, kind.as_str()))
}

/// The KeyPackageRefs a Welcome is encrypted to.
#[pyfunction]
fn welcome_key_package_refs(welcome: &[u8]) -> PyResult<Vec<Vec<u8>>> {
    guard(|| core::codec::welcome_key_package_refs(welcome))
}

/// The KeyPackageRef of a KeyPackage.
#[pyfunction]
fn key_package_ref(key_package: &[u8]) -> PyResult<Vec<u8>> {
    guard(|| core::codec::key_package_ref(key_package))
}

#[pyfunction]
fn ref_hash(label: &str, value: &[u8]) -> Vec<u8> {
    core::ref_hash(label, value)
}

// ---------------------------------------------------------------- results

/// A group member.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct Member {
    leaf_index: u32,
    identity: String,
    signature_key: Vec<u8>,
}

#[pymethods]
impl Member {
    fn __repr__(&self) -> String {
        format!("Member(leaf_index={}, identity={:?})", self.leaf_index, self.identity)
    }
}

fn members(list: Vec<core::MemberInfo>) -> Vec<Member> {
    list.into_iter()
        .map(|m| Member {
            leaf_index: m.leaf_index,
            identity: m.identity,
            signature_key: m.signature_key,
        })
        .collect()
}

/// A client an Add brings in.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct AddedClient {
    identity: String,
    key_package_ref: Vec<u8>,
    signature_key: Vec<u8>,
}

/// A leaf a Remove takes out.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct RemovedClient {
    leaf_index: u32,
    identity: String,
}

/// What a processed message says.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct Processed {
    kind: &'static str,
    epoch: u64,
    sender_kind: &'static str,
    sender_index: Option<u32>,
    sender_identity: Option<String>,
    authenticated_data: Vec<u8>,
    plaintext: Option<Vec<u8>>,
    added: Vec<Py<AddedClient>>,
    removed: Vec<Py<RemovedClient>>,
    app_data: Vec<(u16, Option<Vec<u8>>)>,
    updated: Vec<u32>,
    external_join: Option<(String, u32)>,
    group_context_extensions: bool,
    path: bool,
    new_epoch: Option<u64>,
    new_tree_hash: Option<Vec<u8>>,
    self_removed: bool,
}

#[pymethods]
impl Processed {
    fn __repr__(&self) -> String {
        format!(
            "Processed(kind={:?}, epoch={}, sender={}:{:?}, added={}, removed={}, app_data={})",
            self.kind,
            self.epoch,
            self.sender_kind,
            self.sender_identity,
            self.added.len(),
            self.removed.len(),
            self.app_data.len()
        )
    }
}

fn processed(py: Python<'_>, s: core::Summary) -> PyResult<Processed> {
    let sender = s.sender.unwrap_or(core::SenderInfo {
        kind: "none",
        index: None,
        identity: None,
    });
    Ok(Processed {
        kind: s.kind.map(|k| k.as_str()).unwrap_or("none"),
        epoch: s.epoch,
        sender_kind: sender.kind,
        sender_index: sender.index,
        sender_identity: sender.identity,
        authenticated_data: s.authenticated_data,
        plaintext: s.plaintext,
        added: s
            .added
            .into_iter()
            .map(|a| {
                Py::new(
                    py,
                    AddedClient {
                        identity: a.identity,
                        key_package_ref: a.key_package_ref,
                        signature_key: a.signature_key,
                    },
                )
            })
            .collect::<PyResult<_>>()?,
        removed: s
            .removed
            .into_iter()
            .map(|r| {
                Py::new(
                    py,
                    RemovedClient {
                        leaf_index: r.leaf_index,
                        identity: r.identity,
                    },
                )
            })
            .collect::<PyResult<_>>()?,
        app_data: s.app_data.into_iter().map(|c| (c.component_id, c.update)).collect(),
        updated: s.updated,
        external_join: s.external_join,
        group_context_extensions: s.group_context_extensions,
        path: s.path,
        new_epoch: s.new_epoch,
        new_tree_hash: s.new_tree_hash,
        self_removed: s.self_removed,
    })
}

/// Output of a commit: Commit, Welcome, GroupInfo (MLSMessages) and ratchet tree.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct CommitOutput {
    commit: Vec<u8>,
    welcome: Option<Vec<u8>>,
    group_info: Vec<u8>,
    ratchet_tree: Vec<u8>,
}

impl From<core::CommitOutput> for CommitOutput {
    fn from(c: core::CommitOutput) -> Self {
        Self {
            commit: c.commit,
            welcome: c.welcome,
            group_info: c.group_info,
            ratchet_tree: c.ratchet_tree,
        }
    }
}

// ---------------------------------------------------------------- app data resolver

/// Wraps a Python callable `resolve(old: dict[int, bytes], proposals:
/// list[tuple[int, bytes | None]]) -> dict[int, bytes | None]` as the core's
/// resolver; a Python exception it raises is re-raised as is.
struct Resolver<'py> {
    callable: Option<Bound<'py, PyAny>>,
    error: RefCell<Option<PyErr>>,
}

impl<'py> Resolver<'py> {
    fn new(callable: Option<Bound<'py, PyAny>>) -> Self {
        Self {
            callable,
            error: RefCell::new(None),
        }
    }

    fn run<T, E: Classified>(&self, f: impl FnOnce(Option<&mut core::AppDataResolver<'_>>) -> Result<T, E>) -> PyResult<T> {
        let result = match &self.callable {
            None => guard(|| f(None)),
            Some(callable) => {
                let mut closure = |old: &[(u16, Vec<u8>)], proposals: &[core::AppDataChange]| {
                    let call = || -> PyResult<Vec<(u16, Option<Vec<u8>>)>> {
                        let py = callable.py();
                        let old: BTreeMap<u16, &[u8]> = old.iter().map(|(k, v)| (*k, v.as_slice())).collect();
                        let proposals: Vec<(u16, Option<&[u8]>)> = proposals
                            .iter()
                            .map(|p| (p.component_id, p.update.as_deref()))
                            .collect();
                        let out = callable.call1((old, proposals))?;
                        let dict = out.cast::<PyDict>().map_err(PyErr::from)?;
                        let _ = py;
                        dict.iter()
                            .map(|(k, v)| Ok((k.extract::<u16>()?, v.extract::<Option<Vec<u8>>>()?)))
                            .collect()
                    };
                    call().map_err(|e| {
                        *self.error.borrow_mut() = Some(e);
                        core::AppDataError::Refused
                    })
                };
                guard(|| f(Some(&mut closure)))
            }
        };
        match self.error.borrow_mut().take() {
            Some(err) => Err(err),
            None => result,
        }
    }
}

// ---------------------------------------------------------------- client and group

/// A client device (one MLS client with a credential naming its client URI).
#[pyclass(module = "mimi._core")]
struct Client(core::Client);

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (client_uri, signature_key=None))]
    fn new(client_uri: &str, signature_key: Option<&SignatureKeyPair>) -> Self {
        let key = signature_key
            .map(|k| k.0.clone())
            .unwrap_or_else(core::SignatureKeyPair::generate);
        Self(core::Client::new(client_uri, key))
    }

    #[getter]
    fn client_uri(&self) -> &str {
        self.0.client_uri()
    }

    #[getter]
    fn signature_key(&self) -> SignatureKeyPair {
        SignatureKeyPair(self.0.signature_key().clone())
    }

    fn key_packages(&self, py: Python<'_>, count: usize) -> PyResult<Vec<Vec<u8>>> {
        py.detach(|| guard(|| self.0.key_packages(count)))
    }

    fn last_resort_key_package(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        py.detach(|| guard(|| self.0.last_resort_key_package()))
    }

    #[pyo3(signature = (group_id, hub_signature_key, hub_identity, app_data=None))]
    fn create_group(
        &self,
        group_id: &[u8],
        hub_signature_key: Vec<u8>,
        hub_identity: String,
        app_data: Option<BTreeMap<u16, Vec<u8>>>,
    ) -> PyResult<Group> {
        let hub = core::ExternalSenderInfo {
            signature_key: hub_signature_key,
            identity: hub_identity,
        };
        let app_data: Vec<(u16, Vec<u8>)> = app_data.unwrap_or_default().into_iter().collect();
        guard(|| self.0.create_group(group_id, &hub, &app_data)).map(Group)
    }

    fn join_welcome(&self, welcome: &[u8], ratchet_tree: &[u8]) -> PyResult<Group> {
        guard(|| self.0.join_welcome(welcome, ratchet_tree)).map(Group)
    }

    fn join_external(&self, group_info: &[u8], ratchet_tree: &[u8]) -> PyResult<(Group, CommitOutput)> {
        guard(|| self.0.join_external(group_info, ratchet_tree)).map(|(g, c)| (Group(g), c.into()))
    }

    fn adopt(&self, mut group: PyRefMut<'_, Group>) -> PyResult<()> {
        guard(|| self.0.adopt(&mut group.0))
    }

    fn load_group(&self, group_id: &[u8]) -> PyResult<Group> {
        guard(|| self.0.load_group(group_id)).map(Group)
    }

    fn export_state(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_state())
    }

    #[staticmethod]
    fn import_state(state: &[u8]) -> PyResult<Self> {
        guard(|| core::Client::import_state(state)).map(Self)
    }

    fn __repr__(&self) -> String {
        format!("Client({:?})", self.0.client_uri())
    }
}

/// One client's view of one MLS group.
#[pyclass(module = "mimi._core")]
struct Group(core::Group);

#[pymethods]
impl Group {
    #[getter]
    fn group_id(&self) -> Vec<u8> {
        self.0.group_id()
    }

    #[getter]
    fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    #[getter]
    fn epoch_authenticator(&self) -> Vec<u8> {
        self.0.epoch_authenticator()
    }

    #[getter]
    fn tree_hash(&self) -> Vec<u8> {
        self.0.tree_hash()
    }

    #[getter]
    fn own_leaf_index(&self) -> u32 {
        self.0.own_leaf_index()
    }

    #[getter]
    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn members(&self) -> Vec<Member> {
        members(self.0.members())
    }

    fn app_data(&self) -> BTreeMap<u16, Vec<u8>> {
        self.0.app_data().into_iter().collect()
    }

    fn export_ratchet_tree(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_ratchet_tree())
    }

    fn export_group_info(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_group_info())
    }

    fn export_secret(&self, label: &str, context: &[u8], length: usize) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_secret(label, context, length))
    }

    #[pyo3(signature = (plaintext, aad=b"".as_slice()))]
    fn encrypt(&mut self, plaintext: &[u8], aad: &[u8]) -> PyResult<Vec<u8>> {
        guard(|| self.0.encrypt(plaintext, aad))
    }

    #[pyo3(signature = (adds=Vec::new(), removes=Vec::new(), app_data=Vec::new(), force_path=false, resolve=None))]
    fn commit(
        &mut self,
        adds: Vec<Vec<u8>>,
        removes: Vec<u32>,
        app_data: Vec<(u16, Option<Vec<u8>>)>,
        force_path: bool,
        resolve: Option<Bound<'_, PyAny>>,
    ) -> PyResult<CommitOutput> {
        let changes = app_changes(app_data);
        let group = &mut self.0;
        Resolver::new(resolve)
            .run(|r| group.commit(&adds, &removes, &changes, force_path, r))
            .map(Into::into)
    }

    fn merge_pending_commit(&mut self) -> PyResult<()> {
        guard(|| self.0.merge_pending_commit())
    }

    fn clear_pending_commit(&mut self) -> PyResult<()> {
        guard(|| self.0.clear_pending_commit())
    }

    fn forget_past_epochs(&mut self, keep: usize) -> PyResult<()> {
        guard(|| self.0.forget_past_epochs(keep))
    }

    #[pyo3(signature = (component_id, update))]
    fn propose_app_data(&mut self, component_id: u16, update: Option<Vec<u8>>) -> PyResult<Vec<u8>> {
        let change = core::AppDataChange { component_id, update };
        guard(|| self.0.propose_app_data(&change))
    }

    fn propose_leave(&mut self) -> PyResult<Vec<u8>> {
        guard(|| self.0.propose_leave())
    }

    #[pyo3(signature = (message, resolve=None))]
    fn process(&mut self, py: Python<'_>, message: &[u8], resolve: Option<Bound<'_, PyAny>>) -> PyResult<Processed> {
        let group = &mut self.0;
        let summary = Resolver::new(resolve).run(|r| group.process(message, r))?;
        processed(py, summary)
    }

    fn merge(&mut self) -> PyResult<()> {
        guard(|| self.0.merge())
    }

    fn discard(&mut self) {
        self.0.discard()
    }
}

fn app_changes(app_data: Vec<(u16, Option<Vec<u8>>)>) -> Vec<core::AppDataChange> {
    app_data
        .into_iter()
        .map(|(component_id, update)| core::AppDataChange { component_id, update })
        .collect()
}

// ---------------------------------------------------------------- hub view

/// The hub's public view of a group (no group secrets).
#[pyclass(module = "mimi._core")]
struct HubView(core::HubView);

#[pymethods]
impl HubView {
    #[staticmethod]
    fn from_group_info(group_info: &[u8], ratchet_tree: &[u8]) -> PyResult<Self> {
        guard(|| core::HubView::from_group_info(group_info, ratchet_tree)).map(Self)
    }

    #[staticmethod]
    fn import_state(state: &[u8]) -> PyResult<Self> {
        guard(|| core::HubView::import_state(state)).map(Self)
    }

    fn export_state(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_state())
    }

    #[getter]
    fn group_id(&self) -> Vec<u8> {
        self.0.group_id()
    }

    #[getter]
    fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    #[getter]
    fn tree_hash(&self) -> Vec<u8> {
        self.0.tree_hash()
    }

    fn group_context(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.group_context())
    }

    fn members(&self) -> Vec<Member> {
        members(self.0.members())
    }

    fn app_data(&self) -> BTreeMap<u16, Vec<u8>> {
        self.0.app_data().into_iter().collect()
    }

    fn group_info(&self) -> Vec<u8> {
        self.0.group_info()
    }

    fn export_ratchet_tree(&self) -> PyResult<Vec<u8>> {
        guard(|| self.0.export_ratchet_tree())
    }

    fn propose_remove(&self, leaf_index: u32, hub_key: &SignatureKeyPair) -> PyResult<Vec<u8>> {
        guard(|| self.0.propose_remove(leaf_index, &hub_key.0))
    }

    #[pyo3(signature = (message, group_info=None, resolve=None))]
    fn process(
        &mut self,
        py: Python<'_>,
        message: &[u8],
        group_info: Option<&[u8]>,
        resolve: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Processed> {
        let view = &mut self.0;
        let summary = Resolver::new(resolve).run(|r| view.process(message, group_info, r))?;
        processed(py, summary)
    }

    fn merge(&mut self) -> PyResult<()> {
        guard(|| self.0.merge())
    }

    fn discard(&mut self) {
        self.0.discard()
    }

    fn cached_proposals(&self, py: Python<'_>) -> PyResult<Processed> {
        let summary = guard(|| self.0.cached_proposals())?;
        processed(py, summary)
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SignatureKeyPair>()?;
    m.add_class::<Client>()?;
    m.add_class::<Group>()?;
    m.add_class::<HubView>()?;
    m.add_class::<CommitOutput>()?;
    m.add_class::<Processed>()?;
    m.add_class::<Member>()?;
    m.add_class::<AddedClient>()?;
    m.add_class::<RemovedClient>()?;
    m.add_function(wrap_pyfunction!(verify_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(sign_with_label_many, m)?)?;
    m.add_function(wrap_pyfunction!(ref_hash, m)?)?;
    m.add_function(wrap_pyfunction!(reencode, m)?)?;
    m.add_function(wrap_pyfunction!(message_header, m)?)?;
    m.add_function(wrap_pyfunction!(welcome_key_package_refs, m)?)?;
    m.add_function(wrap_pyfunction!(key_package_ref, m)?)?;
    m.add("MLS_STRUCT_KINDS", core::codec::KINDS.to_vec())?;
    m.add_function(wrap_pyfunction!(_raise_core_error, m)?)?;
    m.add("_CORE_ERROR_KINDS", errors::SAMPLES.iter().map(|(name, _)| *name).collect::<Vec<_>>())?;
    m.add("CIPHERSUITE", 0x0001u16)?;
    vectors::register(m)?;
    wire::register(m)?;
    hpke::register(m)?;
    Ok(())
}
