//! Secret material: the server-side hashing key, one-time secrets, and their stored hashes.
//!
//! Secrets are zeroized on drop and print as `***`. They are stored only as HMAC-SHA256 under
//! the server-side [`HashingKey`], and checked with `hmac`'s constant-time comparison.
//!
//! The one exception is a secret the engine must hand back to someone else later, such as an
//! identity provider's client secret (see [`crate::sso`]): a hash cannot be sent, so it is
//! kept as a [`SealedSecret`], encrypted with XChaCha20-Poly1305 under a key derived from the
//! [`HashingKey`] for its own domain and for the one object it belongs to (bound again as
//! associated data), with a random 192-bit nonce per sealing. Without the hashing key the
//! stored form reveals nothing but its length; moved to another object it does not open.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::Aead as _;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use std::fmt;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// Why a hashing key was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashingKeyError {
    /// Fewer than 32 bytes of key material.
    #[error("hashing key must be at least 32 bytes, got {0}")]
    TooShort(usize),
    /// Not valid base64 (standard or URL-safe, padded or not).
    #[error("hashing key is not valid base64")]
    NotBase64,
}

/// The server-side key under which every secret is hashed (HMAC-SHA256) before storage.
///
/// Kept as a Worker secret in production. Zeroized on drop; `Debug` prints `***`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HashingKey(Vec<u8>);

impl HashingKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// A key from raw bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HashingKeyError> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(HashingKeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// A key from base64 text, as stored in a Worker secret or `.dev.vars`.
    pub fn from_base64(text: &str) -> Result<Self, HashingKeyError> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = Zeroizing::new(
            [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD]
                .into_iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or(HashingKeyError::NotBase64)?,
        );
        Self::from_bytes(&bytes)
    }

    /// A fresh random 32-byte key.
    pub fn generate(random: &mut dyn crate::RandomSource) -> Self {
        let mut bytes = vec![0_u8; Self::MIN_BYTES];
        random.fill(&mut bytes);
        Self(bytes)
    }

    /// The key as URL-safe base64, to hand to a secret store.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&self.0))
    }

    fn mac(&self, domain: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length; `from_bytes` guarantees at least 32 bytes.
        let mut mac = match <HmacSha256 as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac_key(),
        };
        mac.update(domain);
        mac.update(&[0]);
        mac
    }

    /// HMAC-SHA256 of `secret` under this key, separated by `domain` (what kind of secret).
    pub fn hash(&self, domain: &str, secret: &[u8]) -> SecretHash {
        let mut mac = self.mac(domain.as_bytes());
        mac.update(secret);
        let mut digest = [0_u8; 32];
        digest.copy_from_slice(&mac.finalize().into_bytes());
        SecretHash(digest)
    }

    /// Key material derived from this key for one purpose (`domain`) and `input`: HMAC-SHA256,
    /// zeroized on drop. Never store it: derive it again when it is needed.
    pub fn derive(&self, domain: &str, input: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac = self.mac(domain.as_bytes());
        mac.update(input);
        let mut derived = Zeroizing::new([0_u8; 32]);
        derived.copy_from_slice(&mac.finalize().into_bytes());
        derived
    }

    /// Whether `secret` hashes to `expected`, compared in constant time.
    pub fn verify(&self, domain: &str, secret: &[u8], expected: &SecretHash) -> bool {
        let mut mac = self.mac(domain.as_bytes());
        mac.update(secret);
        mac.verify_slice(&expected.0).is_ok()
    }
}

#[expect(clippy::panic, reason = "HMAC is defined for keys of every length")]
#[cold]
fn unreachable_hmac_key() -> ! {
    panic!("HMAC-SHA256 refused a key, which its definition does not allow")
}

impl fmt::Debug for HashingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashingKey(***)")
    }
}

/// The stored form of a secret: HMAC-SHA256 under the [`HashingKey`]. Safe to store and log.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({})", URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("secret hash is not base64url"))?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("secret hash must be 32 bytes"))?;
        Ok(Self(array))
    }
}

/// A secret shown once (a token, a key, an invitation code). Zeroized on drop; `Debug` and
/// `Display` never print it: call [`Secret::expose`] at the one place it is handed out.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps secret text.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret text, for the single response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    /// Secrets serialise as their text: only response bodies that show a secret once carry one.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// A secret given to the engine (an identity provider's client secret, to be sealed).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Bytes of a sealed secret's nonce (XChaCha20-Poly1305).
const SEAL_NONCE_BYTES: usize = 24;

