//! Notifications: the messages an integrator sends to people (invitations, activation,
//! deactivation, deletion, primary-contact changes), produced by the engine as durable outbox
//! entries. Portcullis never sends email itself.
//!
//! The engine appends a [`Notification`] inside the same command application that causes it, so
//! a notification exists exactly when its change was accepted. Like the audit log, the account
//! only holds notifications until a runtime with durable storage of its own
//! [drains](crate::Account::drain_notifications) them into its outbox, in the same write as the
//! state. From there an integrator either lists and acknowledges them, or receives them by a
//! signed webhook ([`sign`], [`verify_signature`]) retried with exponential backoff
//! ([`RetryPolicy`]) until the receiver answers 2xx. A pending notification is never dropped:
//! when [`MAX_PENDING_NOTIFICATIONS`] are waiting, new invitations are refused
//! ([`admit`]) until the integrator catches up, while the notifications of security actions
//! (deactivation, deletion, activation) are always recorded.
//!
//! Notification data never carries a secret: invitation codes, tokens and keys are shown once
//! to the caller of the command and nowhere else.

use crate::account::Refusal;
use crate::ids::{AccountId, Email, NotificationId, TenantId, UserId};
use crate::secret::{HashingKey, Secret};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The most notifications an outbox holds unacknowledged before new invitations are refused.
pub const MAX_PENDING_NOTIFICATIONS: u64 = 100_000;
/// The most notifications one page of `GET /v1/notifications` returns.
pub const MAX_PAGE: u32 = 200;
/// The most ids one acknowledgement may list.
pub const MAX_ACK_IDS: usize = 500;
/// The most notifications one webhook delivery carries.
pub const MAX_BATCH: usize = 50;
/// How long an acknowledged notification's id is remembered (so a repeated acknowledgement is
/// reported as such), in seconds: 7 days. Its content is deleted at acknowledgement.
pub const ACK_RETENTION_SECONDS: u64 = 7 * 24 * 3600;
/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "Portcullis-Signature";
/// The header carrying a delivery's idempotency id (the same batch always has the same id).
pub const DELIVERY_HEADER: &str = "Portcullis-Delivery";
/// How old a signature a receiver should accept, by default, in seconds.
pub const SIGNATURE_TOLERANCE_SECONDS: u64 = 300;

/// What a notification tells its recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A new user was invited (deliver the code the inviter received with the invitation).
    Invitation,
    /// A pending user's invitation was re-sent with a new code.
    InvitationResent,
    /// The user's account is active (invitation accepted, or reactivated).
    Activated,
    /// The user's account was deactivated.
    Deactivated,
    /// The user was deleted: "your account is no longer available".
    Deleted,
    /// A tenant's primary contact changed: sent to the new contact (`contact: new`) and to the
    /// one replaced (`contact: previous`).
    PrimaryContactChanged,
    /// The user's password was changed (`via: changed`) or reset (`via: reset`): "if this was
    /// not you, tell your administrator".
    PasswordChanged,
    /// A sign-in from a device (user agent) the user had not signed in from recently.
    NewSignIn,
    /// A credential's secret was rolled: sent to a token's owner, or to the member who created
    /// an automation key (`kind`, `key_id`, `name`, `previous_valid_until`).
    CredentialRolled,
}

