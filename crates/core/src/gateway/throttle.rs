//! Failed-verification throttling: which refusals count as a guess, under which limiter keys,
//! and the isolate's memory of who is blocked.
//!
//! Counting happens in the runtime's rate limiter (on Cloudflare, the Workers rate-limiting
//! binding); it is asked only after a verification failed, so a successful request never pays
//! for it. Once it says a key is over its limit, the adapter remembers the block in a
//! [`Blocklist`] and refuses that client or key id before verifying anything until the block
//! ends: a blocked caller cannot keep guessing, even with the right secret.

use crate::credential::{KeyId, Verification};
use crate::ids::AccountId;
use crate::session::{SessionId, SessionVerification};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// How long a subject stays blocked once the rate limiter refuses it: the limiter's period (the
/// `period` of both rate limiters in `wrangler.toml` and `wrangler.edge.toml`), so the block
/// outlasts the window that tripped it.
pub const BLOCK_SECONDS: u64 = 60;

/// Who a failed verification is charged to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// The calling client (its IP address as the platform reports it).
    Client(String),
    /// The key id the caller presented.
    Credential(KeyId),
    /// The session id the caller presented.
    Session(SessionId),
    /// A sign-in attempt's account and email, as a digest (no email reaches the limiter).
    SignIn(String),
}

/// The longest client address kept (an IPv6 address is at most 45 characters).
const MAX_CLIENT_LEN: usize = 64;

/// A client address as kept: trimmed, and at most [`MAX_CLIENT_LEN`] characters.
pub(crate) fn bounded_client(address: &str) -> &str {
    let address = address.trim();
    address
        .char_indices()
        .nth(MAX_CLIENT_LEN)
        .and_then(|(cut, _)| address.get(..cut))
        .unwrap_or(address)
}

impl Subject {
    /// The client `address`, bounded in length.
    pub fn client(address: &str) -> Self {
        Subject::Client(bounded_client(address).to_owned())
    }

    /// The key the rate limiter counts under.
    pub fn limiter_key(&self) -> String {
        match self {
            Subject::Client(address) => format!("client:{address}"),
            Subject::Credential(key_id) => format!("key:{key_id}"),
            Subject::Session(session_id) => format!("session:{session_id}"),
            Subject::SignIn(digest) => format!("signin:{digest}"),
        }
    }

    /// The subject of sign-in attempts for `email` in `account`: a digest of both, the email
    /// normalised as the account compares it (trimmed, lower case), so every spelling of one
    /// address counts together.
    pub fn sign_in(account: &AccountId, email: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(account.as_str().as_bytes());
        digest.update([0]);
        digest.update(email.trim().to_lowercase().as_bytes());
        let digest = digest.finalize();
        Subject::SignIn(URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default()))
    }
}

/// Whether a verification outcome counts as a failed guess. Only outcomes that do not prove
/// possession of the secret count: a malformed credential, an unknown key id, a wrong secret.
/// An expired, disabled or blocked credential was presented with its right secret.
pub const fn counts_as_guess(verification: &Verification) -> bool {
    matches!(
        verification,
        Verification::Malformed(_) | Verification::UnknownKey | Verification::WrongSecret
    )
}

/// The subjects a failed `verification` is charged to: always the client; also the presented
/// key id when the credential parsed. Empty when the outcome is not a guess.
pub fn charged_subjects(
    client: &Subject,
    presented: Option<&KeyId>,
    verification: &Verification,
) -> Vec<Subject> {
    if !counts_as_guess(verification) {
        return Vec::new();
    }
    let mut subjects = vec![client.clone()];
    if let Some(key_id) = presented
        && !matches!(verification, Verification::Malformed(_))
    {
        subjects.push(Subject::Credential(key_id.clone()));
    }
    subjects
}

/// The subjects a refused invitation acceptance (or password reset redemption, its twin) is
/// charged to: the client, for a code that is
/// not valid (wrong, superseded, for another tenant, or of an account that does not exist); an
/// expired code was the right one and is not a guess. Acceptance is unauthenticated, so only
/// the client can be charged.
pub fn acceptance_subjects(client: &Subject, refusal_code: &str) -> Vec<Subject> {
    use crate::account::Refusal;
    if refusal_code == Refusal::InvitationInvalid.code()
        || refusal_code == Refusal::PasswordResetInvalid.code()
    {
        vec![client.clone()]
    } else {
        Vec::new()
    }
}

