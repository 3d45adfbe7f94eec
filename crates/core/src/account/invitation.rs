//! Invitations: who may receive a pending user's code, and what accepting it gives.
//!
//! Whoever holds a pending user's working code can become that user: accepting it activates
//! every membership the user has. So a code only ever goes to someone who *answers for* the
//! user ([`Reach::Identity`]): a company admin, or, for a user who holds no company role, an
//! actor who could have given the user everything they hold (in every tenant the user belongs
//! to, `user_and_api_management` and every permission the user holds there, or the tenant's
//! license admin role when the user holds a bare seat; for a user in no tenant yet, the right
//! to create users). The same actor may revoke the invitation.
//!
//! Every path to a code follows that rule: creating a user, re-sending, and adding a pending
//! user to another tenant, which re-issues the code to the adder (the previous code dies, so
//! whoever held it gains nothing from the new membership). An invitation is for one tenant
//! (the one it was issued in); accepting it issues the first token there and nowhere else.
//! Removing a pending user from the tenant their invitation is for revokes it, and a pending
//! user left with no tenant and no invitation is deleted.

use super::{Account, Actor, Context, Event, IssuedInvitation, Outcome, Refusal};
use crate::company::AccountOperation;
use crate::credential;
use crate::ids::{Email, TenantId, UserId};
use crate::notification::{NotificationData, NotificationKind};
use crate::password::{Password, PasswordHash};
use crate::permission::{Permission, PermissionSet};
use crate::session::{IssuedSession, SignInMethod};
use crate::tenant::Tenant;
use crate::time::Timestamp;
use crate::user::{Invitation, UserStatus};

/// How far an actor must reach over a user for an operation on the user as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Reading the full profile and renaming: administer every tenant the user belongs to.
    Profile,
    /// Receiving or revoking the user's invitation code: also have been able to give the user
    /// everything they hold in each of those tenants.
    Identity,
}

impl Account {
    /// Whether `actor` reaches `user` that far (see the module docs). Company admins reach
    /// everyone; nobody else reaches the account owner or a holder of a company role (except a
    /// license admin of tenants the actor is a license admin of too).
    pub(crate) fn reaches(
        &self,
        actor: &Actor,
        user: &UserId,
        reach: Reach,
        now: Timestamp,
    ) -> bool {
        if self.require_company_admin(actor, now).is_ok() {
            return true;
        }
        let Some(target) = self.users.get(user) else {
            return false;
        };
        // A company role is out of reach, but for license admins of tenants the actor is a
        // license admin of too (whom the actor may have made one).
        let own_license_tenants = self
            .users
            .get(&actor.user_id)
            .map(|actor| &actor.license_tenants);
        let fellow_license_admin = target
            .license_tenants
            .iter()
            .all(|tenant| own_license_tenants.is_some_and(|own| own.contains(tenant)));
        let holds_role = target.company_admin || target.support || !fellow_license_admin;
        if *user == self.owner || holds_role {
            return false;
        }
        let mut tenants = self.tenants_of(user).peekable();
        if tenants.peek().is_none() {
            return self
                .require_account_operation(actor, AccountOperation::AddUser, None, now)
                .is_ok();
        }
        tenants.all(|tenant| self.administers(actor, tenant, user, reach, now))
    }

    /// Whether `actor` administers `user`'s membership of `tenant` that far: as a manager of
    /// the tenant (holding, for [`Reach::Identity`], everything the user holds there) or as its
    /// license admin (for [`Reach::Identity`], only of a bare seat).
    fn administers(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        user: &UserId,
        reach: Reach,
        now: Timestamp,
    ) -> bool {
        let granted = tenant.granted(user).unwrap_or(PermissionSet::EMPTY);
        let covers = |held: PermissionSet| reach == Reach::Profile || granted.is_subset(held);
        let as_manager = self
            .require(actor, &tenant.id, Permission::USER_AND_API_MANAGEMENT, now)
            .is_ok_and(covers);
        let operation = match reach {
            Reach::Profile => AccountOperation::EditUserName,
            Reach::Identity => AccountOperation::AssignLicenses,
        };
        let as_license_admin = covers(PermissionSet::EMPTY)
            && self
                .require_account_operation(actor, operation, Some(&tenant.id), now)
                .is_ok();
        as_manager || as_license_admin
    }

    /// [`Account::reaches`], as a refusal: the actor's own standing first (so an inactive
    /// actor or an unusable token is named as such), then `user_out_of_reach`.
    pub(crate) fn require_reach(
        &self,
        actor: &Actor,
        user: &UserId,
        reach: Reach,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        if self.reaches(actor, user, reach, now) {
            return Ok(());
        }
        self.require_usable_credential(actor, now)?;
        Err(Refusal::OutOfReach(user.clone()))
    }

