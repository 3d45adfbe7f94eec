//! Sessions: the credential a signed-in person holds, its lifetimes, its edge projections and
//! its verification.
//!
//! # Format
//! A session travels as one string, `pcss_<68 chars>`: URL-safe base64 (no padding) of a
//! 15-byte random id, a 32-byte (256-bit) random secret and a CRC-32 of prefix and payload,
//! exactly like an automation key, so it fits an `Authorization: Bearer` header and a cookie
//! alike, secret scanners find it, and typos are refused before any lookup. Its public id
//! ([`SessionId`]) is `pcss_` and the first 20 characters (the id bytes). The secret is stored
//! only as HMAC-SHA256 under the [`HashingKey`], in its own domain
//! (`portcullis/session/v1`, so no token hash ever verifies a session nor the reverse), and
//! checked in constant time.
//!
//! # Binding and lifetimes
//! A session belongs to a user of one account, not to a tenant: with it the user acts in any
//! tenant they are a member of, with their permissions there at the time of each request.
//! It ends at the first of:
//! - **idle expiry**: [`SessionLifetimes::idle_minutes`] after it was last seen (default 12 h,
//!   5 minutes to 7 days). "Last seen" advances when the edge reports the session's use (the
//!   same batched telemetry as tokens' last use) or when it acts on the account;
//! - **absolute expiry**: [`SessionLifetimes::absolute_hours`] after sign-in (default 7 days,
//!   1 hour to 90 days, never shorter than the idle lifetime);
//! - sign-out, sign-out everywhere, a password change (which ends every other session of the
//!   user), deactivation or deletion of the user (sessions are dropped, and do not come back on
//!   reactivation).
//!
//! Lifetimes are account settings and are applied when a session is checked, so a shorter
//! setting takes effect on sessions already open.
//!
//! # Verification at the edge
//! The edge reads at most two records: the [`SessionRecord`] under the presented session's id
//! ([`crate::store::session_key`]) and the [`AccessRecord`] of its user
//! ([`crate::store::access_key`]), which holds the user's status and current permissions and
//! plan in every tenant they belong to. [`verify_session`] is a pure function of those, the
//! tenant the request names, the hashing key and the time. Permission changes, removals,
//! deactivation and deletion change the access record; sign-outs delete session records.
//!
//! # Where the rules are
//! Signing in and out, password changes and listing are [`Account`](crate::Account) methods:
//! [`sign_in_password`](crate::Account::sign_in_password),
//! [`accept_invitation_with_password`](crate::Account::accept_invitation_with_password),
//! [`change_password`](crate::Account::change_password),
//! [`sign_out`](crate::Account::sign_out),
//! [`sign_out_everywhere`](crate::Account::sign_out_everywhere),
//! [`sessions`](crate::Account::sessions),
//! [`record_session_seen`](crate::Account::record_session_seen) and
//! [`configure_sessions`](crate::Account::configure_sessions); a session acts through
//! [`Actor::via_session`](crate::Actor::via_session), re-checked on every command.

use crate::authz::{Principal, PrincipalKind};
use crate::credential::{self, MAX_PRESENTED_LEN, Malformed, SECRET_BYTES};
use crate::ids::{AccountId, SsoConnectionId, TenantId, UserId};
use crate::permission::PermissionSet;
use crate::plan::Plan;
use crate::random::{self, RandomSource};
use crate::secret::{HashingKey, Secret, SecretHash};
use crate::tenant::SsoRequirement;
use crate::time::Timestamp;
use crate::user::UserStatus;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use zeroize::Zeroizing;

/// The request header naming the tenant a session acts in, where the path does not (the
/// gateway and `POST /v1/authorize`): a token acts in its own tenant, a session in the one
/// named. The gateway never forwards it (it drops every `portcullis-*` header); the origin
/// reads the tenant from the signed identity headers.
pub const TENANT_HEADER: &str = "portcullis-tenant";

/// Prefix of a session (and of its id).
pub const SESSION_PREFIX: &str = "pcss_";
const SESSION_ID_BYTES: usize = 15;
/// Characters of a session that form its id (15 bytes of base64).
const SESSION_ID_CHARS: usize = 20;
/// [`SESSION_PREFIX`] with its checksum state.
pub(crate) static SESSION: credential::Prefix = credential::Prefix::new(SESSION_PREFIX);
const SESSION_DOMAIN: &str = "portcullis/session/v1";

