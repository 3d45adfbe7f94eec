//! Sign-in: passwords, sessions, and the edge projections that let the edge verify a session.
//!
//! - [`Account::sign_in_password`] opens a session for an active user whose password matches.
//!   Every failure is the one [`Refusal::SignInFailed`] (`sign_in_failed`, 401-class) after
//!   the same work: an unknown or malformed email and a user with no password (a pending user
//!   has none yet; the account owner has none until they set one) are verified against the
//!   dummy hash ([`crate::password::verify`]); a pending or inactive user's password is
//!   verified like anyone's and then refused. A failed sign-in changes nothing and records
//!   nothing (counting failures is the runtime's job, with the limits of
//!   [`crate::gateway::throttle`]); a sign-in appends one account-level audit event,
//!   `session.signed_in`, naming the session id and never a secret. When the runtime's limiter
//!   trips on failed sign-ins, [`Account::record_sign_in_throttled`] appends
//!   `session.sign_in_throttled`.
//! - Passwords are set when an invitation is accepted
//!   ([`Account::accept_invitation_with_password`]) and changed with the current one
//!   ([`Account::change_password`]), which ends the user's other sessions. Users without a
//!   password (the owner at sign-up, users who accepted without one) get one through the reset
//!   flow, which is not part of this slice.
//! - A session acts as its user ([`Actor::via_session`]) in any tenant they belong to, with
//!   their permissions there at that moment; [`Account::active_actor`] refuses a session that
//!   is not open (`credential_not_usable`). Acting refreshes the session's "last seen", and so
//!   does the edge's batched report of its use ([`Account::record_session_seen`]).
//! - Every commit settles the sessions ([`Account::settle_sign_in`]): a deleted user's
//!   sign-in state goes, an inactive user's sessions go (they do not come back on
//!   reactivation), expired sessions go.
//! - [`Actor`] carries the session id (`session`, omitted from JSON when absent, so actors
//!   stored or sent before sessions read as before): the engine re-checks the session on every
//!   command, so a session signed out or expired since the edge verified it cannot act.
//!   `Actor::user` (no credential, no session) keeps its meaning: a user the runtime itself
//!   vouches for. Audit events of commands run through a session name the user as actor and
//!   no credential; the session id appears in the sign-in, sign-out and password events.
//! - At most [`MAX_SESSIONS_PER_USER`] sessions per user: signing in beyond that ends the
//!   least recently seen one (named in the sign-in event's detail).
//! - The edge projections are [`SessionRecord`] (per session) and [`AccessRecord`] (per
//!   user), from [`Account::session_records`] and [`Account::access_records`]; the edge
//!   verifies with [`session::verify_session`]. A session's record carries its idle expiry, so
//!   a reported use rewrites it.

use super::{Account, Actor, Context, Event, Refusal};
use crate::gateway::throttle::{SignInLimit, bounded_client};
use crate::ids::{Email, UserId};
use crate::notification::{NotificationData, NotificationKind};
use crate::password::{self, Password};
use crate::secret::{HashingKey, KeyGeneration};
use crate::session::{
    self, AccessRecord, IssuedSession, MAX_KNOWN_DEVICES, MAX_SESSIONS_PER_USER, Session,
    SessionId, SessionLifetimes, SessionRecord, SessionVerification, SessionView, SignInMethod,
    TenantAccess,
};
use crate::tenant::Tenant;
use crate::time::Timestamp;
use crate::user::UserStatus;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

