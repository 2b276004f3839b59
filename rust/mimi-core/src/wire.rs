//! Provider-to-provider bodies of draft-ietf-mimi-protocol (§MIMI Endpoints
//! and Framing), in the TLS presentation language (RFC 8446 §3, RFC 9420 §2.1).
//!
//! Every struct decodes strictly: exact length, no trailing bytes, minimal
//! variable-length prefixes, known enum values, embedded MLS objects that
//! openmls parses. A [`DecodeError`] names the struct and the field
//! (`"FanoutMessage.frank.server_frank: truncated ..."`).
//!
//! Embedded RFC 9420 structs (MLSMessage, KeyPackage, Credential, ...) are kept
//! as their exact bytes: the hub forwards them, it does not re-encode them.
//! Values built with a `new` constructor or `decode` always encode to bytes
//! that decode again to the same value. Where the draft is ambiguous the
//! reading is tagged `// reading:` and listed in docs/interop.md.

use std::fmt::Display;

use openmls::prelude::MlsMessageIn;

use crate::error::{DecodeError, DecodeReason, VerifyError};
use crate::signing::{verify_with_label, SignatureKeyPair};

mod credential;
mod fanout;
mod group_info;
mod key_material;
mod update;

pub use credential::*;
pub use fanout::*;
pub use group_info::*;
pub use key_material::*;
pub use update::*;

/// What every wire operation returns: the structs only fail to decode or to
/// encode (their fields break a rule); `verify` names its own error.
pub(crate) type Result<T, E = DecodeError> = std::result::Result<T, E>;

/// RFC 9420 §2.1.2: vector lengths are 30-bit at most.
const MAX_VARINT: usize = (1 << 30) - 1;

/// `Protocol`, §MIMI Endpoints and Framing: only `mls10(1)` is defined; a body
/// with any other value cannot be decoded (its select has no case).
pub const PROTOCOL_MLS10: u8 = 1;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "(", stringify!($value), ")`")]
                $variant = $value,
            )+
        }

        impl $name {
            /// The value names, as the draft spells them.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The value of a wire byte, if the draft defines it.
            pub fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $($value => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The draft's name of the value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value of a draft name (e.g. `"wrongEpoch"`).
            pub fn from_name(name: &str) -> Result<Self> {
                match name {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::error::DecodeError::new("", $crate::error::DecodeReason::UnknownName {
                        enum_name: stringify!($name),
                        name: name.to_owned(),
                        known: Self::NAMES,
                    })),
                }
            }
        }

        impl crate::wire::WireEnum for $name {
            const NAME: &'static str = stringify!($name);
            fn from_u8(value: u8) -> Option<Self> {
                $name::from_u8(value)
            }
        }
    };
}
pub(crate) use wire_enum;

/// Every enum whose values cross to Python by name, with those names in wire
/// order: the drafts' one-byte enums (response and status codes,
/// representations) and `MlsMessageKind`. The bindings expose it so that the
/// Python `Literal` types of each (`mimi.codes`) are checked against it.
pub const ENUMS: &[(&str, &[&str])] = {
    macro_rules! by_name {
        ($($t:ident),+) => { &[$((stringify!($t), $t::NAMES)),+] };
    }
    by_name!(
        RatchetTreeRepresentation,
        RatchetTreePresence,
        GroupInfoRepresentation,
        UpdateResponseCode,
        SubmitResponseCode,
        KeyMaterialUserCode,
        KeyMaterialClientCode,
        GroupInfoCode,
        MlsMessageKind
    )
};

/// A one-byte enum of the drafts (`(255)` upper bound).
pub(crate) trait WireEnum: Sized + Copy {
    const NAME: &'static str;
    fn from_u8(value: u8) -> Option<Self>;
}

// ---------------------------------------------------------------- reader

