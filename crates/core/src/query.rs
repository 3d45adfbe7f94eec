//! Read access: what an actor may see of an account, as plain views without any secret.
//!
//! Every read is authorized here, next to the writes in [`crate::account`], so adapters (the
//! Management API, the Terraform provider) only route and render. Any active member of a tenant
//! may read its settings, members and automation keys (read-only access needs no permission);
//! API tokens are visible to their owner and to members holding `user_and_api_management`;
//! the account's user list is for company admins.

use crate::account::{Account, Actor, Refusal};
use crate::company::{AccountOperation, CompanyRole};
use crate::credential::{CredentialKind, KeyId};
use crate::gateway::request_counts::DayCount;
use crate::ids::{AccountId, DisplayName, Email, SsoConnectionId, TenantId, UserId};
use crate::listing::{self, ListPage, ListQuery};
use crate::permission::{Permission, PermissionSet};
use crate::plan::Plan;
use crate::tenant::{ApiToken, AutomationKey, Tenant};
use crate::terms::Terms;
use crate::time::Timestamp;
use crate::user::{User, UserStatus};
use serde::{Deserialize, Serialize};

/// A tenant's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    /// Id.
    pub tenant_id: TenantId,
    /// Name.
    pub name: DisplayName,
    /// Plan.
    pub plan: Plan,
    /// The tenant owner.
    pub owner: UserId,
    /// Members, owner and pending invitees included.
    pub member_count: usize,
    /// The plan's member limit.
    pub member_limit: usize,
    /// Whether SAML SSO is enforced.
    pub sso_enforced: bool,
    /// The member who may sign in without SSO.
    pub saml_breakglass_user_id: Option<UserId>,
    /// The account's identity-provider connection members sign in with, if the tenant names
    /// one.
    #[serde(default)]
    pub sso_connection_id: Option<SsoConnectionId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// The license admin who receives license and maintenance notifications.
    pub primary_contact: UserId,
}

/// A member of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// The user.
    pub user_id: UserId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The user's email.
    pub email: Email,
    /// Display name.
    pub name: DisplayName,
    /// Account-level status.
    pub status: UserStatus,
    /// Granted permissions.
    pub permissions: PermissionSet,
    /// What the member can use right now (none unless active).
    pub effective_permissions: PermissionSet,
    /// Whether the member owns the tenant.
    pub tenant_owner: bool,
    /// When the member was added.
    pub added_at: Timestamp,
}

/// A user of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// Id.
    pub user_id: UserId,
    /// Email.
    pub email: Email,
    /// Display name.
    pub name: DisplayName,
    /// Status.
    pub status: UserStatus,
    /// Whether the user is a company admin.
    pub company_admin: bool,
    /// Every company role the user holds (`tenant_user` once, however many tenants).
    #[serde(default)]
    pub roles: Vec<CompanyRole>,
    /// The tenants the user is a license admin of.
    #[serde(default)]
    pub license_tenants: Vec<TenantId>,
    /// Whether the user owns the account.
    pub account_owner: bool,
    /// Tenants the user is a member of.
    pub tenants: Vec<TenantId>,
    /// When the outstanding invitation expires, while pending.
    pub invitation_expires_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// The requests a token or automation key authenticated per UTC day, as the edge counted them
/// (see [`crate::gateway::request_counts`]): the last 30 days, oldest first, today last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageView {
    /// The credential.
    pub key_id: KeyId,
    /// One entry per day, 0 for a day without requests.
    pub days: Vec<DayCount>,
    /// The sum over `days`.
    pub total: u64,
}

/// An API token's metadata (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenView {
    /// Public id.
    pub key_id: KeyId,
    /// The tenant it acts in.
    pub tenant_id: TenantId,
    /// Its owner.
    pub owner: UserId,
    /// Name.
    pub name: DisplayName,
    /// Its scope.
    pub permissions: PermissionSet,
    /// Scope ∩ the owner's permissions, now.
    pub effective_permissions: PermissionSet,
    /// Creation time.
    pub created_at: Timestamp,
    /// Validity window (`expires_at` always present, null when none), client IP rules,
    /// external id and metadata.
    #[serde(flatten)]
    pub terms: Terms,
    /// When its secret was last rolled.
    #[serde(default)]
    pub rolled_at: Option<Timestamp>,
    /// Until when the previous secret of the last roll works (a time past: it has stopped).
    #[serde(default)]
    pub previous_valid_until: Option<Timestamp>,
    /// Last authenticated request reported by the edge.
    pub last_used_at: Option<Timestamp>,
}

