//! Credentials: the wire format of API tokens, automation keys and invitation codes, their
//! generation and hashing, and verification of a presented credential.
//!
//! # Formats
//! Every credential is URL-safe base64 (no padding) behind a recognisable prefix, and carries a
//! CRC-32 of its prefix and payload, so secret scanners can find them and typos or garbage are
//! refused before any storage lookup (CRC-32 catches every single-character change).
//!
//! | credential      | shape                                  | payload                            |
//! |-----------------|----------------------------------------|------------------------------------|
//! | API token       | `pctk_<24 chars>:pcts_<48 chars>`       | id: 14 random bytes + CRC; secret: 32 random bytes + CRC |
//! | automation key  | `pcak_<68 chars>`                       | 15-byte id, 32-byte secret, CRC    |
//! | invitation code | `pcinv_<48 chars>`                      | 32 random bytes + CRC              |
//!
//! An API token travels as `Authorization: Bearer <key_id>:<key_secret>`. An automation key's
//! key id is `pcak_` and the first 20 characters of the key (its id bytes).
//!
//! # Verification
//! [`verify`] is a pure function of the presented text, the one stored [`CredentialRecord`]
//! found by [`lookup_key`], the hashing key and the time. The secret is checked (in constant
//! time) before anything about the record's state is revealed.

use crate::authz::{Principal, PrincipalKind, automation_key_permissions};
use crate::ids::{AccountId, DisplayName, TenantId, UserId};
use crate::permission::PermissionSet;
use crate::plan::{Feature, Plan};
use crate::random::{self, RandomSource};
use crate::secret::{HashingKey, KeyGeneration, Secret, SecretHash};
use crate::terms::{
    self, ExternalId, IpRules, Labels, Metadata, PreviousSecret, RateLimit, Terms, Window,
};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crc::{CRC_32_ISO_HDLC, Crc, Digest, Table};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use thiserror::Error;
use zeroize::Zeroizing;

/// Prefix of an API token's key id.
pub const API_TOKEN_ID_PREFIX: &str = "pctk_";
/// Prefix of an API token's secret.
pub const API_TOKEN_SECRET_PREFIX: &str = "pcts_";
/// Prefix of an automation key (and of its key id).
pub const AUTOMATION_KEY_PREFIX: &str = "pcak_";
/// Prefix of an invitation code.
pub const INVITATION_PREFIX: &str = "pcinv_";

const CHECKSUM_BYTES: usize = 4;
const TOKEN_ID_RANDOM_BYTES: usize = 14;
pub(crate) const SECRET_BYTES: usize = 32;
const AUTOMATION_ID_BYTES: usize = 15;
/// Room for the largest checked payload and its checksum, decoded.
const MAX_DECODED_BYTES: usize = 64;
const _: () = assert!(AUTOMATION_ID_BYTES + SECRET_BYTES + CHECKSUM_BYTES <= MAX_DECODED_BYTES);
/// Characters of an automation key that form its id (15 bytes of base64).
const AUTOMATION_ID_CHARS: usize = 20;
/// Longest presented credential considered at all; anything longer is malformed.
pub const MAX_PRESENTED_LEN: usize = 256;

const API_TOKEN_DOMAIN: &str = "portcullis/api-token/v1";
const AUTOMATION_KEY_DOMAIN: &str = "portcullis/automation-key/v1";
const INVITATION_DOMAIN: &str = "portcullis/invitation/v1";
const RESET_DOMAIN: &str = "portcullis/password-reset/v1";

/// Why a presented credential could not even be parsed. Detail for logs and tests; the public
/// answer is always the same [`Verification::Malformed`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Malformed {
    /// The header is not `Bearer <credential>`.
    #[error("authorization header is not of the form `Bearer <credential>`")]
    NotBearer,
    /// Longer than any credential.
    #[error("credential is too long")]
    TooLong,
    /// The text does not start with a known credential prefix.
    #[error("credential has no known prefix")]
    UnknownPrefix,
    /// Not URL-safe base64 of the right length.
    #[error("credential is not correctly encoded")]
    Encoding,
    /// The checksum does not match: a typo or a forgery.
    #[error("credential checksum does not match")]
    Checksum,
}

/// The credential checksum: CRC-32 (ISO-HDLC, the zlib and PNG one).
static CRC: Crc<u32, CrcTable> = Crc::<u32, CrcTable>::new(&CRC_32_ISO_HDLC);

/// How the checksum is computed. Natively sixteen bytes at a time from a 16 KB table: a
/// token's verification costs about 60 ns (a sixth) less than with a byte at a time. In wasm a
/// byte at a time from a 1 KB table: there the larger table saved 2 to 3 % of the package's
/// `checkStored` and added 15 KB to every Worker script and package (docs/PERFORMANCE.md).
#[cfg(not(target_arch = "wasm32"))]
type CrcTable = Table<16>;
#[cfg(target_arch = "wasm32")]
type CrcTable = Table<1>;

/// A checksummed text's prefix with the checksum's state after it, computed at compile time:
/// a check continues from there over the payload alone.
pub(crate) struct Prefix {
    text: &'static str,
    after: Digest<'static, u32, CrcTable>,
}

impl Prefix {
    pub(crate) const fn new(text: &'static str) -> Self {
        let mut after = CRC.digest();
        after.update(text.as_bytes());
        Self { text, after }
    }

    /// CRC-32 of the prefix and `payload`, big-endian.
    #[inline]
    fn checksum(&self, payload: &[u8]) -> [u8; CHECKSUM_BYTES] {
        let mut digest = self.after.clone();
        digest.update(payload);
        digest.finalize().to_be_bytes()
    }
}

static TOKEN_ID: Prefix = Prefix::new(API_TOKEN_ID_PREFIX);
static TOKEN_SECRET: Prefix = Prefix::new(API_TOKEN_SECRET_PREFIX);
static AUTOMATION_KEY: Prefix = Prefix::new(AUTOMATION_KEY_PREFIX);
static INVITATION: Prefix = Prefix::new(INVITATION_PREFIX);
static RESET: Prefix = Prefix::new(RESET_PREFIX);

/// `prefix` + base64url(payload ‖ crc32(prefix ‖ payload)).
pub(crate) fn encode_checked(prefix: &Prefix, payload: &[u8]) -> String {
    let mut bytes = Zeroizing::new(Vec::with_capacity(payload.len() + CHECKSUM_BYTES));
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&prefix.checksum(payload));
    let mut text = String::with_capacity(prefix.text.len() + (bytes.len() * 4).div_ceil(3));
    text.push_str(prefix.text);
    URL_SAFE_NO_PAD.encode_string(bytes.as_slice(), &mut text);
    text
}

