//! draft-ietf-mimi-protocol §Fetch Key Material.

use openmls::prelude::{Capabilities, Credential, KeyPackageIn, RequiredCapabilitiesExtension};

use super::{check_mls, wire_enum, Fields, Reader, SignedFields, Writer, PROTOCOL_MLS10};
use super::Result;
use crate::error::DecodeError;

/// `KeyMaterialRequest`, §Fetch Key Material (protocol mls10).
///
/// Signed (`Signed`) by `requester_signature_key`; that the key belongs to
/// `requester_credential` and to the requesting user is the caller's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaterialRequest {
    /// `IdentifierUri requestingUser`.
    pub requesting_user: String,
    /// `IdentifierUri targetUser`.
    pub target_user: String,
    /// `IdentifierUri roomId`.
    pub room_id: String,
    /// `CipherSuite acceptableCiphersuites<V>` (non-empty).
    pub acceptable_ciphersuites: Vec<u16>,
    /// `RequiredCapabilities requiredCapabilities` (RFC 9420 §11.1 bytes).
    pub required_capabilities: Vec<u8>,
    /// `SignaturePublicKey requesterSignatureKey` (the key bytes).
    pub requester_signature_key: Vec<u8>,
    /// `Credential requesterCredential` (RFC 9420 §5.3 bytes).
    pub requester_credential: Vec<u8>,
    /// `opaque key_material_request_signature<V>`.
    pub signature: Vec<u8>,
}

impl KeyMaterialRequest {
    /// A checked request (`signature` may be empty until `signed`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        requesting_user: String,
        target_user: String,
        room_id: String,
        acceptable_ciphersuites: Vec<u16>,
        required_capabilities: Vec<u8>,
        requester_signature_key: Vec<u8>,
        requester_credential: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<Self> {
        Self {
            requesting_user,
            target_user,
            room_id,
            acceptable_ciphersuites,
            required_capabilities,
            requester_signature_key,
            requester_credential,
            signature,
        }
        .checked()
    }
}

impl Fields for KeyMaterialRequest {
    const NAME: &'static str = "KeyMaterialRequest";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.protocol("protocol")?;
        let requesting_user = r.within("requestingUser", |r| r.string("uri"))?;
        let target_user = r.within("targetUser", |r| r.string("uri"))?;
        let room_id = r.within("roomId", |r| r.string("uri"))?;
        let acceptable_ciphersuites = r.vector("acceptableCiphersuites", |r| r.u16("acceptableCiphersuites"))?;
        // §Fetch Key Material: "a non-empty list of acceptable MLS ciphersuites".
        if acceptable_ciphersuites.is_empty() {
            return Err(r.err("acceptableCiphersuites", "must not be empty"));
        }
        let required_capabilities = r
            .mls::<RequiredCapabilitiesExtension>("requiredCapabilities", "RequiredCapabilities")?
            .to_vec();
        let requester_signature_key = r.opaque("requesterSignatureKey")?.to_vec();
        let requester_credential = r.mls::<Credential>("requesterCredential", "Credential")?.to_vec();
        let signature = r.opaque("key_material_request_signature")?.to_vec();
        Ok(Self {
            requesting_user,
            target_user,
            room_id,
            acceptable_ciphersuites,
            required_capabilities,
            requester_signature_key,
            requester_credential,
            signature,
        })
    }

    fn write(&self, w: &mut Writer) {
        self.write_tbs(w);
        w.opaque(&self.signature);
    }
}

impl SignedFields for KeyMaterialRequest {
    const LABEL: &'static str = "KeyMaterialRequestTBS";

    fn write_tbs(&self, w: &mut Writer) {
        w.u8(PROTOCOL_MLS10);
        w.opaque(self.requesting_user.as_bytes());
        w.opaque(self.target_user.as_bytes());
        w.opaque(self.room_id.as_bytes());
        w.vector(|w| self.acceptable_ciphersuites.iter().for_each(|cs| w.u16(*cs)));
        w.raw(&self.required_capabilities);
        w.opaque(&self.requester_signature_key);
        w.raw(&self.requester_credential);
    }

    fn signature(&self) -> Result<&[u8]> {
        Ok(&self.signature)
    }