/// The subjects a refused session is charged to, like a refused token
/// ([`charged_subjects`]): only a malformed session, an unknown id or a wrong secret is a guess;
/// the client always, the session id too when the session parsed.
pub fn session_subjects(
    client: &Subject,
    presented: Option<&SessionId>,
    verification: &SessionVerification,
) -> Vec<Subject> {
    let mut subjects = Vec::new();
    match verification {
        SessionVerification::Malformed(_) => subjects.push(client.clone()),
        SessionVerification::UnknownSession | SessionVerification::WrongSecret => {
            subjects.push(client.clone());
            subjects.extend(presented.cloned().map(Subject::Session));
        }
        _ => {}
    }
    subjects
}

/// The subjects a failed password sign-in is charged to: the client and the account's email
/// ([`Subject::sign_in`]), so neither one client trying many emails nor many clients trying
/// one email gets far. Every failure counts (they all look alike to the caller).
pub fn sign_in_subjects(client: &Subject, account: &AccountId, email: &str) -> Vec<Subject> {
    vec![client.clone(), Subject::sign_in(account, email)]
}

/// Which of a sign-in's limits a failure tripped, as the audit event names them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SignInLimit {
    /// The failures of one client, whatever the emails.
    Client,
    /// The failures for one account's email, from any client.
    Email,
}

impl SignInLimit {
    /// The limit a sign-in `subject` counts under; `None` for subjects of other checks.
    pub const fn of(subject: &Subject) -> Option<Self> {
        match subject {
            Subject::Client(_) => Some(SignInLimit::Client),
            Subject::SignIn(_) => Some(SignInLimit::Email),
            Subject::Credential(_) | Subject::Session(_) => None,
        }
    }

    /// The limit's name in audit details.
    pub const fn name(self) -> &'static str {
        match self {
            SignInLimit::Client => "client",
            SignInLimit::Email => "email",
        }
    }
}

/// The isolate's memory of blocked subjects, each until a time. Bounded: when full, the block
/// ending soonest is forgotten first (the rate limiter blocks it again on its next failure).
#[derive(Clone, Debug)]
pub struct Blocklist {
    until: BTreeMap<Subject, Timestamp>,
    capacity: usize,
}