/// Default idle lifetime: 12 hours.
pub const DEFAULT_IDLE_MINUTES: u32 = 12 * 60;
/// Shortest configurable idle lifetime: 5 minutes.
pub const MIN_IDLE_MINUTES: u32 = 5;
/// Longest configurable idle lifetime: 7 days.
pub const MAX_IDLE_MINUTES: u32 = 7 * 24 * 60;
/// Default absolute lifetime: 7 days.
pub const DEFAULT_ABSOLUTE_HOURS: u32 = 7 * 24;
/// Shortest configurable absolute lifetime: 1 hour.
pub const MIN_ABSOLUTE_HOURS: u32 = 1;
/// Longest configurable absolute lifetime: 90 days.
pub const MAX_ABSOLUTE_HOURS: u32 = 90 * 24;
/// Most open sessions one user holds; signing in beyond it ends the least recently seen one.
pub const MAX_SESSIONS_PER_USER: usize = 50;
/// Longest user agent kept with a session, in characters (the rest is cut).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// How long sessions last (account settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLifetimes {
    /// Minutes a session lives without being seen.
    pub idle_minutes: u32,
    /// Hours a session lives after sign-in, however active.
    pub absolute_hours: u32,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle_minutes: DEFAULT_IDLE_MINUTES,
            absolute_hours: DEFAULT_ABSOLUTE_HOURS,
        }
    }
}

impl SessionLifetimes {
    /// Checks the bounds: idle 5 minutes to 7 days, absolute 1 hour to 90 days, idle no longer
    /// than absolute.
    pub fn validate(self) -> Result<Self, &'static str> {
        if !(MIN_IDLE_MINUTES..=MAX_IDLE_MINUTES).contains(&self.idle_minutes) {
            return Err("session idle lifetime must be 5 to 10080 minutes");
        }
        if !(MIN_ABSOLUTE_HOURS..=MAX_ABSOLUTE_HOURS).contains(&self.absolute_hours) {
            return Err("session absolute lifetime must be 1 to 2160 hours");
        }
        if u64::from(self.idle_minutes) > u64::from(self.absolute_hours) * 60 {
            return Err("session idle lifetime must not exceed the absolute lifetime");
        }
        Ok(self)
    }
}

/// The public, non-secret id of a session: where its record is stored.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A string that is not a session id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not a valid session id")]
pub struct InvalidSessionId(pub String);

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let valid = value.strip_prefix(SESSION_PREFIX).is_some_and(|body| {
            body.len() == SESSION_ID_CHARS && URL_SAFE_NO_PAD.decode(body).is_ok()
        });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidSessionId(crate::ids::excerpt(value)))
        }
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A session as presented by a caller, parsed but not yet checked against storage.
pub struct PresentedSession {
    id: SessionId,
    secret: Zeroizing<[u8; SECRET_BYTES]>,
}

impl fmt::Debug for PresentedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedSession")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

impl PresentedSession {
    /// Parses a bare session (`pcss_…`).
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        if text.len() > MAX_PRESENTED_LEN {
            return Err(Malformed::TooLong);
        }
        if !text.starts_with(SESSION_PREFIX) {
            return Err(Malformed::UnknownPrefix);
        }
        let payload =
            credential::decode_checked::<{ SESSION_ID_BYTES + SECRET_BYTES }>(&SESSION, text)?;
        let id_chars = text
            .get(SESSION_PREFIX.len()..SESSION_PREFIX.len() + SESSION_ID_CHARS)
            .ok_or(Malformed::Encoding)?;
        let tail = payload.get(SESSION_ID_BYTES..).ok_or(Malformed::Encoding)?;
        let mut secret = Zeroizing::new([0_u8; SECRET_BYTES]);
        secret.copy_from_slice(tail);
        Ok(Self {
            id: SessionId(format!("{SESSION_PREFIX}{id_chars}")),
            secret,
        })
    }

    /// Parses a bare session or an `Authorization: Bearer <session>` header value.
    pub fn from_credential_or_header(text: &str) -> Result<Self, Malformed> {
        let text = text.trim();
        if text.len() > MAX_PRESENTED_LEN + 16 {
            return Err(Malformed::TooLong);
        }
        if !text.contains(char::is_whitespace) {
            return Self::parse(text);
        }
        let (scheme, session) = text.split_once(' ').ok_or(Malformed::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Malformed::NotBearer);
        }
        Self::parse(session.trim_start())
    }

    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Whether this is the session hashed in `expected` (constant time).
    pub fn matches(&self, key: &HashingKey, expected: &SecretHash) -> bool {
        key.verify(
            SESSION_DOMAIN,
            &hash_input(&self.id, &*self.secret),
            expected,
        )
    }
}

