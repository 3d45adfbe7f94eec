//! Model-based test of the account engine.
//!
//! Random sequences of operations by random actors run against the real [`Account`] and, in
//! step, against [`Model`]: plain structs plus the rules below, written out once and plainly.
//! For every operation the model predicts acceptance or refusal; a refusal's `code()` must name
//! one of the rules the model finds broken (when a request breaks several, the engine may report
//! any of them). After every step the engine's state must equal the model's, every credential
//! ever issued must verify exactly as the model says, and the engine must satisfy the
//! account-wide invariants on its own (checked without the model).
//!
//! The rules the model encodes:
//! - Acting: the actor must exist (`unknown_actor`) and be active (`actor_not_active`); in a
//!   tenant they must be a member (else `tenant_not_found`, as if it did not exist; for a
//!   credential of that tenant, `credential_not_found`); through a token, the token must exist,
//!   be theirs, belong to that tenant and be unexpired (`credential_not_usable`), and then they
//!   hold only what the token's scope allows; through a session, it must be one of theirs and
//!   open (`credential_not_usable`, judged right after their status), and then they hold all
//!   their current permissions in any tenant they are a member of. In a tenant enforcing SSO, a
//!   token or a password session (the model's all are) acts only for its breakglass user
//!   (`sso_required`, judged after membership); acting with neither is no sign-in and is not
//!   held to it. Lacking a needed permission: `missing_permission`.
//! - Account-level operations (create tenant, user lifecycle, company admin, primary contacts,
//!   account settings) need an active company admin (`not_company_admin`); through a token, one
//!   that carries `user_and_api_management` in its tenant. Re-sending an invitation also works
//!   for anyone holding `user_and_api_management` in a tenant the invitee belongs to.
//! - Company roles (the matrix, restated): a company admin may run every account operation (as
//!   above); a license admin (of one tenant or more) may create users, and, on the tenants
//!   assigned to them only, grant and revoke those tenants' license admin role, give and take
//!   their seats and rename their users; support and plain tenant users may do none of it, and
//!   only company admins grant support (`role_not_permitted`). Anyone but a company admin
//!   acting through a token needs it usable in its own tenant (as above), whatever its scope.
//! - Creating a user, directly (`user_exists` for an email in use) or by inviting a new
//!   address, makes a pending user with an invitation and no company role (created directly, in
//!   no tenant either). A seat is a membership with no permission, given to an existing user of
//!   any status (`already_member`, `plan_limit`); taking one is removing a member
//!   (`self_target`, `owner_protected`, `breakglass_protected`, `member_not_found`, `lockout`).
//! - Names: users rename themselves (through a token, only a usable one of their own:
//!   `credential_not_usable`); company admins rename anyone; a user of a tenant is also renamed
//!   by its license admins and its members holding `user_and_api_management`; else
//!   `missing_permission`.
//! - Primary contacts: every tenant has exactly one, its launcher at first, who is always a
//!   license admin of it. A company admin names another (an active user, made a license admin
//!   of the tenant if need be) in one swap; the previous one keeps the role. The primary
//!   contact cannot lose the license admin role of the tenant or be deleted
//!   (`primary_contact_protected`).
//! - Inviting, re-permissioning and removing members need `user_and_api_management`; creating
//!   and managing automation keys `build_applications`; tenant settings `modify_tenant_settings`;
//!   a personal token needs membership only; deleting a token is for its owner or a manager.
//! - Nobody grants what they do not hold (`privilege_escalation`): an invitation's permissions,
//!   the permissions a change adds, and a token's scope must be within the actor's held set.
//! - Users: pending → (accept) active → (deactivate) inactive → (activate) active; only inactive
//!   users can be deleted; the company admin, support and license admin roles (and being a
//!   primary contact) only go to active users (`illegal_transition`). A trial account has no
//!   company admin but its owner (`trial_account`). The account owner is never deactivated,
//!   deleted or demoted; a tenant owner always holds every permission and is never removed or
//!   deleted (`owner_protected`). Nobody deactivates, deletes or removes themselves
//!   (`self_target`). Deleting a user removes their memberships and tokens; removing a member
//!   their tokens there.
//! - Invitations: only the pending user's current code works (`invitation_invalid` for a wrong,
//!   superseded or foreign code, judged before `invitation_expired`); it expires the account's
//!   TTL (1 to 720 hours, else `out_of_range`) after issue; re-sending replaces it. Inviting an
//!   address that belongs to no user creates a pending user; an existing user joins as they are.
//! - Plans: free 1 seat, team 20, enterprise 100, owner and pending invitees included
//!   (`plan_limit`; `already_member` for an existing member); automation keys need team or up,
//!   enforcing SSO enterprise (`plan_feature_unavailable`); a plan change the tenant does not fit
//!   (seats, keys in use, SSO enforced) is `plan_change_blocked`.
//! - SSO: enforcing needs a breakglass user (`breakglass_required`) who is an active member
//!   holding `user_and_api_management` (`invalid_breakglass`) and stays one: that user cannot
//!   lose the permission, be removed or deactivated (`breakglass_protected`).
//! - After any accepted change: every tenant keeps an active member holding
//!   `user_and_api_management` (`lockout`), and the account owner stays an active company admin.
//! - Quotas (50 tokens per member per tenant, 50 keys per tenant): `quota_exceeded`.
//! - Sessions: accepting an invitation with a password sets it and signs the user in; signing
//!   in opens a session for an active user with their password (the account owner's is set by a
//!   reset at sign-up, which signs them in), and anything else, whoever the email names or
//!   nobody, is `sign_in_failed`. A session ends when signed out (one of the actor's own open
//!   sessions, else `session_not_found`) or signed out everywhere (the outcome counts the
//!   sessions it ended), when its user changes their password (the current one must be right,
//!   else `password_incorrect`; the acting session stays, every other goes), is deactivated
//!   (reactivating does not bring it back) or deleted, and 12 hours after it was last seen
//!   (signed in, or an accepted request through it) or 7 days after sign-in, whichever comes
//!   first; an ended session is gone from the account at the next accepted change (a bulk
//!   request changes once per user it changes). The model never reaches the 50-session cap.
//! - Notifications: every accepted invitation or creation of a new user, re-sent invitation,
//!   acceptance, activation, deactivation, deletion and password change produces exactly one
//!   notification of its kind to that user's email, and a primary contact swap one to the new
//!   contact's and one to the replaced contact's (when they differ), all in the same step;
//!   nothing else produces any (signing in, always from the one device here, included);
//!   sequence numbers are contiguous and no invitation code, token secret or session ever
//!   appears in one.
//! - Bulk lifecycle: a company admin (else the whole request is refused as above) names 1 to
//!   100 distinct users (else `out_of_range`); each is then judged in order exactly as the
//!   single-user activate / deactivate / delete would be on the account as the users before
//!   left it, and the report says for each whether it changed or which rule refused it; one
//!   audit event per user changed.
//! - Verification: a token verifies while it exists, is unexpired and its owner is active (else
//!   `unknown_key`, `expired`, `owner_pending`, `owner_inactive`), with its scope ∩ the owner's
//!   permissions; an automation key while it exists, is enabled and the plan includes keys
//!   (else `disabled`), with `build_applications` only; a session, in each tenant, while the
//!   account holds it (else `unknown_session`), it is unexpired (`session_expired`), its user
//!   is active (`user_not_active`) and a member there (`not_member`) and enforcement lets it
//!   act there (`sso_required`), with the user's permissions there: so no session of an
//!   inactive or deleted user verifies, nor one in a tenant its user left.
//!
//! Checked on the engine alone after every step, besides the rules above that it can judge by
//! itself: every tenant has exactly one primary contact, an existing license admin of it; the
//! account owner is an active company admin; a trial account has no other company admin;
//! pending users hold no company role; only active users hold sessions; and every user and
//! company role the step added was given by someone who could, judging by the state before the
//! step: users created by company and license admins, the company admin and support roles given
//! and primary contacts named by company admins, a tenant's license admin role by company
//! admins or its license admins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: every index comes from the model, which only hands out valid ones"
)]

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;

use portcullis_core::account::{Context, Outcome, Refusal, Row, RowChange, RowKind, SignUp};
use portcullis_core::audit::verify_chain;
use portcullis_core::bulk::{BulkAction, BulkOutcome};
use portcullis_core::command::{Command, SsoChange};
use portcullis_core::credential::{CredentialKind, Verification};
use portcullis_core::plan::Feature;
use portcullis_core::random::SeededRandom;
use portcullis_core::secret::Secret;
use portcullis_core::session::{IssuedSession, SessionId};
use portcullis_core::sso::{OidcSettings, SsoConnectionId, SsoProtocolSettings};
use portcullis_core::store::{RecordChange, SignInRecordChange};
use portcullis_core::user::{User, UserStatus};
use portcullis_core::{
    Account, Actor, Email, HashingKey, KeyId, Permission, PermissionSet, Plan, TenantId, Timestamp,
    UserId,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const HOUR: u64 = 3600;
const START: u64 = 1_700_000_000;
const OWNER_EMAIL: &str = "owner@acme.test";
const OWNER_NAME: &str = "Olive Owner";
/// The account owner is always the model's first user.
const OWNER: usize = 0;
const MANAGE: Permission = Permission::USER_AND_API_MANAGEMENT;
/// The permission that manages automation keys in the model in force.
fn build_permission() -> Permission {
    portcullis_core::model::with_model(portcullis_core::Model::automation_managed_with)
}
const QUOTA: usize = 50;
/// Session lifetimes: the account's defaults, which the model never changes.
const SESSION_IDLE: u64 = 12 * HOUR;
const SESSION_ABSOLUTE: u64 = 7 * 24 * HOUR;
/// The passwords users choose, by index (all within the policy).
const PASSWORDS: [&str; 3] = [
    "correct horse battery",
    "staple gun tr0ub4dor",
    "hunter2 hunter2 hunter2",
];
/// A password nobody has.
const WRONG_PASSWORD: &str = "not the password at all";
/// Acting in a tenant one is not a member of reads as the tenant not existing.
const NOT_A_MEMBER: &str = "tenant_not_found";

/// A refusal about the tenant of a credential, as the actor who addressed the credential sees
/// it: not being a member reads as the credential not existing.
fn hiding_tenant(refusal: &'static str) -> &'static str {
    if refusal == NOT_A_MEMBER {
        "credential_not_found"
    } else {
        refusal
    }
}

// ----- the model ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Active,
    Inactive,
    Deleted,
}

#[derive(Clone, Copy, Debug)]
struct Invitation {
    /// Index of the code among all codes ever issued.
    code: usize,
    expires_at: u64,
    /// The tenant it is for (none for a user created at account level).
    tenant: Option<usize>,
}

#[derive(Clone, Debug)]
struct ModelUser {
    email: String,
    name: String,
    status: Status,
    company_admin: bool,
    support: bool,
    /// The tenants this user is a license admin of (launchers of a tenant become one).
    license_tenants: BTreeSet<usize>,
    invitation: Option<Invitation>,
    /// The index in [`PASSWORDS`] of the user's password, once set.
    password: Option<usize>,
}

impl ModelUser {
    /// A new pending user, with no role, invited with `invitation`.
    fn invited(email: String, name: Option<String>, invitation: Invitation) -> Self {
        // Without a name, the email's local part.
        let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        ModelUser {
            email,
            name,
            status: Status::Pending,
            company_admin: false,
            support: false,
            license_tenants: BTreeSet::new(),
            invitation: Some(invitation),
            password: None,
        }
    }
}

#[derive(Clone, Debug)]
struct ModelTenant {
    plan: Plan,
    owner: usize,
    members: BTreeMap<usize, PermissionSet>,
    sso_enforced: bool,
    breakglass: Option<usize>,
    primary_contact: usize,
}

impl ModelTenant {
    /// A new tenant: its launcher is its owner, with every permission, and its primary contact.
    fn launched(plan: Plan, launcher: usize) -> Self {
        ModelTenant {
            plan,
            owner: launcher,
            members: BTreeMap::from([(launcher, PermissionSet::all())]),
            sso_enforced: false,
            breakglass: None,
            primary_contact: launcher,
        }
    }
}

#[derive(Clone, Debug)]
struct ModelToken {
    tenant: usize,
    owner: usize,
    scope: PermissionSet,
    expires_at: Option<u64>,
    live: bool,
}

/// A password session: it acts while stored and unexpired.
#[derive(Clone, Debug)]
struct ModelSession {
    user: usize,
    created_at: u64,
    last_seen: u64,
    /// Still held by the account: not signed out, ended by a password change or dropped with
    /// its user's deactivation or deletion (or, once expired, by the next change).
    stored: bool,
    /// Dropped by the model because it expired. The engine drops an expired session only when
    /// a change next touches its user, so until then it verifies as `session_expired` rather
    /// than `unknown_session`: both are accepted for it.
    expired_out: bool,
}

#[derive(Clone, Debug)]
struct ModelKey {
    tenant: usize,
    enabled: bool,
    live: bool,
}

/// Everything is kept forever and referred to by index; deletion only marks.
#[derive(Clone, Debug)]
struct Model {
    now: u64,
    /// A self-service trial account.
    trial: bool,
    invitation_ttl_hours: u32,
    users: Vec<ModelUser>,
    tenants: Vec<ModelTenant>,
    tokens: Vec<ModelToken>,
    keys: Vec<ModelKey>,
    sessions: Vec<ModelSession>,
    codes_issued: usize,
    /// Per user of the last bulk request: `None` if changed, else the codes of the rules
    /// refusing it.
    bulk_expected: Vec<Option<Vec<&'static str>>>,
}

/// Who acts: a user, maybe through one of the tokens or sessions ever issued (never both).
#[derive(Clone, Copy, Debug)]
struct Acting {
    user: usize,
    token: Option<usize>,
    session: Option<usize>,
}

/// An invitation code to present.
#[derive(Clone, Copy, Debug)]
enum Code {
    Issued(usize),
    Garbage,
}

/// The account operations of the company-roles matrix that the engine judges by role (the
/// others need a company admin outright).
#[derive(Clone, Copy, Debug)]
enum AccountOp {
    AddUser,
    AssignSupport,
    /// Of a user of this tenant.
    EditUserName(usize),
    /// On this tenant.
    AssignLicenseAdmin(usize),
    /// On this tenant.
    AssignLicenses(usize),
}

/// What an administrator does to a user in a tenant.
#[derive(Clone, Copy, Debug)]
enum TenantAdmin {
    GrantLicenseAdmin,
    RevokeLicenseAdmin,
    SetPrimaryContact,
    AssignSeat,
    RevokeSeat,
}

/// An operation with every reference resolved to a model index.
#[derive(Clone, Debug)]
enum Request {
    CreateTenant {
        actor: Acting,
        plan: Plan,
    },
    Invite {
        actor: Acting,
        tenant: usize,
        email: String,
        permissions: PermissionSet,
    },
    /// Accepting an invitation, with a password (index in [`PASSWORDS`]) signing in at once.
    Accept {
        email: String,
        code: Code,
        password: Option<usize>,
    },
    /// A password sign-in (`None`: a password nobody has).
    SignIn {
        email: String,
        password: Option<usize>,
    },
    SignOut {
        actor: Acting,
        session: usize,
    },
    SignOutEverywhere {
        actor: Acting,
    },
    ChangePassword {
        actor: Acting,
        current: Option<usize>,
        new: usize,
    },
    Resend {
        actor: Acting,
        user: usize,
    },
    Revoke {
        actor: Acting,
        user: usize,
    },
    ChangePermissions {
        actor: Acting,
        tenant: usize,
        user: usize,
        permissions: PermissionSet,
    },
    RemoveMember {
        actor: Acting,
        tenant: usize,
        user: usize,
    },
    Deactivate {
        actor: Acting,
        user: usize,
    },
    Activate {
        actor: Acting,
        user: usize,
    },
    Delete {
        actor: Acting,
        user: usize,
    },
    SetCompanyAdmin {
        actor: Acting,
        user: usize,
        company_admin: bool,
    },
    CreateUser {
        actor: Acting,
        email: String,
        name: Option<String>,
    },
    SetSupport {
        actor: Acting,
        user: usize,
        support: bool,
    },
    TenantAdmin {
        action: TenantAdmin,
        actor: Acting,
        tenant: usize,
        user: usize,
    },
    Rename {
        actor: Acting,
        user: usize,
        name: String,
    },
    SetInvitationTtl {
        actor: Acting,
        hours: u32,
    },
    CreateToken {
        actor: Acting,
        tenant: usize,
        permissions: PermissionSet,
        expires_at: Option<u64>,
    },
    DeleteToken {
        actor: Acting,
        token: usize,
    },
    CreateKey {
        actor: Acting,
        tenant: usize,
    },
    SetKeyEnabled {
        actor: Acting,
        key: usize,
        enabled: bool,
    },
    DeleteKey {
        actor: Acting,
        key: usize,
    },
    UpdateTenant {
        actor: Acting,
        tenant: usize,
        rename: bool,
        plan: Option<Plan>,
        sso: Option<(bool, Option<usize>)>,
    },
    Bulk {
        actor: Acting,
        action: BulkAction,
        users: Vec<usize>,
    },
    Advance {
        seconds: u64,
    },
}

impl Request {
    /// Who acts, for those requests someone acts in.
    fn actor(&self) -> Option<Acting> {
        match *self {
            Request::CreateTenant { actor, .. }
            | Request::Invite { actor, .. }
            | Request::Resend { actor, .. }
            | Request::Revoke { actor, .. }
            | Request::ChangePermissions { actor, .. }
            | Request::RemoveMember { actor, .. }
            | Request::Deactivate { actor, .. }
            | Request::Activate { actor, .. }
            | Request::Delete { actor, .. }
            | Request::SetCompanyAdmin { actor, .. }
            | Request::CreateUser { actor, .. }
            | Request::SetSupport { actor, .. }
            | Request::TenantAdmin { actor, .. }
            | Request::Rename { actor, .. }
            | Request::SetInvitationTtl { actor, .. }
            | Request::CreateToken { actor, .. }
            | Request::DeleteToken { actor, .. }
            | Request::CreateKey { actor, .. }
            | Request::SetKeyEnabled { actor, .. }
            | Request::DeleteKey { actor, .. }
            | Request::UpdateTenant { actor, .. }
            | Request::Bulk { actor, .. }
            | Request::SignOut { actor, .. }
            | Request::SignOutEverywhere { actor }
            | Request::ChangePassword { actor, .. } => Some(actor),
            Request::Accept { .. } | Request::SignIn { .. } | Request::Advance { .. } => None,
        }
    }
}

/// The codes of every rule a refused request breaks.
#[derive(Debug)]
struct Refused(Vec<&'static str>);

impl From<&'static str> for Refused {
    fn from(code: &'static str) -> Self {
        Refused(vec![code])
    }
}

/// Refuses with every code whose rule is broken, if any is.
fn rules(checks: &[(bool, &'static str)]) -> Result<(), Refused> {
    let broken: Vec<_> = checks
        .iter()
        .filter(|(broken, _)| *broken)
        .map(|(_, code)| *code)
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Refused(broken))
    }
}

/// What verifying a credential must give: its code, and the permissions when valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expected {
    code: &'static str,
    permissions: PermissionSet,
}

