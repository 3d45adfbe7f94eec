//! The account engine: applies commands to an account's state under every rule, one at a time.
//!
//! Each command runs against a draft copy of the state; the rules that span the whole account
//! (lockout prevention, the SSO breakglass, plan limits) are checked on the draft afterwards, in
//! [`Account::check_invariants`]. Only when everything holds does the draft replace the state and
//! one audit event get appended. A refused command changes nothing.

use crate::audit::{AuditEvent, AuditLog, EventBody};

use crate::bulk::BulkReport;
use crate::command::{Command, SsoChange};
use crate::company::{self, AccountOperation, CompanyRole};
use crate::credential::{self, CredentialRecord, CredentialState, KeyId, Placement, Verification};
use crate::ids::{AccountId, BulkReportId, DisplayName, Email, NotificationId, TenantId, UserId};
use crate::notification::{
    self, Notification, NotificationData, NotificationKind, NotificationLog, Webhook, WebhookUrl,
};
use crate::password::PasswordPolicyError;
use crate::permission::{Permission, PermissionSet};
use crate::plan::{Feature, Plan};
use crate::random::RandomSource;
use crate::secret::{HashingKey, Secret};
use crate::session::{SessionId, SessionLifetimes, SignInState};
use crate::sso::{SsoConnectionId, SsoConnectionView, SsoState, TokenProblem};
use crate::tenant::{ApiToken, CredentialSecret, Membership, Sso, SsoRequirement, Tenant};
use crate::terms::{Terms, TermsError, Window};
use crate::time::Timestamp;
use crate::user::{IllegalTransition, User, UserStatus};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credentials::Rolled;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use tenants::{TenantMut, Tenants};
use thiserror::Error;
use users::{UserMut, Users};

mod credentials;
mod invitation;
mod rows;
mod tenants;
mod users;
pub use rows::{ChangeSet, Row, RowChange, RowError, RowKind};
mod password_reset;
pub mod preflight;
mod sign_in;
mod sso;
use sso::ProtocolChange;

pub(crate) use invitation::Reach;

/// Default lifetime of an invitation: 72 hours.
pub const DEFAULT_INVITATION_TTL_HOURS: u32 = 72;
/// Longest configurable invitation lifetime: 30 days.
pub const MAX_INVITATION_TTL_HOURS: u32 = 720;
/// Most API tokens one member may hold in one tenant.
pub const MAX_TOKENS_PER_MEMBER: usize = 50;
/// Most automation keys one tenant may hold.
pub const MAX_AUTOMATION_KEYS_PER_TENANT: usize = 50;
/// Most tenants one account may hold.
pub const MAX_TENANTS_PER_ACCOUNT: usize = 100;

/// What the engine needs from its environment for one command: the time, randomness and the
/// server-side hashing key.
pub struct Context<'a> {
    /// The current time.
    pub now: Timestamp,
    /// A CSPRNG.
    pub random: &'a mut dyn RandomSource,
    /// The key secrets are hashed under.
    pub key: &'a HashingKey,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Who performs a command: a user, optionally through one of their API tokens (which then
/// bounds what they may do to the token's scope) and/or one of their sessions (which must be
/// open: a session that was signed out, expired or dropped no longer acts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The acting user.
    pub user_id: UserId,
    /// The token used, if the request came with one.
    pub credential: Option<KeyId>,
    /// The session used, if the request came with one (see [`crate::session`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
}

impl Actor {
    /// A user acting directly, already authenticated by the runtime (no credential to check).
    pub fn user(user_id: UserId) -> Self {
        Self {
            user_id,
            credential: None,
            session: None,
        }
    }

    /// A user acting through an API token.
    pub fn via_token(user_id: UserId, key_id: KeyId) -> Self {
        Self {
            user_id,
            credential: Some(key_id),
            session: None,
        }
    }

    /// A user acting through a signed-in session: with their current permissions in any tenant
    /// they belong to, while the session is open.
    pub fn via_session(user_id: UserId, session_id: SessionId) -> Self {
        Self {
            user_id,
            credential: None,
            session: Some(session_id),
        }
    }
}

/// Something the tenant's current state has that a requested plan does not allow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum PlanBlocker {
    /// More members than the plan allows.
    TooManyMembers {
        /// Members now (owner and pending invitees included).
        members: usize,
        /// The plan's limit.
        limit: usize,
    },
    /// Automation keys exist but the plan has none.
    AutomationKeysInUse {
        /// How many.
        keys: usize,
    },
    /// SAML SSO is enforced but the plan does not include it.
    SsoEnforced,
}

impl fmt::Display for PlanBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanBlocker::TooManyMembers { members, limit } => {
                write!(
                    f,
                    "the tenant has {members} members and the plan allows {limit}"
                )
            }
            PlanBlocker::AutomationKeysInUse { keys } => {
                write!(
                    f,
                    "the tenant has {keys} automation keys, which the plan does not include"
                )
            }
            PlanBlocker::SsoEnforced => {
                f.write_str("SAML SSO is enforced, which the plan does not include")
            }
        }
    }
}