impl Account {
    /// The session `id` of `user`, if it is open at `now`.
    pub(crate) fn open_session(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Option<&Session> {
        self.sign_in
            .get(user)
            .and_then(|state| state.sessions.get(id))
            .filter(|session| session.is_live(self.settings.sessions, now))
    }

    /// After every accepted change, for the users it touched (`touched`: the users whose user
    /// or sign-in state changed, and the actor): drops the sign-in state of deleted users, the
    /// sessions of users who are not active and expired sessions, and marks the acting session
    /// seen. Other users' expired sessions are dropped when a change next touches them (their
    /// records carry their expiry, so the edge refuses them meanwhile).
    pub(super) fn settle_sign_in<'a>(
        &mut self,
        actor: Option<&Actor>,
        now: Timestamp,
        touched: impl IntoIterator<Item = &'a UserId>,
    ) {
        let lifetimes = self.settings.sessions;
        for user_id in touched {
            let Some(state) = self.sign_in.get(user_id) else {
                continue;
            };
            let mut settled = state.clone();
            match self.users.get(user_id) {
                Some(user) if user.status == UserStatus::Active => settled
                    .sessions
                    .retain(|_, session| session.is_live(lifetimes, now)),
                Some(_) => settled.sessions.clear(),
                None => {
                    self.sign_in.remove(user_id);
                    continue;
                }
            }
            let keep = settled.password.is_some()
                || !settled.sessions.is_empty()
                || !settled.known_devices.is_empty()
                || settled.reset.is_some();
            if !keep {
                self.sign_in.remove(user_id);
            } else if settled != *state {
                self.sign_in.insert(user_id.clone(), settled);
            }
        }
        if let Some((user, id)) = actor.and_then(|a| Some((&a.user_id, a.session.as_ref()?)))
            && let Some(session) = self
                .sign_in
                .get_mut(user)
                .and_then(|state| state.sessions.get_mut(id))
        {
            session.last_seen_at = session.last_seen_at.max(now);
        }
    }

    /// Signs `email` in with `password`: a new session, shown once. Every failure (unknown or
    /// malformed email, wrong password, no password, pending or inactive user) is the one
    /// [`Refusal::SignInFailed`] after one Argon2id verification, against the dummy hash when
    /// there is no stored one, and changes nothing; a sign-in appends `session.signed_in`.
    pub fn sign_in_password(
        &mut self,
        email: &str,
        password: &str,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        let user = email
            .parse::<Email>()
            .ok()
            .and_then(|email| self.user_by_email(&email));
        let stored = user
            .and_then(|user| self.sign_in.get(&user.id))
            .and_then(|state| state.password.as_ref());
        // Always one Argon2id verification, against the dummy hash when there is nothing.
        let matched = password::check(password, stored, context.key);
        let user = user
            .filter(|user| matched.is_some() && user.status == UserStatus::Active)
            .ok_or(Refusal::SignInFailed)?;
        let user_id = user.id.clone();
        let issued =
            self.open_session_for(&user_id, SignInMethod::Password, user_agent, context)?;
        let stale_key = matched == Some(KeyGeneration::Previous);
        self.rehash_if_outdated(&user_id, password, stale_key, context);
        Ok(issued)
    }

    /// After a successful sign-in with `password`: replaces the user's stored hash when it was
    /// made with other parameters than today's (see [`crate::password`]) or under the hashing
    /// key the current one replaced (`stale_key`). A password outside today's policy, or a
    /// failed hash, keeps the old hash, which still verifies.
    fn rehash_if_outdated(
        &mut self,
        user_id: &UserId,
        password: &str,
        stale_key: bool,
        context: &mut Context<'_>,
    ) {
        let Some(state) = self.sign_in.get_mut(user_id) else {
            return;
        };
        if !stale_key
            && state
                .password
                .as_ref()
                .is_none_or(password::PasswordHash::has_current_parameters)
        {
            return;
        }
        if let Ok(password) = Password::new(password)
            && let Ok(hash) = password::hash(&password, context.key, context.random)
        {
            state.password = Some(hash);
        }
    }

    /// Records that failed password sign-ins for `email` went over `limits` (the runtime's
    /// limiter tripped; it refuses further attempts for a while): one account-level audit event,
    /// `session.sign_in_throttled`, whose target is the user the email names, or the account
    /// when it names none (detail `email=unknown`), with the limits and the client address the
    /// platform reported. The attempted email text itself is never recorded, so nothing an
    /// attacker types lands in the log; the address is bounded like the limiter's subject. Not
    /// a command: nobody acts, and nothing else changes.
    pub fn record_sign_in_throttled(
        &mut self,
        email: &str,
        limits: &BTreeSet<SignInLimit>,
        client: &str,
        now: Timestamp,
    ) {
        let user = email
            .parse::<Email>()
            .ok()
            .and_then(|email| self.user_by_email(&email))
            .map(|user| user.id.clone());
        let names: Vec<&str> = limits.iter().map(|limit| limit.name()).collect();
        let mut detail = format!(
            "limits={} client={}",
            names.join(","),
            bounded_client(client)
        );
        let event = match user {
            Some(user) => Event::new(None, "session.sign_in_throttled", &user),
            None => {
                detail.push_str(" email=unknown");
                Event::new(None, "session.sign_in_throttled", &self.id)
            }
        };
        self.record(None, now, event.detail(detail));
    }

