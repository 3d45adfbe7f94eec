//! The membership rules of a tenant, once, and the preflight that judges a proposed change
//! with them before it is sent.
//!
//! [`Account::apply`](super::Account::apply) calls [`permission_change`], [`member_removal`],
//! [`invitation`] and [`lockout`] on its draft; [`check_tenant_change`] calls the same functions
//! on a tenant rebuilt from what the Management API shows of it (`GET /v1/tenants/{id}` and its
//! members, the [`TenantView`] and [`MemberView`] a console already holds), so that a change
//! the engine would refuse is refused before it is sent, with the engine's own refusal: the
//! same code ([`Refusal::code`]) and the same message. [`check_transition`] does the same for a
//! user's lifecycle ([`UserStatus`]'s transitions).
//!
//! A preflight sees only what the views show: what it refuses, the engine refuses alike on the
//! same tenant; what it allows, the engine still judges (the views may be stale, and the rules
//! of the account beyond the tenant, such as who may create users or the lockout of the
//! actor's other tenants, are not in them).

use super::Refusal;
use crate::bulk::BulkAction;
use crate::ids::{Email, UserId};
use crate::permission::{Permission, PermissionSet};
use crate::query::{MemberView, TenantView};
use crate::tenant::{Membership, Sso, Tenant};
use crate::user::{IllegalTransition, UserStatus};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Changing `user_id`'s permissions in `tenant` to `permissions`, by an actor who holds `held`
/// there (and may manage members): the tenant owner keeps every permission, only members have
/// permissions, nobody grants what they do not hold, and the breakglass user keeps
/// `user_and_api_management`.
pub(super) fn permission_change(
    tenant: &Tenant,
    held: PermissionSet,
    user_id: &UserId,
    permissions: PermissionSet,
) -> Result<(), Refusal> {
    if *user_id == tenant.owner && permissions != PermissionSet::all() {
        return Err(Refusal::OwnerProtected("tenant owner"));
    }
    let membership = tenant
        .members
        .get(user_id)
        .ok_or_else(|| Refusal::NotMember {
            user: user_id.clone(),
            tenant: tenant.id.clone(),
        })?;
    let added = permissions.difference(membership.permissions);
    if !added.is_subset(held) {
        return Err(Refusal::Escalation(added.difference(held)));
    }
    if tenant.sso.breakglass.as_ref() == Some(user_id)
        && !permissions.contains(Permission::USER_AND_API_MANAGEMENT)
    {
        return Err(Refusal::BreakglassProtected(user_id.clone()));
    }
    Ok(())
}

/// Removing `user_id` from `tenant`, by `actor`: nobody removes themselves, the tenant owner
/// and the breakglass user stay, and only a member can be removed.
pub(super) fn member_removal(
    tenant: &Tenant,
    actor: &UserId,
    user_id: &UserId,
) -> Result<(), Refusal> {
    if user_id == actor {
        return Err(Refusal::SelfTarget("remove"));
    }
    if *user_id == tenant.owner {
        return Err(Refusal::OwnerProtected("tenant owner"));
    }
    if tenant.sso.breakglass.as_ref() == Some(user_id) {
        return Err(Refusal::BreakglassProtected(user_id.clone()));
    }
    if !tenant.members.contains_key(user_id) {
        return Err(Refusal::NotMember {
            user: user_id.clone(),
            tenant: tenant.id.clone(),
        });
    }
    Ok(())
}

/// Inviting `email` (the account's user `existing` when one has that email) to `tenant` with
/// `permissions`, by an actor who holds `held` there: nobody grants what they do not hold, a
/// member is not invited twice, and the tenant stays within its plan's seats.
pub(super) fn invitation(
    tenant: &Tenant,
    held: PermissionSet,
    permissions: PermissionSet,
    email: &Email,
    existing: Option<&UserId>,
) -> Result<(), Refusal> {
    if !permissions.is_subset(held) {
        return Err(Refusal::Escalation(permissions.difference(held)));
    }
    if existing.is_some_and(|user_id| tenant.members.contains_key(user_id)) {
        return Err(Refusal::AlreadyMember(email.clone()));
    }
    let limit = tenant.plan.member_limit();
    if tenant.members.len() >= limit {
        return Err(Refusal::PlanLimit {
            plan: tenant.plan,
            limit,
        });
    }
    Ok(())
}

