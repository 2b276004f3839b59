//! Glue for `mimi_core::hpke` (EncryptWithLabel / DecryptWithLabel, X25519
//! key pairs) and the structs of draft-ietf-mimi-protocol §Claim group key
//! information that travel inside or beside the encryption: ExternalSender,
//! PendingProposal, GroupInfoRatchetTreeTBE.

use mimi_core::hpke as core;
use mimi_core::wire as w;
use pyo3::prelude::*;

use crate::guard;
use crate::wire::{wire_class, RatchetTreeOption};

/// An HPKE key pair of ciphersuite 0x0001 (X25519).
#[pyclass(module = "mimi._core", frozen)]
struct HpkeKeyPair(core::HpkeKeyPair);

#[pymethods]
impl HpkeKeyPair {
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        guard(core::HpkeKeyPair::generate).map(Self)
    }

    #[getter]
    fn public(&self) -> Vec<u8> {
        self.0.public()
    }

    #[getter]
    fn private(&self) -> Vec<u8> {
        self.0.private()
    }

    fn __repr__(&self) -> String {
        format!("HpkeKeyPair({:?})", self.0)
    }
}

/// EncryptWithLabel (RFC 9420 §5.1.3); returns the HPKECiphertext bytes.
#[pyfunction]
fn encrypt_with_label(public_key: &[u8], label: &str, context: &[u8], plaintext: &[u8]) -> PyResult<Vec<u8>> {
    guard(|| core::encrypt_with_label(public_key, label, context, plaintext))
}

/// DecryptWithLabel (RFC 9420 §5.1.3) of HPKECiphertext bytes.
#[pyfunction]
fn decrypt_with_label(private_key: &[u8], label: &str, context: &[u8], ciphertext: &[u8]) -> PyResult<Vec<u8>> {
    guard(|| core::decrypt_with_label(private_key, label, context, ciphertext))
}

/// `ExternalSender` (RFC 9420 §12.1.8.1) with a basic credential.
#[pyclass(module = "mimi._core", frozen)]
struct ExternalSender(w::ExternalSender);

wire_class!(ExternalSender, get {
    signature_key: Vec<u8>,
    identity: String,
}, {
    #[new]
    fn new(signature_key: Vec<u8>, identity: String) -> PyResult<Self> {
        guard(|| w::ExternalSender::new(signature_key, identity)).map(Self)
    }
});

/// `PendingProposal`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
#[derive(Clone)]
struct PendingProposal(w::PendingProposal);

wire_class!(PendingProposal, get {
    proposal: Vec<u8>,
    hub_accepted_time: u64,
}, {
    #[new]
    fn new(proposal: Vec<u8>, hub_accepted_time: u64) -> PyResult<Self> {
        guard(|| w::PendingProposal::new(proposal, hub_accepted_time)).map(Self)
    }
});

/// `GroupInfoRatchetTreeTBE`, §Claim group key information.
#[pyclass(module = "mimi._core", frozen)]
struct GroupInfoRatchetTreeTBE(w::GroupInfoRatchetTreeTBE);

wire_class!(GroupInfoRatchetTreeTBE, get {
    group_info: Vec<u8>,
}, {
    #[new]
    #[pyo3(signature = (group_info, ratchet_tree_option, pending_proposals=Vec::new()))]
    fn new(
        group_info: Vec<u8>,
        ratchet_tree_option: PyRef<'_, RatchetTreeOption>,
        pending_proposals: Vec<PyRef<'_, PendingProposal>>,
    ) -> PyResult<Self> {
        let tree = ratchet_tree_option.0.clone();
        let pending: Vec<w::PendingProposal> = pending_proposals.iter().map(|p| p.0.clone()).collect();
        guard(|| w::GroupInfoRatchetTreeTBE::new(group_info, tree, pending)).map(Self)
    }
    #[getter]
    fn ratchet_tree_option(&self) -> RatchetTreeOption {
        RatchetTreeOption(self.0.ratchet_tree_option.clone())
    }
    #[getter]
    fn pending_proposals(&self) -> Vec<PendingProposal> {
        self.0.pending_proposals.iter().cloned().map(PendingProposal).collect()
    }
});

/// Adds the HPKE functions and the GroupInfo endpoint's structs to `mimi._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HpkeKeyPair>()?;
    m.add_class::<ExternalSender>()?;
    m.add_class::<PendingProposal>()?;
    m.add_class::<GroupInfoRatchetTreeTBE>()?;
    m.add_function(wrap_pyfunction!(encrypt_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(decrypt_with_label, m)?)?;
    m.add("GROUP_INFO_ENCRYPTION_LABEL", w::GROUP_INFO_ENCRYPTION_LABEL)?;
    Ok(())
}