fn hash_input(id: &SessionId, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(Vec::with_capacity(id.as_str().len() + 1 + secret.len()));
    input.extend_from_slice(id.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(secret);
    input
}

/// A freshly generated session: the text to hand out once, its id and its stored hash.
#[derive(Debug)]
pub struct NewSession {
    /// The public id.
    pub id: SessionId,
    /// `pcss_…`, shown once.
    pub secret: Secret,
    /// What is stored.
    pub hash: SecretHash,
}

/// Generates a session with 256 random bits of secret.
pub fn generate(random: &mut dyn RandomSource, key: &HashingKey) -> NewSession {
    let payload = Zeroizing::new(random::bytes::<{ SESSION_ID_BYTES + SECRET_BYTES }>(random));
    let text = credential::encode_checked(&SESSION, payload.as_slice());
    let id_chars = text
        .get(SESSION_PREFIX.len()..SESSION_PREFIX.len() + SESSION_ID_CHARS)
        .unwrap_or_default();
    let id = SessionId(format!("{SESSION_PREFIX}{id_chars}"));
    let secret = payload.get(SESSION_ID_BYTES..).unwrap_or_default();
    let hash = key.hash(SESSION_DOMAIN, &hash_input(&id, secret));
    NewSession {
        id,
        secret: Secret::new(text),
        hash,
    }
}

/// Cuts a user agent to [`MAX_USER_AGENT_CHARS`] printable characters (control characters
/// dropped); none when nothing is left.
pub fn clean_user_agent(user_agent: Option<&str>) -> Option<String> {
    let cleaned: String = user_agent?
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// How a session was signed in. Serialised as `"password"` (as every session stored before
/// SSO) or `{"sso": {"connection": "sso_…"}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// Email and password.
    #[default]
    Password,
    /// Through an identity provider (see [`crate::sso`]).
    Sso {
        /// The account's connection to the provider.
        connection: SsoConnectionId,
    },
}

impl SignInMethod {
    /// The connection signed in with, for an SSO sign-in.
    pub fn connection(&self) -> Option<&SsoConnectionId> {
        match self {
            SignInMethod::Password => None,
            SignInMethod::Sso { connection } => Some(connection),
        }
    }

    /// The method's name, as audit details and listings spell it.
    pub const fn name(&self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Sso { .. } => "sso",
        }
    }
}

/// An open session, as the account stores it (only the secret's hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public id.
    pub id: SessionId,
    /// HMAC of the secret.
    pub secret_hash: SecretHash,
    /// How it was signed in.
    pub method: SignInMethod,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// When it was last seen (sign-in, a command, or a use reported by the edge).
    pub last_seen_at: Timestamp,
    /// The user agent it signed in with, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl Session {
    /// When it ends regardless of activity.
    pub fn absolute_expires_at(&self, lifetimes: SessionLifetimes) -> Timestamp {
        self.created_at
            .plus_seconds(u64::from(lifetimes.absolute_hours) * 3600)
    }

    /// When it ends unless seen again (never after the absolute expiry).
    pub fn idle_expires_at(&self, lifetimes: SessionLifetimes) -> Timestamp {
        self.last_seen_at
            .plus_seconds(u64::from(lifetimes.idle_minutes) * 60)
            .min(self.absolute_expires_at(lifetimes))
    }

    /// Whether it still works at `now`.
    pub fn is_live(&self, lifetimes: SessionLifetimes, now: Timestamp) -> bool {
        now < self.idle_expires_at(lifetimes)
    }
}

/// A user's sign-in material: password hash and open sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInState {
    /// The Argon2id hash of the user's password, once set.
    #[serde(default)]
    pub password: Option<crate::password::PasswordHash>,
    /// Open sessions by id.
    #[serde(default)]
    pub sessions: BTreeMap<SessionId, Session>,
    /// Digests of the devices (user agents) the user signed in from most recently, newest
    /// last, at most [`MAX_KNOWN_DEVICES`]: a sign-in from any other is notified.
    #[serde(default)]
    pub known_devices: Vec<String>,
    /// The outstanding password reset code, if one was issued and not used.
    #[serde(default)]
    pub reset: Option<PasswordReset>,
}

