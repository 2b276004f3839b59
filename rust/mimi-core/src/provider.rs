//! The openmls provider of one party (a client device or a hub view): RustCrypto
//! plus an in-memory store whose whole content can be exported as bytes and
//! imported in another process. The actor persists those bytes in SQLite.

use openmls::prelude::OpenMlsProvider;
use openmls_rust_crypto::RustCrypto;

use crate::error::{DecodeError, InternalError};
use crate::store::Store;

/// Crypto and storage of one party.
#[derive(Default, Debug)]
pub struct Provider {
    crypto: RustCrypto,
    storage: Store,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = Store;

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

impl Provider {
    /// The store's content, as bytes.
    pub fn export_storage(&self) -> Result<Vec<u8>, InternalError> {
        self.storage.export()
    }

    /// A provider whose store holds exactly what `export_storage` produced.
    pub fn import_storage(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { crypto: RustCrypto::default(), storage: Store::import(bytes)? })
    }
}