    fn set_signature(&mut self, signature: Vec<u8>) {
        self.signature = signature;
    }

    fn signature_key(&self) -> Result<&[u8]> {
        Ok(&self.requester_signature_key)
    }
}

wire_enum! {
    /// `KeyMaterialUserCode`, §Fetch Key Material.
    KeyMaterialUserCode {
        Success = 0 => "success",
        PartialSuccess = 1 => "partialSuccess",
        IncompatibleProtocol = 2 => "incompatibleProtocol",
        NoCompatibleMaterial = 3 => "noCompatibleMaterial",
        UserUnknown = 4 => "userUnknown",
        NoConsent = 5 => "noConsent",
        NoConsentForThisRoom = 6 => "noConsentForThisRoom",
        UserDeleted = 7 => "userDeleted",
    }
}

wire_enum! {
    /// `KeyMaterialClientCode`, §Fetch Key Material.
    KeyMaterialClientCode {
        Success = 0 => "success",
        KeyMaterialExhausted = 1 => "keyMaterialExhausted",
        NothingCompatible = 2 => "nothingCompatible",
    }
}

/// `ClientKeyMaterial`, §Fetch Key Material (protocol mls10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyMaterial {
    /// `KeyMaterialClientCode clientStatus`.
    pub client_status: KeyMaterialClientCode,
    /// `IdentifierUri clientUri`.
    pub client_uri: String,
    /// `KeyPackage keyPackage` (success only): the bare RFC 9420 KeyPackage.
    pub key_package: Option<Vec<u8>>,
    /// `optional<Capabilities> clientCapabilities` (nothingCompatible only).
    pub client_capabilities: Option<Vec<u8>>,
}

impl ClientKeyMaterial {
    /// A checked entry: a success has a KeyPackage, nothingCompatible may have
    /// Capabilities, keyMaterialExhausted has neither.
    pub fn new(
        client_status: KeyMaterialClientCode,
        client_uri: String,
        key_package: Option<Vec<u8>>,
        client_capabilities: Option<Vec<u8>>,
    ) -> Result<Self> {
        if let Some(kp) = &key_package {
            check_mls::<KeyPackageIn>("ClientKeyMaterial.keyPackage", "KeyPackage", kp)?;
        }
        if let Some(c) = &client_capabilities {
            check_mls::<Capabilities>("ClientKeyMaterial.clientCapabilities", "Capabilities", c)?;
        }
        let v = Self {
            client_status,
            client_uri,
            key_package,
            client_capabilities,
        };
        let ok = match client_status {
            KeyMaterialClientCode::Success => v.key_package.is_some() && v.client_capabilities.is_none(),
            KeyMaterialClientCode::NothingCompatible => v.key_package.is_none(),
            KeyMaterialClientCode::KeyMaterialExhausted => v.key_package.is_none() && v.client_capabilities.is_none(),
        };
        if !ok {
            return Err(DecodeError::rule("ClientKeyMaterial", format!(
                "clientStatus {} takes {}",
                client_status.as_str(),
                match client_status {
                    KeyMaterialClientCode::Success => "key_package only (required)",
                    KeyMaterialClientCode::NothingCompatible => "client_capabilities only (optional)",
                    KeyMaterialClientCode::KeyMaterialExhausted => "no field",
                }
            )));
        }
        Ok(v)
    }
}

impl Fields for ClientKeyMaterial {
    const NAME: &'static str = "ClientKeyMaterial";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let client_status = r.code::<KeyMaterialClientCode>("clientStatus")?;
        let client_uri = r.within("clientUri", |r| r.string("uri"))?;
        let mut v = Self {
            client_status,
            client_uri,
            key_package: None,
            client_capabilities: None,
        };
        match client_status {
            KeyMaterialClientCode::Success => {
                v.key_package = Some(r.mls::<KeyPackageIn>("keyPackage", "KeyPackage")?.to_vec())
            }
            KeyMaterialClientCode::NothingCompatible => {
                v.client_capabilities = r.optional("clientCapabilities", |r| {
                    Ok(r.mls::<Capabilities>("clientCapabilities", "Capabilities")?.to_vec())
                })?
            }
            KeyMaterialClientCode::KeyMaterialExhausted => {}
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        w.u8(self.client_status as u8);
        w.opaque(self.client_uri.as_bytes());
        match self.client_status {
            KeyMaterialClientCode::Success => w.raw(self.key_package.as_deref().unwrap_or_default()),
            KeyMaterialClientCode::NothingCompatible => {
                w.optional(self.client_capabilities.as_ref(), |w, c| w.raw(c))
            }
            KeyMaterialClientCode::KeyMaterialExhausted => {}
        }
    }
}