/// An automation key's metadata (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationKeyView {
    /// Public id.
    pub key_id: KeyId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Name.
    pub name: DisplayName,
    /// Whether it currently works.
    pub enabled: bool,
    /// Creator.
    pub created_by: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Validity window (`expires_at` always present, null when none), client IP rules,
    /// external id and metadata.
    #[serde(flatten)]
    pub terms: Terms,
    /// When its secret was last rolled.
    #[serde(default)]
    pub rolled_at: Option<Timestamp>,
    /// Until when the previous secret of the last roll works (a time past: it has stopped).
    #[serde(default)]
    pub previous_valid_until: Option<Timestamp>,
    /// Last authenticated request reported by the edge.
    pub last_used_at: Option<Timestamp>,
}

/// A tenant's seats and plan usage, for company admins and license admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseUsage {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its name.
    pub name: DisplayName,
    /// Its plan.
    pub plan: Plan,
    /// Seats taken (owner and pending invitees included).
    pub seats_used: usize,
    /// The plan's seats.
    pub seat_limit: usize,
    /// The primary contact.
    pub primary_contact: UserId,
    /// The tenant's license admins.
    pub license_admins: Vec<UserId>,
    /// Whether the caller administers these seats (company admins: every tenant; license
    /// admins: their own tenants; the others' usage is visible read-only).
    pub administered_by_caller: bool,
}

/// One row of the permissions matrix for the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOperationView {
    /// The operation.
    pub operation: AccountOperation,
    /// What it is.
    pub description: String,
    /// Whether the caller may run it (somewhere: license admins on their own tenants).
    pub allowed: bool,
}

/// The account as its users see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Id.
    pub account_id: AccountId,
    /// Name.
    pub name: DisplayName,
    /// The account owner.
    pub owner: UserId,
    /// Invitation lifetime.
    pub invitation_ttl_hours: u32,
    /// A self-service trial account (no company admin but the owner).
    #[serde(default)]
    pub trial: bool,
    /// Tenants the actor is a member of.
    pub tenants: Vec<TenantView>,
}

impl Account {
    /// The account, with the tenants the actor belongs to (company admins, license admins and
    /// support: `view_account_details`).
    pub fn view_account(&self, actor: &Actor, now: Timestamp) -> Result<AccountView, Refusal> {
        self.require_account_operation(actor, AccountOperation::ViewAccountDetails, None, now)?;
        let tenants = self
            .tenants()
            .filter(|tenant| self.actor_permissions(actor, &tenant.id, now).is_ok())
            .map(tenant_view)
            .collect();
        Ok(AccountView {
            account_id: self.id().clone(),
            name: self.name().clone(),
            owner: self.owner().clone(),
            invitation_ttl_hours: self.settings().invitation_ttl_hours,
            trial: self.is_trial(),
            tenants,
        })
    }

