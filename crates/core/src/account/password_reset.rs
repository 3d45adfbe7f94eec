//! Password reset: a one-time code that sets a new password, delivered like an invitation code.
//!
//! # Choices
//! - **Who gets the code.** Portcullis never sends email: the code is shown once to the caller
//!   of `IssuePasswordReset`, the integrator who delivers it to the user (by their own email),
//!   and never appears in a notification. The caller needs the same reach over the user as for
//!   receiving an invitation code (identity reach, [`Account::reaches`]): someone who could
//!   hand the user everything they hold. A user may issue one for themselves only while they
//!   have no password yet (the account owner after sign-up, a user who accepted without one):
//!   anyone with a password changes it with the current one, so a stolen token cannot turn into
//!   the user's password.
//! - **The code** (`pcrst_…`, 256 random bits, CRC-32) is bound to the user and stored only as a
//!   keyed hash in its own domain ([`crate::credential::UserCode`]); issuing a new one replaces
//!   the previous one; it works for [`RESET_LIFETIME_SECONDS`] and once. Only active users'
//!   passwords are reset (a pending user accepts their invitation instead).
//! - **Redeeming** ([`Account::reset_password`]) is unauthenticated: email, code and the new
//!   password (which must meet the policy, checked first on the input alone). Every other
//!   failure is the one [`Refusal::PasswordResetInvalid`], whatever the reason (unknown email,
//!   wrong, used or expired code, user no longer active). It sets the password, ends every
//!   session of the user (whoever knew the old password is out), notifies `password_changed`
//!   (`via: reset`) and signs the user in with a new session.

use super::invitation::Reach;
use super::{Account, Actor, Context, Event, IssuedInvitation, Outcome, Refusal};
use crate::credential::UserCode;
use crate::ids::{Email, UserId};
use crate::notification::{NotificationData, NotificationKind};
use crate::password::{self, Password};
use crate::session::{IssuedSession, PasswordReset, RESET_LIFETIME_SECONDS, SignInMethod};
use crate::user::UserStatus;

impl Account {
    /// `IssuePasswordReset`: a new code for an active user, to someone who answers for them or
    /// to the user themselves while they have no password.
    pub(super) fn issue_password_reset(
        &mut self,
        actor: &Actor,
        user_id: UserId,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        self.active_actor(actor, now)?;
        if self.user_ref(&user_id)?.status != UserStatus::Active {
            return Err(Refusal::PasswordResetUnavailable(user_id));
        }
        let has_password = self
            .sign_in
            .get(&user_id)
            .is_some_and(|state| state.password.is_some());
        if actor.user_id == user_id {
            if has_password {
                return Err(Refusal::PasswordResetSelf);
            }
        } else {
            self.require_reach(actor, &user_id, Reach::Identity, now)?;
        }
        let (code, code_hash) =
            UserCode::PasswordReset.issue(context.random, context.key, &user_id);
        let expires_at = now.plus_seconds(RESET_LIFETIME_SECONDS);
        self.sign_in.entry(user_id.clone()).or_default().reset = Some(PasswordReset {
            code_hash,
            expires_at,
        });
        let event = Event::new(None, "user.password_reset_issued", &user_id)
            .detail(format!("expires_at={}", expires_at.unix_seconds()));
        Ok((
            Outcome::PasswordResetIssued {
                user_id,
                reset: IssuedInvitation { code, expires_at },
            },
            event,
        ))
    }

    /// Redeems a password reset code: the new password is set, every session of the user ends,
    /// `password_changed` (`via: reset`) is notified, and a new session signs the user in.
    /// A new password that breaks the policy is [`Refusal::PasswordPolicy`]; any other failure
    /// is [`Refusal::PasswordResetInvalid`] and changes nothing.
    pub fn reset_password(
        &mut self,
        email: &str,
        code: &str,
        new_password: &str,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        let new_password = Password::new(new_password).map_err(Refusal::PasswordPolicy)?;
        let now = context.now;
        let user_id = email
            .parse::<Email>()
            .ok()
            .and_then(|email| self.user_by_email(&email))
            .filter(|user| user.status == UserStatus::Active)
            .map(|user| user.id.clone())
            .ok_or(Refusal::PasswordResetInvalid)?;
        let reset = self
            .sign_in
            .get(&user_id)
            .and_then(|state| state.reset.as_ref())
            .ok_or(Refusal::PasswordResetInvalid)?;
        let matches = UserCode::PasswordReset
            .matches(context.key, &user_id, code, &reset.code_hash)
            .unwrap_or(false);
        if !matches || now >= reset.expires_at {
            return Err(Refusal::PasswordResetInvalid);
        }
        let hash = password::hash(&new_password, context.key, context.random)
            .map_err(|_| Refusal::OutOfRange("the password could not be hashed"))?;
        let mut draft = self.draft();
        let state = draft.sign_in.entry(user_id.clone()).or_default();
        state.password = Some(hash);
        state.reset = None;
        let ended = std::mem::take(&mut state.sessions).len();
        draft.notify(
            context.random,
            now,
            NotificationKind::PasswordChanged,
            &user_id,
            None,
            NotificationData::from([("via".to_owned(), "reset".into())]),
        )?;
        draft.check_invariants(self)?;
        let event = Event::new(None, "user.password_reset", &user_id)
            .detail(format!("sessions_ended={ended}"));
        self.commit(draft, Some(&Actor::user(user_id.clone())), now, event);
        self.open_session_for(&user_id, SignInMethod::Password, user_agent, context)
    }
}
