//! MLS interop test vectors: a client from a vector's private keys, and the
//! Welcome check. Glue over `mimi_core::vectors`; no logic.

use mimi_core::vectors as core;
use pyo3::prelude::*;

use crate::{guard, Client, Group};

/// A Welcome decrypted with a vector's init key, its GroupInfo signature verified.
#[pyclass(module = "mimi._core", frozen, get_all)]
struct DecryptedWelcome {
    group_context: Vec<u8>,
    group_id: Vec<u8>,
    epoch: u64,
}

#[pyfunction]
fn decrypt_welcome_with_keys(
    key_package: &[u8],
    init_priv: &[u8],
    welcome: &[u8],
    signer_pub: &[u8],
) -> PyResult<DecryptedWelcome> {
    let w = guard(|| core::decrypt_welcome(key_package, init_priv, welcome, signer_pub))?;
    Ok(DecryptedWelcome {
        group_context: w.group_context,
        group_id: w.group_id,
        epoch: w.epoch,
    })
}

#[pyfunction]
#[pyo3(signature = (key_package, init_priv, encryption_priv, signature_priv, welcome, ratchet_tree=None, external_psks=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn join_with_injected_keys(
    key_package: &[u8],
    init_priv: &[u8],
    encryption_priv: &[u8],
    signature_priv: &[u8],
    welcome: &[u8],
    ratchet_tree: Option<&[u8]>,
    external_psks: Vec<(Vec<u8>, Vec<u8>)>,
) -> PyResult<(Client, Group)> {
    let keys = core::InjectedKeys {
        key_package,
        init_priv,
        encryption_priv,
        signature_priv,
    };
    guard(|| core::join_passive(&keys, &external_psks, welcome, ratchet_tree)).map(|(c, g)| (Client(c), Group(g)))
}

/// Adds the vector helpers to `mimi._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DecryptedWelcome>()?;
    m.add_function(wrap_pyfunction!(decrypt_welcome_with_keys, m)?)?;
    m.add_function(wrap_pyfunction!(join_with_injected_keys, m)?)?;
    Ok(())
}