impl NotificationKind {
    /// Every kind, in documentation order.
    pub const ALL: [NotificationKind; 9] = [
        NotificationKind::Invitation,
        NotificationKind::InvitationResent,
        NotificationKind::Activated,
        NotificationKind::Deactivated,
        NotificationKind::Deleted,
        NotificationKind::PrimaryContactChanged,
        NotificationKind::PasswordChanged,
        NotificationKind::NewSignIn,
        NotificationKind::CredentialRolled,
    ];

    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            NotificationKind::Invitation => "invitation",
            NotificationKind::InvitationResent => "invitation_resent",
            NotificationKind::Activated => "activated",
            NotificationKind::Deactivated => "deactivated",
            NotificationKind::Deleted => "deleted",
            NotificationKind::PrimaryContactChanged => "primary_contact_changed",
            NotificationKind::PasswordChanged => "password_changed",
            NotificationKind::NewSignIn => "new_sign_in",
            NotificationKind::CredentialRolled => "credential_rolled",
        }
    }

    /// Whether this notification accompanies a security action, which a full outbox must never
    /// block.
    pub const fn protects_users(self) -> bool {
        matches!(
            self,
            NotificationKind::Activated
                | NotificationKind::Deactivated
                | NotificationKind::Deleted
                | NotificationKind::PrimaryContactChanged
                | NotificationKind::PasswordChanged
                | NotificationKind::NewSignIn
                | NotificationKind::CredentialRolled
        )
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Small non-secret facts a message needs (tenant name, invitation expiry...), by name.
pub type NotificationData = BTreeMap<String, Value>;

/// One message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable id; receivers deduplicate on it.
    pub id: NotificationId,
    /// Position in the account's outbox, from 0: the order to deliver in.
    pub sequence: u64,
    /// What it says.
    pub kind: NotificationKind,
    /// The user it is about and addressed to.
    pub user_id: UserId,
    /// The recipient.
    pub email: Email,
    /// The tenant concerned, if any.
    pub tenant_id: Option<TenantId>,
    /// When the change that caused it was accepted.
    pub created_at: Timestamp,
    /// Non-secret facts for the message.
    #[serde(default)]
    pub data: NotificationData,
}

/// What the engine asks to notify, before it gets an id and a sequence number.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub(crate) kind: NotificationKind,
    pub(crate) user_id: UserId,
    pub(crate) email: Email,
    pub(crate) tenant_id: Option<TenantId>,
    pub(crate) data: NotificationData,
}

/// The notifications an account produced and has not handed to durable storage yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationLog {
    /// The sequence number the next notification gets (the number ever produced).
    #[serde(default)]
    next_sequence: u64,
    /// Produced and not drained yet, oldest first.
    #[serde(default)]
    pending: Vec<Notification>,
}

impl NotificationLog {
    /// An empty log that continues `self`'s numbering (for a command's draft).
    pub(crate) fn continuing(&self) -> Self {
        Self {
            next_sequence: self.next_sequence,
            pending: Vec::new(),
        }
    }

    /// Appends what a committed draft produced (numbered after `self`'s own).
    pub(crate) fn absorb(&mut self, draft: NotificationLog) {
        self.pending.extend(draft.pending);
        self.next_sequence = self.next_sequence.max(draft.next_sequence);
    }

    pub(crate) fn append(&mut self, id: NotificationId, now: Timestamp, draft: Draft) {
        self.pending.push(Notification {
            id,
            sequence: self.next_sequence,
            kind: draft.kind,
            user_id: draft.user_id,
            email: draft.email,
            tenant_id: draft.tenant_id,
            created_at: now,
            data: draft.data,
        });
        self.next_sequence = self.next_sequence.saturating_add(1);
    }

    /// Produced and not drained yet, oldest first.
    pub fn pending(&self) -> &[Notification] {
        &self.pending
    }

    /// The number of notifications ever produced, drained ones included.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Hands over the pending notifications (for durable storage), keeping the numbering.
    pub fn drain(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.pending)
    }
}

/// Whether an outbox already holding `pending` unacknowledged notifications may take
/// `produced`: always for security actions, otherwise up to [`MAX_PENDING_NOTIFICATIONS`].
/// Runtimes call this before storing a command's result; a refusal means nothing is stored.
pub fn admit(pending: u64, produced: &[Notification]) -> Result<(), Refusal> {
    let total = pending.saturating_add(produced.len() as u64);
    let blocking = produced.iter().any(|n| !n.kind.protects_users());
    if blocking && total > MAX_PENDING_NOTIFICATIONS {
        return Err(Refusal::OutboxFull(MAX_PENDING_NOTIFICATIONS));
    }
    Ok(())
}

/// Where a notification an acknowledgement names stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckState {
    /// In the outbox, not acknowledged yet.
    Pending,
    /// Acknowledged before (within [`ACK_RETENTION_SECONDS`]).
    Acknowledged,
    /// Not a notification of this account (or acknowledged long ago).
    Unknown,
}

/// The body of `POST /v1/notifications/ack`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// The notifications handled (1 to [`MAX_ACK_IDS`]).
    #[serde(deserialize_with = "bounded_ids")]
    pub ids: Vec<NotificationId>,
}