/// Checks prefix, encoding, length and checksum; returns the payload without the checksum.
pub(crate) fn decode_checked<const N: usize>(
    prefix: &Prefix,
    text: &str,
) -> Result<Zeroizing<[u8; N]>, Malformed> {
    // Decoded on the stack: every payload here (at most an automation key's 47 bytes) and its
    // checksum fit, and the length is checked before anything is decoded.
    let mut buffer = Zeroizing::new([0_u8; MAX_DECODED_BYTES]);
    let payload = decode_into(prefix, text, N, buffer.as_mut_slice())?;
    let mut out = Zeroizing::new([0_u8; N]);
    out.copy_from_slice(payload);
    Ok(out)
}

/// Whether `text` is an API token's key id: its prefix, then the unpadded base64 of its random
/// bytes and their checksum. Public, so decoded into a plain buffer that is not wiped.
fn check_token_id(text: &str) -> Result<(), Malformed> {
    decode_exact_checked(
        &TOKEN_ID,
        text,
        &mut [0_u8; TOKEN_ID_RANDOM_BYTES + CHECKSUM_BYTES],
    )
}

/// Decodes `text` (`prefix`, then the unpadded base64 of exactly `D` bytes: a payload and its
/// checksum) into `out`, checking each in the order of [`decode_into`] and so with its errors;
/// the payload is then `out[..D - CHECKSUM_BYTES]`. The fixed lengths of a credential decode
/// straight into an array of their size, with nothing to copy or wipe beyond it.
#[inline]
fn decode_exact_checked<const D: usize>(
    prefix: &Prefix,
    text: &str,
    out: &mut [u8; D],
) -> Result<(), Malformed> {
    let body = text
        .strip_prefix(prefix.text)
        .ok_or(Malformed::UnknownPrefix)?;
    if body.len() != D.div_ceil(3) * 4 - pad_chars(D) {
        return Err(Malformed::Encoding);
    }
    match URL_SAFE_NO_PAD.decode_slice(body, out.as_mut_slice()) {
        Ok(written) if written == D => {}
        _ => return Err(Malformed::Encoding),
    }
    let (payload, sum) = out
        .split_at_checked(D.saturating_sub(CHECKSUM_BYTES))
        .ok_or(Malformed::Encoding)?;
    if sum != prefix.checksum(payload) {
        return Err(Malformed::Checksum);
    }
    Ok(())
}

/// Decodes `text` (`prefix`, then `len` payload bytes and their checksum in base64) into
/// `buffer`, checking each; answers the payload, a part of `buffer`.
fn decode_into<'b>(
    prefix: &Prefix,
    text: &str,
    len: usize,
    buffer: &'b mut [u8],
) -> Result<&'b [u8], Malformed> {
    let body = text
        .strip_prefix(prefix.text)
        .ok_or(Malformed::UnknownPrefix)?;
    let decoded = len + CHECKSUM_BYTES;
    if body.len() != decoded.div_ceil(3) * 4 - pad_chars(decoded) {
        return Err(Malformed::Encoding);
    }
    let written = URL_SAFE_NO_PAD
        .decode_slice(body, &mut *buffer)
        .map_err(|_| Malformed::Encoding)?;
    let bytes = buffer.get(..written).ok_or(Malformed::Encoding)?;
    let (payload, sum) = bytes.split_at_checked(len).ok_or(Malformed::Encoding)?;
    if sum != prefix.checksum(payload) {
        return Err(Malformed::Checksum);
    }
    Ok(payload)
}

/// Characters that unpadded base64 omits for `len` bytes.
const fn pad_chars(len: usize) -> usize {
    match len % 3 {
        1 => 2,
        2 => 1,
        _ => 0,
    }
}

/// What kind of credential a key id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A personal API token of a tenant member.
    ApiToken,
    /// A tenant's build-only automation key.
    AutomationKey,
}

impl CredentialKind {
    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            CredentialKind::ApiToken => "api_token",
            CredentialKind::AutomationKey => "automation_key",
        }
    }
}

/// Characters of an API token's key id: its prefix and the unpadded base64 of its random bytes
/// and checksum.
const TOKEN_ID_CHARS: usize = API_TOKEN_ID_PREFIX.len()
    + (TOKEN_ID_RANDOM_BYTES + CHECKSUM_BYTES).div_ceil(3) * 4
    - pad_chars(TOKEN_ID_RANDOM_BYTES + CHECKSUM_BYTES);

/// The longest key id of either kind.
const MAX_KEY_ID_CHARS: usize =
    if TOKEN_ID_CHARS > AUTOMATION_KEY_PREFIX.len() + AUTOMATION_ID_CHARS {
        TOKEN_ID_CHARS
    } else {
        AUTOMATION_KEY_PREFIX.len() + AUTOMATION_ID_CHARS
    };

/// The public, non-secret id of a credential: the key under which its record is stored.
///
/// Held inline (ASCII, at most [`MAX_KEY_ID_CHARS`] bytes, the rest zero): a clone is a copy of
/// its bytes, never an allocation, so a verification's [`Principal`] costs no allocation. The
/// zero padding keeps the derived order the order of the texts.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    bytes: [u8; MAX_KEY_ID_CHARS],
    len: u8,
}

impl KeyId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only validated ASCII is ever stored (see `inline`).
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }

    /// Whether this id names an API token or an automation key.
    pub fn kind(&self) -> CredentialKind {
        if self
            .as_bytes()
            .starts_with(AUTOMATION_KEY_PREFIX.as_bytes())
        {
            CredentialKind::AutomationKey
        } else {
            CredentialKind::ApiToken
        }
    }

    /// The id of already validated text (`parts` concatenated): `None` only if it is longer
    /// than a key id can be, which validation rules out.
    fn inline(parts: &[&str]) -> Option<Self> {
        let mut id = Self {
            bytes: [0; MAX_KEY_ID_CHARS],
            len: 0,
        };
        let mut len = 0_usize;
        for part in parts {
            let end = len.checked_add(part.len())?;
            id.bytes.get_mut(len..end)?.copy_from_slice(part.as_bytes());
            len = end;
        }
        id.len = u8::try_from(len).ok()?;
        Some(id)
    }

    /// The id of one the engine just encoded, which always fits (the lengths are constants; a
    /// test issues both kinds): were it ever not to, the id would be empty, which no record
    /// carries and every lookup refuses.
    fn issued(parts: &[&str]) -> Self {
        Self::inline(parts).unwrap_or(Self {
            bytes: [0; MAX_KEY_ID_CHARS],
            len: 0,
        })
    }

    fn automation(id_chars: &str) -> Option<Self> {
        Self::inline(&[AUTOMATION_KEY_PREFIX, id_chars])
    }

    /// The id's bytes (its text as bytes, without the UTF-8 check of [`KeyId::as_str`]).
    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A string that is not a credential key id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not a valid credential key id")]
pub struct InvalidKeyId(pub String);