impl Blocklist {
    /// An empty list holding at most `capacity` blocks.
    pub fn new(capacity: usize) -> Self {
        Self {
            until: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Blocks `subject` until `until`.
    pub fn block(&mut self, subject: Subject, until: Timestamp, now: Timestamp) {
        self.until.retain(|_, end| *end > now);
        if self.until.len() >= self.capacity && !self.until.contains_key(&subject) {
            super::forget_earliest(&mut self.until);
        }
        let end = self.until.entry(subject).or_insert(until);
        *end = (*end).max(until);
    }

    /// Seconds until the first of `subjects` that is blocked at `now` is free again (at least
    /// 1), or `None` when none is blocked.
    pub fn retry_after<'s>(
        &self,
        subjects: impl IntoIterator<Item = &'s Subject>,
        now: Timestamp,
    ) -> Option<u64> {
        subjects
            .into_iter()
            .filter_map(|subject| self.until.get(subject))
            .filter(|end| **end > now)
            .map(|end| end.unix_seconds().saturating_sub(now.unix_seconds()).max(1))
            .max()
    }

    /// The number of blocks held.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Malformed;
    use crate::gateway::test_support::{at, key_id};

    #[test]
    fn failed_acceptances_are_charged_to_the_client() {
        let client = Subject::client("203.0.113.9");
        assert_eq!(
            acceptance_subjects(&client, "invitation_invalid"),
            vec![client.clone()]
        );
        assert!(acceptance_subjects(&client, "invitation_expired").is_empty());
        assert_eq!(
            acceptance_subjects(&client, "password_reset_invalid"),
            vec![client.clone()]
        );
        assert!(acceptance_subjects(&client, "password_policy").is_empty());
    }

    #[test]
    fn sign_in_failures_count_per_client_and_per_email() {
        let client = Subject::client("203.0.113.9");
        let account = crate::ids::AccountId::generate(&mut crate::random::SeededRandom::new(1));
        let other = crate::ids::AccountId::generate(&mut crate::random::SeededRandom::new(2));
        let subjects = sign_in_subjects(&client, &account, "Ana@Example.test ");
        assert_eq!(subjects.first(), Some(&client));
        assert_eq!(
            subjects.get(1),
            Some(&Subject::sign_in(&account, "ana@example.test"))
        );
        assert_ne!(
            Subject::sign_in(&account, "ana@example.test"),
            Subject::sign_in(&other, "ana@example.test")
        );
        let key = Subject::sign_in(&account, "ana@example.test").limiter_key();
        assert!(key.starts_with("signin:") && !key.contains("ana"), "{key}");
    }

    #[test]
    fn only_session_guesses_are_charged() {
        let client = Subject::client("203.0.113.9");
        let id = crate::session::generate(
            &mut crate::random::SeededRandom::new(3),
            &crate::secret::HashingKey::from_bytes(&[1; 32]).unwrap(),
        )
        .id;
        assert_eq!(
            session_subjects(&client, Some(&id), &SessionVerification::WrongSecret),
            vec![client.clone(), Subject::Session(id.clone())]
        );
        assert_eq!(
            session_subjects(
                &client,
                None,
                &SessionVerification::Malformed(Malformed::Checksum)
            ),
            vec![client.clone()]
        );
        for proven in [
            SessionVerification::Expired,
            SessionVerification::UserNotActive,
            SessionVerification::NotMember,
        ] {
            assert!(session_subjects(&client, Some(&id), &proven).is_empty());
        }
    }

    #[test]
    fn only_guesses_are_charged() {
        let client = Subject::client("203.0.113.9");
        let key = key_id(1);
        assert_eq!(
            charged_subjects(&client, Some(&key), &Verification::WrongSecret),
            vec![client.clone(), Subject::Credential(key.clone())]
        );
        assert_eq!(
            charged_subjects(&client, Some(&key), &Verification::UnknownKey).len(),
            2
        );
        assert_eq!(
            charged_subjects(&client, None, &Verification::Malformed(Malformed::Checksum)),
            vec![client.clone()]
        );
        for proven in [
            Verification::Expired,
            Verification::Disabled,
            Verification::OwnerInactive,
            Verification::OwnerPending,
        ] {
            assert!(charged_subjects(&client, Some(&key), &proven).is_empty());
        }
    }

    #[test]
    fn limiter_keys_are_distinct_and_bounded() {
        assert_eq!(
            Subject::client(" 198.51.100.1 ").limiter_key(),
            "client:198.51.100.1"
        );
        let long = Subject::client(&"x".repeat(500)).limiter_key();
        assert_eq!(long.len(), "client:".len() + 64);
        let key = key_id(2);
        assert_eq!(
            Subject::Credential(key.clone()).limiter_key(),
            format!("key:{key}")
        );
    }

    #[test]
    fn blocks_expire_and_report_the_longest_wait() {
        let mut list = Blocklist::new(8);
        let client = Subject::client("a");
        let key = Subject::Credential(key_id(3));
        assert_eq!(list.retry_after([&client, &key], at(100)), None);
        list.block(client.clone(), at(160), at(100));
        list.block(key.clone(), at(130), at(100));
        assert_eq!(list.retry_after([&client, &key], at(100)), Some(60));
        assert_eq!(list.retry_after([&key], at(129)), Some(1));
        assert_eq!(list.retry_after([&key], at(130)), None);
        assert_eq!(list.retry_after([&client], at(159)), Some(1));
        // A shorter block never shortens a longer one.
        list.block(client.clone(), at(120), at(110));
        assert_eq!(list.retry_after([&client], at(150)), Some(10));
    }

    #[test]
    fn a_full_list_forgets_the_block_ending_soonest() {
        let mut list = Blocklist::new(2);
        let (a, b, c) = (
            Subject::client("a"),
            Subject::client("b"),
            Subject::client("c"),
        );
        list.block(a.clone(), at(200), at(0));
        list.block(b.clone(), at(100), at(0));
        list.block(c.clone(), at(300), at(0));
        assert_eq!(list.len(), 2);
        assert_eq!(list.retry_after([&b], at(0)), None);
        assert!(list.retry_after([&a], at(0)).is_some());
        assert!(list.retry_after([&c], at(0)).is_some());
        // Expired blocks are dropped first.
        list.block(b.clone(), at(400), at(250));
        assert_eq!(list.len(), 2);
        assert_eq!(list.retry_after([&a], at(250)), None);
    }
}