fn bounded_ids<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<NotificationId>, D::Error> {
    let ids = Vec::<NotificationId>::deserialize(deserializer)?;
    if ids.is_empty() || ids.len() > MAX_ACK_IDS {
        return Err(serde::de::Error::custom(format!(
            "`ids` must list 1 to {MAX_ACK_IDS} notification ids"
        )));
    }
    Ok(ids)
}

/// What an acknowledgement did, id by id (each listed once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckReport {
    /// Acknowledged now: removed from the outbox.
    pub acknowledged: Vec<NotificationId>,
    /// Acknowledged before; nothing changed.
    pub already_acknowledged: Vec<NotificationId>,
    /// Not notifications of this account.
    pub unknown: Vec<NotificationId>,
}

/// Sorts the ids of an acknowledgement by their state (duplicates counted once). The runtime
/// then removes the `acknowledged` ones from its outbox.
pub fn acknowledge(
    ids: &[NotificationId],
    mut state_of: impl FnMut(&NotificationId) -> AckState,
) -> AckReport {
    let mut seen = BTreeSet::new();
    let mut report = AckReport::default();
    for id in ids {
        if !seen.insert(id) {
            continue;
        }
        let list = match state_of(id) {
            AckState::Pending => &mut report.acknowledged,
            AckState::Acknowledged => &mut report.already_acknowledged,
            AckState::Unknown => &mut report.unknown,
        };
        list.push(id.clone());
    }
    report
}

/// Why a webhook URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WebhookUrlError {
    /// Not `https://`, nor `http://` to this machine.
    #[error("webhook URL must use https (http only for 127.0.0.1, [::1] or localhost)")]
    Scheme,
    /// Empty host, credentials in the URL, white space or control characters.
    #[error("webhook URL is malformed")]
    Malformed,
    /// Longer than [`WebhookUrl::MAX_LEN`].
    #[error("webhook URL is longer than 2048 characters")]
    TooLong,
}

/// Where webhook deliveries go: an `https://` URL, or `http://` to the local machine (for
/// development and tests).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The longest URL accepted.
    pub const MAX_LEN: usize = 2048;

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']'))
        .map_or(host, |(name, _)| name);
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

impl FromStr for WebhookUrl {
    type Err = WebhookUrlError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        check_https_or_loopback(value, Self::MAX_LEN)?;
        Ok(Self(value.to_owned()))
    }
}

/// The rule every outbound URL the engine accepts follows (webhooks, identity providers):
/// `https://`, or `http://` to 127.0.0.1, [::1] or localhost; a host, no credentials, no white
/// space or control characters, at most `max_len` bytes.
pub(crate) fn check_https_or_loopback(value: &str, max_len: usize) -> Result<(), WebhookUrlError> {
    if value.len() > max_len {
        return Err(WebhookUrlError::TooLong);
    }
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebhookUrlError::Malformed);
    }
    let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(value, "https://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(value, "http://") {
        (false, rest)
    } else {
        return Err(WebhookUrlError::Scheme);
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || host.starts_with(':') {
        return Err(WebhookUrlError::Malformed);
    }
    if !secure && !is_loopback(host) {
        return Err(WebhookUrlError::Scheme);
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        value.get(prefix.len()..)
    } else {
        None
    }
}

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's webhook. The signing secret is not stored anywhere: it is derived from the
/// server-side key, the account id and `salt` whenever a delivery is signed
/// ([`Webhook::signing_secret`]), and shown once when the webhook is configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// Random, public: configuring the webhook again picks a new one, so a new secret.
    pub salt: String,
    /// When it was configured.
    pub configured_at: Timestamp,
    /// When deliveries start (none: at once, for webhooks configured before the delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries_start_at: Option<Timestamp>,
}

/// The default wait before a new webhook's first delivery, in seconds: long enough to store
/// the signing secret shown when it was configured.
pub const DEFAULT_FIRST_DELIVERY_DELAY_SECONDS: u32 = 60;
/// The longest wait before a new webhook's first delivery, in seconds.
pub const MAX_FIRST_DELIVERY_DELAY_SECONDS: u32 = 3_600;

