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
///
/// A key may carry the key it replaces ([`HashingKey::with_previous`]), for a rotation: new
/// hashes, derivations and sealings use the current key only, while [`HashingKey::verify`] and
/// [`SealedSecret::open`] also accept what the previous key made, and [`HashingKey::matches`]
/// says which key it was, so a caller can store the value again under the current one.
///
/// Each key is kept with its HMAC state already keyed (the inner and outer pads hashed once,
/// when the key is made), cloned for every MAC: a hash or a verification then costs the
/// compressions of its message only. The key bytes and the keyed states are zeroized on drop.
#[derive(Clone)]
pub struct HashingKey {
    current: Keyed,
    previous: Option<Keyed>,
}

/// One key: its bytes (to hand back, compare and seal with) and its keyed HMAC state.
#[derive(Clone)]
struct Keyed {
    bytes: Zeroizing<Vec<u8>>,
    mac: HmacSha256,
}

impl Keyed {
    fn new(bytes: Vec<u8>) -> Self {
        // HMAC accepts keys of any length; callers guarantee at least 32 bytes.
        let mac = match <HmacSha256 as KeyInit>::new_from_slice(&bytes) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac_key(),
        };
        Self {
            bytes: Zeroizing::new(bytes),
            mac,
        }
    }

    /// The keyed state with `domain` and its separator absorbed.
    fn mac(&self, domain: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(&[0]);
        mac
    }
}

/// Which key of a [`HashingKey`] made a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyGeneration {
    /// The current key.
    Current,
    /// The key the current one replaced: the value should be made again under the current key.
    Previous,
}