/// A secret kept encrypted at rest, to be handed back later (see the module docs). `Debug`
/// shows neither the ciphertext nor the nonce; it serialises as base64url
/// `nonce‖ciphertext‖tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    fn cipher(key: &HashingKey, domain: &str, binding: &[u8]) -> XChaCha20Poly1305 {
        let derived = key.derive(domain, binding);
        XChaCha20Poly1305::new(&(*derived).into())
    }

    /// Seals `secret` under `key` for `domain` (what kind of secret) and `binding` (the one
    /// object it belongs to, e.g. account and connection ids).
    pub fn seal(
        key: &HashingKey,
        domain: &str,
        binding: &[u8],
        secret: &Secret,
        random: &mut dyn crate::RandomSource,
    ) -> Self {
        let nonce: [u8; SEAL_NONCE_BYTES] = crate::random::bytes(random);
        let payload = chacha20poly1305::aead::Payload {
            msg: secret.expose().as_bytes(),
            aad: binding,
        };
        // Encryption fails only for messages of more than 256 GiB; secrets are bounded far
        // below that by their callers, so the empty ciphertext (which never opens) is unreachable.
        let sealed = Self::cipher(key, domain, binding)
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(SEAL_NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Self(bytes)
    }

    /// The secret, when this was sealed under `key` for `domain` and `binding` and not altered
    /// since; `None` otherwise (another key, another object, tampered bytes).
    pub fn open(&self, key: &HashingKey, domain: &str, binding: &[u8]) -> Option<Secret> {
        let (nonce, sealed) = self.0.split_at_checked(SEAL_NONCE_BYTES)?;
        let nonce: [u8; SEAL_NONCE_BYTES] = nonce.try_into().ok()?;
        let payload = chacha20poly1305::aead::Payload {
            msg: sealed,
            aad: binding,
        };
        let plain = Zeroizing::new(
            Self::cipher(key, domain, binding)
                .decrypt(&XNonce::from(nonce), payload)
                .ok()?,
        );
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(***)")
    }
}

impl Serialize for SealedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("sealed secret is not base64url"))?;
        if bytes.len() < SEAL_NONCE_BYTES + 16 {
            return Err(serde::de::Error::custom("sealed secret is too short"));
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[7; 32]).unwrap()
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            HashingKey::from_bytes(&[1; 31]).unwrap_err(),
            HashingKeyError::TooShort(31)
        );
        assert_eq!(
            HashingKey::from_base64("%%%").unwrap_err(),
            HashingKeyError::NotBase64
        );
    }

    #[test]
    fn base64_round_trip() {
        let original = key();
        let text = original.to_base64();
        let parsed = HashingKey::from_base64(&text).unwrap();
        assert_eq!(parsed.hash("d", b"s"), original.hash("d", b"s"));
    }

    #[test]
    fn verify_accepts_only_the_same_secret_domain_and_key() {
        let hash = key().hash("token", b"secret");
        assert!(key().verify("token", b"secret", &hash));
        assert!(!key().verify("token", b"secreT", &hash));
        assert!(!key().verify("invite", b"secret", &hash));
        let other = HashingKey::from_bytes(&[8; 32]).unwrap();
        assert!(!other.verify("token", b"secret", &hash));
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("pcts_hunter2".into());
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        assert_eq!(format!("{:?}", key()), "HashingKey(***)");
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_domain_and_binding() {
        let mut random = crate::random::SeededRandom::new(5);
        let secret = Secret::new("client-secret-value".into());
        let sealed = SealedSecret::seal(&key(), "sso", b"acc\0sso", &secret, &mut random);
        assert_eq!(
            sealed.open(&key(), "sso", b"acc\0sso").unwrap().expose(),
            "client-secret-value"
        );
        assert!(sealed.open(&key(), "sso", b"acc\0other").is_none());
        assert!(sealed.open(&key(), "webhook", b"acc\0sso").is_none());
        let other = HashingKey::from_bytes(&[8; 32]).unwrap();
        assert!(sealed.open(&other, "sso", b"acc\0sso").is_none());
        // Sealing twice gives two ciphertexts (fresh nonces), and neither prints.
        let again = SealedSecret::seal(&key(), "sso", b"acc\0sso", &secret, &mut random);
        assert_ne!(sealed, again);
        assert_eq!(format!("{sealed:?}"), "SealedSecret(***)");
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("client-secret-value"), "{json}");
        let back: SealedSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back.open(&key(), "sso", b"acc\0sso").unwrap(), secret);
        // Any altered byte is refused.
        let mut bytes = URL_SAFE_NO_PAD.decode(json.trim_matches('"')).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = SealedSecret(bytes);
        assert!(tampered.open(&key(), "sso", b"acc\0sso").is_none());
        assert!(serde_json::from_str::<SealedSecret>("\"AAAA\"").is_err());
    }

    #[test]
    fn hash_serde_round_trip() {
        let hash = key().hash("token", b"x");
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<SecretHash>(&json).unwrap(), hash);
        assert!(serde_json::from_str::<SecretHash>("\"AAAA\"").is_err());
    }
}