impl Model {
    fn new(plan: Plan, trial: bool) -> Self {
        Model {
            now: START,
            trial,
            invitation_ttl_hours: 72,
            users: vec![ModelUser {
                email: OWNER_EMAIL.to_owned(),
                name: OWNER_NAME.to_owned(),
                status: Status::Active,
                company_admin: true,
                support: false,
                license_tenants: BTreeSet::from([0]),
                invitation: None,
                // Set through a password reset right after sign-up, which signs them in.
                password: Some(0),
            }],
            tenants: vec![ModelTenant::launched(plan, OWNER)],
            tokens: vec![ModelToken {
                tenant: 0,
                owner: OWNER,
                scope: PermissionSet::all(),
                expires_at: None,
                live: true,
            }],
            keys: Vec::new(),
            sessions: vec![ModelSession {
                user: OWNER,
                created_at: START,
                last_seen: START,
                stored: true,
                expired_out: false,
            }],
            codes_issued: 0,
            bulk_expected: Vec::new(),
        }
    }

    fn exists(&self, user: usize) -> bool {
        self.users[user].status != Status::Deleted
    }

    fn is_active(&self, user: usize) -> bool {
        self.users[user].status == Status::Active
    }

    fn user_by_email(&self, email: &str) -> Option<usize> {
        (0..self.users.len()).find(|&user| self.exists(user) && self.users[user].email == email)
    }

    fn is_active_manager(&self, tenant: usize, user: usize) -> bool {
        self.is_active(user)
            && self.tenants[tenant]
                .members
                .get(&user)
                .is_some_and(|permissions| permissions.contains(MANAGE))
    }

    fn live_keys(&self, tenant: usize) -> usize {
        self.keys
            .iter()
            .filter(|key| key.live && key.tenant == tenant)
            .count()
    }