/// An outstanding password reset code: only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    /// HMAC of the code.
    pub code_hash: SecretHash,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// How long a password reset code works: 1 hour.
pub const RESET_LIFETIME_SECONDS: u64 = 3600;

/// How many recent devices a user's sign-in state remembers.
pub const MAX_KNOWN_DEVICES: usize = 20;

/// A device's digest: the first 16 bytes of SHA-256 of its user agent (`-` for none), hex. A
/// digest, so the state keeps no more of the user agent than the sessions already show.
pub fn device_digest(user_agent: Option<&str>) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(user_agent.unwrap_or("-").as_bytes());
    digest
        .get(..16)
        .unwrap_or_default()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A session, as its owner lists it: never the secret nor its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Public id.
    pub session_id: SessionId,
    /// How it was signed in.
    pub method: SignInMethod,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// Last seen.
    pub last_seen_at: Timestamp,
    /// The user agent it signed in with.
    pub user_agent: Option<String>,
    /// When it ends unless seen again.
    pub idle_expires_at: Timestamp,
    /// When it ends regardless.
    pub absolute_expires_at: Timestamp,
    /// Whether this is the session the request came with.
    pub current: bool,
}

/// A new session, shown once.
#[derive(Debug, Serialize)]
pub struct IssuedSession {
    /// The user signed in.
    pub user_id: UserId,
    /// The session's public id.
    pub session_id: SessionId,
    /// `pcss_…`, shown once.
    pub session: Secret,
    /// When it ends unless used.
    pub idle_expires_at: Timestamp,
    /// When it ends regardless.
    pub absolute_expires_at: Timestamp,
}

/// The edge projection of one session, stored under [`crate::store::session_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// Its id.
    pub session_id: SessionId,
    /// The account.
    pub account_id: AccountId,
    /// The user signed in.
    pub user_id: UserId,
    /// HMAC of the secret.
    pub secret_hash: SecretHash,
    /// When it ends unless seen again (as of the last projection).
    pub idle_expires_at: Timestamp,
    /// When it ends regardless.
    pub absolute_expires_at: Timestamp,
    /// How it was signed in (records written before SSO: password).
    #[serde(default)]
    pub method: SignInMethod,
}

/// What a user holds in one tenant, in an [`AccessRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantAccess {
    /// The permissions granted there now.
    pub permissions: PermissionSet,
    /// The tenant's plan now.
    pub plan: Plan,
    /// What the tenant's SSO enforcement asks of the user, when it enforces SSO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoRequirement>,
}

/// The edge projection of a user's standing, stored under [`crate::store::access_key`]:
/// status and, for every tenant they belong to, permissions and plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRecord {
    /// The account.
    pub account_id: AccountId,
    /// The user.
    pub user_id: UserId,
    /// The user's status.
    pub status: UserStatus,
    /// Tenants the user belongs to.
    pub tenants: BTreeMap<TenantId, TenantAccess>,
}

/// A verified session, before any tenant is named: who is signed in and where they belong.
/// The Management API acts with it ([`Actor::via_session`](crate::Actor::via_session)); the
/// engine re-checks every rule per command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The account.
    pub account_id: AccountId,
    /// The user signed in.
    pub user_id: UserId,
    /// The session used.
    pub session_id: SessionId,
    /// When the session ends unless seen again (as of its record).
    pub idle_expires_at: Timestamp,
    /// When it ends regardless.
    pub absolute_expires_at: Timestamp,
    /// How the session was signed in.
    pub method: SignInMethod,
    /// The tenants the user belongs to, with their permissions and plan there now.
    pub tenants: BTreeMap<TenantId, TenantAccess>,
}

impl SignedIn {
    /// The principal acting in `tenant`: the user's permissions there now. A tenant the user
    /// is not in is [`SessionVerification::NotMember`].
    pub fn in_tenant(&self, tenant: &TenantId) -> Result<Principal, SessionVerification> {
        tenant_principal(
            Signer {
                account_id: &self.account_id,
                user_id: &self.user_id,
                session_id: &self.session_id,
                method: &self.method,
            },
            self.tenants.get(tenant),
            tenant,
        )
    }
}