/// A strict reader over one body. Errors name the struct path and the field.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// End of the innermost vector being read (or of the data).
    limit: usize,
    path: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(root: &'static str, data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            limit: data.len(),
            path: vec![root],
        }
    }

    /// A rule of the struct broken at `field`.
    pub(crate) fn err(&self, field: &str, msg: impl Display) -> DecodeError {
        self.at(field, DecodeReason::Rule(msg.to_string()))
    }

    fn at(&self, field: &str, reason: DecodeReason) -> DecodeError {
        DecodeError::new(format!("{}.{field}", self.path.join(".")), reason)
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.limit
    }

    fn take(&mut self, field: &str, n: usize) -> Result<&'a [u8]> {
        let left = self.limit - self.pos;
        if n > left {
            return Err(self.at(field, DecodeReason::Truncated { needs: n, left }));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(field, 1)?[0])
    }

    pub(crate) fn u16(&mut self, field: &str) -> Result<u16> {
        let b = self.take(field, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u64(&mut self, field: &str) -> Result<u64> {
        let b = self.take(field, 8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    pub(crate) fn fixed<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        Ok(self.take(field, N)?.try_into().expect("N bytes"))
    }

    /// A one-byte enum value the draft defines.
    pub(crate) fn code<E: WireEnum>(&mut self, field: &str) -> Result<E> {
        let v = self.u8(field)?;
        E::from_u8(v).ok_or_else(|| self.at(field, DecodeReason::UnknownValue { enum_name: E::NAME, value: v }))
    }

    /// `Protocol protocol`: must be mls10.
    pub(crate) fn protocol(&mut self, field: &str) -> Result<()> {
        match self.u8(field)? {
            PROTOCOL_MLS10 => Ok(()),
            value => Err(self.at(field, DecodeReason::UnknownValue { enum_name: "Protocol", value })),
        }
    }

    /// RFC 9420 §2.1.2 variable-length integer; the shortest encoding is required.
    pub(crate) fn varint(&mut self, field: &str) -> Result<usize> {
        let first = self.u8(field)?;
        let (len, min) = match first >> 6 {
            0 => return Ok(usize::from(first)),
            1 => (2, 0x40),
            2 => (4, 0x4000),
            _ => return Err(self.at(field, DecodeReason::ReservedPrefix)),
        };
        let rest = self.take(field, len - 1).map_err(|_| self.at(field, DecodeReason::TruncatedPrefix))?;
        let value = rest
            .iter()
            .fold(usize::from(first & 0x3f), |acc, b| (acc << 8) | usize::from(*b));
        if value < min {
            return Err(self.at(field, DecodeReason::NonMinimalPrefix(value)));
        }
        Ok(value)
    }

    /// `opaque data<V>`.
    pub(crate) fn opaque(&mut self, field: &str) -> Result<&'a [u8]> {
        let n = self.varint(field)?;
        self.take(field, n)
    }

    /// A UTF-8 string carried as `opaque<V>` (URIs, `string`).
    pub(crate) fn string(&mut self, field: &str) -> Result<String> {
        let b = self.opaque(field)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.at(field, DecodeReason::NotUtf8))
    }

    /// `optional<T>` (RFC 9420 §2.1.3): a presence byte 0 or 1.
    pub(crate) fn optional<T>(&mut self, field: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        match self.u8(field)? {
            0 => Ok(None),
            1 => f(self).map(Some),
            v => Err(self.at(field, DecodeReason::Presence(v))),
        }
    }

    /// `T items<V>`: items are read until the vector's length is used up exactly.
    pub(crate) fn vector<T>(&mut self, field: &str, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.varint(field)?;
        let left = self.limit - self.pos;
        if n > left {
            return Err(self.at(field, DecodeReason::TruncatedVector { len: n, left }));
        }
        let outer = std::mem::replace(&mut self.limit, self.pos + n);
        let mut items = Vec::new();
        while self.pos < self.limit {
            items.push(f(self)?);
        }
        self.limit = outer;
        Ok(items)
    }

    /// A nested struct: its errors name `field` in the path.
    pub(crate) fn within<T>(&mut self, field: &'static str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.path.push(field);
        let out = f(self)?;
        self.path.pop();
        Ok(out)
    }

    /// An embedded RFC 9420 struct that openmls parses; returns its exact bytes.
    pub(crate) fn mls<T: tls_codec::Deserialize>(&mut self, field: &str, what: &'static str) -> Result<&'a [u8]> {
        let mut rest = &self.data[self.pos..self.limit];
        let before = rest.len();
        T::tls_deserialize(&mut rest).map_err(|error| self.at(field, DecodeReason::Mls { what, error }))?;
        let used = before - rest.len();
        self.take(field, used)
    }

    /// An embedded MLSMessage, with what its header says.
    pub(crate) fn mls_message(&mut self, field: &str) -> Result<(Vec<u8>, MlsMessageKind)> {
        let bytes = self.mls::<MlsMessageIn>(field, "MLSMessage")?;
        let kind = message_kind(bytes).map_err(|msg| self.err(field, msg))?;
        Ok((bytes.to_vec(), kind))
    }

    /// The end of the body: no byte may follow the last field.
    pub(crate) fn finish(self) -> Result<()> {
        let left = self.data.len() - self.pos;
        if left != 0 {
            return Err(DecodeError::new(self.path.join("."), DecodeReason::Trailing(left)));
        }
        Ok(())
    }
}

/// Decodes one whole body as `T` (exactly: no trailing bytes).
pub(crate) fn decode_exact<T>(root: &'static str, data: &[u8], f: impl FnOnce(&mut Reader<'_>) -> Result<T>) -> Result<T> {
    let mut r = Reader::new(root, data);
    let out = f(&mut r)?;
    r.finish()?;
    Ok(out)
}