    fn acting_user(&self, actor: Acting) -> Result<(), &'static str> {
        match self.users[actor.user].status {
            Status::Deleted => Err("unknown_actor"),
            Status::Pending | Status::Inactive => Err("actor_not_active"),
            // Through a session, it must be one of theirs and open.
            Status::Active
                if actor
                    .session
                    .is_some_and(|s| !self.session_of(s, actor.user)) =>
            {
                Err("credential_not_usable")
            }
            Status::Active => Ok(()),
        }
    }

    /// When session `s` ends unless seen again (never after its absolute expiry).
    fn session_expiry(&self, s: usize) -> u64 {
        let session = &self.sessions[s];
        (session.last_seen + SESSION_IDLE).min(session.created_at + SESSION_ABSOLUTE)
    }

    /// Whether session `s` is open: stored and unexpired.
    fn session_open(&self, s: usize) -> bool {
        self.sessions[s].stored && self.now < self.session_expiry(s)
    }

    /// Whether session `s` is an open session of `user`.
    fn session_of(&self, s: usize, user: usize) -> bool {
        self.sessions[s].user == user && self.session_open(s)
    }

    /// A new password session of `user` (who is active), seen now.
    fn open_session(&mut self, user: usize) {
        self.sessions.push(ModelSession {
            user,
            created_at: self.now,
            last_seen: self.now,
            stored: true,
            expired_out: false,
        });
    }

    /// After every accepted change, as the engine settles sign-in state: sessions of users who
    /// are not active and expired ones go; the acting session is seen now.
    fn settle(&mut self, actor: Option<Acting>) {
        for s in 0..self.sessions.len() {
            if self.sessions[s].stored && !self.session_open(s) {
                self.sessions[s].expired_out = true;
            }
            if !self.session_open(s) || !self.is_active(self.sessions[s].user) {
                self.sessions[s].stored = false;
            }
        }
        if let Some(actor) = actor
            && let Some(s) = actor.session
            && self.sessions[s].stored
            && self.sessions[s].user == actor.user
        {
            self.sessions[s].last_seen = self.now;
        }
    }

    /// The stored sessions of `user`.
    fn sessions_of(&self, user: usize) -> Vec<usize> {
        (0..self.sessions.len())
            .filter(|&s| self.sessions[s].stored && self.sessions[s].user == user)
            .collect()
    }

    /// What `actor` may do in `tenant`.
    fn held(&self, actor: Acting, tenant: usize) -> Result<PermissionSet, &'static str> {
        self.acting_user(actor)?;
        let granted = *self.tenants[tenant]
            .members
            .get(&actor.user)
            .ok_or(NOT_A_MEMBER)?;
        let held = match actor.token {
            None => granted,
            Some(token) => {
                let token = &self.tokens[token];
                let usable = token.live
                    && token.tenant == tenant
                    && token.owner == actor.user
                    && token.expires_at.is_none_or(|expiry| self.now < expiry);
                if !usable {
                    return Err("credential_not_usable");
                }
                granted.intersection(token.scope)
            }
        };
        // SSO enforcement: the model's tokens and sessions never come from an SSO sign-in, so
        // in an enforcing tenant only the breakglass user's act (the runtime acting for a
        // user, with neither, is no sign-in).
        let credential = actor.token.is_some() || actor.session.is_some();
        if credential && self.sso_blocks(tenant, actor.user) {
            return Err("sso_required");
        }
        Ok(held)
    }

    /// Whether `tenant` enforces SSO against `user`'s tokens (they are not its breakglass).
    fn sso_blocks(&self, tenant: usize, user: usize) -> bool {
        let tenant = &self.tenants[tenant];
        tenant.sso_enforced && tenant.breakglass != Some(user)
    }

    fn require(
        &self,
        actor: Acting,
        tenant: usize,
        permission: Permission,
    ) -> Result<PermissionSet, &'static str> {
        let held = self.held(actor, tenant)?;
        if held.contains(permission) {
            Ok(held)
        } else {
            Err("missing_permission")
        }
    }

    fn company_admin(&self, actor: Acting) -> Result<(), &'static str> {
        self.acting_user(actor)?;
        if !self.users[actor.user].company_admin {
            return Err("not_company_admin");
        }
        if let Some(token) = actor.token {
            let token = &self.tokens[token];
            if !token.live {
                return Err("credential_not_usable");
            }
            self.require(actor, token.tenant, MANAGE)?;
        }
        Ok(())
    }

    /// Through a token, it must be usable in its own tenant: live, the actor's and unexpired.
    fn credential(&self, actor: Acting) -> Result<(), &'static str> {
        self.acting_user(actor)?;
        if let Some(token) = actor.token {
            let token = &self.tokens[token];
            if !token.live {
                return Err("credential_not_usable");
            }
            self.held(actor, token.tenant)?;
        }
        Ok(())
    }

    /// The company-roles matrix, restated: a company admin may run every operation (acting as
    /// [`Model::company_admin`] says); a license admin may add users, and on the tenants
    /// assigned to them only edit their users' names, assign license admins and give or take
    /// seats; support and plain tenant users may run none of these.
    fn account_operation(&self, actor: Acting, operation: AccountOp) -> Result<(), &'static str> {
        self.acting_user(actor)?;
        let user = &self.users[actor.user];
        if user.company_admin {
            return self.company_admin(actor);
        }
        self.credential(actor)?;
        let allowed = match operation {
            AccountOp::AddUser => !user.license_tenants.is_empty(),
            AccountOp::AssignSupport => false,
            AccountOp::EditUserName(tenant)
            | AccountOp::AssignLicenseAdmin(tenant)
            | AccountOp::AssignLicenses(tenant) => user.license_tenants.contains(&tenant),
        };
        if allowed {
            Ok(())
        } else {
            Err("role_not_permitted")
        }
    }

    fn found(&self, user: usize) -> Result<(), &'static str> {
        if self.exists(user) {
            Ok(())
        } else {
            Err("user_not_found")
        }
    }

    /// A new pending user, invited (into `tenant`, if any).
    fn create_user(&mut self, email: String, name: Option<String>, tenant: Option<usize>) -> usize {
        let invitation = self.issue_invitation(tenant);
        self.users.push(ModelUser::invited(email, name, invitation));
        self.users.len() - 1
    }

    fn issue_invitation(&mut self, tenant: Option<usize>) -> Invitation {
        let invitation = Invitation {
            code: self.codes_issued,
            expires_at: self.now + u64::from(self.invitation_ttl_hours) * HOUR,
            tenant,
        };
        self.codes_issued += 1;
        invitation
    }

    /// Users of any status (the deleted are gone).
    fn user_count(&self) -> usize {
        (0..self.users.len())
            .filter(|&user| self.exists(user))
            .count()
    }

    /// As many users as the tenants have seats, at most 10,000.
    fn user_limit(&self) -> usize {
        self.tenants
            .iter()
            .map(|tenant| tenant.plan.member_limit())
            .sum::<usize>()
            .min(10_000)
    }

    /// The tenants `user` is a member of.
    fn tenants_of(&self, user: usize) -> Vec<usize> {
        (0..self.tenants.len())
            .filter(|&tenant| self.tenants[tenant].members.contains_key(&user))
            .collect()
    }

    /// Whether `actor` reaches `user`, restated: company admins reach everyone; nobody else the
    /// account owner or anyone holding a company role (but a license admin of tenants only
    /// the actor is a license admin of too); a user in no tenant is reached by whoever
    /// may add users; any other by whoever administers every tenant the user is in, as a
    /// manager or as its license admin. For the user's `identity` (their invitation code), a
    /// manager must also hold everything the user holds there, and a license admin reaches a
    /// bare seat only.
    fn reaches(&self, actor: Acting, user: usize, identity: bool) -> bool {
        if self.company_admin(actor).is_ok() {
            return true;
        }
        let target = &self.users[user];
        let fellow = target
            .license_tenants
            .is_subset(&self.users[actor.user].license_tenants);
        let role = target.company_admin || target.support || !fellow;
        if !self.exists(user) || user == OWNER || role {
            return false;
        }
        let tenants = self.tenants_of(user);
        if tenants.is_empty() {
            return self.account_operation(actor, AccountOp::AddUser).is_ok();
        }
        tenants.into_iter().all(|tenant| {
            let granted = self.tenants[tenant].members[&user];
            let manager = self
                .require(actor, tenant, MANAGE)
                .is_ok_and(|held| !identity || granted.is_subset(held));
            let operation = if identity {
                AccountOp::AssignLicenses(tenant)
            } else {
                AccountOp::EditUserName(tenant)
            };
            let license_admin = (!identity || granted.is_empty())
                && self.account_operation(actor, operation).is_ok();
            manager || license_admin
        })
    }

    /// [`Model::reaches`] as a refusal: the actor's own standing first.
    fn reach(&self, actor: Acting, user: usize, identity: bool) -> Result<(), &'static str> {
        if self.reaches(actor, user, identity) {
            return Ok(());
        }
        self.credential(actor)?;
        Err("user_out_of_reach")
    }

    /// A pending user joining `tenant` through `actor`: only someone who reaches their identity
    /// admits them, and their code is re-issued for this tenant. Others join as they are.
    fn admit(
        &self,
        next: &mut Model,
        actor: Acting,
        tenant: usize,
        user: usize,
    ) -> Result<(), Refused> {
        if self.users[user].status == Status::Pending {
            self.reach(actor, user, true)?;
            next.users[user].invitation = Some(next.issue_invitation(Some(tenant)));
        }
        Ok(())
    }

    /// A pending user is gone with their invitation and memberships.
    fn delete_pending(next: &mut Model, user: usize) {
        next.users[user].status = Status::Deleted;
        next.users[user].invitation = None;
        for tenant in &mut next.tenants {
            tenant.members.remove(&user);
        }
        next.revoke_tokens(|token| token.owner == user);
    }

    fn revoke_tokens(&mut self, matches: impl Fn(&ModelToken) -> bool) {
        for token in &mut self.tokens {
            if matches(token) {
                token.live = false;
            }
        }
    }

    /// The model after `request`, or the codes of every rule it breaks.
    fn apply(&self, request: &Request) -> Result<Model, Refused> {
        let mut next = self.clone();
        self.run(request, &mut next)?;
        rules(&next.invariants())?;
        // Every accepted request commits, settling the sessions, but the passing of time and a
        // bulk request (each change in it commits, as the single request it is judged as).
        if !matches!(request, Request::Advance { .. } | Request::Bulk { .. }) {
            next.settle(request.actor());
        }
        Ok(next)
    }

    /// Rules that hold after every accepted change.
    fn invariants(&self) -> Vec<(bool, &'static str)> {
        let mut checks = Vec::new();
        for (index, tenant) in self.tenants.iter().enumerate() {
            let managed = tenant
                .members
                .keys()
                .any(|&user| self.is_active_manager(index, user));
            let bad_breakglass = tenant
                .breakglass
                .is_some_and(|user| !self.is_active_manager(index, user));
            checks.push((!managed, "lockout"));
            checks.push((bad_breakglass, "breakglass_protected"));
            checks.push((
                tenant.sso_enforced && tenant.breakglass.is_none(),
                "breakglass_required",
            ));
            checks.push((
                tenant.members.len() > tenant.plan.member_limit(),
                "plan_limit",
            ));
            let contact = tenant.primary_contact;
            checks.push((
                !self.exists(contact) || !self.users[contact].license_tenants.contains(&index),
                "primary_contact_protected",
            ));
        }
        let owner_intact = self.is_active(OWNER) && self.users[OWNER].company_admin;
        checks.push((!owner_intact, "owner_protected"));
        checks
    }

    fn run(&self, request: &Request, next: &mut Model) -> Result<(), Refused> {
        match *request {
            Request::CreateTenant { actor, plan } => {
                self.company_admin(actor)?;
                // The launcher is the tenant's first license admin and its primary contact.
                next.users[actor.user]
                    .license_tenants
                    .insert(self.tenants.len());
                next.tenants.push(ModelTenant::launched(plan, actor.user));
            }
            Request::Invite {
                actor,
                tenant,
                ref email,
                permissions,
            } => {
                let held = self.require(actor, tenant, MANAGE)?;
                let members = &self.tenants[tenant].members;
                let existing = self.user_by_email(email);
                rules(&[
                    (!permissions.is_subset(held), "privilege_escalation"),
                    (
                        existing.is_some_and(|user| members.contains_key(&user)),
                        "already_member",
                    ),
                    (
                        members.len() >= self.tenants[tenant].plan.member_limit(),
                        "plan_limit",
                    ),
                    // Only company admins and license admins create users, and no more than
                    // the tenants have seats.
                    (
                        existing.is_none()
                            && self.account_operation(actor, AccountOp::AddUser).is_err(),
                        "role_not_permitted",
                    ),
                    (
                        existing.is_none() && self.user_count() >= self.user_limit(),
                        "user_limit",
                    ),
                ])?;
                let user = match existing {
                    Some(user) => {
                        self.admit(next, actor, tenant, user)?;
                        user
                    }
                    None => next.create_user(email.clone(), None, Some(tenant)),
                };
                next.tenants[tenant].members.insert(user, permissions);
            }
            Request::Accept {
                ref email,
                code,
                password,
            } => {
                let user = self.user_by_email(email).ok_or("invitation_invalid")?;
                let invitation = self.users[user].invitation.ok_or("invitation_invalid")?;
                if !matches!(code, Code::Issued(presented) if presented == invitation.code) {
                    return Err("invitation_invalid".into());
                }
                if self.now >= invitation.expires_at {
                    return Err("invitation_expired".into());
                }
                rules(&[(
                    self.users[user].status != Status::Pending,
                    "illegal_transition",
                )])?;
                next.users[user].status = Status::Active;
                next.users[user].invitation = None;
                if password.is_some() {
                    next.users[user].password = password;
                    next.open_session(user);
                }
            }
            Request::SignIn {
                ref email,
                password,
            } => {
                // Only an active user, with their own password.
                let user = self
                    .user_by_email(email)
                    .filter(|&user| self.is_active(user))
                    .filter(|&user| password.is_some() && self.users[user].password == password)
                    .ok_or("sign_in_failed")?;
                next.open_session(user);
            }
            Request::SignOut { actor, session } => {
                self.acting_user(actor)?;
                rules(&[(!self.session_of(session, actor.user), "session_not_found")])?;
                next.sessions[session].stored = false;
            }
            Request::SignOutEverywhere { actor } => {
                self.acting_user(actor)?;
                for s in self.sessions_of(actor.user) {
                    next.sessions[s].stored = false;
                }
            }
            Request::ChangePassword {
                actor,
                current,
                new,
            } => {
                // Through a token, only one usable in its own tenant; the current password
                // must be right; every other session of the user ends.
                self.credential(actor)?;
                let right = current.is_some() && self.users[actor.user].password == current;
                rules(&[(!right, "password_incorrect")])?;
                next.users[actor.user].password = Some(new);
                for s in self.sessions_of(actor.user) {
                    if actor.session != Some(s) {
                        next.sessions[s].stored = false;
                    }
                }
            }
            Request::Resend { actor, user } => {
                // Only someone who reaches the user's identity receives a code; it stays for
                // its tenant while the user is a member there.
                self.acting_user(actor)?;
                self.found(user)?;
                self.reach(actor, user, true)?;
                rules(&[(
                    self.users[user].status != Status::Pending,
                    "illegal_transition",
                )])?;
                let tenant = self.users[user]
                    .invitation
                    .and_then(|invitation| invitation.tenant)
                    .filter(|&tenant| self.tenants[tenant].members.contains_key(&user));
                next.users[user].invitation = Some(next.issue_invitation(tenant));
            }
            Request::Revoke { actor, user } => {
                self.acting_user(actor)?;
                self.found(user)?;
                self.reach(actor, user, true)?;
                rules(&[(
                    self.users[user].status != Status::Pending,
                    "illegal_transition",
                )])?;
                Model::delete_pending(next, user);
            }
            Request::ChangePermissions {
                actor,
                tenant,
                user,
                permissions,
            } => {
                let held = self.require(actor, tenant, MANAGE)?;
                let current = &self.tenants[tenant];
                let before = current.members.get(&user).copied();
                rules(&[
                    (
                        user == current.owner && permissions != PermissionSet::all(),
                        "owner_protected",
                    ),
                    (before.is_none(), "member_not_found"),
                    (
                        before
                            .is_some_and(|before| !permissions.difference(before).is_subset(held)),
                        "privilege_escalation",
                    ),
                    (
                        current.breakglass == Some(user) && !permissions.contains(MANAGE),
                        "breakglass_protected",
                    ),
                ])?;
                next.tenants[tenant].members.insert(user, permissions);
            }
            Request::RemoveMember {
                actor,
                tenant,
                user,
            } => {
                self.require(actor, tenant, MANAGE)?;
                self.remove_member(next, actor, tenant, user)?;
            }
            Request::Deactivate { actor, user } => {
                self.company_admin(actor)?;
                self.found(user)?;
                rules(&[
                    (user == OWNER, "owner_protected"),
                    (user == actor.user, "self_target"),
                    (
                        self.tenants.iter().any(|t| t.breakglass == Some(user)),
                        "breakglass_protected",
                    ),
                    (
                        self.users[user].status != Status::Active,
                        "illegal_transition",
                    ),
                ])?;
                next.users[user].status = Status::Inactive;
            }
            Request::Activate { actor, user } => {
                self.company_admin(actor)?;
                self.found(user)?;
                rules(&[(
                    self.users[user].status != Status::Inactive,
                    "illegal_transition",
                )])?;
                next.users[user].status = Status::Active;
            }
            Request::Delete { actor, user } => {
                self.company_admin(actor)?;
                self.found(user)?;
                rules(&[
                    (user == OWNER, "owner_protected"),
                    (user == actor.user, "self_target"),
                    (
                        self.users[user].status != Status::Inactive,
                        "illegal_transition",
                    ),
                    (
                        self.tenants.iter().any(|t| t.owner == user),
                        "owner_protected",
                    ),
                    (
                        self.tenants.iter().any(|t| t.primary_contact == user),
                        "primary_contact_protected",
                    ),
                ])?;
                next.users[user].status = Status::Deleted;
                next.users[user].invitation = None;
                for tenant in &mut next.tenants {
                    tenant.members.remove(&user);
                }
                next.revoke_tokens(|token| token.owner == user);
            }
            Request::SetCompanyAdmin {
                actor,
                user,
                company_admin,
            } => {
                self.company_admin(actor)?;
                rules(&[
                    (user == OWNER && !company_admin, "owner_protected"),
                    (
                        self.trial && company_admin && user != OWNER,
                        "trial_account",
                    ),
                    (!self.exists(user), "user_not_found"),
                    (
                        company_admin
                            && self.exists(user)
                            && self.users[user].status != Status::Active,
                        "illegal_transition",
                    ),
                ])?;
                next.users[user].company_admin = company_admin;
            }
            Request::CreateUser {
                actor,
                ref email,
                ref name,
            } => {
                self.account_operation(actor, AccountOp::AddUser)?;
                rules(&[(self.user_by_email(email).is_some(), "user_exists")])?;
                rules(&[(self.user_count() >= self.user_limit(), "user_limit")])?;
                next.create_user(email.clone(), name.clone(), None);
            }
            Request::SetSupport {
                actor,
                user,
                support,
            } => {
                self.account_operation(actor, AccountOp::AssignSupport)?;
                self.found(user)?;
                rules(&[(support && !self.is_active(user), "illegal_transition")])?;
                next.users[user].support = support;
            }
            Request::TenantAdmin {
                action,
                actor,
                tenant,
                user,
            } => self.tenant_admin(next, action, actor, tenant, user)?,
            Request::Rename {
                actor,
                user,
                ref name,
            } => {
                // The user themself, or whoever reaches their profile.
                let own = actor.user == user && self.credential(actor).is_ok();
                let allowed = own || self.reaches(actor, user, false);
                if !allowed {
                    self.acting_user(actor)?;
                    if actor.user == user {
                        self.credential(actor)?;
                    }
                    return Err("user_out_of_reach".into());
                }
                self.found(user)?;
                next.users[user].name = name.clone();
            }
            Request::SetInvitationTtl { actor, hours } => {
                self.company_admin(actor)?;
                rules(&[(!(1..=720).contains(&hours), "out_of_range")])?;
                next.invitation_ttl_hours = hours;
            }
            Request::CreateToken {
                actor,
                tenant,
                permissions,
                expires_at,
            } => {
                let held = self.held(actor, tenant)?;
                let owned = self
                    .tokens
                    .iter()
                    .filter(|t| t.live && t.tenant == tenant && t.owner == actor.user)
                    .count();
                rules(&[
                    (!permissions.is_subset(held), "privilege_escalation"),
                    (
                        expires_at.is_some_and(|expiry| expiry <= self.now),
                        "expiry_in_past",
                    ),
                    (owned >= QUOTA, "quota_exceeded"),
                ])?;
                next.tokens.push(ModelToken {
                    tenant,
                    owner: actor.user,
                    scope: permissions,
                    expires_at,
                    live: true,
                });
            }
            Request::DeleteToken { actor, token } => {
                let current = &self.tokens[token];
                if !current.live {
                    return Err("credential_not_found".into());
                }
                let held = self.held(actor, current.tenant).map_err(hiding_tenant)?;
                rules(&[(
                    current.owner != actor.user && !held.contains(MANAGE),
                    "missing_permission",
                )])?;
                next.tokens[token].live = false;
            }
            Request::CreateKey { actor, tenant } => {
                self.require(actor, tenant, build_permission())?;
                rules(&[
                    (
                        !self.tenants[tenant].plan.includes(Feature::AUTOMATION_KEYS),
                        "plan_feature_unavailable",
                    ),
                    (self.live_keys(tenant) >= QUOTA, "quota_exceeded"),
                ])?;
                next.keys.push(ModelKey {
                    tenant,
                    enabled: true,
                    live: true,
                });
            }
            Request::SetKeyEnabled {
                actor,
                key,
                enabled,
            } => {
                let current = &self.keys[key];
                if !current.live {
                    return Err("credential_not_found".into());
                }
                self.require(actor, current.tenant, build_permission())
                    .map_err(hiding_tenant)?;
                let plan = self.tenants[current.tenant].plan;
                rules(&[(
                    enabled && !plan.includes(Feature::AUTOMATION_KEYS),
                    "plan_feature_unavailable",
                )])?;
                next.keys[key].enabled = enabled;
            }
            Request::DeleteKey { actor, key } => {
                let current = &self.keys[key];
                if !current.live {
                    return Err("credential_not_found".into());
                }
                self.require(actor, current.tenant, build_permission())
                    .map_err(hiding_tenant)?;
                next.keys[key].live = false;
            }
            Request::UpdateTenant {
                actor,
                tenant,
                rename: _,
                plan,
                sso,
            } => {
                self.require(actor, tenant, Permission::MODIFY_TENANT_SETTINGS)?;
                let mut checks = Vec::new();
                if let Some((enforced, breakglass)) = sso {
                    let target = plan.unwrap_or(self.tenants[tenant].plan);
                    checks.push((
                        enforced && !target.includes(Feature::SAML_SSO),
                        "plan_feature_unavailable",
                    ));
                    checks.push((enforced && breakglass.is_none(), "breakglass_required"));
                    checks.push((
                        breakglass.is_some_and(|user| !self.is_active_manager(tenant, user)),
                        "invalid_breakglass",
                    ));
                    next.tenants[tenant].sso_enforced = enforced;
                    next.tenants[tenant].breakglass = breakglass;
                }
                if let Some(plan) = plan {
                    // Judged on the tenant with the requested SSO settings applied.
                    let after = &next.tenants[tenant];
                    let fits = after.members.len() <= plan.member_limit()
                        && (next.live_keys(tenant) == 0 || plan.includes(Feature::AUTOMATION_KEYS))
                        && (!after.sso_enforced || plan.includes(Feature::SAML_SSO));
                    checks.push((!fits, "plan_change_blocked"));
                    next.tenants[tenant].plan = plan;
                }
                rules(&checks)?;
            }
            Request::Bulk {
                actor,
                action,
                ref users,
            } => {
                self.company_admin(actor)?;
                let distinct: BTreeSet<usize> = users.iter().copied().collect();
                rules(&[(distinct.len() != users.len(), "out_of_range")])?;
                let mut expected = Vec::new();
                for &user in users {
                    let single = match action {
                        BulkAction::Activate => Request::Activate { actor, user },
                        BulkAction::Deactivate => Request::Deactivate { actor, user },
                        BulkAction::Delete => Request::Delete { actor, user },
                    };
                    match next.apply(&single) {
                        Ok(after) => {
                            *next = after;
                            expected.push(None);
                        }
                        Err(Refused(codes)) => expected.push(Some(codes)),
                    }
                }
                next.bulk_expected = expected;
            }
            Request::Advance { seconds } => next.now += seconds,
        }
        Ok(())
    }

    /// Takes `user`'s membership of `tenant` and their tokens there; never oneself's, the
    /// tenant owner's or the breakglass user's.
    fn remove_member(
        &self,
        next: &mut Model,
        actor: Acting,
        tenant: usize,
        user: usize,
    ) -> Result<(), Refused> {
        let current = &self.tenants[tenant];
        rules(&[
            (user == actor.user, "self_target"),
            (user == current.owner, "owner_protected"),
            (current.breakglass == Some(user), "breakglass_protected"),
            (!current.members.contains_key(&user), "member_not_found"),
        ])?;
        next.tenants[tenant].members.remove(&user);
        next.revoke_tokens(|token| token.tenant == tenant && token.owner == user);
        // A pending user's invitation for this tenant dies with the membership; with no tenant
        // and no invitation left, the pending user is gone.
        if self.users[user].status == Status::Pending {
            let invited_here = self.users[user]
                .invitation
                .is_some_and(|invitation| invitation.tenant == Some(tenant));
            if invited_here {
                next.users[user].invitation = None;
            }
            if next.users[user].invitation.is_none() && next.tenants_of(user).is_empty() {
                Model::delete_pending(next, user);
            }
        }
        Ok(())
    }

    /// License admins and seats: company admins, or license admins of the tenant; the primary
    /// contact, for company admins only.
    fn tenant_admin(
        &self,
        next: &mut Model,
        action: TenantAdmin,
        actor: Acting,
        tenant: usize,
        user: usize,
    ) -> Result<(), Refused> {
        let current = &self.tenants[tenant];
        match action {
            TenantAdmin::GrantLicenseAdmin => {
                self.account_operation(actor, AccountOp::AssignLicenseAdmin(tenant))?;
                self.found(user)?;
                rules(&[(!self.is_active(user), "illegal_transition")])?;
                next.users[user].license_tenants.insert(tenant);
            }
            TenantAdmin::RevokeLicenseAdmin => {
                self.account_operation(actor, AccountOp::AssignLicenseAdmin(tenant))?;
                rules(&[
                    (current.primary_contact == user, "primary_contact_protected"),
                    (!self.exists(user), "user_not_found"),
                ])?;
                next.users[user].license_tenants.remove(&tenant);
            }
            TenantAdmin::SetPrimaryContact => {
                // A swap: the new one (active) is made a license admin of the tenant; the
                // previous one keeps the role.
                self.company_admin(actor)?;
                self.found(user)?;
                rules(&[(!self.is_active(user), "illegal_transition")])?;
                next.users[user].license_tenants.insert(tenant);
                next.tenants[tenant].primary_contact = user;
            }
            TenantAdmin::AssignSeat => {
                self.account_operation(actor, AccountOp::AssignLicenses(tenant))?;
                self.found(user)?;
                rules(&[
                    (current.members.contains_key(&user), "already_member"),
                    (
                        current.members.len() >= current.plan.member_limit(),
                        "plan_limit",
                    ),
                ])?;
                self.admit(next, actor, tenant, user)?;
                next.tenants[tenant]
                    .members
                    .insert(user, PermissionSet::EMPTY);
            }
            TenantAdmin::RevokeSeat => {
                // License admins take bare seats only.
                self.account_operation(actor, AccountOp::AssignLicenses(tenant))?;
                let holds = current.members.get(&user).is_some_and(|p| !p.is_empty());
                rules(&[(
                    holds && self.company_admin(actor).is_err(),
                    "seat_holds_permissions",
                )])?;
                self.remove_member(next, actor, tenant, user)?;
            }
        }
        Ok(())
    }

    /// The company roles `user` holds, by name (what the engine reports).
    fn company_roles(&self, user: usize) -> Vec<&'static str> {
        let current = &self.users[user];
        let member = self.tenants.iter().any(|t| t.members.contains_key(&user));
        [
            (current.company_admin, "company_admin"),
            (!current.license_tenants.is_empty(), "license_admin"),
            (current.support, "support"),
            (member, "tenant_user"),
        ]
        .into_iter()
        .filter_map(|(held, role)| held.then_some(role))
        .collect()
    }

    fn expected_token(&self, index: usize) -> Expected {
        let token = &self.tokens[index];
        let refused = |code| Expected {
            code,
            permissions: PermissionSet::EMPTY,
        };
        if !token.live {
            return refused("unknown_key");
        }
        match self.users[token.owner].status {
            Status::Pending => refused("owner_pending"),
            Status::Inactive | Status::Deleted => refused("owner_inactive"),
            Status::Active if self.sso_blocks(token.tenant, token.owner) => refused("sso_required"),
            Status::Active if token.expires_at.is_some_and(|expiry| self.now >= expiry) => {
                refused("expired")
            }
            Status::Active => Expected {
                code: "valid",
                permissions: token
                    .scope
                    .intersection(self.tenants[token.tenant].members[&token.owner]),
            },
        }
    }

    /// How session `s` verifies for acting in `tenant`.
    fn expected_session(&self, s: usize, tenant: usize) -> Expected {
        let session = &self.sessions[s];
        let refused = |code| Expected {
            code,
            permissions: PermissionSet::EMPTY,
        };
        let granted = self.tenants[tenant].members.get(&session.user);
        if !session.stored {
            refused("unknown_session")
        } else if self.now >= self.session_expiry(s) {
            refused("session_expired")
        } else if !self.is_active(session.user) {
            refused("user_not_active")
        } else if let Some(&permissions) = granted {
            if self.sso_blocks(tenant, session.user) {
                refused("sso_required")
            } else {
                Expected {
                    code: "valid",
                    permissions,
                }
            }
        } else {
            refused("not_member")
        }
    }

    fn expected_key(&self, index: usize) -> Expected {
        let key = &self.keys[index];
        let usable = key.enabled
            && self.tenants[key.tenant]
                .plan
                .includes(Feature::AUTOMATION_KEYS);
        match (key.live, usable) {
            (false, _) => Expected {
                code: "unknown_key",
                permissions: PermissionSet::EMPTY,
            },
            (true, false) => Expected {
                code: "disabled",
                permissions: PermissionSet::EMPTY,
            },
            (true, true) => Expected {
                code: "valid",
                permissions: PermissionSet::only(build_permission()),
            },
        }
    }
}

// ----- generated operations ----------------------------------------------------------------

/// A user, chosen when the operation runs.
#[derive(Clone, Copy, Debug)]
enum UserPick {
    AccountOwner,
    /// A member of the operation's tenant (any user when it has none).
    Member(u8),
    /// Someone else: a member other than the tenant owner, or with no tenant a user other
    /// than the account owner (whoever there is when there is nobody else).
    Other(u8),
    /// A company admin other than the account owner (anyone when there is none).
    Admin(u8),
    /// The owner of the operation's tenant, or with no tenant of the newest one.
    TenantOwner,
    /// A deactivated user (anyone when there is none).
    Inactive(u8),
    /// Someone other than the account owner who holds a live token (anyone when there is none).
    TokenOwner(u8),
    /// A user with an outstanding invitation (any user when there is none).
    Pending(u8),
    /// Any user ever created, deleted ones included.
    Anyone(u8),
    /// The user created last.
    Newest,
    /// A license admin of the operation's tenant (of any tenant when there is none) who is not
    /// a company admin (anyone when there is none).
    LicenseAdmin(u8),
    /// A license admin of some tenant but not the operation's, and not a company admin
    /// (anyone when there is none).
    ForeignLicenseAdmin(u8),
    /// A user with the support role (anyone when there is none).
    Support(u8),
    /// The primary contact of the operation's tenant, or with no tenant of the newest one.
    PrimaryContact,
    /// A user who is not a member of the operation's tenant, or with no tenant of any
    /// (anyone when there is none).
    Outsider(u8),
    /// A user with a stored session (anyone when there is none).
    SignedIn(u8),
    /// A user with a password (anyone when there is none).
    WithPassword(u8),
}