fn list(blockers: &[PlanBlocker]) -> String {
    blockers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a refusal maps onto a client-facing class (adapters turn these into HTTP statuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalClass {
    /// The request itself is invalid (400).
    Invalid,
    /// The actor may not do this (403).
    Forbidden,
    /// Something named does not exist (404).
    NotFound,
    /// The caller could not be authenticated (401).
    Unauthenticated,
    /// A rule of the domain refuses it in the current state (409).
    Conflict,
}

/// Why the engine refused a command. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The acting user does not exist in this account.
    #[error("the acting user is not part of this account")]
    UnknownActor,
    /// The acting user is pending or inactive.
    #[error("the acting user is {0}")]
    ActorNotActive(UserStatus),
    /// The actor's token is not theirs, not in this tenant, or expired.
    #[error("the credential used cannot act here")]
    CredentialNotUsable,
    /// The actor is not a member of the tenant. Answered exactly like [`Refusal::UnknownTenant`]
    /// (same code, class and message), so that nobody learns whether a tenant they are not in
    /// exists; a credential in such a tenant is answered as [`Refusal::UnknownCredential`].
    /// The variant itself stays distinct for the engine and its tests.
    #[error("tenant `{0}` not found")]
    ActorNotMember(TenantId),
    /// The actor lacks a permission the operation needs.
    #[error("this needs the `{0}` permission")]
    MissingPermission(Permission),
    /// Account-level lifecycle operations need a company admin.
    #[error("only company admins can do this")]
    NotCompanyAdmin,
    /// The actor tried to grant permissions it does not hold itself.
    #[error("cannot grant permissions you do not hold: {0}")]
    Escalation(PermissionSet),
    /// No such user.
    #[error("user `{0}` not found")]
    UnknownUser(UserId),
    /// No such tenant.
    #[error("tenant `{0}` not found")]
    UnknownTenant(TenantId),
    /// No such credential.
    #[error("credential `{0}` not found")]
    UnknownCredential(KeyId),
    /// No such bulk report (or no longer kept).
    #[error("bulk report `{0}` not found")]
    UnknownBulkReport(BulkReportId),
    /// The user is not a member of the tenant.
    #[error("user `{user}` is not a member of tenant `{tenant}`")]
    NotMember {
        /// The user.
        user: UserId,
        /// The tenant.
        tenant: TenantId,
    },
    /// The user is already a member of the tenant.
    #[error("user `{0}` is already a member of this tenant")]
    AlreadyMember(Email),
    /// A status transition the lifecycle does not allow.
    #[error("{0}")]
    Transition(#[from] IllegalTransition),
    /// The account owner or a tenant owner is protected from this.
    #[error("the {0} cannot be deactivated, deleted, removed or demoted")]
    OwnerProtected(&'static str),
    /// Users cannot remove or deactivate themselves.
    #[error("you cannot {0} yourself")]
    SelfTarget(&'static str),
    /// The change would leave a tenant without an active member holding
    /// `user_and_api_management`.
    #[error("tenant `{0}` would be left with no active member holding `user_and_api_management`")]
    Lockout(TenantId),
    /// The tenant is at its plan's member limit.
    #[error("the {plan} plan allows {limit} members and the tenant has reached it")]
    PlanLimit {
        /// The plan.
        plan: Plan,
        /// Its limit.
        limit: usize,
    },
    /// The plan does not include a feature the command needs.
    #[error("the {plan} plan does not include `{feature}`")]
    PlanFeature {
        /// The plan.
        plan: Plan,
        /// The feature.
        feature: Feature,
    },
    /// A plan change that the tenant's current state violates.
    #[error("cannot change to the {plan} plan: {}", list(.blockers))]
    PlanChangeBlocked {
        /// The requested plan.
        plan: Plan,
        /// Everything that blocks it.
        blockers: Vec<PlanBlocker>,
    },
    /// Enforcing SSO needs a breakglass member.
    #[error("enforcing SAML SSO needs a breakglass user")]
    BreakglassRequired,
    /// The chosen breakglass user is not an active member holding `user_and_api_management`.
    #[error("breakglass user `{0}` must be an active member holding `user_and_api_management`")]
    InvalidBreakglass(UserId),
    /// The breakglass user cannot lose the permission, be deactivated or removed while chosen.
    #[error("user `{0}` is the SSO breakglass user; choose another one first")]
    BreakglassProtected(UserId),
    /// The invitation code is wrong, used or superseded.
    #[error("invitation code is not valid")]
    InvitationInvalid,
    /// The invitation has expired; ask for a new one.
    #[error("invitation has expired")]
    InvitationExpired,
    /// An expiry that is not in the future.
    #[error("expiry must be in the future")]
    ExpiryInPast,
    /// A value outside its allowed range.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// A credential's terms that cannot be used (see [`crate::terms`]).
    #[error("{0}")]
    InvalidTerms(TermsError),
    /// A per-tenant or per-member quota is reached.
    #[error("{0}")]
    Quota(&'static str),
    /// None of the actor's company roles allows the account operation (here).
    #[error("your company roles do not allow `{0}` here")]
    RoleNotPermitted(AccountOperation),
    /// The tenant's primary contact keeps the role until a company admin names another one.
    #[error("user `{0}` is a primary contact; a company admin must name another one first")]
    PrimaryContactProtected(UserId),
    /// A user with this email exists already.
    #[error("a user with the email `{0}` exists already")]
    UserExists(Email),
    /// A self-service trial account has no company admin but its owner.
    #[error("a trial account cannot have company admins other than its owner")]
    TrialAccount,
    /// The notification outbox holds too many unacknowledged notifications to take an
    /// invitation; acknowledge (or let the webhook deliver) some first.
    #[error(
        "the notification outbox holds {0} unacknowledged notifications; acknowledge some first"
    )]
    OutboxFull(u64),
    /// The account has no webhook.
    #[error("no webhook is configured")]
    WebhookNotConfigured,
    /// The user is the account owner, holds a company role, or belongs to (or holds
    /// permissions in) a tenant the actor does not administer: only a company admin reaches
    /// them (see [`Reach`]).
    #[error(
        "user `{0}` holds a company role or access you do not administer; a company admin can do this"
    )]
    OutOfReach(UserId),
    /// The account holds as many users as its tenants have seats.
    #[error(
        "the account holds {limit} users, as many as its tenants have seats; delete users or add seats first"
    )]
    UserLimit {
        /// The account's user limit.
        limit: usize,
    },
    /// A license admin gives and takes bare seats only: this member holds tenant permissions,
    /// which a manager of the tenant must take first (or a company admin removes the seat).
    #[error(
        "user `{0}` holds permissions in this tenant; only its managers or a company admin can remove them"
    )]
    SeatHoldsPermissions(UserId),
    /// A directory cursor this account did not make for this query: malformed, altered, of
    /// another account or of another sort, order, filter or search.
    #[error(
        "the cursor is malformed, was altered, or belongs to another account or query; start again from the first page"
    )]
    InvalidCursor,
    /// Email and password do not sign anyone in: the same answer for an unknown email, a wrong
    /// password, a user with no password, and a pending or inactive user.
    #[error("email or password is not correct")]
    SignInFailed,
    /// A new password breaks the policy.
    #[error("{0}")]
    PasswordPolicy(PasswordPolicyError),
    /// The current password given to change it is not correct (or the user has none).
    #[error("the current password is not correct")]
    PasswordIncorrect,
    /// The actor has no open session with this id.
    #[error("session `{0}` not found")]
    UnknownSession(SessionId),
    /// The tenant enforces SSO: only a session signed in with its connection (or a token such
    /// a session minted) acts there, except the breakglass user's.
    #[error("tenant `{0}` requires signing in through its identity provider")]
    SsoRequired(TenantId),
    /// A password reset code does not reset anything: the same answer for an unknown email, a
    /// wrong, used, superseded or expired code, and a user who is not active.
    #[error("the password reset code is not valid")]
    PasswordResetInvalid,
    /// Only an active user's password can be reset.
    #[error("user `{0}` is not active: only an active user's password can be reset")]
    PasswordResetUnavailable(UserId),
    /// A user who has a password changes it with the current one, not with a reset code they
    /// issue themselves.
    #[error("you have a password: change it with `PUT /v1/password`")]
    PasswordResetSelf,
    /// No identity-provider connection with this id.
    #[error("SSO connection `{0}` not found")]
    UnknownSsoConnection(SsoConnectionId),
    /// A tenant names the connection in its SSO settings.
    #[error(
        "SSO connection `{connection}` is used by tenant `{tenant}`; change the tenant's SSO settings first"
    )]
    SsoConnectionInUse {
        /// The connection.
        connection: SsoConnectionId,
        /// A tenant that names it.
        tenant: TenantId,
    },
    /// Enforcing SSO needs the connection members sign in with.
    #[error("enforcing SSO needs an SSO connection")]
    SsoConnectionRequired,
    /// The identity provider's metadata does not fit the connection (another issuer, an
    /// endpoint that is not https, no PKCE S256, no client authentication the engine has).
    #[error("the identity provider cannot be used: {0}")]
    SsoProviderInvalid(&'static str),
    /// The connection's sealed client secret does not open (the hashing key changed).
    #[error("the SSO connection's client secret cannot be read; set it again")]
    SsoClientSecretUnreadable,
    /// No sign-in is pending under this state: never started, completed already, superseded
    /// or expired.
    #[error("this sign-in is not pending any more; start again")]
    SsoStateInvalid,
    /// The identity provider's answer does not verify. The reason is kept for logs; the
    /// message says nothing about it.
    #[error("the identity provider's answer could not be verified; start again")]
    SsoTokenInvalid(TokenProblem),
    /// The SAML response does not verify (signature, conditions, replay or form). The reason
    /// is kept for logs; the message says nothing about it.
    #[error("the identity provider's answer could not be verified; start again")]
    SsoAssertionInvalid(String),
    /// The identity the provider vouched for cannot sign in: no user has the email (and the
    /// connection does not provision), or the user is pending or inactive. One answer for all
    /// three, so nobody learns which emails exist.
    #[error("this identity cannot sign in to this account; ask a company admin")]
    SsoUserUnknown,
    /// The change would store a row larger than the storage accepts
    /// ([`MAX_ROW_BYTES`](crate::store::MAX_ROW_BYTES)); nothing was stored.
    #[error("this change would store a {size}-byte {kind} record, over the {limit}-byte limit")]
    StorageLimit {
        /// What the row holds.
        kind: RowKind,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl Refusal {
    /// A stable machine-readable code, e.g. `lockout`.
    pub const fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownActor => "unknown_actor",
            Refusal::ActorNotActive(_) => "actor_not_active",
            Refusal::CredentialNotUsable => "credential_not_usable",
            Refusal::ActorNotMember(_) => "tenant_not_found",
            Refusal::MissingPermission(_) => "missing_permission",
            Refusal::NotCompanyAdmin => "not_company_admin",
            Refusal::Escalation(_) => "privilege_escalation",
            Refusal::UnknownUser(_) => "user_not_found",
            Refusal::UnknownTenant(_) => "tenant_not_found",
            Refusal::UnknownCredential(_) => "credential_not_found",
            Refusal::UnknownBulkReport(_) => "bulk_report_not_found",
            Refusal::NotMember { .. } => "member_not_found",
            Refusal::AlreadyMember(_) => "already_member",
            Refusal::Transition(_) => "illegal_transition",
            Refusal::OwnerProtected(_) => "owner_protected",
            Refusal::SelfTarget(_) => "self_target",
            Refusal::Lockout(_) => "lockout",
            Refusal::PlanLimit { .. } => "plan_limit",
            Refusal::PlanFeature { .. } => "plan_feature_unavailable",
            Refusal::PlanChangeBlocked { .. } => "plan_change_blocked",
            Refusal::BreakglassRequired => "breakglass_required",
            Refusal::InvalidBreakglass(_) => "invalid_breakglass",
            Refusal::BreakglassProtected(_) => "breakglass_protected",
            Refusal::InvitationInvalid => "invitation_invalid",
            Refusal::InvitationExpired => "invitation_expired",
            Refusal::ExpiryInPast => "expiry_in_past",
            Refusal::OutOfRange(_) => "out_of_range",
            Refusal::InvalidTerms(error) => error.code(),
            Refusal::Quota(_) => "quota_exceeded",
            Refusal::RoleNotPermitted(_) => "role_not_permitted",
            Refusal::PrimaryContactProtected(_) => "primary_contact_protected",
            Refusal::TrialAccount => "trial_account",
            Refusal::UserExists(_) => "user_exists",
            Refusal::OutboxFull(_) => "notification_outbox_full",
            Refusal::WebhookNotConfigured => "webhook_not_found",
            Refusal::InvalidCursor => "invalid_cursor",
            Refusal::OutOfReach(_) => "user_out_of_reach",
            Refusal::UserLimit { .. } => "user_limit",
            Refusal::SeatHoldsPermissions(_) => "seat_holds_permissions",
            Refusal::SignInFailed => "sign_in_failed",
            Refusal::PasswordPolicy(_) => "password_policy",
            Refusal::PasswordIncorrect => "password_incorrect",
            Refusal::UnknownSession(_) => "session_not_found",
            Refusal::SsoRequired(_) => "sso_required",
            Refusal::PasswordResetInvalid => "password_reset_invalid",
            Refusal::PasswordResetUnavailable(_) => "password_reset_unavailable",
            Refusal::PasswordResetSelf => "password_reset_self",
            Refusal::UnknownSsoConnection(_) => "sso_connection_not_found",
            Refusal::SsoConnectionInUse { .. } => "sso_connection_in_use",
            Refusal::SsoConnectionRequired => "sso_connection_required",
            Refusal::SsoProviderInvalid(_) => "sso_provider_invalid",
            Refusal::SsoClientSecretUnreadable => "sso_client_secret_unreadable",
            Refusal::SsoStateInvalid => "sso_state_invalid",
            Refusal::SsoTokenInvalid(_) => "sso_token_invalid",
            Refusal::SsoAssertionInvalid(_) => "sso_assertion_invalid",
            Refusal::SsoUserUnknown => "sso_user_unknown",
            Refusal::StorageLimit { .. } => "storage_limit",
        }
    }

    /// This refusal as seen by an actor who addressed the credential `key_id`: not being a
    /// member of its tenant reads as the credential not existing.
    fn hiding_tenant_of(self, key_id: &KeyId) -> Self {
        match self {
            Refusal::ActorNotMember(_) => Refusal::UnknownCredential(key_id.clone()),
            other => other,
        }
    }

    /// The class adapters map to a status code.
    pub const fn class(&self) -> RefusalClass {
        match self {
            Refusal::ExpiryInPast
            | Refusal::OutOfRange(_)
            | Refusal::InvalidTerms(_)
            | Refusal::InvalidCursor
            | Refusal::PasswordPolicy(_) => RefusalClass::Invalid,
            Refusal::SignInFailed
            | Refusal::SsoStateInvalid
            | Refusal::SsoTokenInvalid(_)
            | Refusal::SsoAssertionInvalid(_)
            | Refusal::SsoUserUnknown => RefusalClass::Unauthenticated,
            Refusal::UnknownActor
            | Refusal::ActorNotActive(_)
            | Refusal::CredentialNotUsable
            | Refusal::MissingPermission(_)
            | Refusal::NotCompanyAdmin
            | Refusal::Escalation(_)
            | Refusal::RoleNotPermitted(_)
            | Refusal::OutOfReach(_)
            | Refusal::SeatHoldsPermissions(_)
            | Refusal::PasswordIncorrect
            | Refusal::PasswordResetInvalid
            | Refusal::SsoRequired(_)
            | Refusal::InvitationInvalid => RefusalClass::Forbidden,
            Refusal::UnknownUser(_)
            | Refusal::UnknownTenant(_)
            | Refusal::ActorNotMember(_)
            | Refusal::UnknownCredential(_)
            | Refusal::UnknownBulkReport(_)
            | Refusal::UnknownSession(_)
            | Refusal::UnknownSsoConnection(_)
            | Refusal::NotMember { .. }
            | Refusal::WebhookNotConfigured => RefusalClass::NotFound,
            Refusal::AlreadyMember(_)
            | Refusal::Transition(_)
            | Refusal::OwnerProtected(_)
            | Refusal::SelfTarget(_)
            | Refusal::Lockout(_)
            | Refusal::PlanLimit { .. }
            | Refusal::PlanFeature { .. }
            | Refusal::PlanChangeBlocked { .. }
            | Refusal::BreakglassRequired
            | Refusal::InvalidBreakglass(_)
            | Refusal::BreakglassProtected(_)
            | Refusal::InvitationExpired
            | Refusal::PrimaryContactProtected(_)
            | Refusal::TrialAccount
            | Refusal::UserExists(_)
            | Refusal::Quota(_)
            | Refusal::UserLimit { .. }
            | Refusal::PasswordResetUnavailable(_)
            | Refusal::PasswordResetSelf
            | Refusal::OutboxFull(_)
            | Refusal::SsoConnectionInUse { .. }
            | Refusal::SsoConnectionRequired
            | Refusal::SsoProviderInvalid(_)
            | Refusal::SsoClientSecretUnreadable
            | Refusal::StorageLimit { .. } => RefusalClass::Conflict,
        }
    }
}