/// Checks that `bytes` are exactly one `T` (constructors' check of embedded MLS bytes).
pub(crate) fn check_mls<T: tls_codec::Deserialize>(path: &str, what: &'static str, bytes: &[u8]) -> Result<()> {
    T::tls_deserialize_exact(bytes)
        .map(|_| ())
        .map_err(|error| DecodeError::new(path, DecodeReason::Mls { what, error }))
}

// ---------------------------------------------------------------- writer

/// Appends TLS-encoded values; a length that cannot be encoded is kept as the
/// first error and reported by `finish`.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
    error: Option<DecodeError>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// An RFC 9420 struct as openmls encodes it.
    pub(crate) fn mls(&mut self, what: &str, v: &impl tls_codec::Serialize) {
        match v.tls_serialize_detached() {
            Ok(bytes) => self.raw(&bytes),
            Err(e) => self.fail(what, format!("{e:?}")),
        }
    }

    /// Fails the encoding: the value at `at` breaks its struct's `rule`.
    pub(crate) fn fail(&mut self, at: &str, rule: impl Display) {
        self.error.get_or_insert(DecodeError::rule(at, rule));
    }

    fn varint_bytes(&mut self, n: usize) -> Vec<u8> {
        if n < 0x40 {
            vec![n as u8]
        } else if n < 0x4000 {
            (0x4000 | n as u16).to_be_bytes().to_vec()
        } else if n <= MAX_VARINT {
            (0x8000_0000 | n as u32).to_be_bytes().to_vec()
        } else {
            self.error.get_or_insert(DecodeError::new("length prefix", DecodeReason::TooLong(n)));
            Vec::new()
        }
    }

    pub(crate) fn opaque(&mut self, v: &[u8]) {
        let prefix = self.varint_bytes(v.len());
        self.buf.extend_from_slice(&prefix);
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn optional<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }

    pub(crate) fn vector(&mut self, f: impl FnOnce(&mut Self)) {
        let start = self.buf.len();
        f(self);
        let prefix = self.varint_bytes(self.buf.len() - start);
        self.buf.splice(start..start, prefix);
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.buf),
        }
    }
}

/// Encodes with `f` into a fresh buffer.
pub(crate) fn encode_with(f: impl FnOnce(&mut Writer)) -> Result<Vec<u8>> {
    let mut w = Writer::default();
    f(&mut w);
    w.finish()
}

// ---------------------------------------------------------------- structs

/// A struct of the drafts as bytes. Every struct of this module has it through
/// its `Fields` (crate-internal), which say how its fields are read and written.
pub trait Wire: Sized {
    /// Strict decode of exactly one value: no byte may follow it.
    fn decode(data: &[u8]) -> Result<Self>;
    /// The TLS encoding.
    fn encode(&self) -> Result<Vec<u8>>;
}