    /// A tenant's settings, for any member.
    pub fn view_tenant(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<TenantView, Refusal> {
        self.actor_permissions(actor, tenant, now)?;
        self.tenant_ref(tenant).map(tenant_view)
    }

    /// A tenant's members, for any member: the page `list` asks for, in user id order.
    pub fn view_members(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        list: &ListQuery,
        now: Timestamp,
    ) -> Result<ListPage<MemberView>, Refusal> {
        self.actor_permissions(actor, tenant, now)?;
        let tenant = self.tenant_ref(tenant)?;
        listing::page(&tenant.members, list, |user, _| {
            self.member_view(tenant, user)
        })
    }

    /// One member of a tenant, for any member.
    pub fn view_member(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<MemberView, Refusal> {
        self.actor_permissions(actor, tenant, now)?;
        let tenant = self.tenant_ref(tenant)?;
        self.member_view(tenant, user)
            .ok_or_else(|| Refusal::NotMember {
                user: user.clone(),
                tenant: tenant.id.clone(),
            })
    }

    /// Seats and plan usage of every tenant, for company admins and license admins.
    pub fn view_license_usage(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<LicenseUsage>, Refusal> {
        self.require_account_operation(actor, AccountOperation::ViewLicenseUsage, None, now)?;
        Ok(self
            .tenants()
            .map(|tenant| LicenseUsage {
                tenant_id: tenant.id.clone(),
                name: tenant.name.clone(),
                plan: tenant.plan,
                seats_used: tenant.members.len(),
                seat_limit: tenant.plan.member_limit(),
                primary_contact: tenant.primary_contact().clone(),
                license_admins: self
                    .users()
                    .filter(|user| user.license_tenants.contains(&tenant.id))
                    .map(|user| user.id.clone())
                    .collect(),
                administered_by_caller: self
                    .require_account_operation(
                        actor,
                        AccountOperation::AssignLicenses,
                        Some(&tenant.id),
                        now,
                    )
                    .is_ok(),
            })
            .collect())
    }

    /// The permissions matrix for the caller: every account operation and whether they may
    /// run it.
    pub fn view_account_operations(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<AccountOperationView>, Refusal> {
        Ok(self
            .account_operations(actor, now)?
            .into_iter()
            .map(|(operation, allowed)| AccountOperationView {
                operation,
                description: operation.description().to_owned(),
                allowed,
            })
            .collect())
    }

    /// Every user of the account, for company admins.
    pub fn view_users(&self, actor: &Actor, now: Timestamp) -> Result<Vec<UserView>, Refusal> {
        self.require_company_admin(actor, now)?;
        Ok(self.users().map(|user| self.user_view(user)).collect())
    }

    /// One user of the account, for whoever may edit them (themselves, and whoever reaches
    /// them: company admins; for a user with no company role, whoever administers every tenant
    /// the user belongs to; for a user in no tenant yet, whoever may create users, so a license
    /// admin can find the user they just created and give them a seat). A tenant manager sees
    /// other users as members only (`GET /v1/tenants/{t}/members/{u}`). Anyone else is refused
    /// as not a company admin.
    pub fn view_user(
        &self,
        actor: &Actor,
        user: &UserId,
        now: Timestamp,
    ) -> Result<UserView, Refusal> {
        if !self.may_edit_user(actor, user, now) {
            self.require_company_admin(actor, now)?;
        }
        self.user_ref(user).map(|user| self.user_view(user))
    }

    /// The API tokens of a tenant the actor may see (their own, or all with
    /// `user_and_api_management`): the page `list` asks for, in key id order.
    pub fn view_api_tokens(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        list: &ListQuery,
        now: Timestamp,
    ) -> Result<ListPage<ApiTokenView>, Refusal> {
        let held = self.actor_permissions(actor, tenant, now)?;
        let tenant = self.tenant_ref(tenant)?;
        listing::page(&tenant.api_tokens, list, |_, token| {
            may_see_token(actor, held, token).then(|| self.token_view(tenant, token))
        })
    }

    /// One API token, when the actor may see it (else it is reported as not found, so its
    /// existence is not revealed).
    pub fn view_api_token(
        &self,
        actor: &Actor,
        key_id: &KeyId,
        now: Timestamp,
    ) -> Result<ApiTokenView, Refusal> {
        let not_found = || Refusal::UnknownCredential(key_id.clone());
        let tenant = self
            .tenants()
            .find(|tenant| tenant.api_tokens.contains_key(key_id))
            .ok_or_else(not_found)?;
        let held = self.credential_permissions(actor, &tenant.id, key_id, now)?;
        tenant
            .api_tokens
            .get(key_id)
            .filter(|token| may_see_token(actor, held, token))
            .map(|token| self.token_view(tenant, token))
            .ok_or_else(not_found)
    }

    /// The requests of the token (`kind` [`CredentialKind::ApiToken`]) or automation key
    /// `key_id` per day: for whoever may view it ([`Account::view_api_token`],
    /// [`Account::view_automation_key`]), with the same refusals; a credential of the other
    /// kind is unknown.
    pub fn view_credential_usage(
        &self,
        actor: &Actor,
        key_id: &KeyId,
        kind: CredentialKind,
        now: Timestamp,
    ) -> Result<UsageView, Refusal> {
        let requests = match kind {
            CredentialKind::ApiToken => {
                self.view_api_token(actor, key_id, now)?;
                self.tenants()
                    .find_map(|tenant| tenant.api_tokens.get(key_id))
                    .map(|token| &token.requests)
            }
            CredentialKind::AutomationKey => {
                self.view_automation_key(actor, key_id, now)?;
                self.tenants()
                    .find_map(|tenant| tenant.automation_keys.get(key_id))
                    .map(|key| &key.requests)
            }
        }
        .ok_or_else(|| Refusal::UnknownCredential(key_id.clone()))?;
        let days = requests.window(now);
        Ok(UsageView {
            key_id: key_id.clone(),
            total: days.iter().map(|day| day.requests).sum(),
            days,
        })
    }

    /// A tenant's automation keys, for any member: the page `list` asks for, in key id order.
    pub fn view_automation_keys(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        list: &ListQuery,
        now: Timestamp,
    ) -> Result<ListPage<AutomationKeyView>, Refusal> {
        self.actor_permissions(actor, tenant, now)?;
        let tenant = self.tenant_ref(tenant)?;
        listing::page(&tenant.automation_keys, list, |_, key| {
            Some(key_view(tenant, key))
        })
    }

    /// One automation key, for any member of its tenant.
    pub fn view_automation_key(
        &self,
        actor: &Actor,
        key_id: &KeyId,
        now: Timestamp,
    ) -> Result<AutomationKeyView, Refusal> {
        let tenant = self
            .tenants()
            .find(|tenant| tenant.automation_keys.contains_key(key_id))
            .ok_or_else(|| Refusal::UnknownCredential(key_id.clone()))?;
        self.credential_permissions(actor, &tenant.id, key_id, now)?;
        tenant
            .automation_keys
            .get(key_id)
            .map(|key| key_view(tenant, key))
            .ok_or_else(|| Refusal::UnknownCredential(key_id.clone()))
    }

    fn member_view(&self, tenant: &Tenant, user: &UserId) -> Option<MemberView> {
        let membership = tenant.members.get(user)?;
        let record = self.user(user)?;
        Some(MemberView {
            user_id: record.id.clone(),
            tenant_id: tenant.id.clone(),
            email: record.email.clone(),
            name: record.name.clone(),
            status: record.status,
            permissions: tenant.granted(user).unwrap_or(membership.permissions),
            effective_permissions: self.effective_permissions(&tenant.id, user),
            tenant_owner: tenant.owner == *user,
            added_at: membership.added_at,
        })
    }

    pub(crate) fn user_view(&self, user: &User) -> UserView {
        UserView {
            user_id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            status: user.status,
            company_admin: user.company_admin,
            roles: self.company_roles(&user.id),
            license_tenants: user.license_tenants.iter().cloned().collect(),
            account_owner: *self.owner() == user.id,
            tenants: self
                .tenants_of(&user.id)
                .map(|tenant| tenant.id.clone())
                .collect(),
            invitation_expires_at: user.invitation.as_ref().map(|i| i.expires_at),
            created_at: user.created_at,
        }
    }

    fn token_view(&self, tenant: &Tenant, token: &ApiToken) -> ApiTokenView {
        ApiTokenView {
            key_id: token.key_id.clone(),
            tenant_id: tenant.id.clone(),
            owner: token.owner.clone(),
            name: token.name.clone(),
            permissions: token.scope,
            effective_permissions: token
                .scope
                .intersection(self.effective_permissions(&tenant.id, &token.owner)),
            created_at: token.created_at,
            terms: token.terms.clone(),
            rolled_at: token.secret.rolled_at,
            previous_valid_until: token.secret.previous.map(|previous| previous.until),
            last_used_at: token.last_used_at,
        }
    }
}

fn may_see_token(actor: &Actor, held: PermissionSet, token: &ApiToken) -> bool {
    token.owner == actor.user_id || held.contains(Permission::USER_AND_API_MANAGEMENT)
}

fn tenant_view(tenant: &Tenant) -> TenantView {
    TenantView {
        tenant_id: tenant.id.clone(),
        name: tenant.name.clone(),
        plan: tenant.plan,
        owner: tenant.owner.clone(),
        member_count: tenant.members.len(),
        member_limit: tenant.plan.member_limit(),
        sso_enforced: tenant.sso.enforced,
        saml_breakglass_user_id: tenant.sso.breakglass.clone(),
        sso_connection_id: tenant.sso.connection.clone(),
        created_at: tenant.created_at,
        primary_contact: tenant.primary_contact().clone(),
    }
}

fn key_view(tenant: &Tenant, key: &AutomationKey) -> AutomationKeyView {
    AutomationKeyView {
        key_id: key.key_id.clone(),
        tenant_id: tenant.id.clone(),
        name: key.name.clone(),
        enabled: key.enabled,
        created_by: key.created_by.clone(),
        created_at: key.created_at,
        terms: key.terms.clone(),
        rolled_at: key.secret.rolled_at,
        previous_valid_until: key.secret.previous.map(|previous| previous.until),
        last_used_at: key.last_used_at,
    }
}