/// A new invitation (or password reset) code, shown once to whoever delivers it to the user.
#[derive(Debug, Serialize)]
pub struct IssuedInvitation {
    /// The code (`pcinv_…`).
    pub code: Secret,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What an accepted command produced. Secrets in here are shown once and never stored.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A tenant was created.
    TenantCreated {
        /// Its id.
        tenant_id: TenantId,
    },
    /// A user was added to a tenant.
    MemberAdded {
        /// The user.
        user_id: UserId,
        /// The user's status (pending for new users).
        status: UserStatus,
        /// A new invitation, when the user is pending (created by this command, or re-issued
        /// for this tenant: the previous code stops working).
        invitation: Option<IssuedInvitation>,
    },
    /// A member's permissions were replaced.
    PermissionsChanged {
        /// The member.
        user_id: UserId,
        /// The new set.
        permissions: PermissionSet,
    },
    /// A member was removed from a tenant.
    MemberRemoved {
        /// The former member.
        user_id: UserId,
    },
    /// A new invitation code replaced the previous one.
    InvitationResent {
        /// The pending user.
        user_id: UserId,
        /// The new code.
        invitation: IssuedInvitation,
    },
    /// An invitation was accepted; the user is active.
    InvitationAccepted {
        /// The user.
        user_id: UserId,
        /// The tenant the invitation was for, where the user's first token goes (none for a
        /// user invited at account level, or no longer a member there).
        tenant_id: Option<TenantId>,
    },
    /// A pending user's invitation was revoked: the user is deleted, the code dead.
    InvitationRevoked {
        /// The former user.
        user_id: UserId,
    },
    /// A password reset code was issued (shown once, to the caller, who delivers it).
    PasswordResetIssued {
        /// The user.
        user_id: UserId,
        /// The code.
        reset: IssuedInvitation,
    },
    /// A user's status changed.
    StatusChanged {
        /// The user.
        user_id: UserId,
        /// The new status.
        status: UserStatus,
    },
    /// A user was deleted.
    UserDeleted {
        /// The former user.
        user_id: UserId,
    },
    /// A user was created (and invited) without a tenant.
    UserCreated {
        /// The user.
        user_id: UserId,
        /// The invitation, shown once.
        invitation: IssuedInvitation,
    },
    /// A user's company roles changed.
    CompanyRolesChanged {
        /// The user.
        user_id: UserId,
        /// The roles the user holds now.
        roles: Vec<CompanyRole>,
        /// The tenants the user is a license admin of now.
        license_tenants: Vec<TenantId>,
    },
    /// A tenant's primary contact changed.
    PrimaryContactChanged {
        /// The tenant.
        tenant_id: TenantId,
        /// The new primary contact.
        user_id: UserId,
        /// The previous one.
        previous: UserId,
    },
    /// A user's display name changed.
    UserRenamed {
        /// The user.
        user_id: UserId,
        /// The new name.
        name: DisplayName,
    },
    /// A user's company admin role changed.
    CompanyAdminChanged {
        /// The user.
        user_id: UserId,
        /// The new value.
        company_admin: bool,
    },
    /// Account settings changed.
    AccountSettingsChanged,
    /// An API token was created.
    ApiTokenCreated {
        /// Its public id.
        key_id: KeyId,
        /// `key_id:key_secret`, shown once.
        token: Secret,
        /// The scope.
        permissions: PermissionSet,
        /// Expiry, if any.
        expires_at: Option<Timestamp>,
    },
    /// An API token's secret was rolled.
    ApiTokenRolled {
        /// Its public id (unchanged).
        key_id: KeyId,
        /// `key_id:new_secret`, shown once.
        token: Secret,
        /// Until when the previous secret keeps working (none: it stopped now).
        previous_valid_until: Option<Timestamp>,
    },
    /// An API token was deleted.
    ApiTokenDeleted {
        /// Its id.
        key_id: KeyId,
    },
    /// An automation key was created.
    AutomationKeyCreated {
        /// Its public id.
        key_id: KeyId,
        /// The key, shown once.
        key: Secret,
    },
    /// An automation key's secret was rolled.
    AutomationKeyRolled {
        /// Its public id (unchanged: the new key starts with it).
        key_id: KeyId,
        /// The new key, shown once.
        key: Secret,
        /// Until when the previous key keeps working (none: it stopped now).
        previous_valid_until: Option<Timestamp>,
    },
    /// An automation key was switched on or off.
    AutomationKeyToggled {
        /// Its id.
        key_id: KeyId,
        /// The new state.
        enabled: bool,
    },
    /// An automation key was deleted.
    AutomationKeyDeleted {
        /// Its id.
        key_id: KeyId,
    },
    /// Tenant settings changed.
    TenantUpdated {
        /// The tenant.
        tenant_id: TenantId,
    },
    /// The account's webhook was configured, with a new signing secret.
    WebhookConfigured {
        /// Where deliveries go.
        url: WebhookUrl,
        /// The secret deliveries are signed with (`pcwh_…`), shown once.
        signing_secret: Secret,
        /// When the first delivery may be sent.
        deliveries_start_at: Timestamp,
    },
    /// The account's webhook was removed; notifications wait in the outbox.
    WebhookRemoved,
    /// A bulk lifecycle command ran: what happened to each user.
    BulkReported(BulkReport),
    /// An identity-provider connection was created.
    SsoConnectionCreated {
        /// The connection (never its secret).
        connection: SsoConnectionView,
    },
    /// An identity-provider connection changed.
    SsoConnectionUpdated {
        /// The connection as it is now (never its secret).
        connection: SsoConnectionView,
    },
    /// An identity-provider connection was deleted.
    SsoConnectionDeleted {
        /// Its id.
        connection_id: SsoConnectionId,
    },
}

/// What sign-up needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// The company's name.
    pub account_name: DisplayName,
    /// The owner's email.
    pub owner_email: Email,
    /// The owner's name.
    pub owner_name: DisplayName,
    /// The first tenant's name.
    pub tenant_name: DisplayName,
    /// The first tenant's plan.
    pub plan: Plan,
    /// A self-service trial account (no company admin other than the owner).
    #[serde(default)]
    pub trial: bool,
}

/// The result of sign-up: the new account and the owner's first token (shown once).
#[derive(Debug)]
pub struct SignedUp {
    /// The account.
    pub account: Account,
    /// The first tenant.
    pub tenant_id: TenantId,
    /// The owner.
    pub owner_id: UserId,
    /// The owner's first API token, with every permission.
    pub token: credential::Issued,
}

/// Account-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    /// How long invitations stay valid.
    pub invitation_ttl_hours: u32,
    /// How long sessions last (defaults for accounts stored before sessions existed).
    #[serde(default)]
    pub sessions: SessionLifetimes,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            invitation_ttl_hours: DEFAULT_INVITATION_TTL_HOURS,
            sessions: SessionLifetimes::default(),
        }
    }
}

/// An account (a company): its users, tenants, credentials and audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    id: AccountId,
    name: DisplayName,
    owner: UserId,
    created_at: Timestamp,
    settings: AccountSettings,
    /// A self-service trial: no company admin other than the owner.
    #[serde(default)]
    trial: bool,
    users: Users,
    tenants: Tenants,
    audit: AuditLog,
    #[serde(default)]
    notifications: NotificationLog,
    #[serde(default)]
    webhook: Option<Webhook>,
    /// The latest bulk lifecycle reports, oldest first (at most
    /// [`MAX_BULK_REPORTS`](crate::bulk::MAX_BULK_REPORTS)).
    #[serde(default)]
    bulk_reports: VecDeque<BulkReport>,
    /// How many bulk reports were ever kept (at least as many as are held): the last held
    /// report is the `bulk_reports_kept`-th, which orders their rows.
    #[serde(default)]
    bulk_reports_kept: u64,
    /// Passwords and sessions, by user (see [`crate::session`]); kept apart from [`User`] so
    /// that nothing which shows a user can show their password hash.
    #[serde(default)]
    sign_in: OrdMap<UserId, SignInState>,
    /// Identity-provider connections and pending SSO sign-ins (see [`crate::sso`]).
    #[serde(default)]
    sso: SsoState,
}

/// One step's audit record, before it is chained.
struct Event {
    tenant: Option<TenantId>,
    action: &'static str,
    target: String,
    detail: String,
}

impl Event {
    fn new(tenant: Option<&TenantId>, action: &'static str, target: impl ToString) -> Self {
        Self {
            tenant: tenant.cloned(),
            action,
            target: target.to_string(),
            detail: String::new(),
        }
    }

    fn detail(mut self, detail: impl ToString) -> Self {
        self.detail = detail.to_string();
        self
    }
}

impl Account {
    /// Creates an account with its owner (active, company admin), a first tenant owned by them,
    /// and the owner's first API token.
    pub fn sign_up(request: SignUp, context: &mut Context<'_>) -> SignedUp {
        let id = AccountId::generate(context.random);
        let owner_id = UserId::generate(context.random);
        let tenant_id = TenantId::generate(context.random);
        let now = context.now;
        let owner = User {
            id: owner_id.clone(),
            email: request.owner_email,
            name: request.owner_name,
            status: UserStatus::Active,
            company_admin: true,
            support: false,
            license_tenants: BTreeSet::from([tenant_id.clone()]),
            created_at: now,
            invitation: None,
            last_active_at: Some(now),
        };
        let token = credential::issue_api_token(context.random, context.key);
        let mut tenant = new_tenant(
            tenant_id.clone(),
            request.tenant_name,
            request.plan,
            &owner_id,
            now,
        );
        tenant.api_tokens.insert(
            token.key_id.clone(),
            ApiToken {
                key_id: token.key_id.clone(),
                owner: owner_id.clone(),
                name: "owner token".parse().unwrap_or_else(|_| owner.name.clone()),
                scope: PermissionSet::all(),
                secret: CredentialSecret::new(token.hash),
                created_at: now,
                terms: Terms::default(),
                last_used_at: None,
                requests: crate::gateway::request_counts::DailyRequests::default(),
                sso_connection: None,
            },
        );
        let mut account = Account {
            id: id.clone(),
            name: request.account_name,
            owner: owner_id.clone(),
            created_at: now,
            settings: AccountSettings::default(),
            trial: request.trial,
            users: Users::unit(owner),
            tenants: Tenants::from_iter([tenant]),
            audit: AuditLog::default(),
            notifications: NotificationLog::default(),
            webhook: None,
            bulk_reports: VecDeque::new(),
            bulk_reports_kept: 0,
            sign_in: OrdMap::new(),
            sso: SsoState::default(),
        };
        account.record(
            None,
            now,
            Event::new(None, "account.signed_up", &id).detail(&owner_id),
        );
        account.record(
            Some(&Actor::user(owner_id.clone())),
            now,
            Event::new(Some(&tenant_id), "api_token.created", &token.key_id)
                .detail(PermissionSet::all()),
        );
        SignedUp {
            account,
            tenant_id,
            owner_id,
            token,
        }
    }

    /// The account id.
    pub fn id(&self) -> &AccountId {
        &self.id
    }

    /// The company name.
    pub fn name(&self) -> &DisplayName {
        &self.name
    }

    /// Whether this is a self-service trial account.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The owner (breakglass: never deactivated, deleted or demoted).
    pub fn owner(&self) -> &UserId {
        &self.owner
    }