/// How a struct reads and writes its fields, written once per struct; [`Wire`]
/// follows. Crate-internal because `Reader` and `Writer` are.
pub(crate) trait Fields: Sized {
    /// The struct's name in the draft: the root of its decode errors' paths.
    const NAME: &'static str;

    /// Reads the fields at the reader's position.
    fn read(r: &mut Reader<'_>) -> Result<Self>;

    /// Writes the fields; fields that break the struct's rules fail the writer.
    fn write(&self, w: &mut Writer);

    /// The value encoded and decoded again: what constructors return, so a
    /// value that exists always encodes to bytes the strict decoder accepts.
    fn checked(self) -> Result<Self> {
        Self::decode(&self.encode()?)
    }
}

impl<T: Fields> Wire for T {
    fn decode(data: &[u8]) -> Result<Self> {
        decode_exact(T::NAME, data, T::read)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        encode_with(|w| self.write(w))
    }
}

/// A struct signed with SignWithLabel (RFC 9420 §5.1.2): on the wire, the
/// fields of the draft's `...TBS` struct followed by `opaque signature<V>`.
/// Every signed struct of this module has it through its `SignedFields`
/// (crate-internal): its label, TBS fields, signature and key.
pub trait Signed: Wire + Clone {
    /// The to-be-signed bytes: the encoding of the draft's `...TBS` struct.
    fn tbs(&self) -> Result<Vec<u8>>;
    /// A copy carrying SignWithLabel(`key`, label, TBS).
    fn signed(&self, key: &SignatureKeyPair) -> Result<Self>;
    /// VerifyWithLabel under the key the struct names; each struct's
    /// documentation says which key, and what is left to the caller.
    fn verify(&self) -> Result<(), VerifyError>;
}

/// What a signed struct says about its signature, written once per struct;
/// [`Signed`] follows.
pub(crate) trait SignedFields: Fields + Clone {
    /// The SignWithLabel label: the name of the draft's TBS struct.
    const LABEL: &'static str;

    /// Writes the fields of the TBS struct.
    fn write_tbs(&self, w: &mut Writer);

    /// The signature (empty until signed); an error for a value that carries
    /// no signature.
    fn signature(&self) -> Result<&[u8]>;

    /// Puts `signature` in its place.
    fn set_signature(&mut self, signature: Vec<u8>);

    /// The public key the signature verifies under.
    fn signature_key(&self) -> Result<&[u8]>;
}

impl<T: SignedFields> Signed for T {
    fn tbs(&self) -> Result<Vec<u8>> {
        // A value that carries no signature (a refused GroupInfoResponse) has no TBS.
        self.signature()?;
        encode_with(|w| self.write_tbs(w))
    }

    fn signed(&self, key: &SignatureKeyPair) -> Result<Self> {
        let mut v = self.clone();
        v.set_signature(key.sign_with_label(T::LABEL, &self.tbs()?));
        Ok(v)
    }

    fn verify(&self) -> Result<(), VerifyError> {
        verify_with_label(self.signature_key()?, T::LABEL, &self.tbs()?, self.signature()?)
    }
}

// ---------------------------------------------------------------- MLS message kind

/// What an embedded MLSMessage carries, as the fanout and handshake selects need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MlsMessageKind {
    /// A PublicMessage or PrivateMessage with content_type application.
    Application,
    /// A PublicMessage or PrivateMessage with content_type proposal.
    Proposal,
    /// A PublicMessage or PrivateMessage with content_type commit.
    Commit,
    /// A Welcome.
    Welcome,
}

impl MlsMessageKind {
    /// The names, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["application", "proposal", "commit", "welcome"];