/// Who a verified session is, borrowed from wherever it was verified.
#[derive(Clone, Copy)]
struct Signer<'a> {
    account_id: &'a AccountId,
    user_id: &'a UserId,
    session_id: &'a SessionId,
    method: &'a SignInMethod,
}

/// The principal of a verified session in `tenant`, given what the user holds there (none: not
/// a member); the tenant's SSO enforcement is applied here, the one place for sessions.
fn tenant_principal(
    signer: Signer<'_>,
    held: Option<&TenantAccess>,
    tenant: &TenantId,
) -> Result<Principal, SessionVerification> {
    let held = held.ok_or(SessionVerification::NotMember)?;
    if !SsoRequirement::allows(held.sso.as_ref(), signer.method.connection()) {
        return Err(SessionVerification::SsoRequired);
    }
    Ok(Principal {
        account_id: signer.account_id.clone(),
        tenant_id: tenant.clone(),
        kind: PrincipalKind::Session {
            user_id: signer.user_id.clone(),
            session_id: signer.session_id.clone(),
        },
        permissions: held.permissions,
        plan: held.plan,
        labels: None,
    })
}

/// The outcome of verifying a session: a value, never an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionVerification {
    /// The session is good in the tenant; here is who is calling.
    Valid(Principal),
    /// The text is not a session at all.
    Malformed(Malformed),
    /// No session with this id (never was, signed out, or its user is gone).
    UnknownSession,
    /// The id exists but the secret is wrong.
    WrongSecret,
    /// Idle or absolute lifetime over.
    Expired,
    /// The user is not active (or their standing is not known).
    UserNotActive,
    /// The user is not a member of the tenant named.
    NotMember,
    /// The tenant enforces SSO and the session was not signed in with its connection (and
    /// the user is not its breakglass user).
    SsoRequired,
}

impl SessionVerification {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            SessionVerification::Valid(_) => "valid",
            SessionVerification::Malformed(_) => "malformed_credential",
            SessionVerification::UnknownSession => "unknown_session",
            SessionVerification::WrongSecret => "wrong_secret",
            SessionVerification::Expired => "session_expired",
            SessionVerification::UserNotActive => "user_not_active",
            SessionVerification::NotMember => "not_member",
            SessionVerification::SsoRequired => "sso_required",
        }
    }

    /// The answer to give outside, as for tokens
    /// ([`Verification::public_code`](crate::credential::Verification::public_code)): a refused
    /// session says nothing about itself or its user (`invalid_credentials`), and a tenant the
    /// user is not in reads as one that does not exist (`tenant_not_found`, the engine's answer
    /// to a non-member). [`SessionVerification::code`] keeps the precise reason for rate
    /// limiters and logs.
    pub const fn public_code(&self) -> &'static str {
        match self {
            SessionVerification::Valid(_) => "valid",
            SessionVerification::Malformed(_) => "malformed_credential",
            SessionVerification::UnknownSession
            | SessionVerification::WrongSecret
            | SessionVerification::Expired
            | SessionVerification::UserNotActive => {
                crate::credential::Verification::INVALID_CREDENTIALS
            }
            SessionVerification::NotMember => "tenant_not_found",
            SessionVerification::SsoRequired => "sso_required",
        }
    }

    /// The message that goes with [`SessionVerification::public_code`].
    pub const fn public_message(&self) -> &'static str {
        match self {
            SessionVerification::Valid(_) => "session is valid",
            SessionVerification::Malformed(_) => "credential is malformed",
            SessionVerification::UnknownSession
            | SessionVerification::WrongSecret
            | SessionVerification::Expired
            | SessionVerification::UserNotActive => "credential is not valid",
            SessionVerification::NotMember => "tenant not found",
            SessionVerification::SsoRequired => {
                "this tenant requires signing in through its identity provider"
            }
        }
    }

    /// The precise message that goes with [`SessionVerification::code`], for the same uses.
    pub const fn message(&self) -> &'static str {
        match self {
            SessionVerification::Valid(_) => "session is valid",
            SessionVerification::Malformed(_) => "credential is malformed",
            SessionVerification::UnknownSession => "no session has this id",
            SessionVerification::WrongSecret => "the secret does not match the session id",
            SessionVerification::Expired => "session has expired",
            SessionVerification::UserNotActive => "the session's user is not active",
            SessionVerification::NotMember => "the session's user is not a member of the tenant",
            SessionVerification::SsoRequired => {
                "the tenant enforces SSO and the session was not signed in with its connection"
            }
        }
    }

    /// The principal, when valid.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            SessionVerification::Valid(principal) => Some(principal),
            _ => None,
        }
    }
}