/// `KeyMaterialResponse`, §Fetch Key Material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaterialResponse {
    /// `KeyMaterialUserCode userStatus`.
    pub user_status: KeyMaterialUserCode,
    /// `IdentifierUri userUri`.
    pub user_uri: String,
    /// `ClientKeyMaterial clients<V>`.
    pub clients: Vec<ClientKeyMaterial>,
}

impl KeyMaterialResponse {
    /// A checked response.
    pub fn new(user_status: KeyMaterialUserCode, user_uri: String, clients: Vec<ClientKeyMaterial>) -> Result<Self> {
        Self {
            user_status,
            user_uri,
            clients,
        }
        .checked()
    }
}

impl Fields for KeyMaterialResponse {
    const NAME: &'static str = "KeyMaterialResponse";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.protocol("protocol")?;
        let user_status = r.code::<KeyMaterialUserCode>("userStatus")?;
        let user_uri = r.within("userUri", |r| r.string("uri"))?;
        let clients = r.vector("clients", |r| r.within("clients", ClientKeyMaterial::read))?;
        check_clients(user_status, &clients, Direction::Read).map_err(|msg| r.err("clients", msg))?;
        Ok(Self {
            user_status,
            user_uri,
            clients,
        })
    }

    fn write(&self, w: &mut Writer) {
        if let Err(msg) = check_clients(self.user_status, &self.clients, Direction::Write) {
            w.fail("KeyMaterialResponse.clients", msg);
            return;
        }
        w.u8(PROTOCOL_MLS10);
        w.u8(self.user_status as u8);
        w.opaque(self.user_uri.as_bytes());
        w.vector(|w| self.clients.iter().for_each(|c| c.write(w)));
    }
}

/// Which way a KeyMaterialResponse goes through `check_clients`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Read,
    Write,
}

/// §Fetch Key Material: "If the user code is success or partialSuccess, each
/// client is enumerated"; for noCompatibleMaterial the list MAY be populated;
/// "For any other user code, the provider MUST NOT populate the clients list."
///
/// reading: success means every listed client has key material (all
/// `success`); partialSuccess means "key material was provided for at least one
/// client", so we never send one without a `success`. The user codes have no
/// "every client exhausted": we send noCompatibleMaterial listing each client as
/// keyMaterialExhausted, and we accept an independent implementation's
/// partialSuccess whose listed clients all lack key material (docs/interop.md).
fn check_clients(
    user_status: KeyMaterialUserCode,
    clients: &[ClientKeyMaterial],
    direction: Direction,
) -> std::result::Result<(), String> {
    use KeyMaterialUserCode as U;
    let successes = clients
        .iter()
        .filter(|c| c.client_status == KeyMaterialClientCode::Success)
        .count();
    match user_status {
        U::Success if clients.is_empty() || successes != clients.len() => {
            Err("userStatus success needs at least one client, each with clientStatus success".into())
        }
        U::PartialSuccess if clients.is_empty() => Err("userStatus partialSuccess needs at least one client".into()),
        U::PartialSuccess if successes == 0 && direction == Direction::Write => {
            Err("userStatus partialSuccess needs a client with clientStatus success (send noCompatibleMaterial)".into())
        }
        U::NoCompatibleMaterial if successes != 0 => {
            Err("userStatus noCompatibleMaterial cannot list a client with key material".into())
        }
        U::Success | U::PartialSuccess | U::NoCompatibleMaterial => Ok(()),
        other if !clients.is_empty() => Err(format!("userStatus {} must not list clients", other.as_str())),
        _ => Ok(()),
    }
}