/// Whether some member of `tenant` is an active manager: holds `user_and_api_management`
/// there (the owner holds everything) and is active (`is_active`).
pub(super) fn has_active_manager(tenant: &Tenant, is_active: impl Fn(&UserId) -> bool) -> bool {
    tenant.grants().any(|(user, permissions)| {
        permissions.contains(Permission::USER_AND_API_MANAGEMENT) && is_active(user)
    })
}

/// Whether a user is active, in the account as it is at some moment.
pub(super) type IsActive<'a> = &'a dyn Fn(&UserId) -> bool;

/// Lockout prevention: a change may not leave `after` with no active manager when the tenant
/// had one `before` (none: the tenant is new), each judged with its own users' statuses.
pub(super) fn lockout(
    before: Option<(&Tenant, IsActive<'_>)>,
    after: (&Tenant, IsActive<'_>),
) -> Result<(), Refusal> {
    let (tenant, active_after) = after;
    if !has_active_manager(tenant, active_after)
        && before.is_none_or(|(before, active_before)| has_active_manager(before, active_before))
    {
        return Err(Refusal::Lockout(tenant.id.clone()));
    }
    Ok(())
}

/// A change to a tenant's members, as a console proposes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum TenantChange {
    /// `PATCH /v1/tenants/{id}/members/{user_id}`: replace the member's permissions.
    ChangePermissions {
        /// The member.
        user_id: UserId,
        /// The new set.
        permissions: PermissionSet,
    },
    /// `DELETE /v1/tenants/{id}/members/{user_id}`.
    RemoveMember {
        /// The member.
        user_id: UserId,
    },
    /// `POST /v1/tenants/{id}/members`: invite by email.
    InviteMember {
        /// Whom.
        email: Email,
        /// What they are granted.
        #[serde(default)]
        permissions: PermissionSet,
    },
}

/// What a console knows of one tenant: its settings and every member, as the Management API
/// answers them (`GET /v1/tenants/{id}` and `GET /v1/tenants/{id}/members`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSnapshot {
    /// The tenant.
    pub tenant: TenantView,
    /// Its members, owner and pending invitees included.
    pub members: Vec<MemberView>,
}

impl TenantSnapshot {
    /// The tenant as the engine holds it (no credentials: no membership rule reads them), and
    /// each member's status.
    fn rebuild(&self) -> (Tenant, BTreeMap<UserId, UserStatus>) {
        let view = &self.tenant;
        let members: OrdMap<UserId, Membership> = self
            .members
            .iter()
            .map(|member| {
                let membership = Membership {
                    permissions: member.permissions,
                    added_at: member.added_at,
                };
                (member.user_id.clone(), membership)
            })
            .collect();
        let tenant = Tenant {
            id: view.tenant_id.clone(),
            name: view.name.clone(),
            plan: view.plan,
            owner: view.owner.clone(),
            members,
            sso: Sso {
                enforced: view.sso_enforced,
                breakglass: view.saml_breakglass_user_id.clone(),
                connection: view.sso_connection_id.clone(),
            },
            api_tokens: OrdMap::new(),
            automation_keys: OrdMap::new(),
            created_at: view.created_at,
            primary_contact: Some(view.primary_contact.clone()),
        };
        let statuses = self
            .members
            .iter()
            .map(|member| (member.user_id.clone(), member.status))
            .collect();
        (tenant, statuses)
    }
}