    /// `"application"`, `"proposal"`, `"commit"` or `"welcome"`.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The cleartext header of an MLSMessage (RFC 9420 §6): its wire format and,
/// for a PublicMessage or PrivateMessage, `(group_id, epoch, content_type)`.
pub(crate) struct MessageHeader<'a> {
    pub(crate) wire_format: u16,
    pub(crate) framed: Option<(&'a [u8], u64, u8)>,
}

/// Reads the header of an MLSMessage openmls has parsed (RFC 9420 §6.2
/// PublicMessage's FramedContent and §6.3 PrivateMessage carry group, epoch
/// and content type in the clear).
pub(crate) fn read_header(msg: &[u8]) -> Result<MessageHeader<'_>> {
    let mut r = Reader::new("MLSMessage", msg);
    r.u16("version")?;
    let wire_format = r.u16("wire_format")?;
    let framed = match wire_format {
        1 | 2 => {
            let group_id = r.opaque("group_id")?;
            let epoch = r.u64("epoch")?;
            if wire_format == 1 {
                // A PublicMessage has its sender and authenticated_data before content_type.
                if let 1 | 2 = r.u8("sender_type")? {
                    r.take("sender_index", 4)?;
                }
                r.opaque("authenticated_data")?;
            }
            Some((group_id, epoch, r.u8("content_type")?))
        }
        _ => None,
    };
    Ok(MessageHeader { wire_format, framed })
}

/// The kind of an MLSMessage openmls has parsed, from its cleartext header.
/// `Err` for GroupInfo and KeyPackage.
fn message_kind(msg: &[u8]) -> std::result::Result<MlsMessageKind, String> {
    let header = read_header(msg).map_err(|e| e.to_string())?;
    match (header.wire_format, header.framed.map(|(_, _, content_type)| content_type)) {
        (3, _) => Ok(MlsMessageKind::Welcome),
        (_, Some(1)) => Ok(MlsMessageKind::Application),
        (_, Some(2)) => Ok(MlsMessageKind::Proposal),
        (_, Some(3)) => Ok(MlsMessageKind::Commit),
        (4, _) => Err("a GroupInfo MLSMessage is not allowed here".into()),
        (5, _) => Err("a KeyPackage MLSMessage is not allowed here".into()),
        (wf, ct) => Err(format!("unexpected MLSMessage (wire_format {wf}, content_type {ct:?})")),
    }
}

/// The kind of an MLSMessage (exact bytes): application, proposal, commit or welcome.
pub fn mls_message_kind(msg: &[u8]) -> Result<MlsMessageKind> {
    check_mls::<MlsMessageIn>("MLSMessage", "MLSMessage", msg)?;
    message_kind(msg).map_err(|e| DecodeError::rule("MLSMessage", e))
}

/// Whether an MLSMessage is a PrivateMessage (wire_format 2).
pub(crate) fn is_private_message(msg: &[u8]) -> bool {
    msg.len() >= 4 && msg[2..4] == [0, 2]
}

// ---------------------------------------------------------------- shared structs

wire_enum! {
    /// draft-mahy-mls-ratchet-tree-options §Conveying the Ratchet Tree.
    RatchetTreeRepresentation {
        Full = 1 => "full",
        HttpsUri = 2 => "httpsUri",
        OutOfBand = 3 => "outOfBand",
        DistributionService = 4 => "distributionService",
    }
}

/// `RatchetTreeOption`, draft-mahy-mls-ratchet-tree-options §Conveying the Ratchet Tree.
///
/// The fields present depend on `representation`: `full` has `ratchet_tree`
/// (the RFC 9420 ratchet_tree extension bytes, `optional<Node> nodes<V>`),
/// `httpsUri` has `ratchet_tree_url` and `tree_signature`, `outOfBand` has
/// `tree_signature`, `distributionService` nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatchetTreeOption {
    /// How the tree is conveyed.
    pub representation: RatchetTreeRepresentation,
    /// The ratchet tree (`full`), as the bytes openmls exports.
    pub ratchet_tree: Option<Vec<u8>>,
    /// An HTTPS URL (`httpsUri`).
    pub ratchet_tree_url: Option<String>,
    /// The tree signature (`httpsUri`, `outOfBand`).
    pub tree_signature: Option<Vec<u8>>,
}