    /// Opens a new session for `user_id` (who must be active), signed in by `method`: ends
    /// expired sessions and, beyond [`MAX_SESSIONS_PER_USER`], the least recently seen one, and
    /// appends `session.signed_in` (detail: the method, and the session it ended if any). The
    /// one place a session comes into being, whatever signed the user in.
    pub(crate) fn open_session_for(
        &mut self,
        user_id: &UserId,
        method: SignInMethod,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        if self.users.get(user_id).map(|user| user.status) != Some(UserStatus::Active) {
            return Err(Refusal::SignInFailed);
        }
        let now = context.now;
        let lifetimes = self.settings.sessions;
        let new = session::generate(context.random, context.key);
        let issued_user_agent = session::clean_user_agent(user_agent);
        let mut detail = format!("method={}", method.name());
        if let SignInMethod::Sso { connection } = &method {
            detail.push_str(&format!(" connection={connection}"));
        }
        let method_name = method.name();
        let opened = Session {
            id: new.id.clone(),
            secret_hash: new.hash,
            method,
            created_at: now,
            last_seen_at: now,
            user_agent: issued_user_agent.clone(),
        };
        let issued = IssuedSession {
            user_id: user_id.clone(),
            session_id: new.id.clone(),
            session: new.secret,
            idle_expires_at: opened.idle_expires_at(lifetimes),
            absolute_expires_at: opened.absolute_expires_at(lifetimes),
        };
        let mut draft = self.draft();
        let sessions = &mut draft.sign_in.entry(user_id.clone()).or_default().sessions;
        sessions.retain(|_, session| session.is_live(lifetimes, now));
        let mut ended = None;
        while sessions.len() >= MAX_SESSIONS_PER_USER {
            let Some(stalest) = sessions
                .values()
                .min_by_key(|session| (session.last_seen_at, session.id.clone()))
                .map(|session| session.id.clone())
            else {
                break;
            };
            sessions.remove(&stalest);
            ended = Some(stalest);
        }
        sessions.insert(new.id.clone(), opened);
        let state = draft.sign_in.entry(user_id.clone()).or_default();
        let device = session::device_digest(issued_user_agent.as_deref());
        // The first device ever is where the user signed up; any later unknown one is news.
        let unknown = !state.known_devices.is_empty() && !state.known_devices.contains(&device);
        state.known_devices.retain(|known| *known != device);
        state.known_devices.push(device);
        if state.known_devices.len() > MAX_KNOWN_DEVICES {
            state.known_devices.remove(0);
        }
        if unknown {
            let data = NotificationData::from([
                ("method".to_owned(), method_name.into()),
                (
                    "user_agent".to_owned(),
                    issued_user_agent.clone().map_or(Value::Null, Value::from),
                ),
            ]);
            draft.notify(
                context.random,
                now,
                NotificationKind::NewSignIn,
                user_id,
                None,
                data,
            )?;
        }
        draft.check_invariants(self)?;
        if let Some(ended) = ended {
            detail.push_str(&format!(" ended={ended}"));
        }
        let event = Event::new(None, "session.signed_in", &new.id).detail(detail);
        let actor = Actor::via_session(user_id.clone(), new.id);
        self.commit(draft, Some(&actor), now, event);
        Ok(issued)
    }

