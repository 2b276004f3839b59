//! RFC 9420 §5.3 basic credentials: MIMI names a client by its client URI and
//! a hub by its provider URI (UTF-8) in a `Credential` of type basic(1). This is
//! where such a credential is made and read, for openmls and for the wire.

use openmls::prelude::{BasicCredential, Credential};

use super::{decode_exact, encode_with, Reader};
use super::Result;

/// RFC 9420 §5.3: `CredentialType basic(1)`.
const CREDENTIAL_BASIC: u16 = 1;

/// The basic `Credential` naming `identity`, as openmls takes it (a member's
/// leaf, the hub as external sender).
pub fn mls_basic_credential(identity: &str) -> Credential {
    BasicCredential::new(identity.as_bytes().to_vec()).into()
}

/// The bytes of the basic `Credential` naming `identity`.
pub fn basic_credential(identity: &str) -> Result<Vec<u8>> {
    encode_with(|w| w.mls("Credential", &mls_basic_credential(identity)))
}

/// The identity a basic Credential names; any other credential type, or an
/// identity that is not UTF-8, is a [`DecodeError`](crate::DecodeError).
pub fn basic_credential_identity(credential: &[u8]) -> Result<String> {
    decode_exact("Credential", credential, |r: &mut Reader<'_>| match r.u16("credential_type")? {
        CREDENTIAL_BASIC => r.string("identity"),
        t => Err(r.err("credential_type", format!("only basic(1) names an identity, got {t}"))),
    })
}