impl RatchetTreeOption {
    /// A checked value: the fields must be those of `representation`.
    pub fn new(
        representation: RatchetTreeRepresentation,
        ratchet_tree: Option<Vec<u8>>,
        ratchet_tree_url: Option<String>,
        tree_signature: Option<Vec<u8>>,
    ) -> Result<Self> {
        Self {
            representation,
            ratchet_tree,
            ratchet_tree_url,
            tree_signature,
        }
        .checked()
    }
}

impl Fields for RatchetTreeOption {
    const NAME: &'static str = "RatchetTreeOption";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        use RatchetTreeRepresentation as R;
        let representation = r.code::<R>("representation")?;
        let mut v = Self {
            representation,
            ratchet_tree: None,
            ratchet_tree_url: None,
            tree_signature: None,
        };
        match representation {
            // reading: `Node ratchet_tree<V>` is the RFC 9420 ratchet_tree
            // extension (`optional<Node>`: blank nodes must be expressible).
            R::Full => {
                v.ratchet_tree = Some(r.mls::<openmls::treesync::RatchetTreeIn>("ratchet_tree", "ratchet tree")?.to_vec())
            }
            // reading: the select's `case httpsUrl` is the enum's httpsUri(2).
            R::HttpsUri => {
                v.ratchet_tree_url = Some(r.string("ratchet_tree_url")?);
                v.tree_signature = Some(r.opaque("tree_signature")?.to_vec());
            }
            R::OutOfBand => v.tree_signature = Some(r.opaque("tree_signature")?.to_vec()),
            R::DistributionService => {}
        }
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        use RatchetTreeRepresentation as R;
        w.u8(self.representation as u8);
        let want = match self.representation {
            R::Full => (true, false, false),
            R::HttpsUri => (false, true, true),
            R::OutOfBand => (false, false, true),
            R::DistributionService => (false, false, false),
        };
        let have = (
            self.ratchet_tree.is_some(),
            self.ratchet_tree_url.is_some(),
            self.tree_signature.is_some(),
        );
        if want != have {
            w.fail("RatchetTreeOption", format!(
                "representation {} takes {}",
                self.representation.as_str(),
                match self.representation {
                    R::Full => "ratchet_tree only",
                    R::HttpsUri => "ratchet_tree_url and tree_signature only",
                    R::OutOfBand => "tree_signature only",
                    R::DistributionService => "no field",
                }
            ));
            return;
        }
        if let Some(tree) = &self.ratchet_tree {
            w.raw(tree);
        }
        if let Some(url) = &self.ratchet_tree_url {
            w.opaque(url.as_bytes());
        }
        if let Some(sig) = &self.tree_signature {
            w.opaque(sig);
        }
    }
}

/// `Frank`, draft-ietf-mimi-protocol §Submit a Message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frank {
    /// `uint8 server_frank[32]`.
    pub server_frank: [u8; 32],
    /// `CipherSuite franking_signature_ciphersuite`.
    pub franking_signature_ciphersuite: u16,
    /// `opaque franking_integrity_signature<V>`.
    pub franking_integrity_signature: Vec<u8>,
}

impl Frank {
    /// A Frank; `server_frank` must be 32 bytes.
    pub fn new(server_frank: &[u8], franking_signature_ciphersuite: u16, franking_integrity_signature: Vec<u8>) -> Result<Self> {
        let server_frank = server_frank.try_into().map_err(|_| {
            DecodeError::new("Frank.server_frank", DecodeReason::Length { expected: 32, got: server_frank.len() })
        })?;
        Ok(Self {
            server_frank,
            franking_signature_ciphersuite,
            franking_integrity_signature,
        })
    }
}

impl Fields for Frank {
    const NAME: &'static str = "Frank";

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            server_frank: r.fixed::<32>("server_frank")?,
            franking_signature_ciphersuite: r.u16("franking_signature_ciphersuite")?,
            franking_integrity_signature: r.opaque("franking_integrity_signature")?.to_vec(),
        })
    }

    fn write(&self, w: &mut Writer) {
        w.raw(&self.server_frank);
        w.u16(self.franking_signature_ciphersuite);
        w.opaque(&self.franking_integrity_signature);
    }
}

#[cfg(test)]
mod tests;