/// Judges `change` to the tenant of `snapshot` by its member `actor` (who is signed in, so
/// active) with the engine's membership rules: `Ok` when they allow it, else the refusal the
/// engine answers for it (`missing_permission`, `privilege_escalation`, `self_target`,
/// `owner_protected`, `breakglass_protected`, `already_member`, `plan_limit`, `lockout`, ...).
pub fn check_tenant_change(
    snapshot: &TenantSnapshot,
    actor: &UserId,
    change: &TenantChange,
) -> Result<(), Refusal> {
    let (tenant, statuses) = snapshot.rebuild();
    let is_active = |user: &UserId| statuses.get(user) == Some(&UserStatus::Active);
    let held = tenant
        .granted(actor)
        .filter(|_| is_active(actor))
        .ok_or_else(|| Refusal::ActorNotMember(tenant.id.clone()))?;
    if !held.contains(Permission::USER_AND_API_MANAGEMENT) {
        return Err(Refusal::MissingPermission(
            Permission::USER_AND_API_MANAGEMENT,
        ));
    }
    let mut after = tenant.clone();
    match change {
        TenantChange::ChangePermissions {
            user_id,
            permissions,
        } => {
            permission_change(&tenant, held, user_id, *permissions)?;
            if let Some(membership) = after.members.get_mut(user_id) {
                membership.permissions = *permissions;
            }
        }
        TenantChange::RemoveMember { user_id } => {
            member_removal(&tenant, actor, user_id)?;
            after.members.remove(user_id);
        }
        TenantChange::InviteMember { email, permissions } => {
            let existing = snapshot
                .members
                .iter()
                .find(|member| member.email == *email)
                .map(|member| &member.user_id);
            // An invitee joins as pending (or as they are): never an active manager who was
            // not one, so the invitation cannot lock the tenant out.
            return invitation(&tenant, held, *permissions, email, existing);
        }
    }
    lockout(Some((&tenant, &is_active)), (&after, &is_active))
}

/// A user lifecycle action a console offers, with the transition of [`UserStatus`] it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    /// `POST /v1/users/{id}/activate` (or a bulk `activate`).
    Activate,
    /// `POST /v1/users/{id}/deactivate` (or a bulk `deactivate`).
    Deactivate,
    /// `DELETE /v1/users/{id}` (or a bulk `delete`).
    Delete,
    /// `POST /v1/users/{id}/invitation`.
    ResendInvitation,
    /// `DELETE /v1/users/{id}/invitation`.
    RevokeInvitation,
}

impl From<BulkAction> for LifecycleAction {
    fn from(action: BulkAction) -> Self {
        match action {
            BulkAction::Activate => LifecycleAction::Activate,
            BulkAction::Deactivate => LifecycleAction::Deactivate,
            BulkAction::Delete => LifecycleAction::Delete,
        }
    }
}

impl LifecycleAction {
    /// Every action, in the order a console lists them.
    pub const ALL: [LifecycleAction; 5] = [
        LifecycleAction::ResendInvitation,
        LifecycleAction::RevokeInvitation,
        LifecycleAction::Activate,
        LifecycleAction::Deactivate,
        LifecycleAction::Delete,
    ];

    /// The lifecycle's transition for this action from `status` (the one the engine runs).
    pub fn transition(self, status: UserStatus) -> Result<(), IllegalTransition> {
        match self {
            LifecycleAction::Activate => status.activate().map(drop),
            LifecycleAction::Deactivate => status.deactivate().map(drop),
            LifecycleAction::Delete => status.delete(),
            LifecycleAction::ResendInvitation => status.resend_invitation().map(drop),
            LifecycleAction::RevokeInvitation => status.revoke_invitation(),
        }
    }
}

/// Judges `action` on a user who is `status` with the lifecycle: `Ok` when it allows it, else
/// the engine's refusal (`illegal_transition`, "cannot delete a user who is active").
pub fn check_transition(status: UserStatus, action: LifecycleAction) -> Result<(), Refusal> {
    action.transition(status).map_err(Refusal::from)
}

#[cfg(test)]
mod tests {
    use super::{LifecycleAction, check_transition};
    use crate::user::UserStatus;

    #[test]
    fn transitions_are_the_lifecycle() {
        use LifecycleAction::{Activate, Deactivate, Delete, ResendInvitation, RevokeInvitation};
        let allowed = |status| {
            LifecycleAction::ALL
                .into_iter()
                .filter(|action| check_transition(status, *action).is_ok())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            allowed(UserStatus::Pending),
            [ResendInvitation, RevokeInvitation]
        );
        assert_eq!(allowed(UserStatus::Active), [Deactivate]);
        assert_eq!(allowed(UserStatus::Inactive), [Activate, Delete]);
        let refusal = check_transition(UserStatus::Active, Delete).unwrap_err();
        assert_eq!(refusal.code(), "illegal_transition");
        assert_eq!(refusal.to_string(), "cannot delete a user who is active");
    }
}