/// A tenant, chosen when the operation runs.
#[derive(Clone, Copy, Debug)]
enum TenantPick {
    /// The sign-up tenant, which tends to collect members.
    First,
    /// The tenant created last.
    Newest,
    Any(u8),
}

#[derive(Clone, Copy, Debug)]
enum Via {
    /// Acting as the user, with no credential (the runtime vouching for them).
    Session,
    /// One of the actor's own password sessions, preferably an open one (as the user when they
    /// never had one).
    SignedIn(u8),
    /// One of the actor's own tokens, preferably a live one in the operation's tenant.
    OwnToken(u8),
    /// Any token ever issued.
    AnyToken(u8),
}

#[derive(Clone, Copy, Debug)]
struct ActorPick {
    who: UserPick,
    via: Via,
}

#[derive(Clone, Copy, Debug)]
enum CodePick {
    Current,
    /// Any code ever issued (usually another user's or a superseded one).
    Issued(u8),
    Garbage,
}

#[derive(Clone, Copy, Debug)]
enum ExpiryPick {
    Never,
    /// `now` minus this many seconds (0 is already too late).
    SecondsAgo(u64),
    InHours(u64),
}

#[derive(Clone, Debug)]
enum Op {
    CreateTenant {
        actor: ActorPick,
        plan: Plan,
    },
    /// Invite, and when `accept`, have the newest user accept their current code right after.
    Invite {
        actor: ActorPick,
        tenant: TenantPick,
        email: u8,
        permissions: PermissionSet,
        accept: bool,
    },
    /// Accept, with a password (which signs in) when `password` names one.
    Accept {
        user: UserPick,
        code: CodePick,
        password: Option<u8>,
    },
    /// Sign in with the user's password when `right` (else a wrong one); `None`: an address
    /// that belongs to nobody.
    SignIn {
        user: Option<UserPick>,
        right: bool,
    },
    /// Sign out one of the actor's sessions (when `foreign`, anyone's).
    SignOut {
        actor: ActorPick,
        session: u8,
        foreign: bool,
    },
    SignOutEverywhere {
        actor: ActorPick,
    },
    /// Change the actor's password, giving the right current one when `right`.
    ChangePassword {
        actor: ActorPick,
        right: bool,
        new: u8,
    },
    /// The account owner invites an existing user (often a pending one) into `tenant`, so
    /// that pending users of several tenants are common.
    Admit {
        tenant: TenantPick,
        user: UserPick,
        permissions: PermissionSet,
    },
    /// Re-send (or, when `revoke`, revoke) an invitation; the actor is picked as in `tenant`
    /// (often one of its managers, who may not answer for the user's other tenants).
    Invitation {
        actor: ActorPick,
        tenant: TenantPick,
        user: UserPick,
        revoke: bool,
    },
    ChangePermissions {
        actor: ActorPick,
        tenant: TenantPick,
        user: UserPick,
        permissions: PermissionSet,
    },
    RemoveMember {
        actor: ActorPick,
        tenant: TenantPick,
        user: UserPick,
    },
    Deactivate {
        actor: ActorPick,
        user: UserPick,
    },
    Activate {
        actor: ActorPick,
        user: UserPick,
    },
    Delete {
        actor: ActorPick,
        user: UserPick,
    },
    SetCompanyAdmin {
        actor: ActorPick,
        user: UserPick,
        company_admin: bool,
    },
    /// Create a user, and when `accept`, have them accept their invitation right after.
    CreateUser {
        actor: ActorPick,
        email: u8,
        name: Option<u8>,
        accept: bool,
    },
    SetSupport {
        actor: ActorPick,
        user: UserPick,
        support: bool,
    },
    TenantAdmin {
        action: TenantAdmin,
        actor: ActorPick,
        tenant: TenantPick,
        user: UserPick,
    },
    /// Rename a user (the actor themself when `None`), picked as in `tenant`.
    Rename {
        actor: ActorPick,
        tenant: TenantPick,
        user: Option<UserPick>,
        name: u8,
    },
    SetInvitationTtl {
        actor: ActorPick,
        hours: u32,
    },
    CreateToken {
        actor: ActorPick,
        tenant: TenantPick,
        permissions: PermissionSet,
        expiry: ExpiryPick,
    },
    DeleteToken {
        actor: ActorPick,
        token: u8,
    },
    CreateKey {
        actor: ActorPick,
        tenant: TenantPick,
    },
    SetKeyEnabled {
        actor: ActorPick,
        key: u8,
        enabled: bool,
    },
    DeleteKey {
        actor: ActorPick,
        key: u8,
    },
    UpdateTenant {
        actor: ActorPick,
        tenant: TenantPick,
        rename: bool,
        plan: Option<Plan>,
        sso: Option<(bool, Option<UserPick>)>,
    },
    Advance {
        seconds: u64,
    },
    /// Advance to exactly the moment a token or invitation expires (nothing when none will).
    AdvanceToExpiry(u8),
    Bulk {
        actor: ActorPick,
        action: BulkAction,
        users: Vec<UserPick>,
    },
}

fn permission_set(bits: u8) -> PermissionSet {
    portcullis_core::model::current()
        .catalogue()
        .iter()
        .copied()
        .enumerate()
        .filter(|(bit, _)| bits >> bit & 1 == 1)
        .map(|(_, permission)| permission)
        .collect()
}

