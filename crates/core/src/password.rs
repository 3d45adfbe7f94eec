//! Passwords: the policy, Argon2id hashing and constant-work verification.
//!
//! # Choices
//! - **Policy** (NIST SP 800-63B, no composition theatre): 12 to 128 characters (Unicode scalar
//!   values, counted as given: no normalisation, no trimming, every character allowed, spaces
//!   included). No rules about digits, cases or symbols, no forced rotation.
//! - **Hash**: Argon2id (RFC 9106) from the RustCrypto `argon2` crate, version 0x13, with
//!   OWASP's first recommended parameter set: m = 19 MiB ([`MEMORY_KIB`]), t = 2
//!   ([`ITERATIONS`]), p = 1 ([`PARALLELISM`]), a 16-byte random salt from the injected
//!   [`RandomSource`] and a 32-byte output, stored as a PHC string
//!   (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). p = 1 because a Worker runs one thread;
//!   19 MiB fits a Worker's 128 MiB isolate comfortably; t = 2 keeps one hash within a paid
//!   Worker's CPU budget: measured natively at about 16 ms per hash or verification (2 shared
//!   vCPUs, release profile, `cargo bench -p portcullis-core --bench verify -- password`);
//!   expect two to three times that in wasm32, which is over the Workers Free plan's 10 ms of
//!   CPU per request but far inside the paid plan's limit. Sign-in costs one Argon2id
//!   verification, whatever the outcome.
//! - **Pepper**: the hash is keyed with Argon2's secret input, a value derived from the server's
//!   [`HashingKey`] (domain `portcullis/password-pepper/v1`), so a copy of the stored state alone
//!   does not allow offline guessing. Rotating the hashing key therefore invalidates passwords
//!   (as it does every token).
//! - **Verification** always does the work of one Argon2id hash: when there is no stored hash
//!   (unknown email, a pending user, a user without a password), the candidate is checked
//!   against [`dummy_hash`], which has the same parameters and never matches, so timing does
//!   not tell whether a user exists or has a password. The comparison of the outputs is in
//!   constant time (`password-hash`'s `Output` equality).
//! - Stored hashes made with other parameters still verify (the PHC string carries its own),
//!   and a successful password sign-in replaces such a hash with one of the current parameters
//!   ([`PasswordHash::has_current_parameters`]), so raising the cost reaches every active user
//!   without a forced reset. Only a password that meets today's policy is re-hashed; one that
//!   does not keeps its old hash (it still signs in) until the user changes it.

use crate::random::{self, RandomSource};
use crate::secret::{HashingKey, KeyGeneration};
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Argon2id memory cost, in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id time cost (passes over memory).
pub const ITERATIONS: u32 = 2;
/// Argon2id parallelism (lanes).
pub const PARALLELISM: u32 = 1;
/// Bytes of Argon2id output.
const OUTPUT_BYTES: usize = 32;
/// Bytes of random salt.
const SALT_BYTES: usize = 16;
const PEPPER_DOMAIN: &str = "portcullis/password-pepper/v1";

/// A password that breaks the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PasswordPolicyError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("a password needs at least 12 characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("a password may have at most 128 characters")]
    TooLong,
}

/// A password that meets the policy, as typed by its user. Zeroized on drop; `Debug` prints
/// `***`.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Checks `text` against the policy.
    pub fn new(text: &str) -> Result<Self, PasswordPolicyError> {
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordPolicyError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordPolicyError::TooLong);
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// The password's bytes (UTF-8), for hashing.
    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The stored form of a password: an Argon2id PHC string. Not a secret in itself, but an
/// offline-guessing target: `Debug` prints `PasswordHash(***)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this hash was made the way [`hash`] makes one today: Argon2id, version 0x13,
    /// [`MEMORY_KIB`], [`ITERATIONS`], [`PARALLELISM`] and a 32-byte output. A hash that is not
    /// (or that does not parse) is replaced at the next successful sign-in.
    pub fn has_current_parameters(&self) -> bool {
        let Ok(parsed) = argon2::password_hash::PasswordHash::new(&self.0) else {
            return false;
        };
        let (Ok(stored), Ok(current)) = (Params::try_from(&parsed), params()) else {
            return false;
        };
        parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into())
            && stored.m_cost() == current.m_cost()
            && stored.t_cost() == current.t_cost()
            && stored.p_cost() == current.p_cost()
            && parsed.hash.map(|output| output.len()) == Some(OUTPUT_BYTES)
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Hashing failed: the parameters are constants the crate accepts, so this does not happen in
/// practice; it is a value all the same, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the password could not be hashed")]
pub struct HashingFailed;

fn params() -> Result<Params, HashingFailed> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_BYTES)).map_err(|_| HashingFailed)
}

/// Argon2id with `params`, keyed with the pepper derived from `key`.
fn with_pepper<T>(
    key: &HashingKey,
    params: Params,
    run: impl FnOnce(&Argon2<'_>) -> Result<T, HashingFailed>,
) -> Result<T, HashingFailed> {
    let pepper = key.derive(PEPPER_DOMAIN, b"");
    let hasher = Argon2::new_with_secret(
        pepper.as_slice(),
        Algorithm::Argon2id,
        Version::V0x13,
        params,
    )
    .map_err(|_| HashingFailed)?;
    run(&hasher)
}

/// Hashes `password` with a fresh salt from `random`.
pub fn hash(
    password: &Password,
    key: &HashingKey,
    random: &mut dyn RandomSource,
) -> Result<PasswordHash, HashingFailed> {
    hash_with(password, key, random, params()?)
}

/// [`hash`] with other parameters: what hashes stored before a change of parameters look like.
pub(crate) fn hash_with(
    password: &Password,
    key: &HashingKey,
    random: &mut dyn RandomSource,
    params: Params,
) -> Result<PasswordHash, HashingFailed> {
    let salt_bytes: [u8; SALT_BYTES] = random::bytes(random);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| HashingFailed)?;
    with_pepper(key, params, |hasher| {
        hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| PasswordHash(hash.to_string()))
            .map_err(|_| HashingFailed)
    })
}