impl FromStr for KeyId {
    type Err = InvalidKeyId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let valid = if value.starts_with(API_TOKEN_ID_PREFIX) {
            check_token_id(value).is_ok()
        } else if let Some(body) = value.strip_prefix(AUTOMATION_KEY_PREFIX) {
            body.len() == AUTOMATION_ID_CHARS && URL_SAFE_NO_PAD.decode(body).is_ok()
        } else {
            false
        };
        valid
            .then(|| Self::inline(&[value]))
            .flatten()
            .ok_or_else(|| InvalidKeyId(crate::ids::excerpt(value)))
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes an API token's secret decodes to: the secret, then its checksum.
const TOKEN_SECRET_DECODED: usize = SECRET_BYTES + CHECKSUM_BYTES;
/// Bytes an automation key decodes to: its id, its secret, then their checksum.
const AUTOMATION_DECODED: usize = AUTOMATION_ID_BYTES + SECRET_BYTES + CHECKSUM_BYTES;

/// A credential as presented by a caller, parsed but not yet checked against storage.
pub struct Presented {
    key_id: KeyId,
    /// The secret in the first [`SECRET_BYTES`]; after it, a token's checksum as decoded (a
    /// token's secret is decoded here in place, so there is one buffer to wipe).
    secret: Zeroizing<[u8; TOKEN_SECRET_DECODED]>,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("key_id", &self.key_id)
            .field("secret", &"***")
            .finish()
    }
}

impl Presented {
    /// Parses a bare credential: `pctk_…:pcts_…` or `pcak_…`.
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        if text.len() > MAX_PRESENTED_LEN {
            return Err(Malformed::TooLong);
        }
        // A token's key id has a fixed length, so its separator has a fixed place. A valid key
        // id holds no `:`, so this split is the one the general split below makes; a text that
        // fails here is parsed again below to report its error as always.
        if let Some((id, rest)) = text.split_at_checked(TOKEN_ID_CHARS)
            && let Some(secret) = rest.strip_prefix(':')
            && check_token_id(id).is_ok()
        {
            return Self::token(id, secret);
        }
        if let Some((id, secret)) = text.split_once(':') {
            check_token_id(id)?;
            Self::token(id, secret)
        } else if text.starts_with(AUTOMATION_KEY_PREFIX) {
            let mut payload = Zeroizing::new([0_u8; AUTOMATION_DECODED]);
            decode_exact_checked(&AUTOMATION_KEY, text, &mut payload)?;
            let id_chars = text
                .get(AUTOMATION_KEY_PREFIX.len()..AUTOMATION_KEY_PREFIX.len() + AUTOMATION_ID_CHARS)
                .ok_or(Malformed::Encoding)?;
            let mut secret = Zeroizing::new([0_u8; TOKEN_SECRET_DECODED]);
            let tail = payload
                .get(AUTOMATION_ID_BYTES..AUTOMATION_ID_BYTES + SECRET_BYTES)
                .ok_or(Malformed::Encoding)?;
            secret
                .get_mut(..SECRET_BYTES)
                .ok_or(Malformed::Encoding)?
                .copy_from_slice(tail);
            Ok(Self {
                key_id: KeyId::automation(id_chars).ok_or(Malformed::Encoding)?,
                secret,
            })
        } else {
            Err(Malformed::UnknownPrefix)
        }
    }

    /// A token whose key id `id` is already checked, with its secret's text `secret`.
    fn token(id: &str, secret: &str) -> Result<Self, Malformed> {
        let mut decoded = Zeroizing::new([0_u8; TOKEN_SECRET_DECODED]);
        decode_exact_checked(&TOKEN_SECRET, secret, &mut decoded)?;
        Ok(Self {
            key_id: KeyId::inline(&[id]).ok_or(Malformed::Encoding)?,
            secret: decoded,
        })
    }

    /// Parses an `Authorization` header value: `Bearer <credential>` (scheme case-insensitive).
    pub fn from_authorization_header(header: &str) -> Result<Self, Malformed> {
        if header.len() > MAX_PRESENTED_LEN + 16 {
            return Err(Malformed::TooLong);
        }
        let (scheme, credential) = header.trim().split_once(' ').ok_or(Malformed::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Malformed::NotBearer);
        }
        Self::parse(credential.trim_start())
    }

    /// Parses either a bare credential or an `Authorization` header value. A bare credential
    /// never contains white space, so text that does (after trimming) is read as a header.
    pub fn from_credential_or_header(text: &str) -> Result<Self, Malformed> {
        let text = text.trim();
        if text.contains(char::is_whitespace) {
            Self::from_authorization_header(text)
        } else {
            Self::parse(text)
        }
    }

    /// The key id: where the credential's record is stored.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Which kind of credential this is.
    pub fn kind(&self) -> CredentialKind {
        self.key_id.kind()
    }

    fn hash_input(&self) -> [&[u8]; 3] {
        hash_input(
            &self.key_id,
            self.secret.get(..SECRET_BYTES).unwrap_or_default(),
        )
    }
}

/// What a credential's hash is the MAC of: `key_id ‖ 0 ‖ secret`, in parts (fed to the MAC
/// one after the other, never copied together).
fn hash_input<'a>(key_id: &'a KeyId, secret: &'a [u8]) -> [&'a [u8]; 3] {
    [key_id.as_bytes(), &[0], secret]
}

const fn domain(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::ApiToken => API_TOKEN_DOMAIN,
        CredentialKind::AutomationKey => AUTOMATION_KEY_DOMAIN,
    }
}

/// The key id from a presented credential: the one storage key to read. Fails for garbage
/// before any storage is touched.
pub fn lookup_key(presented: &str) -> Result<KeyId, Malformed> {
    Presented::parse(presented).map(|parsed| parsed.key_id)
}

/// A freshly generated credential: its id, the full secret text to show once, and the hash to
/// store.
#[derive(Debug)]
pub struct Issued {
    /// The public key id.
    pub key_id: KeyId,
    /// The full credential, shown once: `key_id:secret` for tokens, the key for automation keys.
    pub secret: Secret,
    /// What storage keeps instead of the secret.
    pub hash: SecretHash,
}

/// Generates a new API token.
pub fn issue_api_token(random: &mut dyn RandomSource, key: &HashingKey) -> Issued {
    let id_bytes: [u8; TOKEN_ID_RANDOM_BYTES] = random::bytes(random);
    let key_id = KeyId::issued(&[&encode_checked(&TOKEN_ID, &id_bytes)]);
    reissue_api_token(&key_id, random, key)
}

/// A new secret for the existing API token `key_id` (a roll): the token text is
/// `key_id:new_secret`.
pub fn reissue_api_token(
    key_id: &KeyId,
    random: &mut dyn RandomSource,
    key: &HashingKey,
) -> Issued {
    let secret = Zeroizing::new(random::bytes::<SECRET_BYTES>(random));
    let text = format!(
        "{}:{}",
        key_id,
        encode_checked(&TOKEN_SECRET, secret.as_slice())
    );
    let hash = key.hash_parts(API_TOKEN_DOMAIN, &hash_input(key_id, secret.as_slice()));
    Issued {
        key_id: key_id.clone(),
        secret: Secret::new(text),
        hash,
    }
}