    /// Account settings.
    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    /// Every user.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// A user by id.
    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.get(id)
    }

    /// Every user in a directory column's order, by (sort key, user id).
    pub(crate) fn directory_order(
        &self,
        sort: crate::directory::DirectorySort,
    ) -> &imbl::OrdSet<(crate::directory::SortKey, UserId)> {
        self.users.sorted(sort)
    }

    /// A user by email (compared normalised).
    pub fn user_by_email(&self, email: &Email) -> Option<&User> {
        self.users.by_email(email)
    }

    /// Every tenant.
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// The tenants `user` is a member of, in id order.
    pub(crate) fn tenants_of<'a>(&'a self, user: &UserId) -> impl Iterator<Item = &'a Tenant> + 'a {
        self.tenants.of_user(user)
    }

    /// A tenant by id.
    pub fn tenant(&self, id: &TenantId) -> Option<&Tenant> {
        self.tenants.get(id)
    }

    /// The audit log.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The permissions `user` effectively holds in `tenant` right now: none unless active.
    pub fn effective_permissions(&self, tenant: &TenantId, user: &UserId) -> PermissionSet {
        let active = self
            .users
            .get(user)
            .is_some_and(|u| u.status == UserStatus::Active);
        match self.tenants.get(tenant).and_then(|t| t.granted(user)) {
            Some(granted) if active => granted,
            _ => PermissionSet::EMPTY,
        }
    }

    /// Runs `command` for `actor`. On refusal nothing changes; on success one audit event is
    /// appended (a bulk command appends one per user it changed: see [`crate::bulk`]).
    pub fn apply(
        &mut self,
        actor: &Actor,
        command: Command,
        context: &mut Context<'_>,
    ) -> Result<Outcome, Refusal> {
        if let Command::BulkUserLifecycle { action, user_ids } = command {
            return self
                .apply_bulk(actor, action, user_ids, context)
                .map(Outcome::BulkReported);
        }
        let mut draft = self.draft();
        let (outcome, event) = draft.run(actor, command, context)?;
        draft.check_invariants(self)?;
        self.commit(draft, Some(actor), context.now, event);
        Ok(outcome)
    }

    /// Records that a credential authenticated a request at `at` (reported by the edge in
    /// batches). Telemetry, not a mutation of rights: no audit event. Unknown ids are ignored.
    /// Returns whether anything changed (an older or repeated report changes nothing). A
    /// token's use also counts as activity of its owner.
    pub fn record_last_used(&mut self, key_id: &KeyId, at: Timestamp) -> bool {
        let mut changed = false;
        let mut advance = |last_used_at: &mut Option<Timestamp>| {
            if *last_used_at < Some(at) {
                *last_used_at = Some(at);
                changed = true;
            }
        };
        let Some(tenant_id) = self.tenant_holding(key_id) else {
            return false;
        };
        let Some(mut tenant) = self.tenants.get_mut(&tenant_id) else {
            return false;
        };
        if let Some(token) = tenant.api_tokens.get_mut(key_id) {
            advance(&mut token.last_used_at);
            if self
                .users
                .get(&token.owner)
                .is_some_and(|owner| owner.last_active_at < Some(at))
                && let Some(mut owner) = self.users.get_mut(&token.owner)
            {
                owner.last_active_at = Some(at);
            }
        }
        if let Some(key) = tenant.automation_keys.get_mut(key_id) {
            advance(&mut key.last_used_at);
        }
        changed
    }

    /// Adds the request counts the edge reported for credential `key_id` (see
    /// [`crate::gateway::request_counts`]) as of `now`, forgetting days older than the window.
    /// Not a command, like [`Account::record_last_used`]. Whether anything changed.
    pub fn record_requests(
        &mut self,
        key_id: &KeyId,
        counts: &[crate::gateway::request_counts::DayCount],
        now: Timestamp,
    ) -> bool {
        let Some(tenant_id) = self.tenant_holding(key_id) else {
            return false;
        };
        let Some(mut tenant) = self.tenants.get_mut(&tenant_id) else {
            return false;
        };
        let tenant = &mut *tenant;
        if let Some(token) = tenant.api_tokens.get_mut(key_id) {
            return token.requests.add(counts, now);
        }
        tenant
            .automation_keys
            .get_mut(key_id)
            .is_some_and(|key| key.requests.add(counts, now))
    }

    /// Stores a credential's hash again under the current hashing key (see
    /// [`crate::credential::Rehash`]): only while its stored hash is still `rehash.from`, so a
    /// roll or a removal in between wins. Not a command: nobody acts, and what the credential
    /// may do does not change. Whether anything changed.
    pub fn rehash_credential(&mut self, rehash: &crate::credential::Rehash) -> bool {
        let Some(tenant_id) = self.tenant_holding(&rehash.key_id) else {
            return false;
        };
        let Some(mut tenant) = self.tenants.get_mut(&tenant_id) else {
            return false;
        };
        let tenant = &mut *tenant;
        let secret = match tenant.api_tokens.get_mut(&rehash.key_id) {
            Some(token) => &mut token.secret,
            None => match tenant.automation_keys.get_mut(&rehash.key_id) {
                Some(key) => &mut key.secret,
                None => return false,
            },
        };
        if secret.hash != rehash.from {
            return false;
        }
        secret.hash = rehash.to;
        true
    }

    /// The tenant holding the credential `key_id` (an API token or an automation key).
    fn tenant_holding(&self, key_id: &KeyId) -> Option<TenantId> {
        self.tenants
            .values()
            .find(|tenant| {
                tenant.api_tokens.contains_key(key_id)
                    || tenant.automation_keys.contains_key(key_id)
            })
            .map(|tenant| tenant.id.clone())
    }

    /// Removes `user_id` from every tenant, with the API tokens they own there; only the
    /// tenants that change are copied.
    pub(crate) fn forget_user_in_tenants(&mut self, user_id: &UserId) {
        let touched: Vec<TenantId> = self
            .tenants
            .values()
            .filter(|tenant| {
                tenant.members.contains_key(user_id)
                    || tenant
                        .api_tokens
                        .values()
                        .any(|token| token.owner == *user_id)
            })
            .map(|tenant| tenant.id.clone())
            .collect();
        for tenant_id in touched {
            if let Some(mut tenant) = self.tenants.get_mut(&tenant_id) {
                tenant.members.remove(user_id);
                remove_tokens_of(&mut tenant, user_id);
            }
        }
    }

    /// A page of the audit log of `tenant` for an actor allowed to read it (enterprise,
    /// `user_and_api_management`): events of that tenant with sequence ≥ `from`.
    pub fn audit_page(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        from: u64,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<&AuditEvent>, Refusal> {
        self.authorize_audit_read(actor, tenant, now)?;
        Ok(self
            .audit
            .events()
            .iter()
            .filter(|event| {
                event.body.sequence >= from && event.body.tenant.as_ref() == Some(tenant)
            })
            .take(limit)
            .collect())
    }

    /// A page of the account's own audit log for a company admin: the account-level events
    /// (sign-up, user lifecycle and invitations, company roles, account settings, webhooks),
    /// which belong to no tenant, with sequence ≥ `from`. Tenant events stay in their tenant's
    /// log ([`Account::audit_page`]).
    pub fn account_audit_page(
        &self,
        actor: &Actor,
        from: u64,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<&AuditEvent>, Refusal> {
        self.authorize_account_audit_read(actor, now)?;
        Ok(self
            .audit
            .events()
            .iter()
            .filter(|event| event.body.sequence >= from && event.body.tenant.is_none())
            .take(limit)
            .collect())
    }

    /// Whether `actor` may read the account-level audit log (company admins, on every plan:
    /// these are the account's security events). Runtimes that keep drained events in their
    /// own storage check this before reading it.
    pub fn authorize_account_audit_read(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        self.require_company_admin(actor, now)
    }

    /// Whether `actor` may read the audit log of `tenant` (enterprise, `user_and_api_management`).
    /// Runtimes that keep drained events in their own storage check this before reading it.
    pub fn authorize_audit_read(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        let permissions = self.actor_permissions(actor, tenant, now)?;
        let plan = self.tenant_ref(tenant)?.plan;
        // The engine's own rule, whatever operations the product model declares.
        if !plan.includes(Feature::AUDIT_LOG) {
            return Err(Refusal::PlanFeature {
                plan,
                feature: Feature::AUDIT_LOG,
            });
        }
        if !permissions.contains(Permission::USER_AND_API_MANAGEMENT) {
            return Err(Refusal::MissingPermission(
                Permission::USER_AND_API_MANAGEMENT,
            ));
        }
        Ok(())
    }

    /// The stored bulk lifecycle reports, oldest first.
    pub(crate) fn bulk_reports(&self) -> impl DoubleEndedIterator<Item = &BulkReport> {
        self.bulk_reports.iter()
    }

    /// Keeps `report`, forgetting the oldest one beyond
    /// [`MAX_BULK_REPORTS`](crate::bulk::MAX_BULK_REPORTS).
    pub(crate) fn keep_bulk_report(&mut self, report: BulkReport) {
        self.bulk_reports_kept = self.bulk_reports_kept.max(self.bulk_reports.len() as u64) + 1;
        self.bulk_reports.push_back(report);
        while self.bulk_reports.len() > crate::bulk::MAX_BULK_REPORTS {
            self.bulk_reports.pop_front();
        }
    }

    /// Hands over the audit events recorded since the last drain, for a runtime that stores
    /// them itself; the chain's head stays, so later events still link to them.
    pub fn drain_audit(&mut self) -> Vec<AuditEvent> {
        self.audit.drain()
    }

    /// The notifications produced and not drained yet, oldest first.
    pub fn notifications(&self) -> &[Notification] {
        self.notifications.pending()
    }

    /// The number of notifications ever produced, drained ones included.
    pub fn notifications_produced(&self) -> u64 {
        self.notifications.next_sequence()
    }

    /// Hands over the notifications produced since the last drain, for a runtime that keeps
    /// its own durable outbox; store them in the same write as the state.
    pub fn drain_notifications(&mut self) -> Vec<Notification> {
        self.notifications.drain()
    }

    /// The account's webhook, if one is configured.
    pub fn webhook(&self) -> Option<&Webhook> {
        self.webhook.as_ref()
    }

    /// Whether `actor` may list and acknowledge the account's notifications and see its
    /// webhook (company admins).
    pub fn authorize_notifications(&self, actor: &Actor, now: Timestamp) -> Result<(), Refusal> {
        self.require_company_admin(actor, now)
    }

    /// The stored projection of one credential, as verification reads it.
    pub fn credential_record(&self, key_id: &KeyId) -> Option<CredentialRecord> {
        self.tenants
            .values()
            .find_map(|tenant| self.project(tenant, key_id))
    }

    /// Every credential's projection, by key id: what the edge store should hold.
    pub fn credential_records(&self) -> BTreeMap<KeyId, CredentialRecord> {
        self.tenants
            .values()
            .flat_map(|tenant| {
                tenant
                    .api_tokens
                    .keys()
                    .chain(tenant.automation_keys.keys())
                    .filter_map(|key_id| self.project(tenant, key_id))
            })
            .map(|record| (record.key_id.clone(), record))
            .collect()
    }

    /// Verifies a presented credential against this account's own records (the edge does the
    /// same against its store; see [`credential::verify`]).
    pub fn verify(
        &self,
        presented: &str,
        key: &HashingKey,
        now: Timestamp,
        client: Option<IpAddr>,
    ) -> Verification {
        let record = credential::lookup_key(presented)
            .ok()
            .and_then(|id| self.credential_record(&id));
        credential::verify(presented, record.as_ref(), key, now, client)
    }

    fn project(&self, tenant: &Tenant, key_id: &KeyId) -> Option<CredentialRecord> {
        if let Some(token) = tenant.api_tokens.get(key_id) {
            let requirement = tenant.sso.requirement(&token.owner);
            let state = match self.users.get(&token.owner).map(|user| user.status) {
                Some(UserStatus::Active)
                    if !SsoRequirement::allows(
                        requirement.as_ref(),
                        token.sso_connection.as_ref(),
                    ) =>
                {
                    CredentialState::SsoRequired
                }
                Some(UserStatus::Active) => CredentialState::Active,
                Some(UserStatus::Pending) => CredentialState::OwnerPending,
                Some(UserStatus::Inactive) | None => CredentialState::OwnerInactive,
            };
            let granted = tenant.granted(&token.owner).unwrap_or(PermissionSet::EMPTY);
            return Some(
                CredentialRecord::api_token(
                    token.key_id.clone(),
                    token.secret.hash,
                    Placement {
                        account_id: self.id.clone(),
                        tenant_id: tenant.id.clone(),
                        name: token.name.clone(),
                        plan: tenant.plan,
                    },
                    token.owner.clone(),
                    token.scope.intersection(granted),
                    state,
                )
                .under(&token.terms, token.secret.previous),
            );
        }
        let key = tenant.automation_keys.get(key_id)?;
        Some(
            CredentialRecord::automation_key(
                key.key_id.clone(),
                key.secret.hash,
                Placement {
                    account_id: self.id.clone(),
                    tenant_id: tenant.id.clone(),
                    name: key.name.clone(),
                    plan: tenant.plan,
                },
                key.enabled,
            )
            .under(&key.terms, key.secret.previous),
        )
    }

    /// A copy of the state to run a command against, without the audit log and with only the
    /// notifications the command produces.
    fn draft(&self) -> Account {
        Account {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            created_at: self.created_at,
            settings: self.settings.clone(),
            trial: self.trial,
            users: self.users.clone(),
            tenants: self.tenants.clone(),
            audit: AuditLog::default(),
            notifications: self.notifications.continuing(),
            webhook: self.webhook.clone(),
            bulk_reports: self.bulk_reports.clone(),
            bulk_reports_kept: self.bulk_reports_kept,
            sign_in: self.sign_in.clone(),
            sso: self.sso.clone(),
        }
    }

    fn commit(&mut self, draft: Account, actor: Option<&Actor>, now: Timestamp, event: Event) {
        let audit = std::mem::take(&mut self.audit);
        let mut notifications = std::mem::take(&mut self.notifications);
        let mut draft = draft;
        notifications.absorb(std::mem::take(&mut draft.notifications));
        let mut touched: BTreeSet<UserId> = changed_keys(self.users.by_id(), draft.users.by_id())
            .chain(changed_keys(&self.sign_in, &draft.sign_in))
            .collect();
        touched.extend(actor.map(|actor| actor.user_id.clone()));
        *self = draft;
        self.audit = audit;
        self.notifications = notifications;
        // Looked up before it is changed: `get_mut` copies the path to the user.
        if let Some(actor) = actor
            && self
                .users
                .get(&actor.user_id)
                .is_some_and(|user| user.last_active_at < Some(now))
            && let Some(mut user) = self.users.get_mut(&actor.user_id)
        {
            user.last_active_at = Some(now);
        }
        self.settle_sign_in(actor, now, &touched);
        self.record(actor, now, event);
    }

    /// Appends a notification to `user` (who must exist) about `kind`, in the same command
    /// application as the change that causes it. Never put a secret in `data`.
    pub(crate) fn notify(
        &mut self,
        random: &mut dyn crate::RandomSource,
        now: Timestamp,
        kind: NotificationKind,
        user: &UserId,
        tenant: Option<&TenantId>,
        data: NotificationData,
    ) -> Result<(), Refusal> {
        let email = self.user_ref(user)?.email.clone();
        self.notifications.append(
            NotificationId::generate(random),
            now,
            notification::Draft {
                kind,
                user_id: user.clone(),
                email,
                tenant_id: tenant.cloned(),
                data,
            },
        );
        Ok(())
    }

    fn record(&mut self, actor: Option<&Actor>, now: Timestamp, event: Event) {
        self.audit.append(EventBody {
            sequence: 0,
            at: now,
            actor: actor.map(|a| a.user_id.clone()),
            credential: actor.and_then(|a| a.credential.clone()),
            tenant: event.tenant,
            action: event.action.to_owned(),
            target: event.target,
            detail: event.detail,
        });
    }

    /// Rules that span the account, checked on the draft against the state before the command,
    /// for what the command touched: the tenants it changed, the tenants of the users it changed
    /// (as members, breakglass users or primary contacts), every tenant naming a connection when
    /// connections changed, and the owner. Everything else is as it was, and held before. Debug
    /// builds (every test, the model test included) also check the whole account and require
    /// the same answer.
    fn check_invariants(&self, before: &Account) -> Result<(), Refusal> {
        let users: BTreeSet<UserId> =
            changed_keys(before.users.by_id(), self.users.by_id()).collect();
        let mut tenants: BTreeSet<TenantId> =
            changed_keys(before.tenants.by_id(), self.tenants.by_id()).collect();
        let connections_changed = changed_keys(&before.sso.connections, &self.sso.connections)
            .next()
            .is_some();
        // A changed user's tenants, before or after: where they are a member (a breakglass
        // user is an active manager, so a member, before the change; after it, or the tenant
        // changed) and where they are a license admin (a primary contact must be one).
        for user in &users {
            for account in [before, self] {
                tenants.extend(account.tenants.of_user(user).map(|t| t.id.clone()));
                if let Some(record) = account.users.get(user) {
                    tenants.extend(record.license_tenants.iter().cloned());
                }
            }
        }
        if connections_changed {
            tenants.extend(
                self.tenants
                    .values()
                    .filter(|tenant| tenant.sso.connection.is_some())
                    .map(|tenant| tenant.id.clone()),
            );
        }
        let touched = self.check_rules(before, tenants.iter().filter_map(|id| self.tenant(id)));
        debug_assert_eq!(
            touched,
            self.check_rules(before, self.tenants()),
            "the touched-only invariant check must agree with the whole-account check"
        );
        debug_assert!(
            self.users.index_is_consistent(),
            "the users' indexes must hold exactly what the users say"
        );
        debug_assert!(
            self.tenants.index_is_consistent(),
            "the membership index must hold exactly the tenants' members"
        );
        touched
    }

    /// The account-wide rules for `tenants` (in id order) and the owner.
    fn check_rules<'a>(
        &self,
        before: &Account,
        tenants: impl Iterator<Item = &'a Tenant>,
    ) -> Result<(), Refusal> {
        let active_before = |user: &UserId| before.is_active(user);
        let active_after = |user: &UserId| self.is_active(user);
        for tenant in tenants {
            preflight::lockout(
                before
                    .tenants
                    .get(&tenant.id)
                    .map(|t| (t, &active_before as preflight::IsActive<'_>)),
                (tenant, &active_after),
            )?;
            if let Some(breakglass) = &tenant.sso.breakglass
                && !self.is_active_manager(tenant, breakglass)
            {
                return Err(Refusal::BreakglassProtected(breakglass.clone()));
            }
            if tenant.sso.enforced && tenant.sso.breakglass.is_none() {
                return Err(Refusal::BreakglassRequired);
            }
            if let Some(connection) = &tenant.sso.connection
                && !self.sso.connections.contains_key(connection)
            {
                return Err(Refusal::UnknownSsoConnection(connection.clone()));
            }
            if let Some(contact) = &tenant.primary_contact
                && !self
                    .users
                    .get(contact)
                    .is_some_and(|user| user.license_tenants.contains(&tenant.id))
            {
                return Err(Refusal::PrimaryContactProtected(contact.clone()));
            }
            let limit = tenant.plan.member_limit();
            if tenant.members.len() > limit {
                return Err(Refusal::PlanLimit {
                    plan: tenant.plan,
                    limit,
                });
            }
        }
        let owner_intact = self
            .users
            .get(&self.owner)
            .is_some_and(|owner| owner.status == UserStatus::Active && owner.company_admin);
        if !owner_intact {
            return Err(Refusal::OwnerProtected("account owner"));
        }
        Ok(())
    }

    fn is_active_manager(&self, tenant: &Tenant, user: &UserId) -> bool {
        tenant
            .granted(user)
            .is_some_and(|permissions| self.manages(user, permissions))
    }

    /// Whether `user`, holding `permissions` in a tenant, is an active manager there. The
    /// permissions first: they are in the tenant, the user's status is a lookup.
    fn manages(&self, user: &UserId, permissions: PermissionSet) -> bool {
        permissions.contains(Permission::USER_AND_API_MANAGEMENT) && self.is_active(user)
    }

    /// Whether `user` is an active user of the account.
    fn is_active(&self, user: &UserId) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.status == UserStatus::Active)
    }

    pub(crate) fn tenant_ref(&self, id: &TenantId) -> Result<&Tenant, Refusal> {
        self.tenant(id)
            .ok_or_else(|| Refusal::UnknownTenant(id.clone()))
    }

    fn tenant_mut(&mut self, id: &TenantId) -> Result<TenantMut<'_>, Refusal> {
        self.tenants
            .get_mut(id)
            .ok_or_else(|| Refusal::UnknownTenant(id.clone()))
    }

    pub(crate) fn user_ref(&self, id: &UserId) -> Result<&User, Refusal> {
        self.user(id)
            .ok_or_else(|| Refusal::UnknownUser(id.clone()))
    }

    fn user_mut(&mut self, id: &UserId) -> Result<UserMut<'_>, Refusal> {
        self.users
            .get_mut(id)
            .ok_or_else(|| Refusal::UnknownUser(id.clone()))
    }

    /// The acting user, who must be active; an actor acting through a session needs it open.
    pub(crate) fn active_actor(&self, actor: &Actor, now: Timestamp) -> Result<&User, Refusal> {
        let user = self
            .users
            .get(&actor.user_id)
            .ok_or(Refusal::UnknownActor)?;
        if user.status != UserStatus::Active {
            return Err(Refusal::ActorNotActive(user.status));
        }
        if let Some(session) = &actor.session
            && self.open_session(&actor.user_id, session, now).is_none()
        {
            return Err(Refusal::CredentialNotUsable);
        }
        Ok(user)
    }

    /// What `actor` may do in `tenant`: the member's permissions, bounded by the token used.
    pub(crate) fn actor_permissions(
        &self,
        actor: &Actor,
        tenant_id: &TenantId,
        now: Timestamp,
    ) -> Result<PermissionSet, Refusal> {
        self.active_actor(actor, now)?;
        let tenant = self.tenant_ref(tenant_id)?;
        let granted = tenant
            .granted(&actor.user_id)
            .ok_or_else(|| Refusal::ActorNotMember(tenant_id.clone()))?;
        let held = match &actor.credential {
            None => granted,
            Some(key_id) => {
                let token = tenant
                    .api_tokens
                    .get(key_id)
                    .filter(|token| token.owner == actor.user_id)
                    .filter(|token| token.terms.window(now) == Window::Open)
                    .ok_or(Refusal::CredentialNotUsable)?;
                granted.intersection(token.scope)
            }
        };
        // A person's credential (a session, or a token) meets the tenant's SSO enforcement;
        // the runtime acting for a user (no credential) is not a sign-in.
        if (actor.session.is_some() || actor.credential.is_some())
            && !SsoRequirement::allows(
                tenant.sso.requirement(&actor.user_id).as_ref(),
                self.signed_in_with(actor, tenant_id, now).as_ref(),
            )
        {
            return Err(Refusal::SsoRequired(tenant_id.clone()));
        }
        Ok(held)
    }

    /// The SSO connection behind the actor's credential: the one its session was signed in
    /// with, or the one whose session minted its token (in `tenant`). None for a password
    /// session, a token minted otherwise, or the runtime acting for the user.
    fn signed_in_with(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Option<SsoConnectionId> {
        if let Some(session) = &actor.session {
            return self
                .open_session(&actor.user_id, session, now)
                .and_then(|session| session.method.connection().cloned());
        }
        let key_id = actor.credential.as_ref()?;
        self.tenants
            .get(tenant)?
            .api_tokens
            .get(key_id)?
            .sso_connection
            .clone()
    }

    fn require(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        permission: Permission,
        now: Timestamp,
    ) -> Result<PermissionSet, Refusal> {
        let held = self.actor_permissions(actor, tenant, now)?;
        if held.contains(permission) {
            Ok(held)
        } else {
            Err(Refusal::MissingPermission(permission))
        }
    }

    /// Account-level operations: an active company admin; through a token, only one that
    /// carries `user_and_api_management`.
    pub(crate) fn require_company_admin(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        let user = self.active_actor(actor, now)?;
        if !user.company_admin {
            return Err(Refusal::NotCompanyAdmin);
        }
        if let Some(key_id) = &actor.credential {
            let tenant = self
                .tenants
                .values()
                .find(|tenant| tenant.api_tokens.contains_key(key_id))
                .ok_or(Refusal::CredentialNotUsable)?;
            let held = self.actor_permissions(actor, &tenant.id, now)?;
            if !held.contains(Permission::USER_AND_API_MANAGEMENT) {
                return Err(Refusal::MissingPermission(
                    Permission::USER_AND_API_MANAGEMENT,
                ));
            }
        }
        Ok(())
    }

    /// An active actor whose token, if they act through one, is usable in its own tenant
    /// (theirs, unexpired, not deleted).
    fn require_usable_credential(&self, actor: &Actor, now: Timestamp) -> Result<(), Refusal> {
        self.active_actor(actor, now)?;
        if let Some(key_id) = &actor.credential {
            let home = self
                .tenant_of_token(key_id)
                .map_err(|_| Refusal::CredentialNotUsable)?;
            self.actor_permissions(actor, &home, now)?;
        }
        Ok(())
    }

    /// The company roles `user_id` holds (none for an unknown user).
    pub fn company_roles(&self, user_id: &UserId) -> Vec<CompanyRole> {
        let Some(user) = self.users.get(user_id) else {
            return Vec::new();
        };
        let member = self.tenants.of_user(user_id).next().is_some();
        [
            (user.company_admin, CompanyRole::CompanyAdmin),
            (!user.license_tenants.is_empty(), CompanyRole::LicenseAdmin),
            (user.support, CompanyRole::Support),
            (member, CompanyRole::TenantUser),
        ]
        .into_iter()
        .filter_map(|(held, role)| held.then_some(role))
        .collect()
    }

    /// Whether `actor` may read `user`'s full profile and edit their basic information:
    /// themselves, or whoever reaches them ([`Reach::Profile`]: a company admin, or, for a user
    /// with no company role who is not the owner, an actor who administers, as a manager or a
    /// license admin, every tenant the user belongs to; for a user in no tenant, whoever may
    /// create users).
    pub(crate) fn may_edit_user(&self, actor: &Actor, user: &UserId, now: Timestamp) -> bool {
        // Editing oneself needs no role, but a usable credential all the same.
        actor.user_id == *user && self.require_usable_credential(actor, now).is_ok()
            || self.reaches(actor, user, Reach::Profile, now)
    }

    /// Whether `actor` may run `operation` (on `tenant`, for operations a license admin runs
    /// only on their own tenants): the matrix of [`company`], applied to the actor's roles.
    pub(crate) fn require_account_operation(
        &self,
        actor: &Actor,
        operation: AccountOperation,
        tenant: Option<&TenantId>,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        let user = self.active_actor(actor, now)?;
        if user.company_admin {
            return self.require_company_admin(actor, now);
        }
        self.require_usable_credential(actor, now)?;
        let roles = self.company_roles(&actor.user_id);
        let allowed = company::roles_permit(&roles, &user.license_tenants, operation, tenant);
        if allowed {
            Ok(())
        } else {
            Err(Refusal::RoleNotPermitted(operation))
        }
    }

    /// Every account operation and whether `actor` may run it somewhere.
    pub fn account_operations(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<(AccountOperation, bool)>, Refusal> {
        self.active_actor(actor, now)?;
        Ok(AccountOperation::ALL
            .into_iter()
            .map(|operation| {
                (
                    operation,
                    self.require_account_operation(actor, operation, None, now)
                        .is_ok(),
                )
            })
            .collect())
    }

    fn roles_changed(&self, user_id: UserId) -> Outcome {
        let roles = self.company_roles(&user_id);
        let license_tenants = self
            .users
            .get(&user_id)
            .map(|user| user.license_tenants.iter().cloned().collect())
            .unwrap_or_default();
        Outcome::CompanyRolesChanged {
            user_id,
            roles,
            license_tenants,
        }
    }

    /// Removes a member (not oneself, not the owner, not the breakglass user) and their tokens;
    /// a pending member's invitation for this tenant dies with the membership (see
    /// [`invitation`]).
    fn remove_membership(
        &mut self,
        context: &mut Context<'_>,
        actor: &Actor,
        tenant_id: TenantId,
        user_id: UserId,
        action: &'static str,
    ) -> Result<(Outcome, Event), Refusal> {
        preflight::member_removal(self.tenant_ref(&tenant_id)?, &actor.user_id, &user_id)?;
        let mut tenant = self.tenant_mut(&tenant_id)?;
        tenant.members.remove(&user_id);
        remove_tokens_of(&mut tenant, &user_id);
        drop(tenant);
        let mut event = Event::new(Some(&tenant_id), action, &user_id);
        if self.after_pending_member_left(context, &tenant_id, &user_id)? {
            event = event.detail("invitation_revoked");
        }
        Ok((Outcome::MemberRemoved { user_id }, event))
    }

    /// What `actor` may do with the credential `key_id` of `tenant_id`: as
    /// [`Account::actor_permissions`], except that an actor who is not a member of the tenant is
    /// told the credential does not exist, exactly as for an unknown key id (never which tenant
    /// holds it).
    pub(crate) fn credential_permissions(
        &self,
        actor: &Actor,
        tenant_id: &TenantId,
        key_id: &KeyId,
        now: Timestamp,
    ) -> Result<PermissionSet, Refusal> {
        self.actor_permissions(actor, tenant_id, now)
            .map_err(|refusal| refusal.hiding_tenant_of(key_id))
    }

    /// The tenant of the automation key `key_id`, when `actor` may manage the key there
    /// (`build_applications`); not being a member of it reads as the key not existing.
    fn manageable_automation_key(
        &self,
        actor: &Actor,
        key_id: &KeyId,
        now: Timestamp,
    ) -> Result<TenantId, Refusal> {
        let tenant_id = self.tenant_of_automation_key(key_id)?;
        self.require(
            actor,
            &tenant_id,
            crate::model::with_model(crate::Model::automation_managed_with),
            now,
        )
        .map_err(|refusal| refusal.hiding_tenant_of(key_id))?;
        Ok(tenant_id)
    }

    fn tenant_of_token(&self, key_id: &KeyId) -> Result<TenantId, Refusal> {
        self.tenants
            .values()
            .find(|tenant| tenant.api_tokens.contains_key(key_id))
            .map(|tenant| tenant.id.clone())
            .ok_or_else(|| Refusal::UnknownCredential(key_id.clone()))
    }

    fn tenant_of_automation_key(&self, key_id: &KeyId) -> Result<TenantId, Refusal> {
        self.tenants
            .values()
            .find(|tenant| tenant.automation_keys.contains_key(key_id))
            .map(|tenant| tenant.id.clone())
            .ok_or_else(|| Refusal::UnknownCredential(key_id.clone()))
    }

    /// What an invitation message needs: the account's and tenant's names and the expiry
    /// (never the code, which only the inviter receives).
    fn invitation_data(
        &self,
        tenant: Option<&TenantId>,
        expires_at: Timestamp,
    ) -> NotificationData {
        let mut data = NotificationData::from([
            ("account_name".to_owned(), self.name.as_str().into()),
            (
                "invitation_expires_at".to_owned(),
                expires_at.unix_seconds().into(),
            ),
        ]);
        if let Some(tenant) = tenant.and_then(|id| self.tenants.get(id)) {
            data.insert("tenant_name".to_owned(), tenant.name.as_str().into());
        }
        data
    }

    /// The most users the account may hold (see [`crate::plan::account_user_limit`]).
    pub fn user_limit(&self) -> usize {
        crate::plan::account_user_limit(self.tenants.values().map(|tenant| tenant.plan))
    }

    /// Adds a new pending user with a fresh invitation, whose code goes to `actor`, and queues
    /// the invitation notice (naming `tenant` when the user was invited into one): the user's
    /// id and the invitation to show once.
    fn create_pending_user(
        &mut self,
        context: &mut Context<'_>,
        actor: &Actor,
        email: Email,
        name: Option<DisplayName>,
        tenant: Option<&TenantId>,
    ) -> Result<(UserId, IssuedInvitation), Refusal> {
        let user_id = self.insert_user(context, email, name, UserStatus::Pending)?;
        let issued = self.reissue_invitation(
            context,
            actor,
            &user_id,
            tenant.cloned(),
            NotificationKind::Invitation,
        )?;
        Ok((user_id, issued))
    }

    /// Adds a user with `status`, no company role, no membership and no invitation, within
    /// the account's user limit: how every user after the owner comes into being (invited
    /// users, then given their invitation; users provisioned by an identity provider).
    fn insert_user(
        &mut self,
        context: &mut Context<'_>,
        email: Email,
        name: Option<DisplayName>,
        status: UserStatus,
    ) -> Result<UserId, Refusal> {
        let limit = self.user_limit();
        if self.users.len() >= limit {
            return Err(Refusal::UserLimit { limit });
        }
        let user_id = UserId::generate(context.random);
        let name = name.unwrap_or_else(|| default_name(&email));
        self.users.insert(User {
            id: user_id.clone(),
            email,
            name,
            status,
            company_admin: false,
            support: false,
            license_tenants: BTreeSet::new(),
            created_at: context.now,
            last_active_at: None,
            invitation: None,
        });
        Ok(user_id)
    }

    fn run(
        &mut self,
        actor: &Actor,
        command: Command,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        match command {
            Command::CreateTenant { name, plan } => {
                self.require_company_admin(actor, now)?;
                if self.tenants.len() >= MAX_TENANTS_PER_ACCOUNT {
                    return Err(Refusal::Quota("the account has reached its tenant limit"));
                }
                let tenant_id = TenantId::generate(context.random);
                let tenant = new_tenant(tenant_id.clone(), name, plan, &actor.user_id, now);
                self.tenants.insert(tenant);
                // The launcher is the tenant's first license admin and its primary contact.
                self.user_mut(&actor.user_id)?
                    .license_tenants
                    .insert(tenant_id.clone());
                let event = Event::new(Some(&tenant_id), "tenant.created", &tenant_id).detail(plan);
                Ok((Outcome::TenantCreated { tenant_id }, event))
            }
            Command::InviteMember {
                tenant_id,
                email,
                name,
                permissions,
            } => self.invite_member(actor, tenant_id, email, name, permissions, context),
            Command::ChangePermissions {
                tenant_id,
                user_id,
                permissions,
            } => {
                let held =
                    self.require(actor, &tenant_id, Permission::USER_AND_API_MANAGEMENT, now)?;
                preflight::permission_change(
                    self.tenant_ref(&tenant_id)?,
                    held,
                    &user_id,
                    permissions,
                )?;
                if let Some(membership) = self.tenant_mut(&tenant_id)?.members.get_mut(&user_id) {
                    membership.permissions = permissions;
                }
                let event = Event::new(Some(&tenant_id), "member.permissions_changed", &user_id)
                    .detail(permissions);
                Ok((
                    Outcome::PermissionsChanged {
                        user_id,
                        permissions,
                    },
                    event,
                ))
            }
            Command::RemoveMember { tenant_id, user_id } => {
                self.require(actor, &tenant_id, Permission::USER_AND_API_MANAGEMENT, now)?;
                self.remove_membership(context, actor, tenant_id, user_id, "member.removed")
            }
            Command::ResendInvitation { user_id } => {
                self.resend_invitation(actor, user_id, context)
            }
            Command::RevokeInvitation { user_id } => {
                self.revoke_invitation(actor, user_id, context)
            }
            Command::IssuePasswordReset { user_id } => {
                self.issue_password_reset(actor, user_id, context)
            }
            Command::DeactivateUser { user_id } => {
                self.require_company_admin(actor, now)?;
                self.protect_owner_and_self(actor, &user_id, "deactivate")?;
                if self
                    .tenants
                    .values()
                    .any(|t| t.sso.breakglass.as_ref() == Some(&user_id))
                {
                    return Err(Refusal::BreakglassProtected(user_id));
                }
                let mut user = self.user_mut(&user_id)?;
                user.status = user.status.deactivate()?;
                drop(user);
                self.notify(
                    context.random,
                    now,
                    NotificationKind::Deactivated,
                    &user_id,
                    None,
                    NotificationData::new(),
                )?;
                let event = Event::new(None, "user.deactivated", &user_id);
                Ok((
                    Outcome::StatusChanged {
                        user_id,
                        status: UserStatus::Inactive,
                    },
                    event,
                ))
            }
            Command::ActivateUser { user_id } => {
                self.require_company_admin(actor, now)?;
                let mut user = self.user_mut(&user_id)?;
                user.status = user.status.activate()?;
                drop(user);
                let data = NotificationData::from([("via".to_owned(), "reactivated".into())]);
                self.notify(
                    context.random,
                    now,
                    NotificationKind::Activated,
                    &user_id,
                    None,
                    data,
                )?;
                let event = Event::new(None, "user.activated", &user_id);
                Ok((
                    Outcome::StatusChanged {
                        user_id,
                        status: UserStatus::Active,
                    },
                    event,
                ))
            }
            Command::DeleteUser { user_id } => {
                self.require_company_admin(actor, now)?;
                self.protect_owner_and_self(actor, &user_id, "delete")?;
                self.user_ref(&user_id)?.status.delete()?;
                if self.tenants.values().any(|tenant| tenant.owner == user_id) {
                    return Err(Refusal::OwnerProtected("tenant owner"));
                }
                if self
                    .tenants
                    .values()
                    .any(|tenant| *tenant.primary_contact() == user_id)
                {
                    return Err(Refusal::PrimaryContactProtected(user_id));
                }
                let data = NotificationData::from([(
                    "account_name".to_owned(),
                    self.name.as_str().into(),
                )]);
                self.notify(
                    context.random,
                    now,
                    NotificationKind::Deleted,
                    &user_id,
                    None,
                    data,
                )?;
                self.users.remove(&user_id);
                self.forget_user_in_tenants(&user_id);
                let event = Event::new(None, "user.deleted", &user_id);
                Ok((Outcome::UserDeleted { user_id }, event))
            }
            Command::CreateUser { email, name } => {
                self.require_account_operation(actor, AccountOperation::AddUser, None, now)?;
                if self.user_by_email(&email).is_some() {
                    return Err(Refusal::UserExists(email));
                }
                let (user_id, issued) =
                    self.create_pending_user(context, actor, email, name, None)?;
                let event = Event::new(None, "user.created", &user_id);
                Ok((
                    Outcome::UserCreated {
                        user_id,
                        invitation: issued,
                    },
                    event,
                ))
            }
            Command::SetSupport { user_id, support } => {
                self.require_account_operation(actor, AccountOperation::AssignSupport, None, now)?;
                let mut user = self.user_mut(&user_id)?;
                if support {
                    user.status.receive_role("grant the support role to")?;
                }
                user.support = support;
                drop(user);
                let event = Event::new(None, "user.support_changed", &user_id).detail(support);
                Ok((self.roles_changed(user_id), event))
            }
            Command::GrantLicenseAdmin { tenant_id, user_id } => {
                self.require_account_operation(
                    actor,
                    AccountOperation::AssignLicenseAdmin,
                    Some(&tenant_id),
                    now,
                )?;
                self.tenant_ref(&tenant_id)?;
                let mut user = self.user_mut(&user_id)?;
                user.status
                    .receive_role("grant the license admin role to")?;
                user.license_tenants.insert(tenant_id.clone());
                drop(user);
                // A company role: an account-level event, naming the tenant.
                let event =
                    Event::new(None, "user.license_admin_granted", &user_id).detail(&tenant_id);
                Ok((self.roles_changed(user_id), event))
            }
            Command::RevokeLicenseAdmin { tenant_id, user_id } => {
                self.require_account_operation(
                    actor,
                    AccountOperation::AssignLicenseAdmin,
                    Some(&tenant_id),
                    now,
                )?;
                if *self.tenant_ref(&tenant_id)?.primary_contact() == user_id {
                    return Err(Refusal::PrimaryContactProtected(user_id));
                }
                self.user_mut(&user_id)?.license_tenants.remove(&tenant_id);
                let event =
                    Event::new(None, "user.license_admin_revoked", &user_id).detail(&tenant_id);
                Ok((self.roles_changed(user_id), event))
            }
            Command::SetPrimaryContact { tenant_id, user_id } => {
                self.require_company_admin(actor, now)?;
                let previous = self.tenant_ref(&tenant_id)?.primary_contact().clone();
                let mut user = self.user_mut(&user_id)?;
                user.status.receive_role("make a primary contact of")?;
                user.license_tenants.insert(tenant_id.clone());
                drop(user);
                let mut tenant = self.tenant_mut(&tenant_id)?;
                tenant.primary_contact = Some(user_id.clone());
                let tenant_name = tenant.name.as_str().to_owned();
                drop(tenant);
                // The new contact is told they now receive the tenant's license and maintenance
                // notices, and the one they replace that they no longer do.
                let mut told = vec![(&user_id, "new")];
                if previous != user_id {
                    told.push((&previous, "previous"));
                }
                for (contact, role) in told {
                    let data = NotificationData::from([
                        ("tenant_name".to_owned(), tenant_name.as_str().into()),
                        ("contact".to_owned(), role.into()),
                    ]);
                    self.notify(
                        context.random,
                        now,
                        NotificationKind::PrimaryContactChanged,
                        contact,
                        Some(&tenant_id),
                        data,
                    )?;
                }
                let event =
                    Event::new(Some(&tenant_id), "tenant.primary_contact_changed", &user_id)
                        .detail(&previous);
                Ok((
                    Outcome::PrimaryContactChanged {
                        tenant_id,
                        user_id,
                        previous,
                    },
                    event,
                ))
            }
            Command::AssignLicense { tenant_id, user_id } => {
                self.require_account_operation(
                    actor,
                    AccountOperation::AssignLicenses,
                    Some(&tenant_id),
                    now,
                )?;
                let user = self.user_ref(&user_id)?;
                let (status, email) = (user.status, user.email.clone());
                let tenant = self.tenant_ref(&tenant_id)?;
                if tenant.members.contains_key(&user_id) {
                    return Err(Refusal::AlreadyMember(email));
                }
                let limit = tenant.plan.member_limit();
                if tenant.members.len() >= limit {
                    return Err(Refusal::PlanLimit {
                        plan: tenant.plan,
                        limit,
                    });
                }
                let invitation = self.admit_existing(context, actor, &tenant_id, &user_id)?;
                self.tenant_mut(&tenant_id)?.members.insert(
                    user_id.clone(),
                    Membership {
                        permissions: PermissionSet::EMPTY,
                        added_at: now,
                    },
                );
                let event = Event::new(Some(&tenant_id), "member.license_assigned", &user_id);
                Ok((
                    Outcome::MemberAdded {
                        user_id,
                        status,
                        invitation,
                    },
                    event,
                ))
            }
            Command::RevokeLicense { tenant_id, user_id } => {
                self.require_account_operation(
                    actor,
                    AccountOperation::AssignLicenses,
                    Some(&tenant_id),
                    now,
                )?;
                // License admins give and take bare seats; a member holding tenant permissions
                // is the managers' (or a company admin's) to remove.
                let holds = self
                    .tenant_ref(&tenant_id)?
                    .granted(&user_id)
                    .is_some_and(|granted| !granted.is_empty());
                if holds && self.require_company_admin(actor, now).is_err() {
                    return Err(Refusal::SeatHoldsPermissions(user_id));
                }
                self.remove_membership(context, actor, tenant_id, user_id, "member.license_revoked")
            }
            Command::RenameUser { user_id, name } => {
                let own = actor.user_id == user_id;
                let allowed = self.may_edit_user(actor, &user_id, now);
                if !allowed {
                    self.active_actor(actor, now)?;
                    if own {
                        self.require_usable_credential(actor, now)?;
                    }
                    return Err(Refusal::OutOfReach(user_id));
                }
                let mut user = self.user_mut(&user_id)?;
                user.name = name.clone();
                let event = Event::new(None, "user.renamed", &user_id);
                Ok((Outcome::UserRenamed { user_id, name }, event))
            }
            Command::SetCompanyAdmin {
                user_id,
                company_admin,
            } => {
                self.require_company_admin(actor, now)?;
                if user_id == self.owner && !company_admin {
                    return Err(Refusal::OwnerProtected("account owner"));
                }
                if self.trial && company_admin && user_id != self.owner {
                    return Err(Refusal::TrialAccount);
                }
                let mut user = self.user_mut(&user_id)?;
                if company_admin {
                    user.status
                        .receive_role("grant the company admin role to")?;
                }
                user.company_admin = company_admin;
                let event =
                    Event::new(None, "user.company_admin_changed", &user_id).detail(company_admin);
                Ok((
                    Outcome::CompanyAdminChanged {
                        user_id,
                        company_admin,
                    },
                    event,
                ))
            }
            Command::UpdateAccountSettings {
                invitation_ttl_hours,
            } => {
                self.require_company_admin(actor, now)?;
                if !(1..=MAX_INVITATION_TTL_HOURS).contains(&invitation_ttl_hours) {
                    return Err(Refusal::OutOfRange(
                        "invitation lifetime must be 1 to 720 hours",
                    ));
                }
                self.settings.invitation_ttl_hours = invitation_ttl_hours;
                let event = Event::new(None, "account.settings_changed", &self.id)
                    .detail(format!("invitation_ttl_hours={invitation_ttl_hours}"));
                Ok((Outcome::AccountSettingsChanged, event))
            }
            Command::CreateApiToken {
                tenant_id,
                name,
                permissions,
                terms,
            } => self.create_api_token(actor, tenant_id, name, permissions, terms, context),
            Command::DeleteApiToken { key_id } => {
                let tenant_id = self.deletable_token(actor, &key_id, now)?;
                self.tenant_mut(&tenant_id)?.api_tokens.remove(&key_id);
                let event = Event::new(Some(&tenant_id), "api_token.deleted", &key_id);
                Ok((Outcome::ApiTokenDeleted { key_id }, event))
            }
            Command::RollApiToken {
                key_id,
                overlap_seconds,
            } => self.roll(actor, Rolled::Token, key_id, overlap_seconds, context),
            Command::CreateAutomationKey {
                tenant_id,
                name,
                terms,
            } => self.create_automation_key(actor, tenant_id, name, terms, context),
            Command::RollAutomationKey {
                key_id,
                overlap_seconds,
            } => self.roll(actor, Rolled::Key, key_id, overlap_seconds, context),
            Command::SetAutomationKeyEnabled { key_id, enabled } => {
                let tenant_id = self.manageable_automation_key(actor, &key_id, now)?;
                let mut tenant = self.tenant_mut(&tenant_id)?;
                if enabled && !tenant.plan.includes(Feature::AUTOMATION_KEYS) {
                    return Err(Refusal::PlanFeature {
                        plan: tenant.plan,
                        feature: Feature::AUTOMATION_KEYS,
                    });
                }
                if let Some(key) = tenant.automation_keys.get_mut(&key_id) {
                    key.enabled = enabled;
                }
                let action = if enabled {
                    "automation_key.enabled"
                } else {
                    "automation_key.disabled"
                };
                let event = Event::new(Some(&tenant_id), action, &key_id);
                Ok((Outcome::AutomationKeyToggled { key_id, enabled }, event))
            }
            Command::DeleteAutomationKey { key_id } => {
                let tenant_id = self.manageable_automation_key(actor, &key_id, now)?;
                self.tenant_mut(&tenant_id)?.automation_keys.remove(&key_id);
                let event = Event::new(Some(&tenant_id), "automation_key.deleted", &key_id);
                Ok((Outcome::AutomationKeyDeleted { key_id }, event))
            }
            Command::UpdateTenantSettings {
                tenant_id,
                name,
                plan,
                sso,
            } => self.update_tenant(actor, tenant_id, name, plan, sso, now),
            Command::ConfigureWebhook {
                url,
                start_after_seconds,
            } => {
                self.require_company_admin(actor, now)?;
                if start_after_seconds > crate::notification::MAX_FIRST_DELIVERY_DELAY_SECONDS {
                    return Err(Refusal::OutOfRange("start_after_seconds must be 0 to 3600"));
                }
                let salt: [u8; 16] = crate::random::bytes(context.random);
                let webhook = Webhook {
                    url: url.clone(),
                    salt: URL_SAFE_NO_PAD.encode(salt),
                    configured_at: now,
                    deliveries_start_at: Some(now.plus_seconds(u64::from(start_after_seconds))),
                };
                let signing_secret = webhook.signing_secret(context.key, &self.id);
                self.webhook = Some(webhook);
                let event = Event::new(None, "account.webhook_configured", &self.id).detail(&url);
                Ok((
                    Outcome::WebhookConfigured {
                        url,
                        signing_secret,
                        deliveries_start_at: now.plus_seconds(u64::from(start_after_seconds)),
                    },
                    event,
                ))
            }
            Command::RemoveWebhook {} => {
                self.require_company_admin(actor, now)?;
                if self.webhook.take().is_none() {
                    return Err(Refusal::WebhookNotConfigured);
                }
                let event = Event::new(None, "account.webhook_removed", &self.id);
                Ok((Outcome::WebhookRemoved, event))
            }
            Command::CreateSsoConnection {
                name,
                protocol,
                allow_jit_provisioning,
            } => self.create_sso_connection(actor, name, protocol, allow_jit_provisioning, context),
            Command::UpdateSsoConnection {
                connection_id,
                name,
                oidc,
                saml,
                allow_jit_provisioning,
            } => self.update_sso_connection(
                actor,
                connection_id,
                name,
                ProtocolChange { oidc, saml },
                allow_jit_provisioning,
                context,
            ),
            Command::DeleteSsoConnection { connection_id } => {
                self.delete_sso_connection(actor, connection_id, now)
            }
            // Applied by `apply` one user at a time, never as one step.
            Command::BulkUserLifecycle { .. } => Err(Refusal::OutOfRange(
                "a bulk command runs only as a whole request",
            )),
        }
    }

    fn protect_owner_and_self(
        &self,
        actor: &Actor,
        user_id: &UserId,
        action: &'static str,
    ) -> Result<(), Refusal> {
        self.user_ref(user_id)?;
        if *user_id == self.owner {
            return Err(Refusal::OwnerProtected("account owner"));
        }
        if *user_id == actor.user_id {
            return Err(Refusal::SelfTarget(action));
        }
        Ok(())
    }

    fn invite_member(
        &mut self,
        actor: &Actor,
        tenant_id: TenantId,
        email: Email,
        name: Option<DisplayName>,
        permissions: PermissionSet,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        let held = self.require(actor, &tenant_id, Permission::USER_AND_API_MANAGEMENT, now)?;
        let existing = self.user_by_email(&email).map(|user| user.id.clone());
        preflight::invitation(
            self.tenant_ref(&tenant_id)?,
            held,
            permissions,
            &email,
            existing.as_ref(),
        )?;
        let (user_id, invitation) = match existing {
            Some(user_id) => {
                // A pending user joins only through someone who answers for them.
                let invitation = self.admit_existing(context, actor, &tenant_id, &user_id)?;
                (user_id, invitation)
            }
            None => {
                // Only company admins and license admins create users.
                self.require_account_operation(actor, AccountOperation::AddUser, None, now)?;
                let (user_id, issued) =
                    self.create_pending_user(context, actor, email, name, Some(&tenant_id))?;
                (user_id, Some(issued))
            }
        };
        let status = self.user_ref(&user_id)?.status;
        self.tenant_mut(&tenant_id)?.members.insert(
            user_id.clone(),
            Membership {
                permissions,
                added_at: now,
            },
        );
        let event = Event::new(Some(&tenant_id), "member.invited", &user_id).detail(permissions);
        Ok((
            Outcome::MemberAdded {
                user_id,
                status,
                invitation,
            },
            event,
        ))
    }

    fn update_tenant(
        &mut self,
        actor: &Actor,
        tenant_id: TenantId,
        name: Option<DisplayName>,
        plan: Option<Plan>,
        sso: Option<SsoChange>,
        now: Timestamp,
    ) -> Result<(Outcome, Event), Refusal> {
        self.require(actor, &tenant_id, Permission::MODIFY_TENANT_SETTINGS, now)?;
        let mut changes = Vec::new();
        if let Some(sso) = sso {
            let tenant = self.tenant_ref(&tenant_id)?;
            let target_plan = plan.unwrap_or(tenant.plan);
            if sso.enforced && !target_plan.includes(Feature::SAML_SSO) {
                return Err(Refusal::PlanFeature {
                    plan: target_plan,
                    feature: Feature::SAML_SSO,
                });
            }
            if sso.enforced && sso.breakglass.is_none() {
                return Err(Refusal::BreakglassRequired);
            }
            if let Some(breakglass) = &sso.breakglass
                && !self.is_active_manager(tenant, breakglass)
            {
                return Err(Refusal::InvalidBreakglass(breakglass.clone()));
            }
            if let Some(connection) = &sso.connection
                && !self.sso.connections.contains_key(connection)
            {
                return Err(Refusal::UnknownSsoConnection(connection.clone()));
            }
            if sso.enforced && sso.connection.is_none() {
                return Err(Refusal::SsoConnectionRequired);
            }
            changes.push(format!(
                "sso_enforced={} breakglass={} sso_connection={}",
                sso.enforced,
                sso.breakglass.as_ref().map_or("none", UserId::as_str),
                sso.connection
                    .as_ref()
                    .map_or("none", SsoConnectionId::as_str)
            ));
            self.tenant_mut(&tenant_id)?.sso = Sso {
                enforced: sso.enforced,
                breakglass: sso.breakglass,
                connection: sso.connection,
            };
        }
        if let Some(plan) = plan {
            let tenant = self.tenant_ref(&tenant_id)?;
            let blockers = plan_blockers(tenant, plan);
            if !blockers.is_empty() {
                return Err(Refusal::PlanChangeBlocked { plan, blockers });
            }
            changes.push(format!("plan={plan}"));
            self.tenant_mut(&tenant_id)?.plan = plan;
        }
        if let Some(name) = name {
            changes.push(format!("name={name}"));
            self.tenant_mut(&tenant_id)?.name = name;
        }
        let event = Event::new(Some(&tenant_id), "tenant.settings_changed", &tenant_id)
            .detail(changes.join(" "));
        Ok((Outcome::TenantUpdated { tenant_id }, event))
    }
}

/// The keys whose entries differ between `before` and `after` (added, removed or changed),
/// visiting only the parts of the two maps they do not share.
pub(crate) fn changed_keys<'a, K: Ord + Clone, V: PartialEq + Clone>(
    before: &'a OrdMap<K, V>,
    after: &'a OrdMap<K, V>,
) -> impl Iterator<Item = K> + 'a {
    before.diff(after).map(|item| match item {
        imbl::ordmap::DiffItem::Add(key, _)
        | imbl::ordmap::DiffItem::Remove(key, _)
        | imbl::ordmap::DiffItem::Update { new: (key, _), .. } => key.clone(),
    })
}