/// A well-formed hash with the current parameters that no password matches (its output is all
/// zeros): verified against when there is nothing to verify against, so the work is the same.
pub fn dummy_hash() -> String {
    // Salt: base64 of "portcullis-dummy"; output: 32 zero bytes.
    format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$cG9ydGN1bGxpcy1kdW1teQ${}",
        "A".repeat(43)
    )
}

/// Whether `candidate` (any text, policy or not) is the password hashed in `stored`. With no
/// stored hash, the candidate is checked against [`dummy_hash`] and the answer is `false`: the
/// same work either way.
pub fn verify(candidate: &str, stored: Option<&PasswordHash>, key: &HashingKey) -> bool {
    check(candidate, stored, key).is_some()
}

/// [`verify`], saying which key's pepper the stored hash was made with. While a rotation is under
/// way (`key` has a previous key) both are always tried, whatever the first answer, so the work
/// does not depend on the user or the password; a hash made under the previous key should be
/// made again ([`KeyGeneration::Previous`]).
pub fn check(
    candidate: &str,
    stored: Option<&PasswordHash>,
    key: &HashingKey,
) -> Option<KeyGeneration> {
    let dummy = dummy_hash();
    let phc = stored.map_or(dummy.as_str(), PasswordHash::as_str);
    let parsed = argon2::password_hash::PasswordHash::new(phc).ok()?;
    // The hasher's own parameters do not matter here: verification uses the stored ones.
    let current = params().ok()?;
    let under = |key: &HashingKey| {
        with_pepper(key, current.clone(), |hasher| {
            Ok(hasher
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok())
        })
        .unwrap_or(false)
    };
    let now = under(key);
    let before = key.previous().is_some_and(|previous| under(&previous));
    match (stored.is_some(), now, before) {
        (true, true, _) => Some(KeyGeneration::Current),
        (true, false, true) => Some(KeyGeneration::Previous),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[5; 32]).unwrap()
    }

    #[test]
    fn policy_counts_characters_and_nothing_else() {
        assert_eq!(
            Password::new("short").unwrap_err(),
            PasswordPolicyError::TooShort
        );
        assert_eq!(
            Password::new(&"a".repeat(11)).unwrap_err(),
            PasswordPolicyError::TooShort
        );
        assert!(Password::new(&"a".repeat(12)).is_ok());
        assert!(Password::new(&"é".repeat(128)).is_ok());
        assert_eq!(
            Password::new(&"a".repeat(129)).unwrap_err(),
            PasswordPolicyError::TooLong
        );
        // No composition rules: all lower case, spaces, anything.
        assert!(Password::new("correct horse battery staple").is_ok());
        assert_eq!(
            format!("{:?}", Password::new("correct horse battery").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn hashes_verify_only_the_same_password_under_the_same_key() {
        let password = Password::new("correct horse battery").unwrap();
        let stored = hash(&password, &key(), &mut SeededRandom::new(1)).unwrap();
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert_eq!(format!("{stored:?}"), "PasswordHash(***)");
        assert!(verify("correct horse battery", Some(&stored), &key()));
        assert!(!verify("correct horse batterY", Some(&stored), &key()));
        let other_key = HashingKey::from_bytes(&[6; 32]).unwrap();
        assert!(!verify("correct horse battery", Some(&stored), &other_key));
        // A fresh salt each time.
        let again = hash(&password, &key(), &mut SeededRandom::new(2)).unwrap();
        assert_ne!(stored, again);
    }

    #[test]
    fn the_dummy_hash_has_the_current_parameters_and_matches_nothing() {
        let dummy = dummy_hash();
        let parsed = argon2::password_hash::PasswordHash::new(&dummy).unwrap();
        assert_eq!(Params::try_from(&parsed).unwrap(), params().unwrap());
        assert!(!verify("", None, &key()));
        assert!(!verify("correct horse battery", None, &key()));
    }

    #[test]
    fn only_hashes_made_as_today_have_the_current_parameters() {
        let password = Password::new("correct horse battery").unwrap();
        let current = hash(&password, &key(), &mut SeededRandom::new(3)).unwrap();
        assert!(current.has_current_parameters());
        let cheaper = Params::new(8 * 1024, 1, 1, Some(OUTPUT_BYTES)).unwrap();
        let old = hash_with(&password, &key(), &mut SeededRandom::new(3), cheaper).unwrap();
        assert!(!old.has_current_parameters());
        // An old hash still verifies (its PHC string carries its parameters).
        assert!(verify("correct horse battery", Some(&old), &key()));
        for other in [
            current.as_str().replace("argon2id", "argon2i"),
            current.as_str().replace("t=2", "t=3"),
            "not a hash".to_owned(),
        ] {
            assert!(
                !PasswordHash(other.clone()).has_current_parameters(),
                "{other}"
            );
        }
    }
}