/// Generates a new automation key.
pub fn issue_automation_key(random: &mut dyn RandomSource, key: &HashingKey) -> Issued {
    let mut payload = Zeroizing::new([0_u8; AUTOMATION_ID_BYTES + SECRET_BYTES]);
    random.fill(payload.as_mut_slice());
    automation_key_of(&payload, key)
}

/// A new secret for the existing automation key `key_id` (a roll): the key's first
/// characters (its id) stay, the rest is new. A key id that is not an automation key's is
/// given a fresh id (the engine only rolls keys it holds).
pub fn reissue_automation_key(
    key_id: &KeyId,
    random: &mut dyn RandomSource,
    key: &HashingKey,
) -> Issued {
    let id_bytes = key_id
        .as_str()
        .strip_prefix(AUTOMATION_KEY_PREFIX)
        .and_then(|chars| URL_SAFE_NO_PAD.decode(chars).ok())
        .filter(|bytes| bytes.len() == AUTOMATION_ID_BYTES);
    let mut payload = Zeroizing::new([0_u8; AUTOMATION_ID_BYTES + SECRET_BYTES]);
    match id_bytes {
        Some(id_bytes) => {
            let (id_part, secret_part) = payload.split_at_mut(AUTOMATION_ID_BYTES);
            id_part.copy_from_slice(&id_bytes);
            random.fill(secret_part);
        }
        None => random.fill(payload.as_mut_slice()),
    }
    automation_key_of(&payload, key)
}

fn automation_key_of(
    payload: &[u8; AUTOMATION_ID_BYTES + SECRET_BYTES],
    key: &HashingKey,
) -> Issued {
    let text = encode_checked(&AUTOMATION_KEY, payload.as_slice());
    let id_chars = text
        .get(AUTOMATION_KEY_PREFIX.len()..AUTOMATION_KEY_PREFIX.len() + AUTOMATION_ID_CHARS)
        .unwrap_or_default();
    let key_id = KeyId::issued(&[AUTOMATION_KEY_PREFIX, id_chars]);
    let secret_part = payload.get(AUTOMATION_ID_BYTES..).unwrap_or_default();
    let hash = key.hash_parts(AUTOMATION_KEY_DOMAIN, &hash_input(&key_id, secret_part));
    Issued {
        key_id,
        secret: Secret::new(text),
        hash,
    }
}

/// Prefix of a password reset code.
pub const RESET_PREFIX: &str = "pcrst_";

/// A one-time code bound to one user: an invitation code or a password reset code. Each kind
/// has its own prefix and hashing domain, so no code of one kind ever verifies as the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCode {
    /// `pcinv_…`: accepting an invitation.
    Invitation,
    /// `pcrst_…`: resetting a password.
    PasswordReset,
}

impl UserCode {
    fn checked_prefix(self) -> &'static Prefix {
        match self {
            UserCode::Invitation => &INVITATION,
            UserCode::PasswordReset => &RESET,
        }
    }

    const fn domain(self) -> &'static str {
        match self {
            UserCode::Invitation => INVITATION_DOMAIN,
            UserCode::PasswordReset => RESET_DOMAIN,
        }
    }

    /// Generates a code of this kind for `user`: the code to hand out once and the hash to
    /// store.
    pub fn issue(
        self,
        random: &mut dyn RandomSource,
        key: &HashingKey,
        user: &UserId,
    ) -> (Secret, SecretHash) {
        let secret = Zeroizing::new(random::bytes::<SECRET_BYTES>(random));
        let text = encode_checked(self.checked_prefix(), secret.as_slice());
        let hash = key.hash(self.domain(), &code_input(user, secret.as_slice()));
        (Secret::new(text), hash)
    }

    /// Whether `code` is this kind's code whose hash is `expected` for `user` (constant time).
    pub fn matches(
        self,
        key: &HashingKey,
        user: &UserId,
        code: &str,
        expected: &SecretHash,
    ) -> Result<bool, Malformed> {
        if code.len() > MAX_PRESENTED_LEN {
            return Err(Malformed::TooLong);
        }
        let secret = decode_checked::<SECRET_BYTES>(self.checked_prefix(), code.trim())?;
        Ok(key.verify(
            self.domain(),
            &code_input(user, secret.as_slice()),
            expected,
        ))
    }
}

/// Generates a new invitation code for `user`; returns the code to send and the hash to store.
pub fn issue_invitation_code(
    random: &mut dyn RandomSource,
    key: &HashingKey,
    user: &UserId,
) -> (Secret, SecretHash) {
    UserCode::Invitation.issue(random, key, user)
}

fn code_input(user: &UserId, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(Vec::with_capacity(32 + secret.len()));
    input.extend_from_slice(user.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(secret);
    input
}

/// Whether `code` is the invitation code whose hash is `expected` for `user` (constant time).
pub fn invitation_matches(
    key: &HashingKey,
    user: &UserId,
    code: &str,
    expected: &SecretHash,
) -> Result<bool, Malformed> {
    UserCode::Invitation.matches(key, user, code, expected)
}

/// Whether a stored credential may be used, as projected by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// Usable.
    Active,
    /// An automation key switched off.
    Disabled,
    /// The owning user is deactivated.
    OwnerInactive,
    /// The owning user has not accepted the invitation yet.
    OwnerPending,
    /// The tenant enforces SSO and the token was not minted from a session of its connection
    /// (nor is its owner the breakglass user): suspended while enforcement lasts.
    SsoRequired,
}

/// The stored projection of one credential: everything verification needs, in one record.
///
/// The engine rewrites it whenever anything changes the credential's effective permissions or
/// validity; adapters store it under [`crate::store::credential_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRecord {
    /// The credential's public id.
    pub key_id: KeyId,
    /// Token or automation key.
    pub kind: CredentialKind,
    /// The owning account.
    pub account_id: AccountId,
    /// The tenant the credential acts in.
    pub tenant_id: TenantId,
    /// The user a token belongs to (none for automation keys).
    pub owner: Option<UserId>,
    /// The credential's name.
    pub name: DisplayName,
    /// HMAC-SHA256 of the secret.
    pub secret_hash: SecretHash,
    /// Effective permissions right now (token scope ∩ owner's permissions).
    pub permissions: PermissionSet,
    /// The tenant's plan right now.
    pub plan: Plan,
    /// Usable or why not.
    pub state: CredentialState,
    /// When the credential stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When the credential starts working, if it was issued for later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// The client addresses it may be used from (none: anywhere).
    #[serde(default, skip_serializing_if = "IpRules::is_empty")]
    pub ip: IpRules,
    /// A rolled credential's previous secret, while its overlap lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
    /// The issuer's id for what the credential stands for, told to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    /// Descriptive data told to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// How many requests it may authenticate per period, counted at the edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// Where a credential belongs: the parts of its record that are neither secret nor state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The owning account.
    pub account_id: AccountId,
    /// The tenant the credential acts in.
    pub tenant_id: TenantId,
    /// The credential's name.
    pub name: DisplayName,
    /// The tenant's plan.
    pub plan: Plan,
}