/// Removes the API tokens `user` owns in `tenant`.
fn remove_tokens_of(tenant: &mut Tenant, user: &UserId) {
    let owned: Vec<KeyId> = tenant
        .api_tokens
        .values()
        .filter(|token| token.owner == *user)
        .map(|token| token.key_id.clone())
        .collect();
    for key_id in owned {
        tenant.api_tokens.remove(&key_id);
    }
}

/// Everything in `tenant` that `plan` does not allow.
pub fn plan_blockers(tenant: &Tenant, plan: Plan) -> Vec<PlanBlocker> {
    let mut blockers = Vec::new();
    let limit = plan.member_limit();
    if tenant.members.len() > limit {
        blockers.push(PlanBlocker::TooManyMembers {
            members: tenant.members.len(),
            limit,
        });
    }
    if !tenant.automation_keys.is_empty() && !plan.includes(Feature::AUTOMATION_KEYS) {
        blockers.push(PlanBlocker::AutomationKeysInUse {
            keys: tenant.automation_keys.len(),
        });
    }
    if tenant.sso.enforced && !plan.includes(Feature::SAML_SSO) {
        blockers.push(PlanBlocker::SsoEnforced);
    }
    blockers
}

fn new_tenant(
    id: TenantId,
    name: DisplayName,
    plan: Plan,
    owner: &UserId,
    now: Timestamp,
) -> Tenant {
    Tenant {
        id,
        name,
        plan,
        owner: owner.clone(),
        members: OrdMap::unit(
            owner.clone(),
            Membership {
                permissions: PermissionSet::all(),
                added_at: now,
            },
        ),
        sso: Sso::default(),
        api_tokens: OrdMap::new(),
        automation_keys: OrdMap::new(),
        created_at: now,
        primary_contact: Some(owner.clone()),
    }
}

fn default_name(email: &Email) -> DisplayName {
    let local = email.as_str().split('@').next().unwrap_or("user");
    local
        .parse()
        .unwrap_or_else(|_| email.as_str().parse().unwrap_or_else(|_| fallback_name()))
}

fn fallback_name() -> DisplayName {
    // "user" is a valid name: non-empty, short, no control characters.
    #[expect(clippy::expect_used, reason = "a constant known to be a valid name")]
    "user".parse().expect("constant name is valid")
}