/// Verifies `presented` (a bare session or a Bearer header) for acting in `tenant`, against the
/// session's record and its user's access record. The secret is checked (in constant time)
/// before anything about the session's or the user's state is revealed.
pub fn verify_session(
    presented: &str,
    session: Option<&SessionRecord>,
    access: Option<&AccessRecord>,
    tenant: &TenantId,
    key: &HashingKey,
    now: Timestamp,
) -> SessionVerification {
    // Straight from the records: nothing of the user's other tenants is copied.
    let verified =
        open_records(presented, session, access, key, now).and_then(|(session, access)| {
            let signer = Signer {
                account_id: &session.account_id,
                user_id: &session.user_id,
                session_id: &session.session_id,
                method: &session.method,
            };
            tenant_principal(signer, access.tenants.get(tenant), tenant)
        });
    match verified {
        Ok(principal) => SessionVerification::Valid(principal),
        Err(refused) => refused,
    }
}

/// Verifies `presented` without naming a tenant: the session is open and its user active.
/// What the Management API needs (the engine checks the rest per command); the refusal is
/// never [`SessionVerification::Valid`] nor [`SessionVerification::NotMember`].
pub fn verify_signed_in(
    presented: &str,
    session: Option<&SessionRecord>,
    access: Option<&AccessRecord>,
    key: &HashingKey,
    now: Timestamp,
) -> Result<SignedIn, SessionVerification> {
    let (session, access) = open_records(presented, session, access, key, now)?;
    Ok(SignedIn {
        account_id: session.account_id.clone(),
        user_id: session.user_id.clone(),
        session_id: session.session_id.clone(),
        idle_expires_at: session.idle_expires_at,
        absolute_expires_at: session.absolute_expires_at,
        method: session.method.clone(),
        tenants: access.tenants.clone(),
    })
}

/// The checks every session verification makes, in order: the text parses, the record is the
/// presented id's, the secret matches (constant time) before anything else is revealed, the
/// session is within its lifetimes, and its user's access record is theirs and active.
fn open_records<'r>(
    presented: &str,
    session: Option<&'r SessionRecord>,
    access: Option<&'r AccessRecord>,
    key: &HashingKey,
    now: Timestamp,
) -> Result<(&'r SessionRecord, &'r AccessRecord), SessionVerification> {
    let parsed = PresentedSession::from_credential_or_header(presented)
        .map_err(SessionVerification::Malformed)?;
    let session = session
        .filter(|record| record.session_id == parsed.id)
        .ok_or(SessionVerification::UnknownSession)?;
    if !parsed.matches(key, &session.secret_hash) {
        return Err(SessionVerification::WrongSecret);
    }
    if now >= session.idle_expires_at || now >= session.absolute_expires_at {
        return Err(SessionVerification::Expired);
    }
    let access = access
        .filter(|access| access.account_id == session.account_id)
        .filter(|access| access.user_id == session.user_id)
        .filter(|access| access.status == UserStatus::Active)
        .ok_or(SessionVerification::UserNotActive)?;
    Ok((session, access))
}

/// Whether `presented` (a bare credential or an `Authorization` header value) is a session
/// rather than a token or key: its credential starts with [`SESSION_PREFIX`].
pub fn presents_session(presented: &str) -> bool {
    let text = presented.trim();
    let credential = match text.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => text,
    };
    credential.starts_with(SESSION_PREFIX)
}