    /// A fresh invitation for `user`, for `tenant`, whose code goes to `actor`.
    pub(super) fn invitation(
        &self,
        context: &mut Context<'_>,
        user: &UserId,
        tenant: Option<TenantId>,
        actor: &Actor,
    ) -> (Invitation, IssuedInvitation) {
        let (code, code_hash) =
            credential::issue_invitation_code(context.random, context.key, user);
        let ttl = u64::from(self.settings.invitation_ttl_hours) * 3600;
        let expires_at = context.now.plus_seconds(ttl);
        (
            Invitation {
                code_hash,
                issued_at: context.now,
                expires_at,
                tenant,
                issued_to: Some(actor.user_id.clone()),
            },
            IssuedInvitation { code, expires_at },
        )
    }

    /// Replaces `user`'s invitation with a new one for `tenant` (the previous code stops
    /// working) and queues the notice of `kind`: the code to show once, to `actor` only.
    pub(super) fn reissue_invitation(
        &mut self,
        context: &mut Context<'_>,
        actor: &Actor,
        user: &UserId,
        tenant: Option<TenantId>,
        kind: NotificationKind,
    ) -> Result<IssuedInvitation, Refusal> {
        let (stored, issued) = self.invitation(context, user, tenant.clone(), actor);
        self.user_mut(user)?.invitation = Some(stored);
        let data = self.invitation_data(tenant.as_ref(), issued.expires_at);
        self.notify(
            context.random,
            context.now,
            kind,
            user,
            tenant.as_ref(),
            data,
        )?;
        Ok(issued)
    }

    /// The tenant a re-sent invitation is for: the one it was for, while the user is still a
    /// member there; else none (accepting it then issues no first token: an invitation's
    /// tenant is chosen only when a user is invited or admitted into it, never later).
    fn invitation_tenant(&self, user: &UserId) -> Option<TenantId> {
        self.users
            .get(user)
            .and_then(|u| u.invitation.as_ref())
            .and_then(|invitation| invitation.tenant.clone())
            .filter(|tenant| {
                self.tenants
                    .get(tenant)
                    .is_some_and(|t| t.members.contains_key(user))
            })
    }

    /// The status of `user`, whose invitation `actor` means to handle: the actor active, the
    /// user existing and reached ([`Reach::Identity`]), in that order.
    fn identity_target(
        &self,
        actor: &Actor,
        user: &UserId,
        now: Timestamp,
    ) -> Result<UserStatus, Refusal> {
        self.active_actor(actor, now)?;
        self.user_ref(user)?;
        self.require_reach(actor, user, Reach::Identity, now)?;
        Ok(self.user_ref(user)?.status)
    }

    /// `ResendInvitation`: a new code for a pending user, to someone who answers for them.
    pub(super) fn resend_invitation(
        &mut self,
        actor: &Actor,
        user_id: UserId,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        self.identity_target(actor, &user_id, context.now)?
            .resend_invitation()?;
        let tenant = self.invitation_tenant(&user_id);
        let invitation = self.reissue_invitation(
            context,
            actor,
            &user_id,
            tenant,
            NotificationKind::InvitationResent,
        )?;
        let event = Event::new(None, "user.invitation_resent", &user_id);
        Ok((
            Outcome::InvitationResent {
                user_id,
                invitation,
            },
            event,
        ))
    }

    /// `RevokeInvitation`: a pending user is deleted and their code dies, by someone who
    /// answers for them.
    pub(super) fn revoke_invitation(
        &mut self,
        actor: &Actor,
        user_id: UserId,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        self.identity_target(actor, &user_id, context.now)?
            .revoke_invitation()?;
        self.delete_pending_user(context, &user_id)?;
        let event = Event::new(None, "user.invitation_revoked", &user_id);
        Ok((Outcome::InvitationRevoked { user_id }, event))
    }

    /// Removes a pending user entirely (memberships included) and tells them the invitation
    /// is no longer valid.
    fn delete_pending_user(
        &mut self,
        context: &mut Context<'_>,
        user_id: &UserId,
    ) -> Result<(), Refusal> {
        let data = NotificationData::from([
            ("account_name".to_owned(), self.name.as_str().into()),
            ("via".to_owned(), "invitation_revoked".into()),
        ]);
        self.notify(
            context.random,
            context.now,
            NotificationKind::Deleted,
            user_id,
            None,
            data,
        )?;
        self.users.remove(user_id);
        self.forget_user_in_tenants(user_id);
        Ok(())
    }

    /// After `user` left `tenant`: a pending user's invitation for that tenant is revoked, and
    /// a pending user left with no tenant and no invitation is deleted. Whether the invitation
    /// was revoked.
    pub(super) fn after_pending_member_left(
        &mut self,
        context: &mut Context<'_>,
        tenant: &TenantId,
        user_id: &UserId,
    ) -> Result<bool, Refusal> {
        let Some(mut user) = self.users.get_mut(user_id) else {
            return Ok(false);
        };
        if user.status != UserStatus::Pending {
            return Ok(false);
        }
        let revoked = user
            .invitation
            .as_ref()
            .is_some_and(|invitation| invitation.tenant.as_ref() == Some(tenant));
        if revoked {
            user.invitation = None;
        }
        let orphaned = user.invitation.is_none() && self.tenants.of_user(user_id).next().is_none();
        drop(user);
        if orphaned {
            self.delete_pending_user(context, user_id)?;
        }
        Ok(revoked)
    }