impl HashingKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// A key from raw bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HashingKeyError> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(HashingKeyError::TooShort(bytes.len()));
        }
        Ok(Self {
            current: Keyed::new(bytes.to_vec()),
            previous: None,
        })
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
        Self {
            current: Keyed::new(bytes),
            previous: None,
        }
    }

    /// This key, also accepting what `previous` (the key it replaces) made; see the type's
    /// docs. A previous key equal to this one is no previous key.
    #[must_use]
    pub fn with_previous(mut self, previous: &HashingKey) -> Self {
        self.previous =
            (previous.current.bytes != self.current.bytes).then(|| previous.current.clone());
        self
    }

    /// Whether a previous key is configured (a rotation is under way).
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// The previous key alone, for values that cannot be checked through [`Self::verify`] (a
    /// peppered password hash, a derived secret the other side still holds).
    pub fn previous(&self) -> Option<HashingKey> {
        self.previous.as_ref().map(|keyed| HashingKey {
            current: keyed.clone(),
            previous: None,
        })
    }

    /// The current key as URL-safe base64, to hand to a secret store.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.current.bytes.as_slice()))
    }

    fn mac(&self, domain: &[u8]) -> HmacSha256 {
        self.current.mac(domain)
    }

    /// The current key, then the previous one.
    fn generations(&self) -> impl Iterator<Item = (KeyGeneration, &Keyed)> {
        std::iter::once((KeyGeneration::Current, &self.current)).chain(
            self.previous
                .as_ref()
                .map(|previous| (KeyGeneration::Previous, previous)),
        )
    }

    /// HMAC-SHA256 of `secret` under this key, separated by `domain` (what kind of secret).
    pub fn hash(&self, domain: &str, secret: &[u8]) -> SecretHash {
        self.hash_parts(domain, &[secret])
    }

    /// [`Self::hash`] of the concatenation of `parts`, without copying them together.
    pub fn hash_parts(&self, domain: &str, parts: &[&[u8]]) -> SecretHash {
        let mut mac = self.mac(domain.as_bytes());
        for part in parts {
            mac.update(part);
        }
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

    /// Whether `secret` hashes to `expected` under the current key or the previous one,
    /// compared in constant time.
    pub fn verify(&self, domain: &str, secret: &[u8], expected: &SecretHash) -> bool {
        self.matches(domain, secret, expected).is_some()
    }

    /// Which key `secret` hashes to `expected` under (the current one is tried first), each
    /// comparison in constant time; `None` when neither.
    pub fn matches(
        &self,
        domain: &str,
        secret: &[u8],
        expected: &SecretHash,
    ) -> Option<KeyGeneration> {
        self.matches_parts(domain, &[secret], expected)
    }

    /// [`Self::matches`] for the concatenation of `parts`, without copying them together.
    pub fn matches_parts(
        &self,
        domain: &str,
        parts: &[&[u8]],
        expected: &SecretHash,
    ) -> Option<KeyGeneration> {
        self.generations().find_map(|(generation, keyed)| {
            let mut mac = keyed.mac(domain.as_bytes());
            for part in parts {
                mac.update(part);
            }
            mac.verify_slice(&expected.0).is_ok().then_some(generation)
        })
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
    fn cipher(key: &Keyed, domain: &str, binding: &[u8]) -> XChaCha20Poly1305 {
        let mut mac = key.mac(domain.as_bytes());
        mac.update(binding);
        let mut derived = Zeroizing::new([0_u8; 32]);
        derived.copy_from_slice(&mac.finalize().into_bytes());
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
        let sealed = Self::cipher(&key.current, domain, binding)
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(SEAL_NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Self(bytes)
    }

    /// The secret, when this was sealed under `key` (its current or previous key) for
    /// `domain` and `binding` and not altered since; `None` otherwise (another key, another
    /// object, tampered bytes).
    pub fn open(&self, key: &HashingKey, domain: &str, binding: &[u8]) -> Option<Secret> {
        self.open_generation(key, domain, binding)
            .map(|(secret, _)| secret)
    }

    /// [`Self::open`], also saying which key it opened under: sealed under the previous key, it
    /// should be sealed again.
    pub fn open_generation(
        &self,
        key: &HashingKey,
        domain: &str,
        binding: &[u8],
    ) -> Option<(Secret, KeyGeneration)> {
        let (nonce, sealed) = self.0.split_at_checked(SEAL_NONCE_BYTES)?;
        let nonce: [u8; SEAL_NONCE_BYTES] = nonce.try_into().ok()?;
        key.generations().find_map(|(generation, keyed)| {
            let payload = chacha20poly1305::aead::Payload {
                msg: sealed,
                aad: binding,
            };
            let plain = Zeroizing::new(
                Self::cipher(keyed, domain, binding)
                    .decrypt(&XNonce::from(nonce), payload)
                    .ok()?,
            );
            String::from_utf8(plain.to_vec())
                .ok()
                .map(|text| (Secret::new(text), generation))
        })
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

    #[test]
    fn a_rotated_key_accepts_what_the_previous_key_made_and_says_so() {
        let old = key();
        let new = HashingKey::from_bytes(&[9; 32]).unwrap();
        let ring = new.clone().with_previous(&old);
        assert!(ring.has_previous() && !new.has_previous());
        let before = old.hash("token", b"secret");
        // New values are made under the current key only.
        assert_eq!(ring.hash("token", b"secret"), new.hash("token", b"secret"));
        assert_eq!(*ring.derive("d", b"x"), *new.derive("d", b"x"));
        assert_eq!(ring.to_base64(), new.to_base64());
        // Old values still verify, and say which key made them.
        assert!(ring.verify("token", b"secret", &before));
        assert_eq!(
            ring.matches("token", b"secret", &before),
            Some(KeyGeneration::Previous)
        );
        assert_eq!(
            ring.matches("token", b"secret", &new.hash("token", b"secret")),
            Some(KeyGeneration::Current)
        );
        assert_eq!(ring.matches("token", b"secreT", &before), None);
        assert!(!new.verify("token", b"secret", &before));
        assert_eq!(ring.previous().unwrap().hash("token", b"secret"), before);
        // A previous key equal to the current one is none.
        assert!(!new.clone().with_previous(&new).has_previous());
        // Sealed under the old key: opens under the ring (as Previous), not under the new key.
        let secret = Secret::new("client-secret-value".to_owned());
        let mut random = crate::random::SeededRandom::new(3);
        let sealed = SealedSecret::seal(&old, "sso", b"b", &secret, &mut random);
        assert_eq!(
            sealed.open_generation(&ring, "sso", b"b"),
            Some((secret.clone(), KeyGeneration::Previous))
        );
        assert!(sealed.open(&new, "sso", b"b").is_none());
        let resealed = SealedSecret::seal(&ring, "sso", b"b", &secret, &mut random);
        assert_eq!(
            resealed.open_generation(&ring, "sso", b"b"),
            Some((secret.clone(), KeyGeneration::Current))
        );
        assert_eq!(resealed.open(&new, "sso", b"b"), Some(secret));
    }
}