    /// Changes the acting user's own password: the current one is required, the new one must
    /// meet the policy, and every other session of the user ends (the acting session, if any,
    /// stays). Appends `user.password_changed`.
    pub fn change_password(
        &mut self,
        actor: &Actor,
        current: &str,
        new: &str,
        context: &mut Context<'_>,
    ) -> Result<(), Refusal> {
        let now = context.now;
        self.active_actor(actor, now)?;
        if let Some(key_id) = &actor.credential {
            // Through a token, only one that is usable in its own tenant.
            let home = self
                .tenant_of_token(key_id)
                .map_err(|_| Refusal::CredentialNotUsable)?;
            self.actor_permissions(actor, &home, now)?;
        }
        let new = Password::new(new).map_err(Refusal::PasswordPolicy)?;
        let stored = self
            .sign_in
            .get(&actor.user_id)
            .and_then(|state| state.password.as_ref());
        if !password::verify(current, stored, context.key) {
            return Err(Refusal::PasswordIncorrect);
        }
        let hash = password::hash(&new, context.key, context.random)
            .map_err(|_| Refusal::OutOfRange("the password could not be hashed"))?;
        let mut draft = self.draft();
        let state = draft.sign_in.entry(actor.user_id.clone()).or_default();
        state.password = Some(hash);
        let before = state.sessions.len();
        state
            .sessions
            .retain(|id, _| actor.session.as_ref() == Some(id));
        let ended = before - state.sessions.len();
        draft.notify(
            context.random,
            now,
            NotificationKind::PasswordChanged,
            &actor.user_id,
            None,
            NotificationData::from([("via".to_owned(), "changed".into())]),
        )?;
        draft.check_invariants(self)?;
        let event = Event::new(None, "user.password_changed", &actor.user_id)
            .detail(format!("sessions_ended={ended}"));
        self.commit(draft, Some(actor), now, event);
        Ok(())
    }

    /// Signs out one of the acting user's own open sessions (the one in use or another).
    /// Appends `session.revoked`.
    pub fn sign_out(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        context: &mut Context<'_>,
    ) -> Result<(), Refusal> {
        let now = context.now;
        self.active_actor(actor, now)?;
        if self.open_session(&actor.user_id, session_id, now).is_none() {
            return Err(Refusal::UnknownSession(session_id.clone()));
        }
        let mut draft = self.draft();
        if let Some(state) = draft.sign_in.get_mut(&actor.user_id) {
            state.sessions.remove(session_id);
        }
        draft.check_invariants(self)?;
        let event = Event::new(None, "session.revoked", session_id);
        // The event names the session that acted, which may be the one just ended.
        self.commit(draft, Some(actor), now, event);
        Ok(())
    }

    /// Signs out every session of the acting user, the one in use included: how many open ones
    /// ended (expired ones still held are dropped too, uncounted).
    /// Appends `session.revoked_all`.
    pub fn sign_out_everywhere(
        &mut self,
        actor: &Actor,
        context: &mut Context<'_>,
    ) -> Result<usize, Refusal> {
        let now = context.now;
        self.active_actor(actor, now)?;
        let mut draft = self.draft();
        let lifetimes = self.settings.sessions;
        let ended = draft.sign_in.get_mut(&actor.user_id).map_or(0, |state| {
            std::mem::take(&mut state.sessions)
                .values()
                .filter(|session| session.is_live(lifetimes, now))
                .count()
        });
        draft.check_invariants(self)?;
        let event = Event::new(None, "session.revoked_all", &actor.user_id)
            .detail(format!("sessions_ended={ended}"));
        self.commit(draft, Some(actor), now, event);
        Ok(ended)
    }

    /// The acting user's open sessions, most recently seen first: never a secret nor a hash.
    pub fn sessions(&self, actor: &Actor, now: Timestamp) -> Result<Vec<SessionView>, Refusal> {
        self.active_actor(actor, now)?;
        let lifetimes = self.settings.sessions;
        let mut views: Vec<SessionView> = self
            .sign_in
            .get(&actor.user_id)
            .into_iter()
            .flat_map(|state| state.sessions.values())
            .filter(|session| session.is_live(lifetimes, now))
            .map(|session| SessionView {
                session_id: session.id.clone(),
                method: session.method.clone(),
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                user_agent: session.user_agent.clone(),
                idle_expires_at: session.idle_expires_at(lifetimes),
                absolute_expires_at: session.absolute_expires_at(lifetimes),
                current: actor.session.as_ref() == Some(&session.id),
            })
            .collect();
        views.sort_by(|a, b| (b.last_seen_at, &a.session_id).cmp(&(a.last_seen_at, &b.session_id)));
        Ok(views)
    }