/// [`DEFAULT_FIRST_DELIVERY_DELAY_SECONDS`], for serde.
pub const fn default_first_delivery_delay() -> u32 {
    DEFAULT_FIRST_DELIVERY_DELAY_SECONDS
}

/// The prefix of webhook signing secrets.
pub const SIGNING_SECRET_PREFIX: &str = "pcwh_";

impl Webhook {
    /// The secret deliveries are signed with (`pcwh_…`), derived again on every use.
    pub fn signing_secret(&self, key: &HashingKey, account: &AccountId) -> Secret {
        let input = format!("{account}\u{0}{}", self.salt);
        let derived = key.derive("webhook_signing_secret", input.as_bytes());
        Secret::new(format!(
            "{SIGNING_SECRET_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(derived.as_slice())
        ))
    }

    /// Every secret a delivery is signed with: [`Self::signing_secret`] and, while a hashing
    /// key rotation is under way, the one the previous key derives, which the receiver still
    /// holds until the webhook is configured again.
    pub fn signing_secrets(&self, key: &HashingKey, account: &AccountId) -> Vec<Secret> {
        std::iter::once(self.signing_secret(key, account))
            .chain(
                key.previous()
                    .map(|previous| self.signing_secret(&previous, account)),
            )
            .collect()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails; an empty key would only produce a
    // signature nobody can verify.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

/// The `Portcullis-Signature` header of a delivery: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" keyed with the signing secret's text>`.
pub fn sign(secret: &str, timestamp: Timestamp, body: &[u8]) -> String {
    sign_all(&[Secret::new(secret.to_owned())], timestamp, body)
}

/// [`sign`] under several secrets: one `v1` signature each, in order
/// (`t=<unix seconds>,v1=<…>,v1=<…>`); a receiver accepts the delivery when one matches.
pub fn sign_all(secrets: &[Secret], timestamp: Timestamp, body: &[u8]) -> String {
    let t = timestamp.unix_seconds();
    let mut header = format!("t={t}");
    for secret in secrets {
        let digest = mac(secret.expose(), t, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex(&digest));
    }
    header
}

/// Why a delivery's signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("signature header is malformed")]
    Malformed,
    /// The timestamp is further from now than the tolerance (a replay, or a skewed clock).
    #[error("signature timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches the body under the secret.
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a delivery as a receiver should: the header's timestamp within `tolerance_seconds`
/// of `now`, and one of its `v1` signatures equal (in constant time) to the HMAC of
/// `"<t>.<body>"` under `secret`. Returns the signed timestamp.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_seconds: u64,
) -> Result<Timestamp, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            Some(("v1", value)) => signatures.push(unhex(value).ok_or(SignatureError::Malformed)?),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t.abs_diff(now.unix_seconds()) > tolerance_seconds {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    if signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok())
    {
        Ok(Timestamp::from_unix_seconds(t))
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The idempotency id of a delivery: the same notifications always give the same id, so a
/// retried batch is recognisable (`dlv_` and 32 hex digits).
pub fn delivery_id(batch: &[Notification]) -> String {
    let mut hasher = Sha256::new();
    for notification in batch {
        hasher.update(notification.id.as_str().as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("dlv_{}", hex(digest.get(..16).unwrap_or_default()))
}

/// A webhook delivery's JSON body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The idempotency id (also in the `Portcullis-Delivery` header).
    pub delivery_id: String,
    /// The account the notifications belong to.
    pub account_id: AccountId,
    /// The notifications, oldest first.
    pub items: Vec<Notification>,
}

impl Delivery {
    /// A delivery of `batch` (at most [`MAX_BATCH`], oldest first).
    pub fn new(account_id: AccountId, batch: Vec<Notification>) -> Self {
        Self {
            delivery_id: delivery_id(&batch),
            account_id,
            items: batch,
        }
    }
}

/// Whether a receiver's HTTP status counts as delivered.
pub const fn delivered(status: u16) -> bool {
    matches!(status, 200..=299)
}

/// How failed deliveries are retried: after `base`, then twice as long each time, capped;
/// never given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay, in milliseconds.
    pub base_ms: u64,
    /// The longest delay, in milliseconds.
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s... capped at 10 minutes.
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            cap_ms: 600_000,
        }
    }
}