/// The read-store key a presented session's record is found under, from the text alone (a
/// malformed session needs no lookup).
pub fn lookup_session(presented: &str) -> Result<SessionId, Malformed> {
    PresentedSession::from_credential_or_header(presented).map(|parsed| parsed.id)
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

    fn records(issued: &NewSession) -> (SessionRecord, AccessRecord, TenantId) {
        let mut random = SeededRandom::new(99);
        let account_id = AccountId::generate(&mut random);
        let user_id = UserId::generate(&mut random);
        let tenant = TenantId::generate(&mut random);
        let session = SessionRecord {
            session_id: issued.id.clone(),
            account_id: account_id.clone(),
            user_id: user_id.clone(),
            secret_hash: issued.hash,
            idle_expires_at: Timestamp::from_unix_seconds(1_000),
            absolute_expires_at: Timestamp::from_unix_seconds(2_000),
            method: SignInMethod::Password,
        };
        let access = AccessRecord {
            account_id,
            user_id,
            status: UserStatus::Active,
            tenants: BTreeMap::from([(
                tenant.clone(),
                TenantAccess {
                    permissions: PermissionSet::all(),
                    plan: plan_named("team"),
                    sso: None,
                },
            )]),
        };
        (session, access, tenant)
    }

    #[test]
    fn sessions_are_told_from_tokens_by_their_prefix() {
        assert!(presents_session("Bearer pcss_abc"));
        assert!(presents_session("bearer   pcss_abc"));
        assert!(presents_session("pcss_abc"));
        assert!(!presents_session("Bearer pctk_abc"));
        assert!(!presents_session("Basic pcss_abc"));
        assert!(!presents_session(""));
    }

    #[test]
    fn a_session_has_the_documented_shape() {
        let issued = generate(&mut SeededRandom::new(1), &key());
        let text = issued.secret.expose();
        assert!(text.starts_with("pcss_") && text.len() == 5 + 68, "{text}");
        assert!(text.starts_with(issued.id.as_str()));
        assert_eq!(issued.id.as_str().len(), 5 + 20);
        assert_eq!(lookup_session(text).unwrap(), issued.id);
        assert_eq!(issued.id.as_str().parse::<SessionId>().unwrap(), issued.id);
        assert_eq!(format!("{issued:?}").matches(text).count(), 0);
        let parsed = PresentedSession::parse(text).unwrap();
        assert!(!format!("{parsed:?}").contains(&text[25..]));
    }

    #[test]
    fn each_refusal_has_its_code() {
        let issued = generate(&mut SeededRandom::new(3), &key());
        let text = issued.secret.expose();
        let (session, access, tenant) = records(&issued);
        let now = Timestamp::from_unix_seconds(5);
        let check = |s: Option<&SessionRecord>, a: Option<&AccessRecord>, t: &TenantId, at| {
            verify_session(text, s, a, t, &key(), at).code()
        };
        assert_eq!(check(Some(&session), Some(&access), &tenant, now), "valid");
        assert_eq!(
            verify_session(
                &format!("Bearer {text}"),
                Some(&session),
                Some(&access),
                &tenant,
                &key(),
                now
            )
            .code(),
            "valid"
        );
        assert_eq!(
            verify_session(
                "pctk_x",
                Some(&session),
                Some(&access),
                &tenant,
                &key(),
                now
            )
            .code(),
            "malformed_credential"
        );
        assert_eq!(check(None, Some(&access), &tenant, now), "unknown_session");
        let other = generate(&mut SeededRandom::new(4), &key());
        let mut wrong = session.clone();
        wrong.secret_hash = other.hash;
        assert_eq!(
            check(Some(&wrong), Some(&access), &tenant, now),
            "wrong_secret"
        );
        let (moved, _, _) = records(&other);
        assert_eq!(
            check(Some(&moved), Some(&access), &tenant, now),
            "unknown_session"
        );
        let idle = Timestamp::from_unix_seconds(1_000);
        assert_eq!(
            check(Some(&session), Some(&access), &tenant, idle),
            "session_expired"
        );
        let mut long_idle = session.clone();
        long_idle.idle_expires_at = Timestamp::from_unix_seconds(5_000);
        let absolute = Timestamp::from_unix_seconds(2_000);
        assert_eq!(
            check(Some(&long_idle), Some(&access), &tenant, absolute),
            "session_expired"
        );
        assert_eq!(check(Some(&session), None, &tenant, now), "user_not_active");
        for status in [UserStatus::Inactive, UserStatus::Pending] {
            let mut blocked = access.clone();
            blocked.status = status;
            assert_eq!(
                check(Some(&session), Some(&blocked), &tenant, now),
                "user_not_active"
            );
        }
        let mut someone_else = access.clone();
        someone_else.user_id = UserId::generate(&mut SeededRandom::new(5));
        assert_eq!(
            check(Some(&session), Some(&someone_else), &tenant, now),
            "user_not_active"
        );
        let elsewhere = TenantId::generate(&mut SeededRandom::new(6));
        assert_eq!(
            check(Some(&session), Some(&access), &elsewhere, now),
            "not_member"
        );
        // Outside, every refusal but the two that the text or the tenant decide is one answer.
        let outside = |s: Option<&SessionRecord>, a: Option<&AccessRecord>, t: &TenantId, at| {
            verify_session(text, s, a, t, &key(), at).public_code()
        };
        assert_eq!(
            outside(None, Some(&access), &tenant, now),
            "invalid_credentials"
        );
        assert_eq!(
            outside(Some(&wrong), Some(&access), &tenant, now),
            "invalid_credentials"
        );
        assert_eq!(
            outside(Some(&session), Some(&access), &tenant, idle),
            "invalid_credentials"
        );
        assert_eq!(
            outside(Some(&session), None, &tenant, now),
            "invalid_credentials"
        );
        assert_eq!(
            outside(Some(&session), Some(&access), &elsewhere, now),
            "tenant_not_found"
        );
    }

    #[test]
    fn each_refusal_has_its_own_precise_message() {
        let refusals = [
            SessionVerification::Malformed(Malformed::Encoding),
            SessionVerification::UnknownSession,
            SessionVerification::WrongSecret,
            SessionVerification::Expired,
            SessionVerification::UserNotActive,
            SessionVerification::NotMember,
        ];
        let messages: std::collections::BTreeSet<&str> =
            refusals.iter().map(SessionVerification::message).collect();
        assert_eq!(messages.len(), refusals.len(), "{messages:?}");
    }

    #[test]
    fn a_token_hash_never_verifies_a_session() {
        let issued = generate(&mut SeededRandom::new(7), &key());
        let (mut session, access, tenant) = records(&issued);
        let parsed = PresentedSession::parse(issued.secret.expose()).unwrap();
        // The same bytes hashed in another domain do not verify.
        session.secret_hash = key().hash(
            "portcullis/api-token/v1",
            &hash_input(&parsed.id, &*parsed.secret),
        );
        assert_eq!(
            verify_session(
                issued.secret.expose(),
                Some(&session),
                Some(&access),
                &tenant,
                &key(),
                Timestamp::from_unix_seconds(0)
            ),
            SessionVerification::WrongSecret
        );
    }

    #[test]
    fn lifetimes_have_bounds() {
        assert!(SessionLifetimes::default().validate().is_ok());
        for (idle_minutes, absolute_hours) in
            [(4, 1), (10_081, 2_160), (60, 0), (60, 2_161), (120, 1)]
        {
            assert!(
                SessionLifetimes {
                    idle_minutes,
                    absolute_hours
                }
                .validate()
                .is_err(),
                "{idle_minutes} {absolute_hours}"
            );
        }
        assert!(
            SessionLifetimes {
                idle_minutes: 60,
                absolute_hours: 1
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        assert_eq!(clean_user_agent(None), None);
        assert_eq!(clean_user_agent(Some(" \n ")), None);
        assert_eq!(
            clean_user_agent(Some("curl/8\r\n")).as_deref(),
            Some("curl/8")
        );
        assert_eq!(
            clean_user_agent(Some(&"x".repeat(300))).map(|ua| ua.len()),
            Some(256)
        );
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
        fn a_session_round_trips(seed in any::<u64>()) {
            let issued = generate(&mut SeededRandom::new(seed), &key());
            let (session, access, tenant) = records(&issued);
            prop_assert_eq!(lookup_session(issued.secret.expose()).unwrap(), issued.id.clone());
            let outcome = verify_session(issued.secret.expose(), Some(&session), Some(&access), &tenant, &key(), Timestamp::from_unix_seconds(0));
            prop_assert!(outcome.principal().is_some());
        }

        #[test]
        fn every_single_character_mutation_of_a_session_is_rejected(
            seed in any::<u64>(),
            index in 0_usize..73,
            replacement in proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
        ) {
            let issued = generate(&mut SeededRandom::new(seed), &key());
            let (session, access, tenant) = records(&issued);
            if let Some(mutated) = mutate(issued.secret.expose(), index, replacement) {
                let outcome = verify_session(&mutated, Some(&session), Some(&access), &tenant, &key(), Timestamp::from_unix_seconds(0));
                prop_assert!(outcome.principal().is_none(), "{} accepted", mutated);
                prop_assert!(PresentedSession::parse(&mutated).is_err(), "{} parsed", mutated);
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = PresentedSession::parse(&text);
            let _ = PresentedSession::from_credential_or_header(&text);
            let _ = text.parse::<SessionId>();
        }
    }
}