fn permissions() -> impl Strategy<Value = PermissionSet> {
    prop_oneof![
        2 => Just(PermissionSet::all()),
        1 => Just(PermissionSet::EMPTY),
        2 => Just(PermissionSet::only(MANAGE)),
        1 => Just(PermissionSet::only(build_permission())),
        4 => (0_u8..64).prop_map(permission_set),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    // Any plan of the model in force, the smallest one less often.
    let plans = Plan::all();
    let weighted: Vec<(u32, Just<Plan>)> = plans
        .iter()
        .enumerate()
        .map(|(index, plan)| (if index == 0 { 1 } else { 2 }, Just(*plan)))
        .collect();
    prop::strategy::Union::new_weighted(weighted)
}

fn tenant_pick() -> impl Strategy<Value = TenantPick> {
    prop_oneof![
        3 => Just(TenantPick::First),
        2 => Just(TenantPick::Newest),
        2 => any::<u8>().prop_map(TenantPick::Any),
    ]
}

/// The user an operation targets.
fn user_pick() -> impl Strategy<Value = UserPick> {
    prop_oneof![
        1 => Just(UserPick::AccountOwner),
        2 => any::<u8>().prop_map(UserPick::Member),
        6 => any::<u8>().prop_map(UserPick::Other),
        2 => any::<u8>().prop_map(UserPick::Admin),
        2 => Just(UserPick::TenantOwner),
        1 => Just(UserPick::PrimaryContact),
        2 => any::<u8>().prop_map(UserPick::TokenOwner),
        1 => any::<u8>().prop_map(UserPick::Pending),
        1 => any::<u8>().prop_map(UserPick::Anyone),
    ]
}

/// The target of activation or deletion: usually someone deactivated.
fn inactive_pick() -> impl Strategy<Value = UserPick> {
    prop_oneof![
        3 => any::<u8>().prop_map(UserPick::Inactive),
        1 => Just(UserPick::TenantOwner),
        1 => Just(UserPick::PrimaryContact),
        1 => user_pick(),
    ]
}

fn invitee_pick() -> impl Strategy<Value = UserPick> {
    prop_oneof![
        8 => any::<u8>().prop_map(UserPick::Pending),
        2 => any::<u8>().prop_map(UserPick::Anyone),
    ]
}

/// `who`, in a session or through a token.
fn acting(who: impl Strategy<Value = UserPick>) -> impl Strategy<Value = ActorPick> {
    let via = prop_oneof![
        4 => Just(Via::Session),
        4 => any::<u8>().prop_map(Via::SignedIn),
        3 => any::<u8>().prop_map(Via::OwnToken),
        1 => any::<u8>().prop_map(Via::AnyToken),
    ];
    (who, via).prop_map(|(who, via)| ActorPick { who, via })
}

fn actor() -> impl Strategy<Value = ActorPick> {
    acting(prop_oneof![
        3 => Just(UserPick::AccountOwner),
        4 => any::<u8>().prop_map(UserPick::Member),
        3 => any::<u8>().prop_map(UserPick::Other),
        2 => any::<u8>().prop_map(UserPick::Admin),
        1 => any::<u8>().prop_map(UserPick::Anyone),
    ])
}

/// Who runs an operation of the company-roles matrix: company admins, license admins of the
/// operation's tenant or of another one only, support users, plain members, and users who
/// cannot act at all.
fn role_actor() -> impl Strategy<Value = ActorPick> {
    acting(prop_oneof![
        2 => Just(UserPick::AccountOwner),
        2 => any::<u8>().prop_map(UserPick::Admin),
        6 => any::<u8>().prop_map(UserPick::LicenseAdmin),
        2 => any::<u8>().prop_map(UserPick::ForeignLicenseAdmin),
        1 => any::<u8>().prop_map(UserPick::Support),
        2 => any::<u8>().prop_map(UserPick::Member),
        1 => any::<u8>().prop_map(UserPick::Inactive),
        1 => any::<u8>().prop_map(UserPick::Pending),
    ])
}

/// Whom a role or seat goes to or is taken from.
fn role_target() -> impl Strategy<Value = UserPick> {
    prop_oneof![
        4 => user_pick(),
        3 => any::<u8>().prop_map(UserPick::LicenseAdmin),
        2 => any::<u8>().prop_map(UserPick::Outsider),
        1 => Just(UserPick::PrimaryContact),
        1 => any::<u8>().prop_map(UserPick::Inactive),
        1 => Just(UserPick::Newest),
    ]
}

/// Whom a rename targets: usually another member of the operation's tenant, or a user of
/// other tenants only.
fn renamed() -> impl Strategy<Value = UserPick> {
    prop_oneof![
        2 => any::<u8>().prop_map(UserPick::Other),
        2 => any::<u8>().prop_map(UserPick::Outsider),
        1 => role_target(),
    ]
}

/// What an administrator does in a tenant, and to whom: usually someone it can apply to.
fn tenant_admin() -> impl Strategy<Value = (TenantAdmin, UserPick)> {
    let to = |action, likely: BoxedStrategy<UserPick>| {
        prop_oneof![3 => likely, 1 => role_target()].prop_map(move |user| (action, user))
    };
    prop_oneof![
        1 => to(TenantAdmin::GrantLicenseAdmin, role_target().boxed()),
        1 => to(
            TenantAdmin::RevokeLicenseAdmin,
            any::<u8>().prop_map(UserPick::LicenseAdmin).boxed()
        ),
        1 => to(TenantAdmin::SetPrimaryContact, role_target().boxed()),
        2 => to(
            TenantAdmin::AssignSeat,
            any::<u8>().prop_map(UserPick::Outsider).boxed()
        ),
        1 => to(
            TenantAdmin::RevokeSeat,
            any::<u8>().prop_map(UserPick::Other).boxed()
        ),
    ]
}

/// A session of the account owner.
fn account_owner() -> ActorPick {
    ActorPick {
        who: UserPick::AccountOwner,
        via: Via::Session,
    }
}

/// A tenant's owner inviting someone into it, who accepts at once.
fn joiner(tenant: TenantPick) -> impl Strategy<Value = Op> {
    (1_u8..7, permissions()).prop_map(move |(email, permissions)| Op::Invite {
        actor: ActorPick {
            who: UserPick::TenantOwner,
            via: Via::Session,
        },
        tenant,
        email,
        permissions,
        accept: true,
    })
}

/// The account owner making someone a license admin, often of a tenant they are not a member
/// of (so that license admins who are not company admins, of some tenants only, are common).
fn license_grant() -> impl Strategy<Value = Op> {
    let user = prop_oneof![
        any::<u8>().prop_map(UserPick::Other),
        any::<u8>().prop_map(UserPick::Outsider),
    ];
    (tenant_pick(), user).prop_map(|(tenant, user)| Op::TenantAdmin {
        action: TenantAdmin::GrantLicenseAdmin,
        actor: account_owner(),
        tenant,
        user,
    })
}

/// Up to 44 operations, the first few more likely to bring people in and then to launch
/// tenants and give them license admins (so that most of a run happens in an account with
/// several users and roles).
fn ops() -> impl Strategy<Value = Vec<Op>> {
    // A new tenant with a license admin from elsewhere, or another license admin anywhere.
    let launch = (plan(), any::<u8>()).prop_map(|(plan, n)| {
        vec![
            Op::CreateTenant {
                actor: account_owner(),
                plan,
            },
            Op::TenantAdmin {
                action: TenantAdmin::GrantLicenseAdmin,
                actor: account_owner(),
                tenant: TenantPick::Newest,
                user: UserPick::Outsider(n),
            },
        ]
    });
    let setup = prop_oneof![launch, license_grant().prop_map(|op| vec![op])];
    (
        prop::collection::vec(joiner(TenantPick::First), 0..5),
        prop::collection::vec(setup, 0..3),
        prop::collection::vec(op(), 1..36),
    )
        .prop_map(|(mut ops, setup, rest)| {
            ops.extend(setup.into_iter().flatten());
            ops.extend(rest);
            ops
        })
}

/// The smallest plan of the model in force that includes SAML SSO enforcement.
fn sso_plan() -> Plan {
    Plan::all()
        .into_iter()
        .find(|plan| plan.includes(Feature::SAML_SSO))
        .unwrap_or(Plan::FIRST)
}

/// The account owner moving a tenant to a plan with SAML SSO and enforcing SSO there, with a
/// breakglass user who is often not the owner (so that sessions and tokens of other members
/// meet the enforcement).
fn enforce_sso() -> impl Strategy<Value = Op> {
    let breakglass = prop_oneof![
        1 => Just(UserPick::AccountOwner),
        2 => any::<u8>().prop_map(UserPick::Member),
        2 => any::<u8>().prop_map(UserPick::SignedIn),
    ];
    (tenant_pick(), breakglass).prop_map(|(tenant, breakglass)| Op::UpdateTenant {
        actor: account_owner(),
        tenant,
        rename: false,
        plan: Some(sso_plan()),
        sso: Some((true, Some(breakglass))),
    })
}

/// Someone acting on their own sessions: usually a user signed in, through one of them.
fn signed_in() -> impl Strategy<Value = ActorPick> {
    let who = prop_oneof![
        4 => any::<u8>().prop_map(UserPick::SignedIn),
        1 => any::<u8>().prop_map(UserPick::Anyone),
    ];
    let via = prop_oneof![
        4 => any::<u8>().prop_map(Via::SignedIn),
        1 => Just(Via::Session),
        1 => any::<u8>().prop_map(Via::OwnToken),
    ];
    (who, via).prop_map(|(who, via)| ActorPick { who, via })
}

/// Who runs an account-level operation: usually a company admin, sometimes anyone.
fn admin() -> impl Strategy<Value = ActorPick> {
    let session = |who| ActorPick {
        who,
        via: Via::Session,
    };
    prop_oneof![
        3 => Just(session(UserPick::AccountOwner)),
        2 => any::<u8>().prop_map(move |n| session(UserPick::Admin(n))),
        2 => actor(),
    ]
}

/// Who creates a tenant: usually a company admin other than the account owner, so that some
/// tenants have owners who can be deactivated.
fn founder() -> impl Strategy<Value = ActorPick> {
    let via = prop_oneof![4 => Just(Via::Session), 1 => any::<u8>().prop_map(Via::OwnToken)];
    let who = prop_oneof![
        1 => Just(UserPick::AccountOwner),
        3 => any::<u8>().prop_map(UserPick::Admin),
    ];
    (who, via).prop_map(|(who, via)| ActorPick { who, via })
}

fn op() -> impl Strategy<Value = Op> {
    let expiry = prop_oneof![
        3 => Just(ExpiryPick::Never),
        1 => (0_u64..2).prop_map(ExpiryPick::SecondsAgo),
        3 => (1_u64..200).prop_map(ExpiryPick::InHours),
    ];
    let code = prop_oneof![
        6 => Just(CodePick::Current),
        2 => any::<u8>().prop_map(CodePick::Issued),
        1 => Just(CodePick::Garbage),
    ];
    let sso = prop::option::of((any::<bool>(), prop::option::weighted(0.8, user_pick())));
    prop_oneof![
        3 => (founder(), plan()).prop_map(|(actor, plan)| Op::CreateTenant { actor, plan }),
        8 => (actor(), tenant_pick(), 0_u8..7, permissions(), prop::bool::weighted(0.6)).prop_map(
            |(actor, tenant, email, permissions, accept)| Op::Invite {
                actor,
                tenant,
                email,
                permissions,
                accept,
            },
        ),
        4 => (invitee_pick(), code, prop::option::weighted(0.5, any::<u8>()))
            .prop_map(|(user, code, password)| Op::Accept { user, code, password }),
        2 => (
            prop::option::weighted(
                0.9,
                prop_oneof![
                    3 => any::<u8>().prop_map(UserPick::WithPassword),
                    1 => user_pick(),
                    1 => any::<u8>().prop_map(UserPick::Inactive),
                    1 => any::<u8>().prop_map(UserPick::Pending),
                ]
            ),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(user, right)| Op::SignIn { user, right }),
        2 => (signed_in(), any::<u8>(), prop::bool::weighted(0.2)).prop_map(
            |(actor, session, foreign)| Op::SignOut { actor, session, foreign }
        ),
        1 => signed_in().prop_map(|actor| Op::SignOutEverywhere { actor }),
        1 => (signed_in(), prop::bool::weighted(0.7), any::<u8>())
            .prop_map(|(actor, right, new)| Op::ChangePassword { actor, right, new }),
        2 => (tenant_pick(), invitee_pick(), permissions()).prop_map(|(tenant, user, permissions)| {
            Op::Admit { tenant, user, permissions }
        }),
        3 => (actor(), tenant_pick(), invitee_pick(), prop::bool::weighted(0.3)).prop_map(
            |(actor, tenant, user, revoke)| Op::Invitation {
                actor,
                tenant,
                user,
                revoke,
            }
        ),
        4 => (actor(), tenant_pick(), user_pick(), permissions()).prop_map(
            |(actor, tenant, user, permissions)| Op::ChangePermissions {
                actor,
                tenant,
                user,
                permissions,
            },
        ),
        3 => (actor(), tenant_pick(), user_pick())
            .prop_map(|(actor, tenant, user)| Op::RemoveMember { actor, tenant, user }),
        3 => (admin(), user_pick()).prop_map(|(actor, user)| Op::Deactivate { actor, user }),
        2 => (admin(), inactive_pick()).prop_map(|(actor, user)| Op::Activate { actor, user }),
        2 => (admin(), inactive_pick()).prop_map(|(actor, user)| Op::Delete { actor, user }),
        3 => (admin(), user_pick(), any::<bool>()).prop_map(|(actor, user, company_admin)| {
            Op::SetCompanyAdmin { actor, user, company_admin }
        }),
        // The account owner promoting someone: company admins found tenants (see `founder`).
        2 => any::<u8>().prop_map(|n| Op::SetCompanyAdmin {
            actor: account_owner(),
            user: UserPick::Other(n),
            company_admin: true,
        }),
        3 => (role_actor(), 0_u8..7, prop::option::of(0_u8..3), prop::bool::weighted(0.6))
            .prop_map(|(actor, email, name, accept)| Op::CreateUser {
                actor,
                email,
                name,
                accept,
            }),
        1 => (role_actor(), role_target(), prop::bool::weighted(0.7)).prop_map(
            |(actor, user, support)| Op::SetSupport { actor, user, support },
        ),
        5 => (tenant_admin(), role_actor(), tenant_pick()).prop_map(
            |((action, user), actor, tenant)| Op::TenantAdmin {
                action,
                actor,
                tenant,
                user,
            },
        ),
        2 => license_grant(),
        1 => (admin(), tenant_pick(), role_target()).prop_map(|(actor, tenant, user)| {
            Op::TenantAdmin {
                action: TenantAdmin::SetPrimaryContact,
                actor,
                tenant,
                user,
            }
        }),
        3 => (
            prop_oneof![
                2 => role_actor(),
                1 => acting(any::<u8>().prop_map(UserPick::ForeignLicenseAdmin)),
            ],
            tenant_pick(),
            prop::option::weighted(0.7, renamed()),
            0_u8..3,
        )
            .prop_map(|(actor, tenant, user, name)| Op::Rename {
                actor,
                tenant,
                user,
                name,
            }),
        1 => (admin(), prop::sample::select(vec![0_u32, 1, 24, 72, 720, 721]))
            .prop_map(|(actor, hours)| Op::SetInvitationTtl { actor, hours }),
        5 => (actor(), tenant_pick(), permissions(), expiry).prop_map(
            |(actor, tenant, permissions, expiry)| Op::CreateToken {
                actor,
                tenant,
                permissions,
                expiry,
            },
        ),
        2 => (actor(), any::<u8>()).prop_map(|(actor, token)| Op::DeleteToken { actor, token }),
        3 => (actor(), tenant_pick()).prop_map(|(actor, tenant)| Op::CreateKey { actor, tenant }),
        // Filling the newest tenant, often one a company admin other than the account owner
        // founded: its owner can then be deactivated without locking it out.
        2 => joiner(TenantPick::Newest),
        2 => (actor(), any::<u8>(), any::<bool>()).prop_map(|(actor, key, enabled)| {
            Op::SetKeyEnabled { actor, key, enabled }
        }),
        1 => (actor(), any::<u8>()).prop_map(|(actor, key)| Op::DeleteKey { actor, key }),
        4 => (actor(), tenant_pick(), any::<bool>(), prop::option::of(plan()), sso).prop_map(
            |(actor, tenant, rename, plan, sso)| Op::UpdateTenant {
                actor,
                tenant,
                rename,
                plan,
                sso,
            },
        ),
        2 => prop::sample::select(vec![1_u64, HOUR, 24 * HOUR, 73 * HOUR, 31 * 24 * HOUR])
            .prop_map(|seconds| Op::Advance { seconds }),
        2 => any::<u8>().prop_map(Op::AdvanceToExpiry),
        2 => enforce_sso(),
        4 => (
            admin(),
            prop::sample::select(vec![
                BulkAction::Activate,
                BulkAction::Deactivate,
                BulkAction::Delete,
            ]),
            prop::collection::vec(prop_oneof![user_pick(), inactive_pick()], 1..6),
        )
            .prop_map(|(actor, action, users)| Op::Bulk { actor, action, users }),
    ]
}

// ----- the harness: engine and model side by side ------------------------------------------

fn nth(items: usize, pick: u8) -> usize {
    usize::from(pick) % items
}

fn email(index: u8) -> String {
    match index {
        0 => OWNER_EMAIL.to_owned(),
        n => format!("user{n}@acme.test"),
    }
}

fn name(text: &str) -> portcullis_core::ids::DisplayName {
    text.parse().unwrap()
}

fn display_name(index: u8) -> String {
    ["Ada Quill", "Bo", "Cy Seat"][usize::from(index) % 3].to_owned()
}

fn status_of(status: UserStatus) -> Status {
    match status {
        UserStatus::Pending => Status::Pending,
        UserStatus::Active => Status::Active,
        UserStatus::Inactive => Status::Inactive,
    }
}

/// What the engine answered an accepted request with.
#[derive(Debug)]
enum Answer {
    Outcome(Outcome),
    /// An invitation accepted with a password, and the session it opened.
    Accepted(Outcome, IssuedSession),
    SignedIn(IssuedSession),
    /// How many sessions signing out everywhere ended.
    Ended(usize),
    Done,
}

struct World {
    account: Account,
    model: Model,
    key: HashingKey,
    random: SeededRandom,
    /// Engine ids by model index.
    users: Vec<UserId>,
    tenants: Vec<TenantId>,
    /// Key id and the secret shown once, for every credential ever issued.
    tokens: Vec<(KeyId, String)>,
    keys: Vec<(KeyId, String)>,
    codes: Vec<String>,
    /// Id and secret of every session ever issued.
    sessions: Vec<(SessionId, String)>,
    /// The account's identity-provider connection, which every SSO change names (the model
    /// leaves connections to `tests/sso.rs`).
    sso_connection: SsoConnectionId,
    trace: String,
}

impl World {
    fn new(plan: Plan, trial: bool, seed: u64) -> Self {
        let key = HashingKey::from_bytes(&[7; 32]).unwrap();
        let mut random = SeededRandom::new(seed);
        let signed_up = Account::sign_up(
            SignUp {
                account_name: name("Acme"),
                owner_email: OWNER_EMAIL.parse().unwrap(),
                owner_name: name(OWNER_NAME),
                tenant_name: name("Production"),
                plan,
                trial,
            },
            &mut Context {
                now: Timestamp::from_unix_seconds(START),
                random: &mut random,
                key: &key,
            },
        );
        let mut account = signed_up.account;
        let create = Command::CreateSsoConnection {
            name: name("Identity provider"),
            protocol: SsoProtocolSettings::Oidc(OidcSettings {
                issuer: "https://idp.acme.test".parse().unwrap(),
                client_id: "portcullis".parse().unwrap(),
                client_secret: Secret::new("client-secret".into()),
            }),
            allow_jit_provisioning: false,
        };
        let created = account.apply(
            &Actor::user(signed_up.owner_id.clone()),
            create,
            &mut Context {
                now: Timestamp::from_unix_seconds(START),
                random: &mut random,
                key: &key,
            },
        );
        let Ok(Outcome::SsoConnectionCreated { connection }) = created else {
            panic!("no SSO connection: {created:?}")
        };
        // The account owner sets a password through a reset, which signs them in.
        let mut context = Context {
            now: Timestamp::from_unix_seconds(START),
            random: &mut random,
            key: &key,
        };
        let issued = account.apply(
            &Actor::user(signed_up.owner_id.clone()),
            Command::IssuePasswordReset {
                user_id: signed_up.owner_id.clone(),
            },
            &mut context,
        );
        let Ok(Outcome::PasswordResetIssued { reset, .. }) = issued else {
            panic!("no password reset: {issued:?}")
        };
        let session = account
            .reset_password(
                OWNER_EMAIL,
                reset.code.expose(),
                PASSWORDS[0],
                None,
                &mut context,
            )
            .unwrap();
        World {
            model: Model::new(plan, trial),
            sso_connection: connection.connection_id,
            users: vec![signed_up.owner_id],
            tenants: vec![signed_up.tenant_id],
            tokens: vec![(
                signed_up.token.key_id,
                signed_up.token.secret.expose().to_owned(),
            )],
            keys: Vec::new(),
            codes: Vec::new(),
            sessions: vec![(session.session_id, session.session.expose().to_owned())],
            account,
            key,
            random,
            trace: format!("sign up on the {plan} plan, trial: {trial}\n"),
        }
    }

    fn user(&self, pick: UserPick, tenant: Option<usize>) -> usize {
        let model = &self.model;
        let anyone = |n| nth(model.users.len(), n);
        let one_of = |users: Vec<usize>, n| {
            if users.is_empty() {
                anyone(n)
            } else {
                users[nth(users.len(), n)]
            }
        };
        match pick {
            UserPick::AccountOwner => OWNER,
            UserPick::Member(n) => match tenant {
                Some(tenant) => {
                    let members: Vec<usize> =
                        model.tenants[tenant].members.keys().copied().collect();
                    members[nth(members.len(), n)]
                }
                None => anyone(n),
            },
            UserPick::Other(n) => {
                let others: Vec<usize> = match tenant {
                    Some(tenant) => {
                        let members = &model.tenants[tenant].members;
                        let owner = model.tenants[tenant].owner;
                        let others: Vec<usize> =
                            members.keys().copied().filter(|&u| u != owner).collect();
                        if others.is_empty() {
                            members.keys().copied().collect()
                        } else {
                            others
                        }
                    }
                    None => (0..model.users.len())
                        .filter(|&user| user != OWNER && model.exists(user))
                        .collect(),
                };
                one_of(others, n)
            }
            UserPick::Admin(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| user != OWNER && model.users[user].company_admin)
                    .collect(),
                n,
            ),
            UserPick::Inactive(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| model.users[user].status == Status::Inactive)
                    .collect(),
                n,
            ),
            UserPick::TokenOwner(n) => one_of(
                model
                    .tokens
                    .iter()
                    .filter(|token| token.live && token.owner != OWNER)
                    .map(|token| token.owner)
                    .collect(),
                n,
            ),
            UserPick::Pending(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| model.users[user].invitation.is_some())
                    .collect(),
                n,
            ),
            UserPick::Anyone(n) => anyone(n),
            UserPick::Newest => model.users.len() - 1,
            UserPick::TenantOwner => model.tenants[tenant.unwrap_or(model.tenants.len() - 1)].owner,
            UserPick::LicenseAdmin(n) | UserPick::ForeignLicenseAdmin(n) => {
                let admins = (0..model.users.len()).filter(|&user| {
                    let current = &model.users[user];
                    let wanted = match (pick, tenant) {
                        (_, None) => true,
                        (UserPick::LicenseAdmin(_), Some(tenant)) => {
                            current.license_tenants.contains(&tenant)
                        }
                        (_, Some(tenant)) => !current.license_tenants.contains(&tenant),
                    };
                    model.exists(user)
                        && !current.company_admin
                        && !current.license_tenants.is_empty()
                        && wanted
                });
                one_of(admins.collect(), n)
            }
            UserPick::Support(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| model.exists(user) && model.users[user].support)
                    .collect(),
                n,
            ),
            UserPick::PrimaryContact => {
                model.tenants[tenant.unwrap_or(model.tenants.len() - 1)].primary_contact
            }
            UserPick::Outsider(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| {
                        let outside = |t: &ModelTenant| !t.members.contains_key(&user);
                        model.exists(user)
                            && match tenant {
                                Some(tenant) => outside(&model.tenants[tenant]),
                                None => user != OWNER && model.tenants.iter().all(outside),
                            }
                    })
                    .collect(),
                n,
            ),
            UserPick::SignedIn(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| !model.sessions_of(user).is_empty())
                    .collect(),
                n,
            ),
            UserPick::WithPassword(n) => one_of(
                (0..model.users.len())
                    .filter(|&user| model.users[user].password.is_some())
                    .collect(),
                n,
            ),
        }
    }

    fn actor(&self, pick: ActorPick, tenant: Option<usize>) -> Acting {
        let user = self.user(pick.who, tenant);
        let tokens = &self.model.tokens;
        let sessions = &self.model.sessions;
        let session = match pick.via {
            Via::SignedIn(n) => {
                let own: Vec<usize> = (0..sessions.len())
                    .filter(|&s| sessions[s].user == user)
                    .collect();
                let open: Vec<usize> = own
                    .iter()
                    .copied()
                    .filter(|&s| self.model.session_open(s))
                    .collect();
                let choices = if open.is_empty() { own } else { open };
                (!choices.is_empty()).then(|| choices[nth(choices.len(), n)])
            }
            _ => None,
        };
        let token = match pick.via {
            Via::Session | Via::SignedIn(_) => None,
            Via::OwnToken(n) => {
                let own: Vec<usize> = (0..tokens.len())
                    .filter(|&t| tokens[t].owner == user)
                    .collect();
                let usable: Vec<usize> = own
                    .iter()
                    .copied()
                    .filter(|&t| tokens[t].live && tenant.is_none_or(|at| tokens[t].tenant == at))
                    .collect();
                let choices = if usable.is_empty() { own } else { usable };
                (!choices.is_empty()).then(|| choices[nth(choices.len(), n)])
            }
            Via::AnyToken(n) => Some(nth(tokens.len(), n)),
        };
        Acting {
            user,
            token,
            session,
        }
    }

    /// Resolves an operation against the current state; `None` when it has nothing to act on.
    fn resolve(&self, op: &Op) -> Option<Request> {
        let model = &self.model;
        let tenant = |pick| match pick {
            TenantPick::First => 0,
            TenantPick::Newest => model.tenants.len() - 1,
            TenantPick::Any(n) => nth(model.tenants.len(), n),
        };
        Some(match *op {
            Op::CreateTenant { actor, plan } => Request::CreateTenant {
                actor: self.actor(actor, None),
                plan,
            },
            Op::Invite {
                actor,
                tenant: n,
                email: address,
                permissions,
                accept: _,
            } => {
                let tenant = tenant(n);
                Request::Invite {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    email: email(address),
                    permissions,
                }
            }
            Op::Accept {
                user,
                code,
                password,
            } => {
                let user = self.user(user, None);
                let code = match code {
                    CodePick::Current => model.users[user]
                        .invitation
                        .map_or(Code::Garbage, |invitation| Code::Issued(invitation.code)),
                    CodePick::Issued(n) if model.codes_issued > 0 => {
                        Code::Issued(nth(model.codes_issued, n))
                    }
                    CodePick::Issued(_) | CodePick::Garbage => Code::Garbage,
                };
                Request::Accept {
                    email: model.users[user].email.clone(),
                    code,
                    password: password.map(|n| usize::from(n) % PASSWORDS.len()),
                }
            }
            Op::SignIn { user, right } => {
                let (email, password) = match user {
                    None => ("nobody@acme.test".to_owned(), Some(0)),
                    Some(pick) => {
                        let user = &model.users[self.user(pick, None)];
                        (user.email.clone(), user.password)
                    }
                };
                // A wrong password: nobody's, or another of the chosen ones.
                let password = match (right, password) {
                    (true, password) => password,
                    (false, Some(p)) if p % 2 == 0 => Some((p + 1) % PASSWORDS.len()),
                    (false, _) => None,
                };
                Request::SignIn { email, password }
            }
            Op::SignOut {
                actor,
                session,
                foreign,
            } => {
                let actor = self.actor(actor, None);
                let own: Vec<usize> = (0..model.sessions.len())
                    .filter(|&s| model.sessions[s].user == actor.user)
                    .collect();
                let session = if foreign || own.is_empty() {
                    (!model.sessions.is_empty()).then(|| nth(model.sessions.len(), session))?
                } else {
                    own[nth(own.len(), session)]
                };
                Request::SignOut { actor, session }
            }
            Op::SignOutEverywhere { actor } => Request::SignOutEverywhere {
                actor: self.actor(actor, None),
            },
            Op::ChangePassword { actor, right, new } => {
                let actor = self.actor(actor, None);
                let current = model.users[actor.user].password;
                Request::ChangePassword {
                    actor,
                    current: if right {
                        current
                    } else {
                        current
                            .map(|p| (p + 1) % PASSWORDS.len())
                            .filter(|_| new % 2 == 0)
                    },
                    new: usize::from(new) % PASSWORDS.len(),
                }
            }
            Op::Admit {
                tenant: n,
                user,
                permissions,
            } => {
                let tenant = tenant(n);
                Request::Invite {
                    actor: self.actor(account_owner(), Some(tenant)),
                    tenant,
                    email: model.users[self.user(user, Some(tenant))].email.clone(),
                    permissions,
                }
            }
            Op::Invitation {
                actor,
                tenant: n,
                user,
                revoke,
            } => {
                let actor = self.actor(actor, Some(tenant(n)));
                let user = self.user(user, None);
                if revoke {
                    Request::Revoke { actor, user }
                } else {
                    Request::Resend { actor, user }
                }
            }
            Op::ChangePermissions {
                actor,
                tenant: n,
                user,
                permissions,
            } => {
                let tenant = tenant(n);
                Request::ChangePermissions {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    user: self.user(user, Some(tenant)),
                    permissions,
                }
            }
            Op::RemoveMember {
                actor,
                tenant: n,
                user,
            } => {
                let tenant = tenant(n);
                Request::RemoveMember {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    user: self.user(user, Some(tenant)),
                }
            }
            Op::Deactivate { actor, user } => Request::Deactivate {
                actor: self.actor(actor, None),
                user: self.user(user, None),
            },
            Op::Activate { actor, user } => Request::Activate {
                actor: self.actor(actor, None),
                user: self.user(user, None),
            },
            Op::Delete { actor, user } => Request::Delete {
                actor: self.actor(actor, None),
                user: self.user(user, None),
            },
            Op::SetCompanyAdmin {
                actor,
                user,
                company_admin,
            } => Request::SetCompanyAdmin {
                actor: self.actor(actor, None),
                user: self.user(user, None),
                company_admin,
            },
            Op::CreateUser {
                actor,
                email: address,
                name,
                accept: _,
            } => Request::CreateUser {
                actor: self.actor(actor, None),
                email: email(address),
                name: name.map(display_name),
            },
            Op::SetSupport {
                actor,
                user,
                support,
            } => Request::SetSupport {
                actor: self.actor(actor, None),
                user: self.user(user, None),
                support,
            },
            Op::TenantAdmin {
                action,
                actor,
                tenant: n,
                user,
            } => {
                let tenant = tenant(n);
                Request::TenantAdmin {
                    action,
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    user: self.user(user, Some(tenant)),
                }
            }
            Op::Rename {
                actor,
                tenant: n,
                user,
                name,
            } => {
                let tenant = tenant(n);
                let actor = self.actor(actor, Some(tenant));
                Request::Rename {
                    actor,
                    user: user.map_or(actor.user, |pick| self.user(pick, Some(tenant))),
                    name: display_name(name),
                }
            }
            Op::SetInvitationTtl { actor, hours } => Request::SetInvitationTtl {
                actor: self.actor(actor, None),
                hours,
            },
            Op::CreateToken {
                actor,
                tenant: n,
                permissions,
                expiry,
            } => {
                let tenant = tenant(n);
                let expires_at = match expiry {
                    ExpiryPick::Never => None,
                    ExpiryPick::SecondsAgo(seconds) => Some(model.now - seconds),
                    ExpiryPick::InHours(hours) => Some(model.now + hours * HOUR),
                };
                Request::CreateToken {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    permissions,
                    expires_at,
                }
            }
            Op::DeleteToken { actor, token } => {
                let token = nth(model.tokens.len(), token);
                Request::DeleteToken {
                    actor: self.actor(actor, Some(model.tokens[token].tenant)),
                    token,
                }
            }
            Op::CreateKey { actor, tenant: n } => {
                let tenant = tenant(n);
                Request::CreateKey {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                }
            }
            Op::SetKeyEnabled {
                actor,
                key,
                enabled,
            } => {
                let key = (!model.keys.is_empty()).then(|| nth(model.keys.len(), key))?;
                Request::SetKeyEnabled {
                    actor: self.actor(actor, Some(model.keys[key].tenant)),
                    key,
                    enabled,
                }
            }
            Op::DeleteKey { actor, key } => {
                let key = (!model.keys.is_empty()).then(|| nth(model.keys.len(), key))?;
                Request::DeleteKey {
                    actor: self.actor(actor, Some(model.keys[key].tenant)),
                    key,
                }
            }
            Op::UpdateTenant {
                actor,
                tenant: n,
                rename,
                plan,
                sso,
            } => {
                let tenant = tenant(n);
                Request::UpdateTenant {
                    actor: self.actor(actor, Some(tenant)),
                    tenant,
                    rename,
                    plan,
                    sso: sso.map(|(enforced, breakglass)| {
                        (
                            enforced,
                            breakglass.map(|pick| self.user(pick, Some(tenant))),
                        )
                    }),
                }
            }
            Op::Bulk {
                actor,
                action,
                ref users,
            } => Request::Bulk {
                actor: self.actor(actor, None),
                action,
                users: users.iter().map(|&pick| self.user(pick, None)).collect(),
            },
            Op::Advance { seconds } => Request::Advance { seconds },
            Op::AdvanceToExpiry(n) => {
                let tokens = model.tokens.iter().filter(|t| t.live).map(|t| t.expires_at);
                let invitations = model
                    .users
                    .iter()
                    .map(|u| u.invitation.map(|i| i.expires_at));
                let sessions = (0..model.sessions.len())
                    .filter(|&s| model.sessions[s].stored)
                    .map(|s| Some(model.session_expiry(s)));
                let future: Vec<u64> = tokens
                    .chain(invitations)
                    .chain(sessions)
                    .flatten()
                    .filter(|&expiry| expiry > model.now)
                    .collect();
                let expiry = (!future.is_empty()).then(|| future[nth(future.len(), n)])?;
                Request::Advance {
                    seconds: expiry - model.now,
                }
            }
        })
    }

    fn engine_actor(&self, acting: Acting) -> Actor {
        let user = self.users[acting.user].clone();
        match (acting.token, acting.session) {
            (None, None) => Actor::user(user),
            (Some(token), _) => Actor::via_token(user, self.tokens[token].0.clone()),
            (None, Some(session)) => Actor::via_session(user, self.sessions[session].0.clone()),
        }
    }

    /// The engine command for `request`; `None` for requests that are not commands.
    fn command(&self, request: &Request) -> Option<(Actor, Command)> {
        let actor = |acting| self.engine_actor(acting);
        let user = |index: usize| self.users[index].clone();
        let tenant = |index: usize| self.tenants[index].clone();
        Some(match *request {
            Request::CreateTenant { actor: a, plan } => (
                actor(a),
                Command::CreateTenant {
                    name: name("Staging"),
                    plan,
                },
            ),
            Request::Invite {
                actor: a,
                tenant: t,
                ref email,
                permissions,
            } => (
                actor(a),
                Command::InviteMember {
                    tenant_id: tenant(t),
                    email: email.parse().unwrap(),
                    name: None,
                    permissions,
                },
            ),
            Request::Resend { actor: a, user: u } => {
                (actor(a), Command::ResendInvitation { user_id: user(u) })
            }
            Request::Revoke { actor: a, user: u } => {
                (actor(a), Command::RevokeInvitation { user_id: user(u) })
            }
            Request::ChangePermissions {
                actor: a,
                tenant: t,
                user: u,
                permissions,
            } => (
                actor(a),
                Command::ChangePermissions {
                    tenant_id: tenant(t),
                    user_id: user(u),
                    permissions,
                },
            ),
            Request::RemoveMember {
                actor: a,
                tenant: t,
                user: u,
            } => (
                actor(a),
                Command::RemoveMember {
                    tenant_id: tenant(t),
                    user_id: user(u),
                },
            ),
            Request::Deactivate { actor: a, user: u } => {
                (actor(a), Command::DeactivateUser { user_id: user(u) })
            }
            Request::Activate { actor: a, user: u } => {
                (actor(a), Command::ActivateUser { user_id: user(u) })
            }
            Request::Delete { actor: a, user: u } => {
                (actor(a), Command::DeleteUser { user_id: user(u) })
            }
            Request::SetCompanyAdmin {
                actor: a,
                user: u,
                company_admin,
            } => (
                actor(a),
                Command::SetCompanyAdmin {
                    user_id: user(u),
                    company_admin,
                },
            ),
            Request::CreateUser {
                actor: a,
                ref email,
                name: ref display,
            } => (
                actor(a),
                Command::CreateUser {
                    email: email.parse().unwrap(),
                    name: display.as_deref().map(name),
                },
            ),
            Request::SetSupport {
                actor: a,
                user: u,
                support,
            } => (
                actor(a),
                Command::SetSupport {
                    user_id: user(u),
                    support,
                },
            ),
            Request::TenantAdmin {
                action,
                actor: a,
                tenant: t,
                user: u,
            } => {
                let (tenant_id, user_id) = (tenant(t), user(u));
                let command = match action {
                    TenantAdmin::GrantLicenseAdmin => {
                        Command::GrantLicenseAdmin { tenant_id, user_id }
                    }
                    TenantAdmin::RevokeLicenseAdmin => {
                        Command::RevokeLicenseAdmin { tenant_id, user_id }
                    }
                    TenantAdmin::SetPrimaryContact => {
                        Command::SetPrimaryContact { tenant_id, user_id }
                    }
                    TenantAdmin::AssignSeat => Command::AssignLicense { tenant_id, user_id },
                    TenantAdmin::RevokeSeat => Command::RevokeLicense { tenant_id, user_id },
                };
                (actor(a), command)
            }
            Request::Rename {
                actor: a,
                user: u,
                name: ref display,
            } => (
                actor(a),
                Command::RenameUser {
                    user_id: user(u),
                    name: name(display),
                },
            ),
            Request::SetInvitationTtl { actor: a, hours } => (
                actor(a),
                Command::UpdateAccountSettings {
                    invitation_ttl_hours: hours,
                },
            ),
            Request::CreateToken {
                actor: a,
                tenant: t,
                permissions,
                expires_at,
            } => (
                actor(a),
                Command::CreateApiToken {
                    tenant_id: tenant(t),
                    name: name("ci"),
                    permissions,
                    terms: portcullis_core::terms::Terms {
                        expires_at: expires_at.map(Timestamp::from_unix_seconds),
                        ..portcullis_core::terms::Terms::default()
                    },
                },
            ),
            Request::DeleteToken { actor: a, token } => (
                actor(a),
                Command::DeleteApiToken {
                    key_id: self.tokens[token].0.clone(),
                },
            ),
            Request::CreateKey {
                actor: a,
                tenant: t,
            } => (
                actor(a),
                Command::CreateAutomationKey {
                    tenant_id: tenant(t),
                    name: name("deploy"),
                    terms: portcullis_core::terms::Terms::default(),
                },
            ),
            Request::SetKeyEnabled {
                actor: a,
                key,
                enabled,
            } => (
                actor(a),
                Command::SetAutomationKeyEnabled {
                    key_id: self.keys[key].0.clone(),
                    enabled,
                },
            ),
            Request::DeleteKey { actor: a, key } => (
                actor(a),
                Command::DeleteAutomationKey {
                    key_id: self.keys[key].0.clone(),
                },
            ),
            Request::UpdateTenant {
                actor: a,
                tenant: t,
                rename,
                plan,
                sso,
            } => (
                actor(a),
                Command::UpdateTenantSettings {
                    tenant_id: tenant(t),
                    name: rename.then(|| name("Renamed")),
                    plan,
                    sso: sso.map(|(enforced, breakglass)| SsoChange {
                        enforced,
                        breakglass: breakglass.map(user),
                        connection: Some(self.sso_connection.clone()),
                    }),
                },
            ),
            Request::Bulk {
                actor: a,
                action,
                ref users,
            } => (
                actor(a),
                Command::BulkUserLifecycle {
                    action,
                    user_ids: users.iter().map(|&u| user(u)).collect(),
                },
            ),
            Request::Accept { .. }
            | Request::SignIn { .. }
            | Request::SignOut { .. }
            | Request::SignOutEverywhere { .. }
            | Request::ChangePassword { .. }
            | Request::Advance { .. } => return None,
        })
    }

    /// Runs `request` on the engine.
    fn execute(&mut self, request: &Request) -> Result<Answer, Refusal> {
        let command = self.command(request);
        let actor = request.actor().map(|acting| self.engine_actor(acting));
        let mut context = Context {
            now: Timestamp::from_unix_seconds(self.model.now),
            random: &mut self.random,
            key: &self.key,
        };
        let password = |index: Option<usize>| index.map_or(WRONG_PASSWORD, |p| PASSWORDS[p]);
        match (request, command, actor) {
            (_, Some((actor, command)), _) => self
                .account
                .apply(&actor, command, &mut context)
                .map(Answer::Outcome),
            (
                Request::Accept {
                    email,
                    code,
                    password: chosen,
                },
                None,
                _,
            ) => {
                let code = match *code {
                    Code::Issued(index) => self.codes[index].as_str(),
                    Code::Garbage => "pcinv_garbage",
                };
                let email: Email = email.parse().unwrap();
                match chosen {
                    None => self
                        .account
                        .accept_invitation(&email, code, None, &mut context)
                        .map(Answer::Outcome),
                    Some(_) => self
                        .account
                        .accept_invitation_with_password(
                            &email,
                            code,
                            None,
                            password(*chosen),
                            None,
                            &mut context,
                        )
                        .map(|(outcome, session)| Answer::Accepted(outcome, session)),
                }
            }
            (Request::SignIn { email, password: p }, None, _) => self
                .account
                .sign_in_password(email, password(*p), None, &mut context)
                .map(Answer::SignedIn),
            (Request::SignOut { session, .. }, None, Some(actor)) => {
                let id = self.sessions[*session].0.clone();
                self.account
                    .sign_out(&actor, &id, &mut context)
                    .map(|()| Answer::Done)
            }
            (Request::SignOutEverywhere { .. }, None, Some(actor)) => self
                .account
                .sign_out_everywhere(&actor, &mut context)
                .map(Answer::Ended),
            (Request::ChangePassword { current, new, .. }, None, Some(actor)) => self
                .account
                .change_password(&actor, password(*current), PASSWORDS[*new], &mut context)
                .map(|()| Answer::Done),
            (other, _, _) => panic!("{other:?} is not run on the engine"),
        }
    }

    /// One step: the model's prediction against the engine's answer, then every check.
    fn step(&mut self, op: &Op) -> Result<(), String> {
        let Some(request) = self.resolve(op) else {
            return Ok(());
        };
        let _ = write!(self.trace, "{request:?}");
        let predicted = self.model.apply(&request);
        if let Request::Advance { .. } = request {
            self.trace.push('\n');
            self.model = predicted.map_err(|refused| format!("advancing refused: {refused:?}"))?;
            return self.check();
        }
        let before = self.account.clone();
        let result = self.execute(&request);
        match &result {
            Ok(outcome) => {
                let _ = writeln!(self.trace, "\n    -> accepted: {outcome:?}");
            }
            Err(refusal) => {
                let _ = writeln!(
                    self.trace,
                    "\n    -> refused: {} ({refusal})",
                    refusal.code()
                );
            }
        }
        match (predicted, result) {
            (Ok(next), Ok(outcome)) => {
                self.check_notifications(&before, &request, &next)?;
                self.check_grants(&before)?;
                self.record(&request, &next, outcome)?;
                let events = match request {
                    Request::Bulk { .. } => {
                        next.bulk_expected.iter().filter(|e| e.is_none()).count()
                    }
                    // The acceptance, then the sign-in.
                    Request::Accept {
                        password: Some(_), ..
                    } => 2,
                    _ => 1,
                };
                self.model = next;
                if self.account.audit_log().len() != before.audit_log().len() + events {
                    return Err(format!(
                        "an accepted command did not append {events} events"
                    ));
                }
            }
            (Err(Refused(codes)), Err(refusal)) => {
                if !codes.contains(&refusal.code()) {
                    return Err(format!(
                        "refused with `{}` but the model expected one of {codes:?}",
                        refusal.code()
                    ));
                }
                if self.account != before {
                    return Err("a refused command changed the account".into());
                }
            }
            (Ok(_), Err(refusal)) => {
                return Err(format!(
                    "the engine refused ({}: {refusal}) what the model accepts",
                    refusal.code()
                ));
            }
            (Err(Refused(codes)), Ok(_)) => {
                return Err(format!(
                    "the engine accepted what the model refuses with {codes:?}"
                ));
            }
        }
        check_change_set(&before, &self.account)?;
        self.check()
    }

    /// Learns the ids and secrets an accepted request created, checking its answer against the
    /// model.
    fn record(&mut self, request: &Request, next: &Model, answer: Answer) -> Result<(), String> {
        match answer {
            Answer::Outcome(outcome) => self.record_outcome(request, next, outcome)?,
            Answer::Accepted(outcome, session) => {
                self.record_outcome(request, next, outcome)?;
                self.record_session(next, session)?;
            }
            Answer::SignedIn(session) => self.record_session(next, session)?,
            Answer::Ended(ended) => {
                let actor = request.actor().ok_or("nobody signed out")?;
                let expected = (0..self.model.sessions.len())
                    .filter(|&s| self.model.session_of(s, actor.user))
                    .count();
                if ended != expected {
                    return Err(format!("{ended} sessions ended, model {expected}"));
                }
            }
            Answer::Done => {}
        }
        let counts = (
            self.users.len(),
            self.tenants.len(),
            self.tokens.len(),
            self.keys.len(),
            self.codes.len(),
            self.sessions.len(),
        );
        let expected = (
            next.users.len(),
            next.tenants.len(),
            next.tokens.len(),
            next.keys.len(),
            next.codes_issued,
            next.sessions.len(),
        );
        if counts != expected {
            return Err(format!(
                "created {counts:?} (users, tenants, tokens, keys, codes, sessions), model \
                 {expected:?}"
            ));
        }
        Ok(())
    }

    /// A new session: the model's newest, of its user, with the default lifetimes.
    fn record_session(&mut self, next: &Model, issued: IssuedSession) -> Result<(), String> {
        let index = next.sessions.len() - 1;
        let expected = &next.sessions[index];
        let lifetimes = (
            issued.idle_expires_at.unix_seconds(),
            issued.absolute_expires_at.unix_seconds(),
        );
        if issued.user_id != self.users[expected.user]
            || lifetimes
                != (
                    next.session_expiry(index),
                    expected.created_at + SESSION_ABSOLUTE,
                )
        {
            return Err(format!("session issued as {issued:?}, model {expected:?}"));
        }
        self.sessions
            .push((issued.session_id, issued.session.expose().to_owned()));
        Ok(())
    }

    /// Checks an engine outcome against the model, learning the ids it created.
    fn record_outcome(
        &mut self,
        request: &Request,
        next: &Model,
        outcome: Outcome,
    ) -> Result<(), String> {
        let created_user = next.users.len() > self.model.users.len();
        match (request, outcome) {
            (Request::CreateTenant { .. }, Outcome::TenantCreated { tenant_id }) => {
                self.tenants.push(tenant_id);
            }
            (
                Request::Invite { email, .. },
                Outcome::MemberAdded {
                    user_id,
                    status,
                    invitation,
                },
            ) => {
                if created_user {
                    let issued = invitation.ok_or("a new user got no invitation")?;
                    let expected = next.users.last().and_then(|user| user.invitation);
                    if expected.map(|i| i.expires_at) != Some(issued.expires_at.unix_seconds()) {
                        return Err(format!("invitation expiry {:?}", issued.expires_at));
                    }
                    self.users.push(user_id);
                    self.codes.push(issued.code.expose().to_owned());
                } else {
                    let existing = self.model.user_by_email(email).ok_or("no such user")?;
                    if user_id != self.users[existing] {
                        return Err("another existing user was added".into());
                    }
                    self.record_readmission(existing, next, invitation)?;
                }
                let added = next.user_by_email(email).ok_or("invitee missing")?;
                if status_of(status) != next.users[added].status {
                    return Err(format!("invitee reported as {status}"));
                }
            }
            (Request::Accept { email, .. }, Outcome::InvitationAccepted { user_id, tenant_id }) => {
                let user = self.model.user_by_email(email).ok_or("no such user")?;
                if user_id != self.users[user] {
                    return Err("accepted for another user".into());
                }
                // The first token goes to the tenant the invitation was for, and only there.
                let expected = self.model.users[user]
                    .invitation
                    .and_then(|invitation| invitation.tenant)
                    .filter(|&tenant| next.tenants[tenant].members.contains_key(&user))
                    .map(|tenant| &self.tenants[tenant]);
                if tenant_id.as_ref() != expected {
                    return Err(format!(
                        "first token tenant {tenant_id:?}, model {expected:?}"
                    ));
                }
            }
            (Request::Revoke { user, .. }, Outcome::InvitationRevoked { user_id }) => {
                if user_id != self.users[*user] {
                    return Err("revoked another user's invitation".into());
                }
            }
            (
                Request::Resend { user, .. },
                Outcome::InvitationResent {
                    user_id,
                    invitation,
                },
            ) => {
                let expected = next.users[*user].invitation.map(|i| i.expires_at);
                if user_id != self.users[*user]
                    || expected != Some(invitation.expires_at.unix_seconds())
                {
                    return Err("invitation resent to the wrong user or expiry".into());
                }
                self.codes.push(invitation.code.expose().to_owned());
            }
            (
                Request::CreateToken {
                    permissions: requested,
                    expires_at: requested_expiry,
                    ..
                },
                Outcome::ApiTokenCreated {
                    key_id,
                    token,
                    permissions,
                    expires_at,
                },
            ) => {
                if permissions != *requested
                    || expires_at.map(Timestamp::unix_seconds) != *requested_expiry
                {
                    return Err("token created with another scope or expiry".into());
                }
                self.tokens.push((key_id, token.expose().to_owned()));
            }
            (Request::CreateKey { .. }, Outcome::AutomationKeyCreated { key_id, key }) => {
                self.keys.push((key_id, key.expose().to_owned()));
            }
            (
                Request::CreateUser { .. },
                Outcome::UserCreated {
                    user_id,
                    invitation,
                },
            ) => {
                let expected = next.users.last().and_then(|user| user.invitation);
                if expected.map(|i| i.expires_at) != Some(invitation.expires_at.unix_seconds()) {
                    return Err(format!("invitation expiry {:?}", invitation.expires_at));
                }
                self.users.push(user_id);
                self.codes.push(invitation.code.expose().to_owned());
            }
            (
                Request::SetSupport { user, .. }
                | Request::TenantAdmin {
                    action: TenantAdmin::GrantLicenseAdmin | TenantAdmin::RevokeLicenseAdmin,
                    user,
                    ..
                },
                Outcome::CompanyRolesChanged {
                    user_id,
                    roles,
                    license_tenants,
                },
            ) => {
                let expected = &next.users[*user];
                let roles: Vec<&str> = roles.iter().map(|role| role.name()).collect();
                let tenants: BTreeSet<&TenantId> = license_tenants.iter().collect();
                if user_id != self.users[*user]
                    || roles != next.company_roles(*user)
                    || tenants != self.tenant_ids(&expected.license_tenants)
                {
                    return Err(format!("roles reported as {roles:?} in {tenants:?}"));
                }
            }
            (
                Request::TenantAdmin {
                    action: TenantAdmin::SetPrimaryContact,
                    tenant,
                    user,
                    ..
                },
                Outcome::PrimaryContactChanged {
                    tenant_id,
                    user_id,
                    previous,
                },
            ) => {
                let before = self.model.tenants[*tenant].primary_contact;
                if tenant_id != self.tenants[*tenant]
                    || user_id != self.users[*user]
                    || previous != self.users[before]
                {
                    return Err("another primary contact swap reported".into());
                }
            }
            (
                Request::TenantAdmin {
                    action: TenantAdmin::AssignSeat,
                    user,
                    ..
                },
                Outcome::MemberAdded {
                    user_id,
                    status,
                    invitation,
                },
            ) => {
                if user_id != self.users[*user] || status_of(status) != next.users[*user].status {
                    return Err("a seat was given to another user or as another".into());
                }
                self.record_readmission(*user, next, invitation)?;
            }
            (Request::Rename { user, name, .. }, Outcome::UserRenamed { user_id, name: to }) => {
                if user_id != self.users[*user] || to.as_str() != name {
                    return Err(format!("renamed {user_id} to {to}"));
                }
            }
            (Request::Bulk { action, users, .. }, Outcome::BulkReported(report)) => {
                self.check_bulk_report(*action, users, next, &report)?;
            }
            (Request::ChangePermissions { .. }, Outcome::PermissionsChanged { .. })
            | (Request::RemoveMember { .. }, Outcome::MemberRemoved { .. })
            | (
                Request::Deactivate { .. } | Request::Activate { .. },
                Outcome::StatusChanged { .. },
            )
            | (Request::Delete { .. }, Outcome::UserDeleted { .. })
            | (Request::SetCompanyAdmin { .. }, Outcome::CompanyAdminChanged { .. })
            | (Request::SetInvitationTtl { .. }, Outcome::AccountSettingsChanged)
            | (Request::DeleteToken { .. }, Outcome::ApiTokenDeleted { .. })
            | (Request::SetKeyEnabled { .. }, Outcome::AutomationKeyToggled { .. })
            | (Request::DeleteKey { .. }, Outcome::AutomationKeyDeleted { .. })
            | (Request::UpdateTenant { .. }, Outcome::TenantUpdated { .. })
            | (
                Request::TenantAdmin {
                    action: TenantAdmin::RevokeSeat,
                    ..
                },
                Outcome::MemberRemoved { .. },
            ) => {}
            (_, outcome) => return Err(format!("unexpected outcome {outcome:?}")),
        }
        Ok(())
    }

    /// An existing user admitted into a tenant: a pending one gets a new code (for that
    /// tenant), anyone else none.
    fn record_readmission(
        &mut self,
        user: usize,
        next: &Model,
        invitation: Option<portcullis_core::account::IssuedInvitation>,
    ) -> Result<(), String> {
        let reissued = self.model.users[user].status == Status::Pending;
        match invitation {
            Some(issued) if reissued => {
                let expected = next.users[user].invitation.map(|i| i.expires_at);
                if expected != Some(issued.expires_at.unix_seconds()) {
                    return Err(format!(
                        "re-issued invitation expiry {:?}",
                        issued.expires_at
                    ));
                }
                self.codes.push(issued.code.expose().to_owned());
                Ok(())
            }
            None if !reissued => Ok(()),
            other => Err(format!("admitted with invitation {other:?}")),
        }
    }

    /// The notifications an accepted request produced: exactly one per invitation or creation
    /// of a new user, re-sent invitation, acceptance, activation, deactivation and deletion
    /// (bulk ones included, per user changed), to the user concerned, and one to the new
    /// primary contact of a tenant and one to the contact it replaced; nothing for anything
    /// else.
    fn check_notifications(
        &self,
        before: &Account,
        request: &Request,
        next: &Model,
    ) -> Result<(), String> {
        let email_of = |user: usize| self.model.users[user].email.clone();
        // A pending user who leaves the account (revoked, or removed from the last tenant
        // with their invitation) is told the invitation no longer stands.
        let gone: Vec<(&str, String)> = (0..self.model.users.len())
            .filter(|&user| {
                self.model.users[user].status == Status::Pending
                    && next.users[user].status == Status::Deleted
            })
            .map(|user| ("deleted", email_of(user)))
            .collect();
        // An existing pending user admitted into a tenant gets a new invitation for it.
        let readmitted = |user: usize| {
            let code = |model: &Model| model.users[user].invitation.map(|i| i.code);
            self.model.users[user].status == Status::Pending && code(&self.model) != code(next)
        };
        let expected: Vec<(&str, String)> = match request {
            Request::Invite { email, .. } if next.users.len() > self.model.users.len() => {
                vec![("invitation", email.clone())]
            }
            Request::Invite { email, .. }
                if self.model.user_by_email(email).is_some_and(readmitted) =>
            {
                vec![("invitation", email.clone())]
            }
            Request::TenantAdmin {
                action: TenantAdmin::AssignSeat,
                user,
                ..
            } if readmitted(*user) => vec![("invitation", email_of(*user))],
            Request::Revoke { .. }
            | Request::RemoveMember { .. }
            | Request::TenantAdmin {
                action: TenantAdmin::RevokeSeat,
                ..
            } => gone,
            Request::CreateUser { email, .. } => vec![("invitation", email.clone())],
            Request::TenantAdmin {
                action: TenantAdmin::SetPrimaryContact,
                user,
                tenant,
                ..
            } => {
                let previous = self.model.tenants[*tenant].primary_contact;
                let mut told = vec![("primary_contact_changed", email_of(*user))];
                if previous != *user {
                    told.push(("primary_contact_changed", email_of(previous)));
                }
                told
            }
            Request::Accept { email, .. } => vec![("activated", email.clone())],
            Request::ChangePassword { actor, .. } => {
                vec![("password_changed", email_of(actor.user))]
            }
            Request::Resend { user, .. } => vec![("invitation_resent", email_of(*user))],
            Request::Deactivate { user, .. } => vec![("deactivated", email_of(*user))],
            Request::Activate { user, .. } => vec![("activated", email_of(*user))],
            Request::Delete { user, .. } => vec![("deleted", email_of(*user))],
            Request::Bulk { action, users, .. } => {
                let kind = match action {
                    BulkAction::Activate => "activated",
                    BulkAction::Deactivate => "deactivated",
                    BulkAction::Delete => "deleted",
                };
                users
                    .iter()
                    .zip(&next.bulk_expected)
                    .filter(|(_, refused)| refused.is_none())
                    .map(|(user, _)| (kind, email_of(*user)))
                    .collect()
            }
            _ => Vec::new(),
        };
        let produced: Vec<(&str, String)> = self
            .account
            .notifications()
            .get(before.notifications().len()..)
            .ok_or("notifications were removed")?
            .iter()
            .map(|n| (n.kind.name(), n.email.to_string()))
            .collect();
        if produced != expected {
            return Err(format!(
                "notifications produced {produced:?}, expected {expected:?}"
            ));
        }
        Ok(())
    }

    /// The report says, user by user, what the model predicted, and can be read again.
    fn check_bulk_report(
        &self,
        action: BulkAction,
        users: &[usize],
        next: &Model,
        report: &portcullis_core::bulk::BulkReport,
    ) -> Result<(), String> {
        let done = match action {
            BulkAction::Activate => BulkOutcome::Activated,
            BulkAction::Deactivate => BulkOutcome::Deactivated,
            BulkAction::Delete => BulkOutcome::Deleted,
        };
        if report.results.len() != users.len() || report.action != action {
            return Err(format!("report {report:?} for {users:?}"));
        }
        for ((result, &user), expected) in report.results.iter().zip(users).zip(&next.bulk_expected)
        {
            let agrees = result.user_id == self.users[user]
                && match expected {
                    None => result.outcome == done && result.code.is_none(),
                    Some(codes) => {
                        result.outcome == BulkOutcome::Refused
                            && result
                                .code
                                .as_deref()
                                .is_some_and(|code| codes.contains(&code))
                    }
                };
            if !agrees {
                return Err(format!("bulk result {result:?}, model {expected:?}"));
            }
        }
        let changed = next.bulk_expected.iter().filter(|e| e.is_none()).count();
        if report.counts.changed != changed
            || report.counts.refused != users.len() - changed
            || report.counts.requested != users.len()
        {
            return Err(format!("bulk counts {:?}", report.counts));
        }
        let owner = Actor::user(self.users[OWNER].clone());
        let now = Timestamp::from_unix_seconds(next.now);
        match self.account.bulk_report(&owner, &report.report_id, now) {
            Ok(kept) if kept == report => Ok(()),
            other => Err(format!("the report is not kept as given: {other:?}")),
        }
    }

    fn check(&self) -> Result<(), String> {
        self.check_engine_invariants()?;
        self.check_same_state()?;
        self.check_verification()
    }

    /// The account-wide invariants, judged on the engine alone.
    fn check_engine_invariants(&self) -> Result<(), String> {
        let account = &self.account;
        let owner = account
            .user(account.owner())
            .ok_or("the account owner is gone")?;
        if owner.status != UserStatus::Active || !owner.company_admin {
            return Err("the account owner is not an active company admin".into());
        }
        for user in account.users() {
            if account.is_trial() && user.company_admin && user.id != *account.owner() {
                return Err(format!("{} is a company admin of a trial account", user.id));
            }
            // Every role goes to active users only, and nobody becomes pending again.
            let roles = user.company_admin || user.support || !user.license_tenants.is_empty();
            if user.status == UserStatus::Pending && roles {
                return Err(format!("{} holds a company role while pending", user.id));
            }
            if user
                .license_tenants
                .iter()
                .any(|t| account.tenant(t).is_none())
            {
                return Err(format!("{} is a license admin of no tenant", user.id));
            }
            // A pending user's working code was issued no earlier than their latest membership
            // (joining re-issues it), for a tenant they are in, to someone named.
            if let Some(invitation) = &user.invitation {
                let joined_later = account.tenants().any(|tenant| {
                    tenant
                        .members
                        .get(&user.id)
                        .is_some_and(|m| m.added_at > invitation.issued_at)
                });
                let foreign = invitation.tenant.as_ref().is_some_and(|t| {
                    account
                        .tenant(t)
                        .is_none_or(|tenant| !tenant.members.contains_key(&user.id))
                });
                if user.status != UserStatus::Pending
                    || joined_later
                    || foreign
                    || invitation.issued_to.is_none()
                {
                    return Err(format!("{} holds a stale invitation", user.id));
                }
            }
        }
        for tenant in account.tenants() {
            let contact = tenant
                .primary_contact
                .as_ref()
                .and_then(|contact| account.user(contact))
                .ok_or_else(|| format!("{} has no primary contact", tenant.id))?;
            if !contact.license_tenants.contains(&tenant.id) {
                return Err(format!(
                    "the primary contact of {} is no license admin",
                    tenant.id
                ));
            }
            let managers = tenant
                .members
                .keys()
                .filter(|user| {
                    account
                        .effective_permissions(&tenant.id, user)
                        .contains(MANAGE)
                })
                .count();
            if managers == 0 {
                return Err(format!("tenant {} has no active manager", tenant.id));
            }
            if tenant.members.len() > tenant.plan.member_limit() {
                return Err(format!("tenant {} is over its plan's limit", tenant.id));
            }
            let owner_membership = tenant.members.get(&tenant.owner).map(|m| m.permissions);
            if tenant.granted(&tenant.owner) != Some(PermissionSet::all())
                || owner_membership != Some(PermissionSet::all())
            {
                return Err(format!("the owner of {} lacks permissions", tenant.id));
            }
            if let Some(breakglass) = &tenant.sso.breakglass
                && !account
                    .effective_permissions(&tenant.id, breakglass)
                    .contains(MANAGE)
            {
                return Err(format!("the breakglass of {} cannot manage", tenant.id));
            }
            if tenant.sso.enforced && tenant.sso.breakglass.is_none() {
                return Err(format!("{} enforces SSO with no breakglass", tenant.id));
            }
            if tenant
                .members
                .keys()
                .any(|user| account.user(user).is_none())
                || tenant
                    .api_tokens
                    .values()
                    .any(|token| !tenant.members.contains_key(&token.owner))
            {
                return Err(format!("{} has a member or token of nobody", tenant.id));
            }
        }
        // Only active users hold sessions.
        for record in account.session_records().values() {
            let active = account
                .user(&record.user_id)
                .is_some_and(|user| user.status == UserStatus::Active);
            if !active {
                return Err(format!(
                    "{} holds a session while not active",
                    record.user_id
                ));
            }
        }
        let records = account.credential_records();
        let stored: usize = account
            .tenants()
            .map(|t| t.api_tokens.len() + t.automation_keys.len())
            .sum();
        if records.len() != stored {
            return Err("credential records do not match the stored credentials".into());
        }
        for (key_id, record) in &records {
            let tenant = account
                .tenant(&record.tenant_id)
                .ok_or("record of no tenant")?;
            let bound = match record.kind {
                CredentialKind::ApiToken => {
                    let token = tenant.api_tokens.get(key_id).ok_or("record of no token")?;
                    let owner = record.owner.as_ref().ok_or("token without owner")?;
                    let granted = tenant.granted(owner).unwrap_or(PermissionSet::EMPTY);
                    token.scope.intersection(granted)
                }
                CredentialKind::AutomationKey => PermissionSet::only(build_permission()),
            };
            if !record.permissions.is_subset(bound) {
                return Err(format!("{key_id} holds {:?}", record.permissions));
            }
        }
        let now = Timestamp::from_unix_seconds(self.model.now);
        for (key_id, secret) in self.tokens.iter().chain(&self.keys) {
            let Verification::Valid(principal) = account.verify(secret, &self.key, now, None)
            else {
                continue;
            };
            let record = records.get(key_id).ok_or("a deleted credential verifies")?;
            let tenant = account
                .tenant(&record.tenant_id)
                .ok_or("record of no tenant")?;
            let usable = match record.kind {
                CredentialKind::ApiToken => record.owner.as_ref().is_some_and(|owner| {
                    account
                        .user(owner)
                        .is_some_and(|user| user.status == UserStatus::Active)
                }),
                CredentialKind::AutomationKey => {
                    tenant
                        .automation_keys
                        .get(key_id)
                        .is_some_and(|k| k.enabled)
                        && tenant.plan.includes(Feature::AUTOMATION_KEYS)
                }
            };
            if !usable || !principal.permissions.is_subset(record.permissions) {
                return Err(format!("{key_id} verifies although it must not"));
            }
        }
        let notifications = account.notifications();
        if notifications
            .iter()
            .enumerate()
            .any(|(position, n)| n.sequence != position as u64)
            || account.notifications_produced() != notifications.len() as u64
        {
            return Err("notification sequence numbers are not contiguous".into());
        }
        let text = serde_json::to_string(notifications).map_err(|e| e.to_string())?;
        let secrets = self
            .codes
            .iter()
            .chain(self.tokens.iter().map(|(_, s)| s))
            .chain(self.sessions.iter().map(|(_, s)| s));
        if let Some(secret) = secrets
            .into_iter()
            .find(|secret| text.contains(secret.as_str()))
        {
            return Err(format!("a notification carries the secret {secret}"));
        }
        verify_chain(account.audit_log().events()).map_err(|error| error.to_string())
    }

    /// Every user and company role a step added was given by someone who could, judged on the
    /// engine alone (its state before the step, and the actors of the step's audit events):
    /// users are created by company admins and license admins; the company admin and support
    /// roles are given, and primary contacts named, by company admins; a tenant's license admin
    /// role by company admins and its license admins.
    fn check_grants(&self, before: &Account) -> Result<(), String> {
        let account = &self.account;
        let events = account
            .audit_log()
            .events()
            .get(before.audit_log().len()..)
            .unwrap_or_default();
        let actors: Vec<Option<&User>> = events
            .iter()
            .map(|event| {
                let actor = event.body.actor.as_ref()?;
                before
                    .user(actor)
                    .filter(|user| user.status == UserStatus::Active)
            })
            .collect();
        let given = |could: &dyn Fn(&User) -> bool| {
            !actors.is_empty() && actors.iter().all(|actor| actor.is_some_and(could))
        };
        let company_admin = |actor: &User| actor.company_admin;
        for user in account.users() {
            let previous = before.user(&user.id);
            if previous.is_none()
                && !given(&|actor| actor.company_admin || !actor.license_tenants.is_empty())
            {
                return Err(format!("{} was created by someone who may not", user.id));
            }
            let gained_admin = user.company_admin && !previous.is_some_and(|p| p.company_admin);
            let gained_support = user.support && !previous.is_some_and(|p| p.support);
            if (gained_admin || gained_support) && !given(&company_admin) {
                return Err(format!(
                    "{} got a role from someone who may not give it",
                    user.id
                ));
            }
            for tenant in &user.license_tenants {
                let had = previous.is_some_and(|p| p.license_tenants.contains(tenant));
                if !had
                    && !given(&|actor| {
                        actor.company_admin || actor.license_tenants.contains(tenant)
                    })
                {
                    return Err(format!(
                        "{} became a license admin of {tenant} unduly",
                        user.id
                    ));
                }
            }
        }
        // Every invitation code the step issued went to the step's actor, who could have given
        // the user everything they hold: a company admin; or, for a user with no company role,
        // in every tenant the user is in a manager holding all of the user's permissions there,
        // or its license admin for a bare seat; for a user in no tenant, a license admin.
        for user in account.users() {
            let Some(invitation) = &user.invitation else {
                continue;
            };
            let issued_now = before
                .user(&user.id)
                .and_then(|previous| previous.invitation.as_ref())
                .is_none_or(|previous| previous.code_hash != invitation.code_hash);
            if !issued_now {
                continue;
            }
            let holder = invitation.issued_to.as_ref().and_then(|h| before.user(h));
            let named = events
                .iter()
                .all(|event| event.body.actor.as_ref() == invitation.issued_to.as_ref());
            let could = holder.is_some_and(|holder| {
                let memberships: Vec<_> = account
                    .tenants()
                    .filter_map(|t| t.members.get(&user.id).map(|m| (t, m.permissions)))
                    .collect();
                let no_role =
                    !user.company_admin && !user.support && user.license_tenants.is_empty();
                holder.status == UserStatus::Active
                    && (holder.company_admin
                        || no_role
                            && if memberships.is_empty() {
                                !holder.license_tenants.is_empty()
                            } else {
                                memberships.iter().all(|(tenant, granted)| {
                                    let held = before
                                        .tenant(&tenant.id)
                                        .and_then(|t| t.granted(&holder.id))
                                        .unwrap_or(PermissionSet::EMPTY);
                                    held.contains(MANAGE) && granted.is_subset(held)
                                        || granted.is_empty()
                                            && holder.license_tenants.contains(&tenant.id)
                                })
                            })
            });
            if !named || !could {
                return Err(format!(
                    "{}'s invitation code went to someone who does not answer for them",
                    user.id
                ));
            }
        }
        for tenant in account.tenants() {
            let swapped = before
                .tenant(&tenant.id)
                .is_some_and(|previous| previous.primary_contact != tenant.primary_contact);
            if swapped && !given(&company_admin) {
                return Err(format!(
                    "the primary contact of {} was swapped unduly",
                    tenant.id
                ));
            }
        }
        Ok(())
    }

    /// The engine's state, read through the model's indices, equals the model.
    fn check_same_state(&self) -> Result<(), String> {
        let account = &self.account;
        let model = &self.model;
        if *account.owner() != self.users[OWNER] || account.is_trial() != model.trial {
            return Err("the account owner or trial changed".into());
        }
        if account.settings().invitation_ttl_hours != model.invitation_ttl_hours {
            return Err("invitation lifetime differs".into());
        }
        let existing = (0..model.users.len()).filter(|&u| model.exists(u)).count();
        if account.users().count() != existing {
            return Err(format!(
                "{} users, model {existing}",
                account.users().count()
            ));
        }
        for (index, expected) in model.users.iter().enumerate() {
            let actual = account.user(&self.users[index]);
            let same = match actual {
                None => expected.status == Status::Deleted,
                Some(user) => {
                    status_of(user.status) == expected.status
                        && user.company_admin == expected.company_admin
                        && user.support == expected.support
                        && user.license_tenants.iter().collect::<BTreeSet<_>>()
                            == self.tenant_ids(&expected.license_tenants)
                        && user.name.as_str() == expected.name
                        && user.email.as_str() == expected.email
                        && user
                            .invitation
                            .as_ref()
                            .map(|i| (i.expires_at.unix_seconds(), i.tenant.as_ref()))
                            == expected
                                .invitation
                                .map(|i| (i.expires_at, i.tenant.map(|t| &self.tenants[t])))
                }
            };
            if !same {
                return Err(format!(
                    "user {index}: engine {actual:?}, model {expected:?}"
                ));
            }
        }
        if account.tenants().count() != model.tenants.len() {
            return Err("tenant count differs".into());
        }
        for (index, expected) in model.tenants.iter().enumerate() {
            let tenant = account
                .tenant(&self.tenants[index])
                .ok_or("tenant missing")?;
            let members: BTreeMap<UserId, PermissionSet> = expected
                .members
                .iter()
                .map(|(&user, &permissions)| (self.users[user].clone(), permissions))
                .collect();
            let actual: BTreeMap<UserId, PermissionSet> = tenant
                .members
                .iter()
                .map(|(user, membership)| (user.clone(), membership.permissions))
                .collect();
            let same = tenant.plan == expected.plan
                && tenant.owner == self.users[expected.owner]
                && actual == members
                && tenant.sso.enforced == expected.sso_enforced
                && tenant.sso.breakglass == expected.breakglass.map(|u| self.users[u].clone())
                && tenant.primary_contact.as_ref() == Some(&self.users[expected.primary_contact]);
            if !same {
                return Err(format!(
                    "tenant {index}: engine {tenant:?}, model {expected:?}"
                ));
            }
            let tokens: BTreeSet<&KeyId> = (0..model.tokens.len())
                .filter(|&t| model.tokens[t].live && model.tokens[t].tenant == index)
                .map(|t| &self.tokens[t].0)
                .collect();
            if tokens != tenant.api_tokens.keys().collect() {
                return Err(format!("tenant {index}: token set differs"));
            }
            let keys: BTreeSet<&KeyId> = (0..model.keys.len())
                .filter(|&k| model.keys[k].live && model.keys[k].tenant == index)
                .map(|k| &self.keys[k].0)
                .collect();
            if keys != tenant.automation_keys.keys().collect() {
                return Err(format!("tenant {index}: key set differs"));
            }
        }
        for (index, expected) in model.tokens.iter().enumerate().filter(|(_, t)| t.live) {
            let tenant = account
                .tenant(&self.tenants[expected.tenant])
                .ok_or("no tenant")?;
            let token = &tenant.api_tokens[&self.tokens[index].0];
            if token.owner != self.users[expected.owner]
                || token.scope != expected.scope
                || token.terms.expires_at.map(Timestamp::unix_seconds) != expected.expires_at
            {
                return Err(format!(
                    "token {index}: engine {token:?}, model {expected:?}"
                ));
            }
        }
        let stored: BTreeMap<&SessionId, (&UserId, u64)> = (0..model.sessions.len())
            .filter(|&s| model.session_open(s))
            .map(|s| {
                let user = &self.users[model.sessions[s].user];
                (&self.sessions[s].0, (user, model.session_expiry(s)))
            })
            .collect();
        let records = account.session_records();
        let actual: BTreeMap<&SessionId, (&UserId, u64)> = records
            .iter()
            .filter(|(_, record)| {
                record
                    .idle_expires_at
                    .unix_seconds()
                    .min(record.absolute_expires_at.unix_seconds())
                    > model.now
            })
            .map(|(id, record)| (id, (&record.user_id, record.idle_expires_at.unix_seconds())))
            .collect();
        if actual != stored {
            return Err(format!("sessions: engine {actual:?}, model {stored:?}"));
        }
        for (index, expected) in model.keys.iter().enumerate().filter(|(_, k)| k.live) {
            let tenant = account
                .tenant(&self.tenants[expected.tenant])
                .ok_or("no tenant")?;
            if tenant.automation_keys[&self.keys[index].0].enabled != expected.enabled {
                return Err(format!("key {index}: enabled differs"));
            }
        }
        Ok(())
    }

    /// The engine ids of model tenants.
    fn tenant_ids(&self, tenants: &BTreeSet<usize>) -> BTreeSet<&TenantId> {
        tenants
            .iter()
            .map(|&tenant| &self.tenants[tenant])
            .collect()
    }

    /// Every credential ever issued verifies exactly as the model says.
    fn check_verification(&self) -> Result<(), String> {
        let now = Timestamp::from_unix_seconds(self.model.now);
        let tokens = self
            .tokens
            .iter()
            .enumerate()
            .map(|(index, (_, secret))| (secret, self.model.expected_token(index)));
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(index, (_, secret))| (secret, self.model.expected_key(index)));
        for (secret, expected) in tokens.chain(keys) {
            let verification = self.account.verify(secret, &self.key, now, None);
            let actual = Expected {
                code: verification.code(),
                permissions: verification
                    .principal()
                    .map_or(PermissionSet::EMPTY, |principal| principal.permissions),
            };
            if actual != expected {
                let key_id = secret.split(':').next().unwrap_or_default();
                return Err(format!(
                    "{key_id} verifies as {actual:?}, model {expected:?}"
                ));
            }
        }
        // Every session ever issued, in every tenant.
        for (index, (id, secret)) in self.sessions.iter().enumerate() {
            for (tenant, tenant_id) in self.tenants.iter().enumerate() {
                let verification = self
                    .account
                    .verify_session(secret, tenant_id, &self.key, now);
                let actual = Expected {
                    code: verification.code(),
                    permissions: verification
                        .principal()
                        .map_or(PermissionSet::EMPTY, |principal| principal.permissions),
                };
                let expected = self.model.expected_session(index, tenant);
                let expired_out = self.model.sessions[index].expired_out
                    && actual.code == "session_expired"
                    && actual.permissions == PermissionSet::EMPTY;
                if actual != expected && !expired_out {
                    return Err(format!(
                        "session {index} ({id:?}) verifies in tenant {tenant} as {actual:?}, \
                         model {expected:?}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The change set from `before` to `after` is exactly the difference of their whole
/// storage: its rows turn `before`'s rows into `after`'s, and its projection writes turn
/// `before`'s edge records into `after`'s (whatever the change was, refused ones included).
fn check_change_set(before: &Account, after: &Account) -> Result<(), String> {
    type Rows = BTreeMap<(RowKind, String), String>;
    let rows = |account: &Account| -> Result<Rows, String> {
        Ok(account
            .to_rows()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|row| ((row.kind, row.key), row.value))
            .collect())
    };
    let changes = after.changes_since(before).map_err(|e| e.to_string())?;
    let mut stored = rows(before)?;
    let mut written = BTreeSet::new();
    for change in &changes.rows {
        let (kind, key) = change.target();
        if !written.insert((kind, key.to_owned())) {
            return Err(format!("the change set writes {kind} {key:?} twice"));
        }
        match change {
            RowChange::Put(row) => {
                if stored.get(&(row.kind, row.key.clone())) == Some(&row.value) {
                    return Err(format!(
                        "the change set rewrites an unchanged {kind} {key:?}"
                    ));
                }
                stored.insert((row.kind, row.key.clone()), row.value.clone());
            }
            RowChange::Delete { kind, key } => {
                if stored.remove(&(*kind, key.clone())).is_none() {
                    return Err(format!("the change set deletes a missing {kind} {key:?}"));
                }
            }
        }
    }
    if stored != rows(after)? {
        let expected = rows(after)?;
        let differs: Vec<_> = expected
            .iter()
            .filter(|(k, v)| stored.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .chain(stored.keys().filter(|k| !expected.contains_key(*k)))
            .collect();
        return Err(format!("the change set's rows miss {differs:?}"));
    }
    let restored = Account::from_rows(rows(after)?.into_iter().map(|((kind, key), value)| Row {
        kind,
        key,
        value,
    }))
    .map_err(|e| e.to_string())?;
    if restored != *after {
        let (a, b) = (
            serde_json::to_value(&restored).map_err(|e| e.to_string())?,
            serde_json::to_value(after).map_err(|e| e.to_string())?,
        );
        return Err(format!(
            "the account does not survive a round trip through its rows: {a} != {b}"
        ));
    }
    let mut credentials = before.credential_records();
    for change in changes.credentials {
        match change {
            RecordChange::Put(record) => {
                credentials.insert(record.key_id.clone(), record);
            }
            RecordChange::Delete(key_id) => {
                credentials.remove(&key_id);
            }
        }
    }
    if credentials != after.credential_records() {
        return Err("the change set's credential records miss a change".into());
    }
    let mut sign_in = before.sign_in_records();
    for change in changes.sign_in {
        match change {
            SignInRecordChange::PutSession(record) => {
                sign_in.sessions.insert(record.session_id.clone(), record);
            }
            SignInRecordChange::DeleteSession(id) => {
                sign_in.sessions.remove(&id);
            }
            SignInRecordChange::PutAccess(record) => {
                sign_in.access.insert(record.user_id.clone(), record);
            }
            SignInRecordChange::DeleteAccess(id) => {
                sign_in.access.remove(&id);
            }
        }
    }
    if sign_in != after.sign_in_records() {
        return Err("the change set's session or access records miss a change".into());
    }
    Ok(())
}

fn run(plan: Plan, trial: bool, seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World::new(plan, trial, seed);
    world.check().map_err(TestCaseError::fail)?;
    for (index, op) in ops.iter().enumerate() {
        // Every other acceptance chooses a password, signing in.
        let accept = Op::Accept {
            user: UserPick::Newest,
            code: CodePick::Current,
            password: u8::try_from(index / 2 % PASSWORDS.len())
                .ok()
                .filter(|_| index % 2 == 0),
        };
        let steps = match op {
            Op::Invite { accept: true, .. } | Op::CreateUser { accept: true, .. } => {
                vec![op, &accept]
            }
            _ => vec![op],
        };
        for op in steps {
            if let Err(problem) = world.step(op) {
                return Err(TestCaseError::fail(format!(
                    "step {index}: {problem}\n\ntrace:\n{}",
                    world.trace
                )));
            }
        }
    }
    let json =
        serde_json::to_value(&world.account).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let restored: Account =
        serde_json::from_value(json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        restored == world.account,
        "the account does not survive a JSON round trip"
    );
    Ok(())
}

proptest! {
    // 256 cases unless PROPTEST_CASES says otherwise (`ProptestConfig::default()` reads it).
    // A failing case is saved next to this file, in `model.proptest-regressions`, and replayed
    // first on the next run.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_agrees_with_the_model(
        plan in plan(),
        trial in prop::bool::weighted(0.2),
        seed in any::<u64>(),
        ops in ops(),
    ) {
        run(plan, trial, seed, &ops)?;
    }
}

/// The same property with another product's model in force (`policy/examples/documents`:
/// seven permissions, plans of 3 / 50 / 500 seats, automation keys on the smallest and the
/// largest plan only, managed with `run_imports`), so that nothing in the engine can depend on
/// the default model's names or numbers.
#[test]
fn engine_agrees_with_the_model_under_another_product_model() {
    let model = std::sync::Arc::new(
        portcullis_core::Model::from_json(include_str!(
            "../../../policy/examples/documents/model.json"
        ))
        .unwrap(),
    );
    let _scope = model.enter();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    let strategy = (plan(), prop::bool::weighted(0.2), any::<u64>(), ops());
    let outcome = runner.run(&strategy, |(plan, trial, seed, ops)| {
        run(plan, trial, seed, &ops)
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