    /// Records that a session authenticated a request at `at` (reported by the edge, like
    /// [`Account::record_last_used`]): it moves the idle expiry. Telemetry: no audit event. A
    /// session that already ended stays ended. Whether anything changed.
    pub fn record_session_seen(&mut self, session_id: &SessionId, at: Timestamp) -> bool {
        let lifetimes = self.settings.sessions;
        let Some(user_id) = self.session_user(session_id) else {
            return false;
        };
        let Some(session) = self
            .sign_in
            .get_mut(&user_id)
            .and_then(|state| state.sessions.get_mut(session_id))
        else {
            return false;
        };
        if !session.is_live(lifetimes, at) || session.last_seen_at >= at {
            return false;
        }
        session.last_seen_at = at;
        if let Some(mut user) = self.users.get_mut(&user_id) {
            user.last_active_at = user.last_active_at.max(Some(at));
        }
        true
    }

    /// The user holding the session `session_id`.
    fn session_user(&self, session_id: &SessionId) -> Option<UserId> {
        self.sign_in
            .iter()
            .find(|(_, state)| state.sessions.contains_key(session_id))
            .map(|(user_id, _)| user_id.clone())
    }

    /// Sets how long sessions last (company admins; bounds in [`crate::session`]). Applies to
    /// open sessions too. Appends `account.settings_changed`.
    pub fn configure_sessions(
        &mut self,
        actor: &Actor,
        lifetimes: SessionLifetimes,
        context: &mut Context<'_>,
    ) -> Result<(), Refusal> {
        let now = context.now;
        self.require_company_admin(actor, now)?;
        let lifetimes = lifetimes.validate().map_err(Refusal::OutOfRange)?;
        let mut draft = self.draft();
        draft.settings.sessions = lifetimes;
        draft.check_invariants(self)?;
        let event = Event::new(None, "account.settings_changed", &self.id).detail(format!(
            "session_idle_minutes={} session_absolute_hours={}",
            lifetimes.idle_minutes, lifetimes.absolute_hours
        ));
        self.commit(draft, Some(actor), now, event);
        Ok(())
    }

    /// The edge projection of one open session.
    pub fn session_record(&self, session_id: &SessionId) -> Option<SessionRecord> {
        let user_id = self.session_user(session_id)?;
        let session = self.sign_in.get(&user_id)?.sessions.get(session_id)?;
        Some(self.project_session(&user_id, session))
    }

    fn project_session(&self, user_id: &UserId, session: &Session) -> SessionRecord {
        let lifetimes = self.settings.sessions;
        SessionRecord {
            session_id: session.id.clone(),
            account_id: self.id.clone(),
            user_id: user_id.clone(),
            secret_hash: session.secret_hash,
            idle_expires_at: session.idle_expires_at(lifetimes),
            absolute_expires_at: session.absolute_expires_at(lifetimes),
            method: session.method.clone(),
        }
    }

    /// The projections of the sessions of `user_id`, by id.
    pub(crate) fn user_session_records(
        &self,
        user_id: &UserId,
    ) -> BTreeMap<SessionId, SessionRecord> {
        self.sign_in
            .get(user_id)
            .into_iter()
            .flat_map(|state| state.sessions.values())
            .map(|session| (session.id.clone(), self.project_session(user_id, session)))
            .collect()
    }

    /// Every session's projection, by id: what the edge store should hold.
    pub fn session_records(&self) -> BTreeMap<SessionId, SessionRecord> {
        self.sign_in
            .keys()
            .flat_map(|user_id| self.user_session_records(user_id))
            .collect()
    }