impl CredentialRecord {
    /// The record of an API token owned by an active member, acting with `permissions` (the
    /// token's scope already intersected with what its owner is granted), with no terms but
    /// an expiry (see [`CredentialRecord::under`]).
    pub fn active_api_token(
        issued: &Issued,
        placement: Placement,
        owner: UserId,
        permissions: PermissionSet,
        expires_at: Option<Timestamp>,
    ) -> Self {
        let mut record = Self::api_token(
            issued.key_id.clone(),
            issued.hash,
            placement,
            owner,
            permissions,
            CredentialState::Active,
        );
        record.expires_at = expires_at;
        record
    }

    /// The record of an API token of `owner`, acting with `permissions` (its scope ∩ what
    /// the owner is granted) in `state`, with no terms yet.
    pub fn api_token(
        key_id: KeyId,
        secret_hash: SecretHash,
        placement: Placement,
        owner: UserId,
        permissions: PermissionSet,
        state: CredentialState,
    ) -> Self {
        let mut record = Self::bare(key_id, secret_hash, placement, permissions, state);
        record.kind = CredentialKind::ApiToken;
        record.owner = Some(owner);
        record
    }

    /// A record with no owner and no terms (an automation key's shape).
    fn bare(
        key_id: KeyId,
        secret_hash: SecretHash,
        placement: Placement,
        permissions: PermissionSet,
        state: CredentialState,
    ) -> Self {
        Self {
            key_id,
            kind: CredentialKind::AutomationKey,
            account_id: placement.account_id,
            tenant_id: placement.tenant_id,
            owner: None,
            name: placement.name,
            secret_hash,
            permissions,
            plan: placement.plan,
            state,
            expires_at: None,
            not_before: None,
            ip: IpRules::default(),
            previous: None,
            external_id: None,
            metadata: None,
            rate_limit: None,
        }
    }

    /// This record under `terms` (replacing its expiry), with a rolled credential's `previous`
    /// secret (verification accepts it until its end).
    pub fn under(mut self, terms: &Terms, previous: Option<PreviousSecret>) -> Self {
        self.expires_at = terms.expires_at;
        self.not_before = terms.not_before;
        self.ip = terms.ip();
        self.external_id = terms.external_id.clone();
        self.metadata = terms.metadata.clone();
        self.rate_limit = terms.rate_limit;
        self.previous = previous;
        self
    }

    /// The record of an automation key: build permissions only, usable while it is enabled and
    /// the tenant's plan includes automation keys.
    pub fn automation_key(
        key_id: KeyId,
        secret_hash: SecretHash,
        placement: Placement,
        enabled: bool,
    ) -> Self {
        let usable = enabled && placement.plan.includes(Feature::AUTOMATION_KEYS);
        let state = if usable {
            CredentialState::Active
        } else {
            CredentialState::Disabled
        };
        Self::bare(
            key_id,
            secret_hash,
            placement,
            automation_key_permissions(),
            state,
        )
    }
}

/// The outcome of verifying a presented credential: a value, never an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The credential is good; here is who is calling.
    Valid(Principal),
    /// The text is not a credential at all.
    Malformed(Malformed),
    /// No credential with this key id exists (never did, or was deleted).
    UnknownKey,
    /// The key id exists but the secret is wrong.
    WrongSecret,
    /// The credential has expired.
    Expired,
    /// The credential's validity starts later (`not_before`).
    NotYetValid,
    /// The credential may not be used from the client's address (its IP rules), or the
    /// client's address is unknown and the credential has IP rules.
    IpNotAllowed,
    /// The automation key is switched off.
    Disabled,
    /// The owning user is deactivated.
    OwnerInactive,
    /// The owning user has not accepted the invitation.
    OwnerPending,
    /// The tenant enforces SSO and the token was not minted through it.
    SsoRequired,
}

impl Verification {
    /// The public code of every refusal after the credential parsed: an unknown key id, a
    /// wrong secret, an expired or disabled credential and an inactive or pending owner all
    /// answer this, with the same message ([`Verification::public_code`]).
    pub const INVALID_CREDENTIALS: &'static str = "invalid_credentials";

    /// The precise machine-readable reason, e.g. `wrong_secret`: for the verifier's own use
    /// (rate limiting, logs, local library calls), never for an answer to the caller, where it
    /// would say whether a key id exists ([`Verification::public_code`] is that answer).
    pub const fn code(&self) -> &'static str {
        match self {
            Verification::Valid(_) => "valid",
            Verification::Malformed(_) => "malformed_credential",
            Verification::UnknownKey => "unknown_key",
            Verification::WrongSecret => "wrong_secret",
            Verification::Expired => "expired",
            Verification::NotYetValid => "not_yet_valid",
            Verification::IpNotAllowed => "ip_not_allowed",
            Verification::Disabled => "disabled",
            Verification::OwnerInactive => "owner_inactive",
            Verification::OwnerPending => "owner_pending",
            Verification::SsoRequired => "sso_required",
        }
    }

    /// The code to answer the caller with: `valid`, `malformed_credential` (decided from the
    /// presented text alone, before any lookup, so it reveals nothing stored) or
    /// [`Verification::INVALID_CREDENTIALS`] for every other refusal. An unknown key id and a
    /// wrong secret must read alike, or any key id of any account could be probed; the
    /// credential's state (expired, disabled, owner inactive or pending) is folded in too, so
    /// that a refused credential says nothing about itself or its owner.
    pub const fn public_code(&self) -> &'static str {
        match self {
            Verification::Valid(_) => "valid",
            Verification::Malformed(_) => "malformed_credential",
            Verification::UnknownKey
            | Verification::WrongSecret
            | Verification::Expired
            | Verification::NotYetValid
            | Verification::Disabled
            | Verification::OwnerInactive
            | Verification::OwnerPending => Self::INVALID_CREDENTIALS,
            // The right secret was presented: the holder may learn why it does not act, as
            // GitHub answers a token not authorized for an SSO-enforcing organization, and
            // Cloudflare a token used outside its client IP conditions.
            Verification::SsoRequired => "sso_required",
            Verification::IpNotAllowed => "ip_not_allowed",
        }
    }

    /// The message that goes with [`Verification::public_code`]: one per public code.
    pub const fn public_message(&self) -> &'static str {
        match self {
            Verification::Valid(_) => "credential is valid",
            Verification::Malformed(_) => "credential is malformed",
            Verification::UnknownKey
            | Verification::WrongSecret
            | Verification::Expired
            | Verification::NotYetValid
            | Verification::Disabled
            | Verification::OwnerInactive
            | Verification::OwnerPending => "credential is not valid",
            Verification::SsoRequired => {
                "this tenant requires SSO: use a token created from an SSO session"
            }
            Verification::IpNotAllowed => "this credential may not be used from this address",
        }
    }

    /// The precise message that goes with [`Verification::code`], for the same uses.
    pub const fn message(&self) -> &'static str {
        match self {
            Verification::Valid(_) => "credential is valid",
            Verification::Malformed(_) => "credential is malformed",
            Verification::UnknownKey => "no credential has this key id",
            Verification::WrongSecret => "the secret does not match the key id",
            Verification::Expired => "credential has expired",
            Verification::NotYetValid => "credential is not valid yet (not_before)",
            Verification::IpNotAllowed => {
                "the client address is outside the credential's IP rules (or unknown)"
            }
            Verification::Disabled => "credential is disabled",
            Verification::OwnerInactive => "credential owner is deactivated",
            Verification::OwnerPending => "credential owner has not accepted the invitation",
            Verification::SsoRequired => {
                "the tenant requires SSO and the token was not created through it"
            }
        }
    }

    /// The principal, when valid.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Verification::Valid(principal) => Some(principal),
            _ => None,
        }
    }
}