impl RetryPolicy {
    /// The default policy with another first delay (a deployment setting, e.g. shorter under
    /// test): unparsable or out of range (10 ms to 60 s) keeps the default.
    pub fn with_base_ms(setting: Option<&str>) -> Self {
        let default = Self::default();
        match setting
            .map(str::trim)
            .and_then(|text| text.parse::<u64>().ok())
        {
            Some(base_ms) if (10..=60_000).contains(&base_ms) => Self { base_ms, ..default },
            _ => default,
        }
    }

    /// The delay before the next attempt after `failures` consecutive failures (≥ 1).
    pub fn delay_ms(&self, failures: u32) -> u64 {
        let doublings = failures.saturating_sub(1).min(40);
        self.base_ms
            .saturating_mul(1_u64 << doublings)
            .min(self.cap_ms)
    }
}

/// Where webhook delivery stands (kept by the runtime next to its outbox).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Consecutive failed attempts (0 after a success).
    pub failures: u32,
    /// When the next attempt is due, in Unix milliseconds (0: now).
    pub next_attempt_at_ms: u64,
    /// When the last attempt was made, in Unix milliseconds.
    pub last_attempt_at_ms: Option<u64>,
    /// The receiver's last HTTP status (none when it could not be reached).
    pub last_status: Option<u16>,
    /// Notifications delivered so far.
    pub delivered: u64,
}

impl DeliveryState {
    /// The state of a newly configured webhook: no backoff, the first attempt when its
    /// deliveries start.
    pub fn for_new(webhook: &Webhook) -> Self {
        Self {
            next_attempt_at_ms: webhook
                .deliveries_start_at
                .map_or(0, |start| start.unix_seconds().saturating_mul(1_000)),
            ..Self::default()
        }
    }

    /// Records a delivered batch of `count` notifications at `now_ms`.
    pub fn succeeded(&mut self, now_ms: u64, status: u16, count: usize) {
        self.failures = 0;
        self.next_attempt_at_ms = now_ms;
        self.last_attempt_at_ms = Some(now_ms);
        self.last_status = Some(status);
        self.delivered = self.delivered.saturating_add(count as u64);
    }

    /// Records a failed attempt at `now_ms` and returns the delay before the next one.
    pub fn failed(&mut self, now_ms: u64, status: Option<u16>, policy: &RetryPolicy) -> u64 {
        self.failures = self.failures.saturating_add(1);
        let delay = policy.delay_ms(self.failures);
        self.next_attempt_at_ms = now_ms.saturating_add(delay);
        self.last_attempt_at_ms = Some(now_ms);
        self.last_status = status;
        delay
    }