    /// The edge projection of a user's standing: status, and permissions and plan in every
    /// tenant they belong to.
    pub fn access_record(&self, user_id: &UserId) -> Option<AccessRecord> {
        let user = self.users.get(user_id)?;
        let tenants = self
            .tenants
            .of_user(user_id)
            .filter_map(|tenant: &Tenant| {
                let permissions = tenant.granted(user_id)?;
                Some((
                    tenant.id.clone(),
                    TenantAccess {
                        permissions,
                        plan: tenant.plan,
                        sso: tenant.sso.requirement(user_id),
                    },
                ))
            })
            .collect();
        Some(AccessRecord {
            account_id: self.id.clone(),
            user_id: user_id.clone(),
            status: user.status,
            tenants,
        })
    }

    /// The access projection of every user with an open session, by user id: what the edge
    /// store should hold. Only sessions read access records, so a user without one has none:
    /// the first session writes it and the last one to end deletes it.
    pub fn access_records(&self) -> BTreeMap<UserId, AccessRecord> {
        self.sign_in
            .keys()
            .filter_map(|id| {
                self.user_access_record(id)
                    .map(|record| (id.clone(), record))
            })
            .collect()
    }

    /// The access projection of `user_id` if the edge store should hold one (they have a
    /// session).
    pub(crate) fn user_access_record(&self, user_id: &UserId) -> Option<AccessRecord> {
        let state = self.sign_in.get(user_id)?;
        if state.sessions.is_empty() {
            return None;
        }
        self.access_record(user_id)
    }

    /// Both sign-in projections at once, to diff with [`crate::store::sign_in_changes`].
    pub fn sign_in_records(&self) -> crate::store::SignInRecords {
        crate::store::SignInRecords {
            sessions: self.session_records(),
            access: self.access_records(),
        }
    }

    /// Verifies a presented session for `tenant` against this account's own projections (the
    /// edge does the same against its store; see [`session::verify_session`]).
    pub fn verify_session(
        &self,
        presented: &str,
        tenant: &crate::ids::TenantId,
        key: &HashingKey,
        now: Timestamp,
    ) -> SessionVerification {
        let record = session::lookup_session(presented)
            .ok()
            .and_then(|id| self.session_record(&id));
        let access = record
            .as_ref()
            .and_then(|record| self.access_record(&record.user_id));
        session::verify_session(
            presented,
            record.as_ref(),
            access.as_ref(),
            tenant,
            key,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::SignUp;
    use crate::random::SeededRandom;
    use argon2::Params;

    #[test]
    fn a_sign_in_replaces_a_hash_made_with_old_parameters() {
        let key = HashingKey::from_bytes(&[8; 32]).unwrap();
        let mut random = SeededRandom::new(4);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let mut context = Context {
            now,
            random: &mut random,
            key: &key,
        };
        let sign_up: SignUp = serde_json::from_value(serde_json::json!({
            "account_name": "Acme", "owner_email": "owner@acme.test", "owner_name": "Olive",
            "tenant_name": "Production", "plan": "team",
        }))
        .unwrap();
        let signed_up = Account::sign_up(sign_up, &mut context);
        let mut account = signed_up.account;
        let owner = signed_up.owner_id;
        let text = "correct horse battery staple";
        let old = password::hash_with(
            &Password::new(text).unwrap(),
            &key,
            context.random,
            Params::new(8 * 1024, 1, 1, Some(32)).unwrap(),
        )
        .unwrap();
        assert!(!old.has_current_parameters());
        account.sign_in.entry(owner.clone()).or_default().password = Some(old.clone());
        let stored = |account: &Account| account.sign_in[&owner].password.clone().unwrap();

        // A wrong password changes nothing; the right one signs in and re-hashes.
        let refused =
            account.sign_in_password("owner@acme.test", "wrong password!", None, &mut context);
        assert_eq!(refused.unwrap_err(), Refusal::SignInFailed);
        assert_eq!(stored(&account), old);
        account
            .sign_in_password("owner@acme.test", text, None, &mut context)
            .unwrap();
        let new = stored(&account);
        assert_ne!(new, old);
        assert!(new.has_current_parameters());
        assert!(new.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(password::verify(text, Some(&new), &key));
        // A current hash stays as it is.
        account
            .sign_in_password("owner@acme.test", text, None, &mut context)
            .unwrap();
        assert_eq!(stored(&account), new);
    }
}