/// Verifies `presented` (a bare credential) against the stored `record` found under its key id,
/// for a request at `now` from the client address `client` (`None`: unknown, which any IP rule
/// of the credential refuses).
pub fn verify(
    presented: &str,
    record: Option<&CredentialRecord>,
    key: &HashingKey,
    now: Timestamp,
    client: Option<IpAddr>,
) -> Verification {
    match Presented::parse(presented) {
        Ok(parsed) => verify_presented(&parsed, record, key, now, client),
        Err(malformed) => Verification::Malformed(malformed),
    }
}

/// Verifies an already parsed credential against its stored record (see [`verify`]).
///
/// The secret is compared with the record's current hash and, while a roll's overlap lasts,
/// with the previous one (each in constant time); then the record's state, validity window
/// and client IP rules decide, in that order.
pub fn verify_presented(
    presented: &Presented,
    record: Option<&CredentialRecord>,
    key: &HashingKey,
    now: Timestamp,
    client: Option<IpAddr>,
) -> Verification {
    verify_rehashing(presented, record, key, now, client).0
}

/// A credential's stored hash to replace: its secret matched `from`, made under the hashing key
/// the current one replaced (see [`HashingKey::with_previous`]); `to` is the same secret's hash
/// under the current key. Replacing it (`Account::rehash_credential`) keeps the credential
/// working once the previous key is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rehash {
    /// The credential.
    pub key_id: KeyId,
    /// The hash that matched.
    pub from: SecretHash,
    /// Its replacement.
    pub to: SecretHash,
}

/// [`verify_presented`], also answering the [`Rehash`] to store when the secret matched the
/// record's current hash under the previous hashing key (whatever the verification's outcome
/// after the secret: a disabled credential is re-hashed too). A previous secret of a roll is
/// never re-hashed: it ends with its overlap.
pub fn verify_rehashing(
    presented: &Presented,
    record: Option<&CredentialRecord>,
    key: &HashingKey,
    now: Timestamp,
    client: Option<IpAddr>,
) -> (Verification, Option<Rehash>) {
    let Some(record) = record else {
        return (Verification::UnknownKey, None);
    };
    if record.key_id != presented.key_id || record.kind != presented.kind() {
        return (Verification::UnknownKey, None);
    }
    let input = presented.hash_input();
    let domain = domain(record.kind);
    let rehash = match key.matches_parts(domain, &input, &record.secret_hash) {
        Some(KeyGeneration::Current) => None,
        Some(KeyGeneration::Previous) => Some(Rehash {
            key_id: record.key_id.clone(),
            from: record.secret_hash,
            to: key.hash_parts(domain, &input),
        }),
        None if record.previous.as_ref().is_some_and(|previous| {
            previous.live(now)
                && key
                    .matches_parts(domain, &input, &previous.secret_hash)
                    .is_some()
        }) =>
        {
            None
        }
        None => return (Verification::WrongSecret, None),
    };
    (check_matched(record, now, client), rehash)
}