    /// How long to wait from `now_ms` before delivering (0 when due): new notifications never
    /// cut a backoff short.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        self.next_attempt_at_ms.saturating_sub(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn notification(sequence: u64, kind: NotificationKind) -> Notification {
        Notification {
            id: NotificationId::generate(&mut SeededRandom::new(sequence)),
            sequence,
            kind,
            user_id: "usr_00000000000000bb".parse().unwrap(),
            email: "bo@example.com".parse().unwrap(),
            tenant_id: None,
            created_at: Timestamp::from_unix_seconds(10),
            data: NotificationData::new(),
        }
    }

    #[test]
    fn signature_round_trip_and_every_tampering_refused() {
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        let body = br#"{"items":[]}"#;
        let header = sign("pcwh_secret", now, body);
        assert!(header.starts_with("t=1800000000,v1="), "{header}");
        assert_eq!(
            verify_signature("pcwh_secret", &header, body, now, 300),
            Ok(now)
        );
        let later = now.plus_seconds(301);
        assert_eq!(
            verify_signature("pcwh_secret", &header, body, later, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature("pcwh_other", &header, body, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("pcwh_secret", &header, br#"{"items":[1]}"#, now, 300),
            Err(SignatureError::Mismatch)
        );
        let forged_time = header.replace("t=1800000000", "t=1800000001");
        assert_eq!(
            verify_signature("pcwh_secret", &forged_time, body, now, 300),
            Err(SignatureError::Mismatch)
        );
        for malformed in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=0g", "garbage"] {
            assert_eq!(
                verify_signature("pcwh_secret", malformed, body, now, 300),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn signature_matches_a_fixed_vector() {
        // The README's verification recipe reproduces this value: HMAC-SHA256 keyed with the
        // secret's text over "1700000000.{}".
        let header = sign(
            "pcwh_test",
            Timestamp::from_unix_seconds(1_700_000_000),
            b"{}",
        );
        let digest = {
            let mut mac = <HmacSha256 as KeyInit>::new_from_slice(b"pcwh_test").unwrap();
            mac.update(b"1700000000.{}");
            hex(&mac.finalize().into_bytes())
        };
        assert_eq!(header, format!("t=1700000000,v1={digest}"));
        assert_eq!(digest.len(), 64);
    }

    #[test]
    fn signing_secrets_differ_by_account_salt_and_key_and_never_print() {
        let key = HashingKey::from_bytes(&[7; 32]).unwrap();
        let account: AccountId = "acc_00000000000000aa".parse().unwrap();
        let webhook = Webhook {
            url: "https://hooks.example.com/portcullis".parse().unwrap(),
            salt: "s1".into(),
            configured_at: Timestamp::from_unix_seconds(1),
            deliveries_start_at: Some(Timestamp::from_unix_seconds(61)),
        };
        assert_eq!(DeliveryState::for_new(&webhook).next_attempt_at_ms, 61_000);
        let before_delays = Webhook {
            deliveries_start_at: None,
            ..webhook.clone()
        };
        assert_eq!(DeliveryState::for_new(&before_delays).next_attempt_at_ms, 0);
        let secret = webhook.signing_secret(&key, &account);
        assert!(secret.expose().starts_with(SIGNING_SECRET_PREFIX));
        assert_eq!(secret, webhook.signing_secret(&key, &account));
        let other_salt = Webhook {
            salt: "s2".into(),
            ..webhook.clone()
        };
        assert_ne!(secret, other_salt.signing_secret(&key, &account));
        let other_account: AccountId = "acc_00000000000000ab".parse().unwrap();
        assert_ne!(secret, webhook.signing_secret(&key, &other_account));
        let other_key = HashingKey::from_bytes(&[8; 32]).unwrap();
        assert_ne!(secret, webhook.signing_secret(&other_key, &account));
        let stored = serde_json::to_string(&webhook).unwrap();
        assert!(!stored.contains(secret.expose()));
        assert_eq!(format!("{secret:?}"), "***");
    }

    #[test]
    fn during_a_key_rotation_deliveries_verify_under_the_old_and_the_new_secret() {
        let old = HashingKey::from_bytes(&[7; 32]).unwrap();
        let new = HashingKey::from_bytes(&[8; 32]).unwrap();
        let account: AccountId = "acc_00000000000000aa".parse().unwrap();
        let webhook = Webhook {
            url: "https://hooks.example.com/portcullis".parse().unwrap(),
            salt: "s1".into(),
            configured_at: Timestamp::from_unix_seconds(1),
            deliveries_start_at: None,
        };
        let held = webhook.signing_secret(&old, &account);
        let rotating = new.clone().with_previous(&old);
        let secrets = webhook.signing_secrets(&rotating, &account);
        assert_eq!(
            secrets,
            vec![webhook.signing_secret(&new, &account), held.clone()]
        );
        assert_eq!(webhook.signing_secrets(&new, &account).len(), 1);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let header = sign_all(&secrets, now, b"{}");
        assert_eq!(header.matches(",v1=").count(), 2, "{header}");
        for secret in &secrets {
            assert_eq!(
                verify_signature(secret.expose(), &header, b"{}", now, 300),
                Ok(now)
            );
        }
        assert_eq!(
            verify_signature("pcwh_other", &header, b"{}", now, 300),
            Err(SignatureError::Mismatch)
        );
        // One secret: the same header as `sign`.
        assert_eq!(
            sign_all(&secrets[..1], now, b"{}"),
            sign(secrets[0].expose(), now, b"{}")
        );
    }

    #[test]
    fn webhook_urls_need_https_except_on_this_machine() {
        for good in [
            "https://hooks.example.com/x?y=1",
            "HTTPS://hooks.example.com",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9000/",
        ] {
            assert!(good.parse::<WebhookUrl>().is_ok(), "{good}");
        }
        for (bad, error) in [
            ("http://hooks.example.com/x", WebhookUrlError::Scheme),
            ("http://127.0.0.1.evil.test/", WebhookUrlError::Scheme),
            ("http://localhost.evil.test:80/", WebhookUrlError::Scheme),
            ("ftp://example.com", WebhookUrlError::Scheme),
            ("https://", WebhookUrlError::Malformed),
            ("https://user:pw@example.com/", WebhookUrlError::Malformed),
            ("https://exa mple.com", WebhookUrlError::Malformed),
            ("", WebhookUrlError::Malformed),
        ] {
            assert_eq!(bad.parse::<WebhookUrl>(), Err(error), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(long.parse::<WebhookUrl>(), Err(WebhookUrlError::TooLong));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_gives_up() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=12).map(|n| policy.delay_ms(n)).collect();
        assert_eq!(&delays[..4], &[1_000, 2_000, 4_000, 8_000]);
        assert_eq!(delays[11], 600_000);
        assert_eq!(policy.delay_ms(u32::MAX), 600_000);
        assert_eq!(RetryPolicy::with_base_ms(Some("50")).delay_ms(3), 200);
        assert_eq!(RetryPolicy::with_base_ms(Some("5")), policy);
        assert_eq!(RetryPolicy::with_base_ms(Some("soon")), policy);
        let mut state = DeliveryState::default();
        assert_eq!(state.failed(10_000, Some(500), &policy), 1_000);
        assert_eq!(state.failed(11_000, None, &policy), 2_000);
        assert_eq!((state.failures, state.next_attempt_at_ms), (2, 13_000));
        assert_eq!(state.wait_ms(12_000), 1_000);
        state.succeeded(13_000, 204, 3);
        assert_eq!(
            (state.failures, state.delivered, state.wait_ms(13_000)),
            (0, 3, 0)
        );
    }

    #[test]
    fn acknowledgement_sorts_ids_once_each() {
        let a = notification(1, NotificationKind::Invitation).id;
        let b = notification(2, NotificationKind::Invitation).id;
        let c = notification(3, NotificationKind::Invitation).id;
        let report = acknowledge(&[a.clone(), b.clone(), a.clone(), c.clone()], |id| {
            if *id == a {
                AckState::Pending
            } else if *id == b {
                AckState::Acknowledged
            } else {
                AckState::Unknown
            }
        });
        assert_eq!(report.acknowledged, vec![a]);
        assert_eq!(report.already_acknowledged, vec![b]);
        assert_eq!(report.unknown, vec![c]);
        let empty = serde_json::from_str::<Acknowledgement>(r#"{"ids":[]}"#);
        assert!(empty.is_err());
        let bad = serde_json::from_str::<Acknowledgement>(r#"{"ids":["usr_00000000000000bb"]}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn a_full_outbox_refuses_invitations_but_never_security_notices() {
        let invitation = [notification(1, NotificationKind::Invitation)];
        let deactivated = [notification(2, NotificationKind::Deactivated)];
        assert!(admit(MAX_PENDING_NOTIFICATIONS - 1, &invitation).is_ok());
        assert_eq!(
            admit(MAX_PENDING_NOTIFICATIONS, &invitation),
            Err(Refusal::OutboxFull(MAX_PENDING_NOTIFICATIONS))
        );
        assert!(admit(MAX_PENDING_NOTIFICATIONS * 2, &deactivated).is_ok());
        assert!(admit(MAX_PENDING_NOTIFICATIONS * 2, &[]).is_ok());
    }

    #[test]
    fn delivery_ids_are_stable_per_batch() {
        let one = notification(1, NotificationKind::Invitation);
        let two = notification(2, NotificationKind::Deleted);
        let batch = vec![one.clone(), two.clone()];
        assert_eq!(delivery_id(&batch), delivery_id(&batch.clone()));
        assert_ne!(delivery_id(&batch), delivery_id(&[one]));
        assert!(delivery_id(&batch).starts_with("dlv_"));
        assert_eq!(delivery_id(&batch).len(), 36);
        assert!(delivered(204) && !delivered(500) && !delivered(302));
    }
}
