//! The openmls provider of one party (a client device or a hub view): RustCrypto
//! plus an in-memory store whose whole content can be exported as bytes and
//! imported in another process. The actor persists those bytes in SQLite.

use std::collections::HashMap;

use openmls::prelude::OpenMlsProvider;
use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;
use tls_codec::{Deserialize as _, Serialize as _, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::error::{CoreError, Result};

/// Crypto and storage of one party.
#[derive(Default, Debug)]
pub struct Provider {
    crypto: RustCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        &self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        &self.crypto
    }
}

#[derive(Debug, TlsSerialize, TlsDeserialize, TlsSize)]
struct Entry {
    key: VLBytes,
    value: VLBytes,
}

/// Exported state: a format version, then the store's entries sorted by key
/// (so equal states export to equal bytes).
#[derive(Debug, TlsSerialize, TlsDeserialize, TlsSize)]
struct StoreExport {
    version: u16,
    entries: Vec<Entry>,
}

const STORE_EXPORT_VERSION: u16 = 1;

impl Provider {
    /// The store's content, as bytes.
    pub fn export_storage(&self) -> Result<Vec<u8>> {
        let values = self
            .storage
            .values
            .read()
            .map_err(|_| CoreError::Internal("storage lock poisoned".into()))?;
        let mut entries: Vec<Entry> = values
            .iter()
            .map(|(k, v)| Entry {
                key: k.clone().into(),
                value: v.clone().into(),
            })
            .collect();
        entries.sort_by(|a, b| a.key.as_slice().cmp(b.key.as_slice()));
        StoreExport {
            version: STORE_EXPORT_VERSION,
            entries,
        }
        .tls_serialize_detached()
        .map_err(|e| CoreError::Storage(format!("export: {e}")))
    }

    /// A provider whose store holds exactly what `export_storage` produced.
    pub fn import_storage(bytes: &[u8]) -> Result<Self> {
        let export = StoreExport::tls_deserialize_exact(bytes)
            .map_err(|e| CoreError::decode("exported MLS state", e))?;
        if export.version != STORE_EXPORT_VERSION {
            return Err(CoreError::Decode(format!(
                "exported MLS state has format version {}, expected {STORE_EXPORT_VERSION}",
                export.version
            )));
        }
        let map: HashMap<Vec<u8>, Vec<u8>> = export
            .entries
            .into_iter()
            .map(|e| (e.key.into(), e.value.into()))
            .collect();
        Ok(Self {
            crypto: RustCrypto::default(),
            storage: MemoryStorage {
                values: std::sync::RwLock::new(map),
            },
        })
    }
}