/// What a record whose secret matched answers: its state, validity window and client IP rules
/// decide, in that order.
fn check_matched(
    record: &CredentialRecord,
    now: Timestamp,
    client: Option<IpAddr>,
) -> Verification {
    match record.state {
        CredentialState::Active => {}
        CredentialState::Disabled => return Verification::Disabled,
        CredentialState::OwnerInactive => return Verification::OwnerInactive,
        CredentialState::OwnerPending => return Verification::OwnerPending,
        CredentialState::SsoRequired => return Verification::SsoRequired,
    }
    match terms::window(record.not_before, record.expires_at, now) {
        Window::Open => {}
        Window::NotYet => return Verification::NotYetValid,
        Window::Over => return Verification::Expired,
    }
    if !record.ip.permits(client) {
        return Verification::IpNotAllowed;
    }
    let kind = match (&record.kind, &record.owner) {
        (CredentialKind::ApiToken, Some(user_id)) => PrincipalKind::User {
            user_id: user_id.clone(),
            key_id: record.key_id.clone(),
        },
        (CredentialKind::AutomationKey, None) => PrincipalKind::AutomationKey {
            key_id: record.key_id.clone(),
        },
        // A record whose owner does not match its kind was not written by the engine.
        _ => return Verification::UnknownKey,
    };
    Verification::Valid(Principal {
        account_id: record.account_id.clone(),
        tenant_id: record.tenant_id.clone(),
        kind,
        permissions: record.permissions,
        plan: record.plan,
        labels: Labels::of(record.external_id.as_ref(), record.metadata.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
    use crate::random::SeededRandom;
    use proptest::prelude::*;

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[42; 32]).unwrap()
    }

    fn record_for(issued: &Issued, kind: CredentialKind) -> CredentialRecord {
        let mut random = SeededRandom::new(99);
        CredentialRecord {
            key_id: issued.key_id.clone(),
            kind,
            account_id: AccountId::generate(&mut random),
            tenant_id: TenantId::generate(&mut random),
            owner: (kind == CredentialKind::ApiToken).then(|| UserId::generate(&mut random)),
            name: "ci".parse().unwrap(),
            secret_hash: issued.hash,
            permissions: PermissionSet::all(),
            plan: plan_named("team"),
            state: CredentialState::Active,
            expires_at: Some(Timestamp::from_unix_seconds(1_000)),
            not_before: None,
            ip: IpRules::default(),
            previous: None,
            external_id: None,
            metadata: None,
            rate_limit: None,
        }
    }

    #[test]
    fn api_token_has_the_documented_shape() {
        let issued = issue_api_token(&mut SeededRandom::new(1), &key());
        let text = issued.secret.expose();
        let (id, secret) = text.split_once(':').unwrap();
        assert!(id.starts_with("pctk_") && id.len() == 5 + 24, "{id}");
        assert!(
            secret.starts_with("pcts_") && secret.len() == 5 + 48,
            "{secret}"
        );
        assert_eq!(id, issued.key_id.as_str());
        assert_eq!(lookup_key(text).unwrap(), issued.key_id);
        assert_eq!(issued.key_id.kind(), CredentialKind::ApiToken);
    }

    #[test]
    fn automation_key_has_the_documented_shape() {
        let issued = issue_automation_key(&mut SeededRandom::new(1), &key());
        let text = issued.secret.expose();
        assert!(text.starts_with("pcak_") && text.len() == 5 + 68, "{text}");
        assert_eq!(issued.key_id.as_str().len(), 5 + 20);
        assert!(text.starts_with(issued.key_id.as_str()));
        assert_eq!(lookup_key(text).unwrap(), issued.key_id);
        assert_eq!(issued.key_id.kind(), CredentialKind::AutomationKey);
        assert_eq!(
            issued.key_id.as_str().parse::<KeyId>().unwrap(),
            issued.key_id
        );
    }

    #[test]
    fn valid_token_verifies_with_its_permissions() {
        let issued = issue_api_token(&mut SeededRandom::new(2), &key());
        let record = record_for(&issued, CredentialKind::ApiToken);
        let outcome = verify(
            issued.secret.expose(),
            Some(&record),
            &key(),
            Timestamp::from_unix_seconds(5),
            None,
        );
        let principal = outcome.principal().unwrap();
        assert_eq!(principal.permissions, PermissionSet::all());
        assert_eq!(principal.tenant_id, record.tenant_id);
    }

    #[test]
    fn each_refusal_has_its_code() {
        let issued = issue_api_token(&mut SeededRandom::new(3), &key());
        let presented = issued.secret.expose();
        let now = Timestamp::from_unix_seconds(5);
        let record = record_for(&issued, CredentialKind::ApiToken);
        assert_eq!(
            verify(presented, None, &key(), now, None).code(),
            "unknown_key"
        );
        assert_eq!(
            verify("nonsense", Some(&record), &key(), now, None).code(),
            "malformed_credential"
        );
        let other = issue_api_token(&mut SeededRandom::new(4), &key());
        let mut wrong = record.clone();
        wrong.secret_hash = other.hash;
        assert_eq!(
            verify(presented, Some(&wrong), &key(), now, None),
            Verification::WrongSecret
        );
        let late = Timestamp::from_unix_seconds(1_000);
        assert_eq!(
            verify(presented, Some(&record), &key(), late, None),
            Verification::Expired
        );
        for (state, expected) in [
            (CredentialState::Disabled, Verification::Disabled),
            (CredentialState::OwnerInactive, Verification::OwnerInactive),
            (CredentialState::OwnerPending, Verification::OwnerPending),
        ] {
            let mut blocked = record.clone();
            blocked.state = state;
            assert_eq!(
                verify(presented, Some(&blocked), &key(), now, None),
                expected
            );
        }
        // A record stored under another key id is never accepted for this credential.
        let mut moved = record_for(&other, CredentialKind::ApiToken);
        moved.secret_hash = record.secret_hash;
        assert_eq!(
            verify(presented, Some(&moved), &key(), now, None),
            Verification::UnknownKey
        );
    }

    #[test]
    fn wrong_secret_is_reported_before_state_leaks() {
        let issued = issue_api_token(&mut SeededRandom::new(5), &key());
        let mut record = record_for(&issued, CredentialKind::ApiToken);
        record.state = CredentialState::Disabled;
        let other = issue_api_token(&mut SeededRandom::new(6), &key());
        let forged = format!(
            "{}:{}",
            issued.key_id,
            other.secret.expose().split_once(':').unwrap().1
        );
        assert_eq!(
            verify(
                &forged,
                Some(&record),
                &key(),
                Timestamp::from_unix_seconds(0),
                None
            ),
            Verification::WrongSecret
        );
    }

    fn placement(plan: Plan) -> Placement {
        let mut random = SeededRandom::new(77);
        Placement {
            account_id: AccountId::generate(&mut random),
            tenant_id: TenantId::generate(&mut random),
            name: "deploy".parse().unwrap(),
            plan,
        }
    }

    #[test]
    fn issued_records_verify_and_automation_keys_follow_their_plan() {
        let token = issue_api_token(&mut SeededRandom::new(11), &key());
        let owner = UserId::generate(&mut SeededRandom::new(12));
        let scope = PermissionSet::only(perm("update_certificates"));
        let record = CredentialRecord::active_api_token(
            &token,
            placement(plan_named("free")),
            owner.clone(),
            scope,
            None,
        );
        let now = Timestamp::from_unix_seconds(5);
        let principal = verify(token.secret.expose(), Some(&record), &key(), now, None)
            .principal()
            .cloned()
            .unwrap();
        assert_eq!(principal.permissions, scope);
        assert_eq!(record.owner, Some(owner));

        let automation = issue_automation_key(&mut SeededRandom::new(13), &key());
        let record_on = |plan, enabled| {
            CredentialRecord::automation_key(
                automation.key_id.clone(),
                automation.hash,
                placement(plan),
                enabled,
            )
        };
        let usable = record_on(plan_named("team"), true);
        assert_eq!(usable.permissions, automation_key_permissions());
        assert!(
            verify(automation.secret.expose(), Some(&usable), &key(), now, None)
                .principal()
                .is_some()
        );
        for (plan, enabled) in [(plan_named("team"), false), (plan_named("free"), true)] {
            assert_eq!(
                verify(
                    automation.secret.expose(),
                    Some(&record_on(plan, enabled)),
                    &key(),
                    now,
                    None
                ),
                Verification::Disabled,
                "{plan} enabled={enabled}"
            );
        }
    }

    #[test]
    fn credential_or_header_accepts_both_forms() {
        let issued = issue_api_token(&mut SeededRandom::new(14), &key());
        let bare = issued.secret.expose();
        for text in [
            bare.to_owned(),
            format!("  {bare}\n"),
            format!("Bearer {bare}"),
            format!("bearer   {bare}"),
        ] {
            assert_eq!(
                Presented::from_credential_or_header(&text)
                    .unwrap()
                    .key_id(),
                &issued.key_id,
                "{text:?}"
            );
        }
        assert_eq!(
            Presented::from_credential_or_header(&format!("Basic {bare}")).unwrap_err(),
            Malformed::NotBearer
        );
        assert_eq!(
            Presented::from_credential_or_header("").unwrap_err(),
            Malformed::UnknownPrefix
        );
    }

    #[test]
    fn bearer_header_is_parsed() {
        let issued = issue_api_token(&mut SeededRandom::new(7), &key());
        let header = format!("bearer {}", issued.secret.expose());
        assert_eq!(
            Presented::from_authorization_header(&header)
                .unwrap()
                .key_id(),
            &issued.key_id
        );
        assert_eq!(
            Presented::from_authorization_header(&format!("Basic {}", issued.secret.expose()))
                .unwrap_err(),
            Malformed::NotBearer
        );
        assert_eq!(
            Presented::from_authorization_header("Bearer").unwrap_err(),
            Malformed::NotBearer
        );
        assert_eq!(
            Presented::parse(&"a".repeat(300)).unwrap_err(),
            Malformed::TooLong
        );
    }

    #[test]
    fn invitation_codes_are_bound_to_the_user() {
        let mut random = SeededRandom::new(8);
        let user = UserId::generate(&mut random);
        let other = UserId::generate(&mut random);
        let (code, hash) = issue_invitation_code(&mut random, &key(), &user);
        assert!(code.expose().starts_with(INVITATION_PREFIX));
        assert_eq!(
            invitation_matches(&key(), &user, code.expose(), &hash),
            Ok(true)
        );
        assert_eq!(
            invitation_matches(&key(), &other, code.expose(), &hash),
            Ok(false)
        );
        assert!(invitation_matches(&key(), &user, "pcinv_garbage", &hash).is_err());
    }

    #[test]
    fn record_json_rejects_unknown_fields() {
        let issued = issue_api_token(&mut SeededRandom::new(9), &key());
        let record = record_for(&issued, CredentialKind::ApiToken);
        let mut json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(
            serde_json::from_value::<CredentialRecord>(json.clone()).unwrap(),
            record
        );
        json["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<CredentialRecord>(json).is_err());
    }

    #[test]
    fn checksums_are_crc32_of_the_prefix_and_payload() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(CRC.checksum(b"123456789"), 0xcbf4_3926);
        // Every prefix a checksum is made under, each continued from its state computed at
        // compile time, and prefixes made at run time, against the zlib CRC-32 of crc32fast.
        let made = [Prefix::new("pcxx_"), Prefix::new("")];
        let prefixes = [
            &TOKEN_ID,
            &TOKEN_SECRET,
            &AUTOMATION_KEY,
            &INVITATION,
            &RESET,
            &crate::session::SESSION,
        ]
        .into_iter()
        .chain(&made);
        for prefix in prefixes {
            for payload in [&b""[..], b"payload", &[0xff; 40]] {
                let mut whole = crc32fast::Hasher::new();
                whole.update(prefix.text.as_bytes());
                whole.update(payload);
                assert_eq!(
                    prefix.checksum(payload),
                    whole.finalize().to_be_bytes(),
                    "{}",
                    prefix.text
                );
            }
        }
    }

    #[test]
    fn a_separator_inside_the_key_id_is_refused_as_before() {
        let issued = issue_api_token(&mut SeededRandom::new(3), &key());
        let text = issued.secret.expose();
        // A `:` early in the id, with the separator still at its fixed place: the general
        // split (at the first `:`) decides, so the id is the wrong length.
        let early = mutate(text, 8, ':').unwrap();
        assert_eq!(Presented::parse(&early).unwrap_err(), Malformed::Encoding);
        // A `:` in the prefix: not a token's prefix.
        let prefix = mutate(text, 2, ':').unwrap();
        assert_eq!(
            Presented::parse(&prefix).unwrap_err(),
            Malformed::UnknownPrefix
        );
        // The separator moved: the id is one character short.
        let moved = format!("{}:{}", &text[..28], &text[29..]);
        assert_eq!(Presented::parse(&moved).unwrap_err(), Malformed::Encoding);
        // One character of the secret changed: the checksum refuses it.
        let typo = mutate(
            text,
            60,
            if text.as_bytes()[60] == b'A' {
                'B'
            } else {
                'A'
            },
        )
        .unwrap();
        assert_eq!(Presented::parse(&typo).unwrap_err(), Malformed::Checksum);
        let parsed = Presented::parse(text).unwrap();
        assert_eq!(parsed.key_id(), &issued.key_id);
        assert_eq!(parsed.hash_input()[2].len(), SECRET_BYTES);
    }

    fn mutate(text: &str, index: usize, replacement: char) -> Option<String> {
        let original = text.chars().nth(index)?;
        if original == replacement {
            return None;
        }
        let mut chars: Vec<char> = text.chars().collect();
        chars[index] = replacement;
        Some(chars.into_iter().collect())
    }

    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:+/=. ";

    proptest! {
        #[test]
        fn key_ids_are_held_whole_and_ordered_as_their_texts(a in any::<u64>(), b in any::<u64>()) {
            let ids = [
                issue_api_token(&mut SeededRandom::new(a), &key()).key_id,
                issue_automation_key(&mut SeededRandom::new(b), &key()).key_id,
                issue_api_token(&mut SeededRandom::new(b), &key()).key_id,
            ];
            prop_assert_eq!(ids[0].as_str().len(), TOKEN_ID_CHARS);
            prop_assert_eq!(ids[1].as_str().len(), AUTOMATION_KEY_PREFIX.len() + AUTOMATION_ID_CHARS);
            for x in &ids {
                prop_assert_eq!(&x.as_str().parse::<KeyId>().unwrap(), x);
                prop_assert_eq!(serde_json::to_string(x).unwrap(), format!("\"{x}\""));
                for y in &ids {
                    prop_assert_eq!(x.cmp(y), x.as_str().cmp(y.as_str()));
                }
            }
        }

        #[test]
        fn api_token_round_trips(seed in any::<u64>()) {
            let issued = issue_api_token(&mut SeededRandom::new(seed), &key());
            let parsed = Presented::parse(issued.secret.expose()).unwrap();
            prop_assert_eq!(parsed.key_id(), &issued.key_id);
            let record = record_for(&issued, CredentialKind::ApiToken);
            let outcome = verify(issued.secret.expose(), Some(&record), &key(), Timestamp::from_unix_seconds(0), None);
            prop_assert!(outcome.principal().is_some());
        }

        #[test]
        fn automation_key_round_trips(seed in any::<u64>()) {
            let issued = issue_automation_key(&mut SeededRandom::new(seed), &key());
            let record = record_for(&issued, CredentialKind::AutomationKey);
            let outcome = verify(issued.secret.expose(), Some(&record), &key(), Timestamp::from_unix_seconds(0), None);
            prop_assert!(outcome.principal().is_some());
        }

        #[test]
        fn every_single_character_mutation_of_a_token_is_rejected(
            seed in any::<u64>(),
            index in 0_usize..83,
            replacement in proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
        ) {
            let issued = issue_api_token(&mut SeededRandom::new(seed), &key());
            let record = record_for(&issued, CredentialKind::ApiToken);
            if let Some(mutated) = mutate(issued.secret.expose(), index, replacement) {
                let outcome = verify(&mutated, Some(&record), &key(), Timestamp::from_unix_seconds(0), None);
                prop_assert!(outcome.principal().is_none(), "{} accepted", mutated);
                // Garbage is caught by the format and checksum, before any lookup.
                prop_assert!(lookup_key(&mutated).is_err(), "{} parsed", mutated);
            }
        }

        #[test]
        fn every_single_character_mutation_of_an_automation_key_is_rejected(
            seed in any::<u64>(),
            index in 0_usize..73,
            replacement in proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
        ) {
            let issued = issue_automation_key(&mut SeededRandom::new(seed), &key());
            if let Some(mutated) = mutate(issued.secret.expose(), index, replacement) {
                prop_assert!(lookup_key(&mutated).is_err(), "{} parsed", mutated);
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = Presented::parse(&text);
            let _ = Presented::from_authorization_header(&text);
            let _ = text.parse::<KeyId>();
        }
    }
}