    /// Before an existing user joins `tenant` (invited by email or given a seat): a pending
    /// user joins only through someone who answers for them, and joining re-issues their code
    /// to that actor (returned), for this tenant. Other users join as they are (`None`).
    pub(super) fn admit_existing(
        &mut self,
        context: &mut Context<'_>,
        actor: &Actor,
        tenant: &TenantId,
        user_id: &UserId,
    ) -> Result<Option<IssuedInvitation>, Refusal> {
        if self.user_ref(user_id)?.status != UserStatus::Pending {
            return Ok(None);
        }
        self.require_reach(actor, user_id, Reach::Identity, context.now)?;
        self.reissue_invitation(
            context,
            actor,
            user_id,
            Some(tenant.clone()),
            NotificationKind::Invitation,
        )
        .map(Some)
    }

    /// Accepts an invitation: the code authenticates the invitee. pending → active. A named
    /// `tenant` must be the one the invitation is for (else the code is not valid); the outcome
    /// names the tenant for the user's first token: the invitation's, while the user is a
    /// member there.
    pub fn accept_invitation(
        &mut self,
        email: &Email,
        code: &str,
        tenant: Option<&TenantId>,
        context: &mut Context<'_>,
    ) -> Result<Outcome, Refusal> {
        self.accept(email, code, tenant, None, context)
    }

    /// [`Account::accept_invitation`], setting the user's password at the same time (the
    /// password must meet the policy of [`crate::password`], checked first, on the input
    /// alone), and signing the user in: the acceptance proved the code and chose the password,
    /// so the answer carries a new session (`user_agent` kept with it) next to the outcome.
    /// Later sign-ins use [`Account::sign_in_password`].
    pub fn accept_invitation_with_password(
        &mut self,
        email: &Email,
        code: &str,
        tenant: Option<&TenantId>,
        password: &str,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, IssuedSession), Refusal> {
        let password = Password::new(password).map_err(Refusal::PasswordPolicy)?;
        let hash = crate::password::hash(&password, context.key, context.random)
            .map_err(|_| Refusal::OutOfRange("the password could not be hashed"))?;
        let mut draft = self.clone();
        let outcome = draft.accept(email, code, tenant, Some(hash), context)?;
        let Outcome::InvitationAccepted { user_id, .. } = &outcome else {
            return Err(Refusal::InvitationInvalid);
        };
        let session =
            draft.open_session_for(user_id, SignInMethod::Password, user_agent, context)?;
        *self = draft;
        Ok((outcome, session))
    }

    fn accept(
        &mut self,
        email: &Email,
        code: &str,
        tenant: Option<&TenantId>,
        password: Option<PasswordHash>,
        context: &mut Context<'_>,
    ) -> Result<Outcome, Refusal> {
        let mut draft = self.draft();
        let user_id = draft
            .user_by_email(email)
            .map(|user| user.id.clone())
            .ok_or(Refusal::InvitationInvalid)?;
        let invited_to = {
            let mut user = draft
                .users
                .get_mut(&user_id)
                .ok_or(Refusal::InvitationInvalid)?;
            // Checked before the status so an unknown code reveals nothing about the user.
            let invitation = user.invitation.as_ref().ok_or(Refusal::InvitationInvalid)?;
            match credential::invitation_matches(context.key, &user.id, code, &invitation.code_hash)
            {
                Ok(true) => {}
                Ok(false) | Err(_) => return Err(Refusal::InvitationInvalid),
            }
            if tenant.is_some_and(|tenant| invitation.tenant.as_ref() != Some(tenant)) {
                return Err(Refusal::InvitationInvalid);
            }
            if context.now >= invitation.expires_at {
                return Err(Refusal::InvitationExpired);
            }
            let invited_to = invitation.tenant.clone();
            user.status = user.status.accept_invitation()?;
            user.invitation = None;
            invited_to
        };
        let tenant_id = invited_to.filter(|tenant| {
            draft
                .tenants
                .get(tenant)
                .is_some_and(|t| t.members.contains_key(&user_id))
        });
        let password_set = password.is_some();
        if let Some(hash) = password {
            draft.sign_in.entry(user_id.clone()).or_default().password = Some(hash);
        }
        let data = NotificationData::from([("via".to_owned(), "invitation_accepted".into())]);
        draft.notify(
            context.random,
            context.now,
            NotificationKind::Activated,
            &user_id,
            None,
            data,
        )?;
        draft.check_invariants(self)?;
        let actor = Actor::user(user_id.clone());
        let mut event = Event::new(None, "user.invitation_accepted", &user_id);
        if password_set {
            event = event.detail("password_set");
        }
        self.commit(draft, Some(&actor), context.now, event);
        Ok(Outcome::InvitationAccepted { user_id, tenant_id })
    }
}
