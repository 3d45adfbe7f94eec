//! One test per rule of sign-in and sessions: each shows the outcome, the refusal and its code,
//! and that a refused command changed nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;

use portcullis_core::account::{Context, Outcome, Refusal, RefusalClass, SignUp};
use portcullis_core::command::Command;
use portcullis_core::gateway::throttle::SignInLimit;
use portcullis_core::random::SeededRandom;
use portcullis_core::session::{SessionLifetimes, SessionVerification};
use portcullis_core::user::UserStatus;
use portcullis_core::{
    Account, Actor, Email, HashingKey, PermissionSet, SessionId, TenantId, Timestamp, UserId,
};

use std::collections::BTreeSet;

const HOUR: u64 = 3600;
const PASSWORD: &str = "correct horse battery staple";

struct World {
    account: Account,
    key: HashingKey,
    random: SeededRandom,
    now: Timestamp,
    owner: UserId,
    tenant: TenantId,
}

/// A signed-in session: its id and the text the user holds.
struct Signed {
    user: UserId,
    id: SessionId,
    text: String,
}

impl Signed {
    fn actor(&self) -> Actor {
        Actor::via_session(self.user.clone(), self.id.clone())
    }
}

fn email(text: &str) -> Email {
    text.parse().unwrap()
}

fn perms(names: &[&str]) -> PermissionSet {
    PermissionSet::parse_names(names).unwrap()
}

impl World {
    fn new() -> Self {
        let key = HashingKey::from_bytes(&[3; 32]).unwrap();
        let mut random = SeededRandom::new(21);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let signed_up = Account::sign_up(
            SignUp {
                account_name: "Acme".parse().unwrap(),
                owner_email: email("owner@acme.test"),
                owner_name: "Olive Owner".parse().unwrap(),
                tenant_name: "Production".parse().unwrap(),
                plan: plan_named("enterprise"),
                trial: false,
            },
            &mut Context {
                now,
                random: &mut random,
                key: &key,
            },
        );
        World {
            owner: signed_up.owner_id,
            tenant: signed_up.tenant_id,
            account: signed_up.account,
            key,
            random,
            now,
        }
    }

    fn owner(&self) -> Actor {
        Actor::user(self.owner.clone())
    }

    fn apply(&mut self, actor: &Actor, command: Command) -> Result<Outcome, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account.apply(actor, command, &mut context)
    }

    /// Runs `change` on the account, which must refuse it and change nothing.
    fn refused<T: std::fmt::Debug>(
        &mut self,
        change: impl FnOnce(&mut Account, &mut Context<'_>) -> Result<T, Refusal>,
    ) -> Refusal {
        let before = self.account.clone();
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        let refusal = change(&mut self.account, &mut context).expect_err("should be refused");
        assert_eq!(self.account, before, "a refused change changed the account");
        refusal
    }

    fn with_context<T>(&mut self, run: impl FnOnce(&mut Account, &mut Context<'_>) -> T) -> T {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        run(&mut self.account, &mut context)
    }

    /// Invites `address` into `tenant` with `permissions`: the user and the code.
    fn invite_into(
        &mut self,
        tenant: &TenantId,
        address: &str,
        permissions: PermissionSet,
    ) -> (UserId, String) {
        let command = Command::InviteMember {
            tenant_id: tenant.clone(),
            email: email(address),
            name: None,
            permissions,
        };
        match self.apply(&self.owner(), command).unwrap() {
            Outcome::MemberAdded {
                user_id,
                invitation,
                ..
            } => (
                user_id,
                invitation
                    .map(|i| i.code.expose().to_owned())
                    .unwrap_or_default(),
            ),
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// An active member of the first tenant who set [`PASSWORD`] on acceptance and then
    /// signed out of the session the acceptance opened (so tests count only their own).
    fn member(&mut self, address: &str, permissions: PermissionSet) -> UserId {
        let tenant = self.tenant.clone();
        let (user_id, code) = self.invite_into(&tenant, address, permissions);
        let (_, session) = self
            .with_context(|account, context| {
                account.accept_invitation_with_password(
                    &email(address),
                    &code,
                    None,
                    PASSWORD,
                    Some("Firefox/140"),
                    context,
                )
            })
            .unwrap();
        let actor = Actor::via_session(user_id.clone(), session.session_id.clone());
        self.with_context(|account, context| {
            account.sign_out(&actor, &session.session_id, context)
        })
        .unwrap();
        user_id
    }

    fn sign_in(&mut self, address: &str, password: &str) -> Result<Signed, Refusal> {
        self.with_context(|account, context| {
            account.sign_in_password(address, password, Some("Firefox/140"), context)
        })
        .map(|issued| Signed {
            user: issued.user_id,
            id: issued.session_id,
            text: issued.session.expose().to_owned(),
        })
    }

    fn verify(&self, session: &Signed, tenant: &TenantId) -> SessionVerification {
        self.account
            .verify_session(&session.text, tenant, &self.key, self.now)
    }

    fn permissions(&self, session: &Signed, tenant: &TenantId) -> PermissionSet {
        self.verify(session, tenant)
            .principal()
            .map(|principal| principal.permissions)
            .unwrap_or_else(|| panic!("session refused: {:?}", self.verify(session, tenant)))
    }

    /// A second tenant, "Staging" on the team plan, launched by the owner.
    fn staging(&mut self) -> TenantId {
        let command = Command::CreateTenant {
            name: "Staging".parse().unwrap(),
            plan: plan_named("team"),
        };
        match self.by_owner(command) {
            Outcome::TenantCreated { tenant_id } => tenant_id,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// A command the owner runs, which must be accepted.
    fn by_owner(&mut self, command: Command) -> Outcome {
        self.apply(&self.owner(), command).unwrap()
    }

    fn change_permissions(&mut self, user: &UserId, permissions: PermissionSet) {
        let command = Command::ChangePermissions {
            tenant_id: self.tenant.clone(),
            user_id: user.clone(),
            permissions,
        };
        self.apply(&self.owner(), command).unwrap();
    }

    fn mint(
        &mut self,
        actor: &Actor,
        tenant: &TenantId,
        permissions: PermissionSet,
    ) -> Result<Outcome, Refusal> {
        let command = Command::CreateApiToken {
            tenant_id: tenant.clone(),
            name: "laptop".parse().unwrap(),
            permissions,
            terms: portcullis_core::terms::Terms::default(),
        };
        self.apply(actor, command)
    }
}

// ----- passwords and sign-in ---------------------------------------------------------------

#[test]
fn a_password_set_on_acceptance_signs_the_user_in() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", perms(&["build_applications"]));
    let events = world.account.audit_log().len();
    let session = world.sign_in("DEV@acme.test", PASSWORD).unwrap();
    assert_eq!(session.user, user);
    assert!(session.text.starts_with("pcss_"));
    assert_eq!(
        world.permissions(&session, &world.tenant.clone()),
        perms(&["build_applications"])
    );
    // One account-level event, naming the session, never its secret or the password.
    let log = world.account.audit_log();
    assert_eq!(log.len(), events + 1);
    let event = &log.events()[events].body;
    assert_eq!(event.action, "session.signed_in");
    assert_eq!(event.tenant, None);
    assert_eq!(event.target, session.id.as_str());
    let state = serde_json::to_string(&world.account).unwrap();
    assert!(
        !state.contains(&session.text[25..]),
        "session secret stored"
    );
    assert!(!state.contains(PASSWORD), "password stored");
    assert!(!format!("{:?}", world.account).contains("$argon2id$"));
}

#[test]
fn a_tripped_sign_in_limit_is_audited_without_the_typed_email() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let events = world.account.audit_log().len();
    let now = world.now;
    let both = BTreeSet::from([SignInLimit::Client, SignInLimit::Email]);
    world
        .account
        .record_sign_in_throttled(" DEV@acme.test", &both, "203.0.113.9", now);
    let unknown = "nobody-<script>@acme.test";
    let client = format!("198.51.100.{}", "7".repeat(100));
    world.account.record_sign_in_throttled(
        unknown,
        &BTreeSet::from([SignInLimit::Client]),
        &client,
        now,
    );
    let log = world.account.audit_log();
    assert_eq!(log.len(), events + 2);
    let known = &log.events()[events].body;
    assert_eq!(known.action, "session.sign_in_throttled");
    assert_eq!(known.actor, None);
    assert_eq!(known.tenant, None);
    assert_eq!(known.target, user.as_str());
    assert_eq!(known.detail, "limits=client,email client=203.0.113.9");
    let stranger = &log.events()[events + 1].body;
    assert_eq!(stranger.target, world.account.id().as_str());
    assert!(
        stranger
            .detail
            .starts_with("limits=client client=198.51.100.")
    );
    assert!(
        stranger.detail.ends_with(" email=unknown"),
        "{}",
        stranger.detail
    );
    assert!(stranger.detail.len() < 100, "client address not bounded");
    let state = serde_json::to_string(&world.account).unwrap();
    assert!(!state.contains("nobody-"), "typed email stored");
    assert!(portcullis_core::audit::verify_chain(log.events()).is_ok());
}

#[test]
fn every_failed_sign_in_is_the_same_refusal_and_changes_nothing() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let inactive = world.member("gone@acme.test", PermissionSet::EMPTY);
    world.by_owner(Command::DeactivateUser { user_id: inactive });
    let tenant = world.tenant.clone();
    world.invite_into(&tenant, "pending@acme.test", PermissionSet::EMPTY);
    let attempts = [
        ("nobody@acme.test", PASSWORD),       // unknown email
        ("not an email", PASSWORD),           // malformed email
        ("dev@acme.test", "wrong password!"), // wrong password
        ("dev@acme.test", ""),                // empty password
        ("pending@acme.test", PASSWORD),      // pending user (no password yet)
        ("gone@acme.test", PASSWORD),         // inactive user, right password
        ("owner@acme.test", PASSWORD),        // user without a password
    ];
    for (address, password) in attempts {
        let refusal = world
            .refused(|account, context| account.sign_in_password(address, password, None, context));
        assert_eq!(refusal, Refusal::SignInFailed, "{address}");
        assert_eq!(refusal.code(), "sign_in_failed");
        assert_eq!(refusal.class(), RefusalClass::Unauthenticated);
        assert_eq!(refusal.to_string(), "email or password is not correct");
    }
}

#[test]
fn acceptance_refuses_a_password_outside_the_policy_and_changes_nothing() {
    let mut world = World::new();
    let tenant = world.tenant.clone();
    let (user, code) = world.invite_into(&tenant, "dev@acme.test", PermissionSet::EMPTY);
    for bad in ["too short", &"x".repeat(129)] {
        let refusal = world.refused(|account, context| {
            account.accept_invitation_with_password(
                &email("dev@acme.test"),
                &code,
                None,
                bad,
                None,
                context,
            )
        });
        assert_eq!(refusal.code(), "password_policy");
        assert_eq!(refusal.class(), RefusalClass::Invalid);
    }
    assert_eq!(
        world.account.user(&user).unwrap().status,
        UserStatus::Pending
    );
    // A wrong code is refused as before, with a valid password too.
    let refusal = world.refused(|account, context| {
        account.accept_invitation_with_password(
            &email("dev@acme.test"),
            "pcinv_wrong",
            None,
            PASSWORD,
            None,
            context,
        )
    });
    assert_eq!(refusal.code(), "invitation_invalid");
    // The code still works, and 12 characters of anything is a password.
    world
        .with_context(|account, context| {
            account.accept_invitation_with_password(
                &email("dev@acme.test"),
                &code,
                None,
                "aaaaaaaaaaaa",
                None,
                context,
            )
        })
        .unwrap();
    assert!(world.sign_in("dev@acme.test", "aaaaaaaaaaaa").is_ok());
}

#[test]
fn accepting_without_a_password_still_works_and_signs_nobody_in() {
    let mut world = World::new();
    let tenant = world.tenant.clone();
    let (user, code) = world.invite_into(&tenant, "dev@acme.test", PermissionSet::EMPTY);
    let accepted = world
        .with_context(|account, context| {
            account.accept_invitation(&email("dev@acme.test"), &code, None, context)
        })
        .unwrap();
    assert!(matches!(accepted, Outcome::InvitationAccepted { user_id, .. } if user_id == user));
    assert_eq!(
        world.sign_in("dev@acme.test", "").err(),
        Some(Refusal::SignInFailed)
    );
}

#[test]
fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let here = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let elsewhere = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let new = "a much better passphrase";
    let actor = here.actor();
    let wrong = world.refused(|account, context| {
        account.change_password(&actor, "not the password", new, context)
    });
    assert_eq!(wrong.code(), "password_incorrect");
    assert_eq!(wrong.class(), RefusalClass::Forbidden);
    let short = world
        .refused(|account, context| account.change_password(&actor, PASSWORD, "short", context));
    assert_eq!(short.code(), "password_policy");
    world
        .with_context(|account, context| account.change_password(&actor, PASSWORD, new, context))
        .unwrap();
    let tenant = world.tenant.clone();
    assert!(world.verify(&here, &tenant).principal().is_some());
    assert_eq!(
        world.verify(&elsewhere, &tenant),
        SessionVerification::UnknownSession
    );
    assert_eq!(
        world.sign_in("dev@acme.test", PASSWORD).err(),
        Some(Refusal::SignInFailed)
    );
    assert!(world.sign_in("dev@acme.test", new).is_ok());
    assert!(
        world
            .account
            .audit_log()
            .events()
            .iter()
            .any(|event| event.body.action == "user.password_changed"
                && event.body.detail == "sessions_ended=1")
    );
}

// ----- acting with a session -----------------------------------------------------------------

#[test]
fn a_promotion_reaches_the_session_on_the_next_verification() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    assert_eq!(world.permissions(&session, &tenant), PermissionSet::EMPTY);
    let certificates = perms(&["update_certificates"]);
    let refusal = world
        .mint(&session.actor(), &tenant, certificates)
        .unwrap_err();
    assert_eq!(refusal.code(), "privilege_escalation");
    world.change_permissions(&user, certificates);
    assert_eq!(world.permissions(&session, &tenant), certificates);
    let principal = world
        .verify(&session, &tenant)
        .principal()
        .cloned()
        .unwrap();
    assert!(portcullis_core::authorize(&principal, op_named("write_certificates")).allow);
    assert!(world.mint(&session.actor(), &tenant, certificates).is_ok());
    // And a demotion just as fast.
    world.change_permissions(&user, PermissionSet::EMPTY);
    assert_eq!(world.permissions(&session, &tenant), PermissionSet::EMPTY);
}

#[test]
fn a_session_acts_in_every_tenant_of_its_user() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", perms(&["build_applications"]));
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let staging = world.staging();
    assert_eq!(
        world.verify(&session, &staging),
        SessionVerification::NotMember
    );
    let refusal = world
        .mint(&session.actor(), &staging, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal, Refusal::ActorNotMember(staging.clone()));
    assert_eq!(refusal.code(), "tenant_not_found");
    let (added, code) =
        world.invite_into(&staging, "dev@acme.test", perms(&["modify_configuration"]));
    assert_eq!(
        (added, code.as_str()),
        (user, ""),
        "an active user joins without a code"
    );
    assert_eq!(
        world.permissions(&session, &staging),
        perms(&["modify_configuration"])
    );
    assert_eq!(
        world.verify(&session, &staging).principal().unwrap().plan,
        plan_named("team")
    );
    let minted = world.mint(&session.actor(), &staging, perms(&["modify_configuration"]));
    assert!(matches!(minted, Ok(Outcome::ApiTokenCreated { .. })));
    // The first tenant is unaffected.
    let tenant = world.tenant.clone();
    assert_eq!(
        world.permissions(&session, &tenant),
        perms(&["build_applications"])
    );
}

#[test]
fn tokens_minted_from_a_session_never_exceed_current_permissions() {
    let mut world = World::new();
    let user = world.member(
        "dev@acme.test",
        perms(&["build_applications", "update_certificates"]),
    );
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    let refusal = world
        .mint(
            &session.actor(),
            &tenant,
            perms(&["build_applications", "modify_configuration"]),
        )
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::Escalation(perms(&["modify_configuration"]))
    );
    let Outcome::ApiTokenCreated { token, key_id, .. } = world
        .mint(
            &session.actor(),
            &tenant,
            perms(&["build_applications", "update_certificates"]),
        )
        .unwrap()
    else {
        panic!("unexpected outcome");
    };
    world.change_permissions(&user, perms(&["build_applications"]));
    let verified = world
        .account
        .verify(token.expose(), &world.key, world.now, None);
    assert_eq!(
        verified.principal().unwrap().permissions,
        perms(&["build_applications"])
    );
    // The token and the session it came from are apart: signing out leaves the token.
    let actor = session.actor();
    world
        .with_context(|account, context| account.sign_out_everywhere(&actor, context))
        .unwrap();
    assert!(world.account.credential_record(&key_id).is_some());
}

#[test]
fn sign_out_ends_one_session_and_only_ones_own() {
    let mut world = World::new();
    world.member("dev@acme.test", perms(&["build_applications"]));
    world.member("ops@acme.test", PermissionSet::EMPTY);
    let first = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let second = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let other = world.sign_in("ops@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    // Someone else's session is not found, and nothing changes.
    let (actor, target) = (first.actor(), other.id.clone());
    let refusal = world.refused(|account, context| account.sign_out(&actor, &target, context));
    assert_eq!(refusal, Refusal::UnknownSession(other.id.clone()));
    assert_eq!(refusal.class(), RefusalClass::NotFound);
    let target = second.id.clone();
    world
        .with_context(|account, context| account.sign_out(&actor, &target, context))
        .unwrap();
    assert_eq!(
        world.verify(&second, &tenant),
        SessionVerification::UnknownSession
    );
    assert!(world.account.session_record(&second.id).is_none());
    let refusal = world
        .mint(&second.actor(), &tenant, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal.code(), "credential_not_usable");
    assert!(world.verify(&first, &tenant).principal().is_some());
    assert!(world.verify(&other, &tenant).principal().is_some());
    assert_eq!(
        world
            .account
            .audit_log()
            .events()
            .last()
            .unwrap()
            .body
            .action,
        "session.revoked"
    );
}

#[test]
fn sign_out_everywhere_ends_every_session_of_the_user() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    world.member("ops@acme.test", PermissionSet::EMPTY);
    let sessions: Vec<Signed> = (0..3)
        .map(|_| world.sign_in("dev@acme.test", PASSWORD).unwrap())
        .collect();
    let other = world.sign_in("ops@acme.test", PASSWORD).unwrap();
    let actor = sessions[0].actor();
    let ended = world
        .with_context(|account, context| account.sign_out_everywhere(&actor, context))
        .unwrap();
    assert_eq!(ended, 3);
    let tenant = world.tenant.clone();
    for session in &sessions {
        assert_eq!(
            world.verify(session, &tenant),
            SessionVerification::UnknownSession
        );
    }
    assert!(world.verify(&other, &tenant).principal().is_some());
    // The ended session cannot act again, not even to sign out.
    let refusal = world.refused(|account, context| account.sign_out_everywhere(&actor, context));
    assert_eq!(refusal.code(), "credential_not_usable");
}

#[test]
fn deactivation_ends_sessions_for_good_even_against_a_stale_session_record() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let stale = world.account.session_record(&session.id).unwrap();
    world.by_owner(Command::DeactivateUser {
        user_id: user.clone(),
    });
    let tenant = world.tenant.clone();
    // The session record is gone, and the access record alone refuses too (an edge that still
    // holds the old session record).
    assert!(world.account.session_records().is_empty());
    let access = world.account.access_record(&user).unwrap();
    assert_eq!(access.status, UserStatus::Inactive);
    let verdict = portcullis_core::verify_session(
        &session.text,
        Some(&stale),
        Some(&access),
        &tenant,
        &world.key,
        world.now,
    );
    assert_eq!(verdict, SessionVerification::UserNotActive);
    world.by_owner(Command::ActivateUser {
        user_id: user.clone(),
    });
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::UnknownSession
    );
    assert_eq!(session.actor().session, Some(session.id.clone()));
    let refusal = world
        .mint(&session.actor(), &tenant, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal.code(), "credential_not_usable");
    // The password survives: the reactivated user signs in again.
    assert!(world.sign_in("dev@acme.test", PASSWORD).is_ok());
}

#[test]
fn deletion_ends_access_and_leaves_nothing_behind() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let stale = world.account.session_record(&session.id).unwrap();
    for command in [
        Command::DeactivateUser {
            user_id: user.clone(),
        },
        Command::DeleteUser {
            user_id: user.clone(),
        },
    ] {
        world.apply(&world.owner(), command).unwrap();
    }
    assert!(world.account.access_record(&user).is_none());
    assert!(!world.account.access_records().contains_key(&user));
    let tenant = world.tenant.clone();
    let verdict = portcullis_core::verify_session(
        &session.text,
        Some(&stale),
        None,
        &tenant,
        &world.key,
        world.now,
    );
    assert_eq!(verdict, SessionVerification::UserNotActive);
    let state = serde_json::to_value(&world.account).unwrap();
    assert!(state["sign_in"].as_object().unwrap().is_empty());
    assert_eq!(
        world.sign_in("dev@acme.test", PASSWORD).err(),
        Some(Refusal::SignInFailed)
    );
}

#[test]
fn removal_from_a_tenant_ends_access_there_only() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", perms(&["build_applications"]));
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let staging = world.staging();
    world.invite_into(&staging, "dev@acme.test", PermissionSet::EMPTY);
    let tenant = world.tenant.clone();
    world.by_owner(Command::RemoveMember {
        tenant_id: tenant.clone(),
        user_id: user.clone(),
    });
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::NotMember
    );
    assert!(
        !world
            .account
            .access_record(&user)
            .unwrap()
            .tenants
            .contains_key(&tenant)
    );
    let refusal = world
        .mint(&session.actor(), &tenant, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal, Refusal::ActorNotMember(tenant.clone()));
    assert_eq!(refusal.code(), "tenant_not_found");
    assert_eq!(world.permissions(&session, &staging), PermissionSet::EMPTY);
}

// ----- lifetimes ---------------------------------------------------------------------------

#[test]
fn an_idle_session_expires_and_use_keeps_it_alive() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    let idle = u64::from(SessionLifetimes::default().idle_minutes) * 60;
    assert_eq!(idle, 12 * HOUR);
    // Seen by the edge 11 hours in: alive 11 + 12 hours from sign-in.
    world.now = world.now.plus_seconds(11 * HOUR);
    assert!(world.account.record_session_seen(&session.id, world.now));
    assert!(
        !world.account.record_session_seen(&session.id, world.now),
        "repeat"
    );
    world.now = world.now.plus_seconds(12 * HOUR - 1);
    assert!(world.verify(&session, &tenant).principal().is_some());
    world.now = world.now.plus_seconds(1);
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::Expired
    );
    let refusal = world
        .mint(&session.actor(), &tenant, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal.code(), "credential_not_usable");
    assert!(
        !world.account.record_session_seen(&session.id, world.now),
        "ended stays ended"
    );
}

#[test]
fn a_session_expires_at_its_absolute_lifetime_however_active() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    let absolute = u64::from(SessionLifetimes::default().absolute_hours) * HOUR;
    assert_eq!(absolute, 7 * 24 * HOUR);
    let end = world.now.plus_seconds(absolute);
    while world.now < end {
        world.now = world.now.plus_seconds(6 * HOUR).min(end);
        // Acting keeps it seen.
        let _ = world.mint(&session.actor(), &tenant, PermissionSet::EMPTY);
    }
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::Expired
    );
    let views = world
        .account
        .sessions(&Actor::user(session.user.clone()), world.now)
        .unwrap();
    assert!(views.is_empty());
}

#[test]
fn session_lifetimes_are_configurable_within_bounds_and_apply_to_open_sessions() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let owner = world.owner();
    for (idle_minutes, absolute_hours) in [(4, 24), (60, 2_161), (120, 1)] {
        let lifetimes = SessionLifetimes {
            idle_minutes,
            absolute_hours,
        };
        let refusal = world
            .refused(|account, context| account.configure_sessions(&owner, lifetimes, context));
        assert_eq!(refusal.code(), "out_of_range");
    }
    let dev = Actor::user(session.user.clone());
    let lifetimes = SessionLifetimes {
        idle_minutes: 30,
        absolute_hours: 1,
    };
    let refusal =
        world.refused(|account, context| account.configure_sessions(&dev, lifetimes, context));
    assert_eq!(refusal.code(), "not_company_admin");
    world
        .with_context(|account, context| account.configure_sessions(&owner, lifetimes, context))
        .unwrap();
    assert_eq!(world.account.settings().sessions, lifetimes);
    world.now = world.now.plus_seconds(30 * 60);
    let tenant = world.tenant.clone();
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::Expired
    );
}

// ----- listing, and stored state -------------------------------------------------------------

#[test]
fn a_user_lists_their_own_sessions_without_secrets() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let first = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    world.now = world.now.plus_seconds(60);
    let second = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let views = world.account.sessions(&first.actor(), world.now).unwrap();
    let ids: Vec<&SessionId> = views.iter().map(|view| &view.session_id).collect();
    assert_eq!(ids, [&second.id, &first.id], "most recently seen first");
    assert!(views[1].current && !views[0].current);
    assert_eq!(views[0].user_agent.as_deref(), Some("Firefox/140"));
    assert_eq!(views[0].idle_expires_at, world.now.plus_seconds(12 * HOUR));
    let json = serde_json::to_string(&views).unwrap();
    for session in [&first, &second] {
        assert!(!json.contains(&session.text[25..]));
        let hash = world
            .account
            .session_record(&session.id)
            .unwrap()
            .secret_hash;
        let hash = serde_json::to_string(&hash).unwrap();
        assert!(!json.contains(hash.trim_matches('"')));
    }
}

#[test]
fn an_actor_naming_a_session_that_is_not_theirs_cannot_act() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::all());
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let tenant = world.tenant.clone();
    let borrowed = Actor::via_session(world.owner.clone(), session.id.clone());
    let before = world.account.clone();
    let refusal = world
        .mint(&borrowed, &tenant, PermissionSet::EMPTY)
        .unwrap_err();
    assert_eq!(refusal.code(), "credential_not_usable");
    assert_eq!(world.account, before);
    assert!(world.account.sessions(&borrowed, world.now).is_err());
}

#[test]
fn accounts_stored_before_sessions_still_load() {
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let mut json = serde_json::to_value(&world.account).unwrap();
    json.as_object_mut().unwrap().remove("sign_in");
    json["settings"].as_object_mut().unwrap().remove("sessions");
    let loaded: Account = serde_json::from_value(json).unwrap();
    assert_eq!(loaded.settings().sessions, SessionLifetimes::default());
    assert!(loaded.session_records().is_empty());
    // An actor serialised without a session field reads as no session.
    let actor: Actor = serde_json::from_str(&format!(
        r#"{{"user_id":"{}","credential":null}}"#,
        world.owner
    ))
    .unwrap();
    assert_eq!(actor, world.owner());
    assert!(
        !serde_json::to_string(&world.owner())
            .unwrap()
            .contains("session")
    );
}

#[test]
fn the_read_store_diff_deletes_ended_sessions_and_rewrites_changed_access() {
    use portcullis_core::store::{self, SignInRecordChange};
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let before = world.account.sign_in_records();
    assert!(store::sign_in_changes(&before, &before).is_empty());
    assert_eq!(
        store::session_key(&session.id),
        format!("sess:v1:{}", session.id)
    );
    assert_eq!(
        store::access_key(world.account.id(), &user),
        format!("access:v1:{}:{user}", world.account.id())
    );
    // A permission change rewrites the user's access record, nothing else.
    let certificates = perms(&["update_certificates"]);
    world.change_permissions(&user, certificates);
    let promoted = world.account.sign_in_records();
    let changes = store::sign_in_changes(&before, &promoted);
    assert!(
        matches!(changes.as_slice(), [SignInRecordChange::PutAccess(record)]
            if record.user_id == user && record.tenants.values().any(|held| held.permissions == certificates)),
        "{changes:?}"
    );
    // Deactivation ends the session, and with no session left the access record goes too.
    world.by_owner(Command::DeactivateUser {
        user_id: user.clone(),
    });
    let after = world.account.sign_in_records();
    let changes = store::sign_in_changes(&promoted, &after);
    assert_eq!(
        changes,
        [
            SignInRecordChange::DeleteSession(session.id.clone()),
            SignInRecordChange::DeleteAccess(user.clone())
        ]
    );
    // A user without sessions has no access record to write.
    world.by_owner(Command::DeleteUser {
        user_id: user.clone(),
    });
    assert!(store::sign_in_changes(&after, &world.account.sign_in_records()).is_empty());
    assert!(world.account.access_record(&user).is_none());
}

#[test]
fn accepting_with_a_password_signs_the_user_in() {
    let mut world = World::new();
    let tenant = world.tenant.clone();
    let (user_id, code) = world.invite_into(&tenant, "new@acme.test", PermissionSet::EMPTY);
    let (outcome, issued) = world
        .with_context(|account, context| {
            account.accept_invitation_with_password(
                &email("new@acme.test"),
                &code,
                Some(&tenant),
                PASSWORD,
                Some("Safari/18"),
                context,
            )
        })
        .unwrap();
    assert!(matches!(outcome, Outcome::InvitationAccepted { .. }));
    assert_eq!(issued.user_id, user_id);
    let principal =
        world
            .account
            .verify_session(issued.session.expose(), &tenant, &world.key, world.now);
    assert!(principal.principal().is_some(), "{principal:?}");
    let views = world
        .account
        .sessions(
            &Actor::via_session(user_id, issued.session_id.clone()),
            world.now,
        )
        .unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].user_agent.as_deref(), Some("Safari/18"));
    // A refused acceptance opens nothing and changes nothing.
    let before = world.account.clone();
    let refusal = world.refused(|account, context| {
        account
            .accept_invitation_with_password(
                &email("new@acme.test"),
                &code,
                None,
                PASSWORD,
                None,
                context,
            )
            .map(|(outcome, _)| outcome)
    });
    assert_eq!(refusal.code(), "invitation_invalid");
    assert_eq!(world.account, before);
}

#[test]
fn a_new_device_and_a_password_change_are_notified_without_secrets() {
    use portcullis_core::notification::NotificationKind;
    let mut world = World::new();
    // The member accepted from Firefox/140 (the helper's user agent): a known device.
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let kinds = |world: &World| -> Vec<NotificationKind> {
        world
            .account
            .notifications()
            .iter()
            .filter(|n| n.user_id == user)
            .map(|n| n.kind)
            .collect()
    };
    let before = kinds(&world).len();
    let known = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    assert_eq!(kinds(&world).len(), before, "a known device is not news");
    let issued = world
        .with_context(|account, context| {
            account.sign_in_password("dev@acme.test", PASSWORD, Some("curl/8.9"), context)
        })
        .unwrap();
    let fresh = world.account.notifications().last().unwrap().clone();
    assert_eq!(fresh.kind, NotificationKind::NewSignIn);
    assert_eq!(fresh.user_id, user);
    assert_eq!(fresh.data["user_agent"], "curl/8.9");
    assert_eq!(fresh.data["method"], "password");
    let text = serde_json::to_string(&fresh).unwrap();
    assert!(!text.contains(issued.session.expose()));
    // Once seen, the device is known.
    let count = kinds(&world).len();
    world
        .with_context(|account, context| {
            account.sign_in_password("dev@acme.test", PASSWORD, Some("curl/8.9"), context)
        })
        .unwrap();
    assert_eq!(kinds(&world).len(), count);
    // A failed sign-in notifies nothing.
    assert!(world.sign_in("dev@acme.test", "wrong-wrong-wrong").is_err());
    assert_eq!(kinds(&world).len(), count);
    // A password change is notified, and never carries either password.
    let actor = known.actor();
    world
        .with_context(|account, context| {
            account.change_password(&actor, PASSWORD, "another-long-password", context)
        })
        .unwrap();
    let changed = world.account.notifications().last().unwrap().clone();
    assert_eq!(changed.kind, NotificationKind::PasswordChanged);
    assert_eq!(changed.data["via"], "changed");
    let text = serde_json::to_string(&changed).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("another-long-password"));
}

// ----- password reset ----------------------------------------------------------------------

fn reset_code(world: &mut World, actor: &Actor, user: &UserId) -> Result<String, Refusal> {
    world
        .with_context(|account, context| {
            account.apply(
                actor,
                Command::IssuePasswordReset {
                    user_id: user.clone(),
                },
                context,
            )
        })
        .map(|outcome| match outcome {
            Outcome::PasswordResetIssued { reset, .. } => reset.code.expose().to_owned(),
            other => panic!("unexpected {other:?}"),
        })
}

#[test]
fn the_owner_sets_a_first_password_with_a_reset_code_of_their_own() {
    let mut world = World::new();
    let owner = world.owner();
    let owner_email = world
        .account
        .user(&owner.user_id)
        .unwrap()
        .email
        .to_string();
    // No password yet: signing in fails like any failure.
    assert_eq!(
        world.sign_in(&owner_email, PASSWORD).err(),
        Some(Refusal::SignInFailed)
    );
    let code = reset_code(&mut world, &owner, &owner.user_id.clone()).unwrap();
    assert!(code.starts_with("pcrst_"));
    let issued = world
        .with_context(|account, context| {
            account.reset_password(&owner_email, &code, PASSWORD, Some("Firefox/140"), context)
        })
        .unwrap();
    assert_eq!(issued.user_id, owner.user_id);
    assert!(world.sign_in(&owner_email, PASSWORD).is_ok());
    // Used once; and with a password, no more self-issued codes.
    let again = world.refused(|account, context| {
        account
            .reset_password(&owner_email, &code, "yet-another-password", None, context)
            .map(|_| Outcome::InvitationRevoked {
                user_id: owner.user_id.clone(),
            })
    });
    assert_eq!(again.code(), "password_reset_invalid");
    let user_id = owner.user_id.clone();
    assert_eq!(
        reset_code(&mut world, &owner, &user_id).unwrap_err().code(),
        "password_reset_self"
    );
    let stored = serde_json::to_string(&world.account).unwrap();
    assert!(!stored.contains(&code) && !stored.contains(PASSWORD));
}

#[test]
fn a_reset_ends_every_session_and_fails_alike_for_every_wrong_input() {
    let mut world = World::new();
    let user = world.member("dev@acme.test", PermissionSet::EMPTY);
    let session = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let owner = world.owner();
    let code = reset_code(&mut world, &owner, &user).unwrap();
    // A member without reach over the user cannot have a code issued.
    world.member("peer@acme.test", PermissionSet::EMPTY);
    let peer = world.sign_in("peer@acme.test", PASSWORD).unwrap();
    assert_eq!(
        reset_code(&mut world, &peer.actor(), &user)
            .unwrap_err()
            .code(),
        "user_out_of_reach"
    );
    let before = world.account.clone();
    let redeem = |world: &mut World, email: &str, code: &str, password: &str| {
        world.refused(|account, context| {
            account
                .reset_password(email, code, password, None, context)
                .map(|_| Outcome::InvitationRevoked {
                    user_id: UserId::generate(&mut SeededRandom::new(0)),
                })
        })
    };
    let wrong = format!("pcrst_{}", &code[6..].chars().rev().collect::<String>());
    for (email, code, why) in [
        ("dev@acme.test", wrong.as_str(), "wrong code"),
        ("nobody@acme.test", code.as_str(), "unknown email"),
        ("not an email", code.as_str(), "malformed email"),
        ("peer@acme.test", code.as_str(), "another user's code"),
        ("dev@acme.test", "pcinv_x", "another kind of code"),
    ] {
        assert_eq!(
            redeem(&mut world, email, code, "a-new-password-here").code(),
            "password_reset_invalid",
            "{why}"
        );
    }
    assert_eq!(
        redeem(&mut world, "dev@acme.test", &code, "short").code(),
        "password_policy"
    );
    assert_eq!(world.account, before, "refusals change nothing");
    // Expired after an hour.
    let later = world.now;
    world.now = world.now.plus_seconds(3600);
    assert_eq!(
        redeem(&mut world, "dev@acme.test", &code, "a-new-password-here").code(),
        "password_reset_invalid"
    );
    world.now = later;
    world
        .with_context(|account, context| {
            account.reset_password("dev@acme.test", &code, "a-new-password-here", None, context)
        })
        .unwrap();
    let tenant = world.tenant.clone();
    assert_eq!(
        world.verify(&session, &tenant),
        SessionVerification::UnknownSession,
        "the old sessions ended"
    );
    let notified = world
        .account
        .notifications()
        .iter()
        .rfind(|n| n.kind == portcullis_core::notification::NotificationKind::PasswordChanged)
        .unwrap()
        .clone();
    assert_eq!(notified.user_id, user);
    assert_eq!(notified.data["via"], "reset");
    assert_eq!(
        world.sign_in("dev@acme.test", PASSWORD).err(),
        Some(Refusal::SignInFailed)
    );
    assert!(
        world
            .sign_in("dev@acme.test", "a-new-password-here")
            .is_ok()
    );
}

/// Each session is a row of its own (issue 13): a session seen again rewrites that session's
/// row and nothing else, a second sign-in adds one row, and the rows load back to the same
/// sign-in state.
#[test]
fn a_session_is_a_row_of_its_own() {
    use portcullis_core::account::{RowChange, RowKind};
    let mut world = World::new();
    world.member("dev@acme.test", PermissionSet::EMPTY);
    let first = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let before = world.account.clone();
    world.now = world.now.plus_seconds(HOUR);
    assert!(world.account.record_session_seen(&first.id, world.now));
    let changes = world.account.changes_since(&before).unwrap();
    let written: Vec<(RowKind, String)> = changes
        .rows
        .iter()
        .map(|change| match change {
            RowChange::Put(row) => (row.kind, row.key.clone()),
            RowChange::Delete { kind, key } => (*kind, key.clone()),
        })
        .collect();
    // The user's last activity moves too; their sign-in row (password, devices) does not.
    assert!(
        written.contains(&(RowKind::Session, format!("{}:{}", first.user, first.id))),
        "{written:?}"
    );
    assert!(
        !written.iter().any(|(kind, _)| *kind == RowKind::SignIn),
        "{written:?}"
    );
    let second = world.sign_in("dev@acme.test", PASSWORD).unwrap();
    let rows = world.account.to_rows().unwrap();
    let sessions = rows
        .iter()
        .filter(|row| row.kind == RowKind::Session && row.key.starts_with(&second.user.to_string()))
        .count();
    assert_eq!(sessions, 2);
    let sign_in_row = rows
        .iter()
        .find(|row| row.kind == RowKind::SignIn && row.key == second.user.to_string())
        .unwrap();
    assert!(!sign_in_row.value.contains(&first.id.to_string()));
    let loaded = Account::from_rows(rows).unwrap();
    assert_eq!(loaded, world.account);
}

#[test]
fn during_a_key_rotation_a_password_signs_in_and_is_hashed_again_under_the_new_key() {
    let mut world = World::new();
    world.member("dev@acme.test", perms(&[]));
    let old = world.key.clone();
    let new = HashingKey::from_bytes(&[44; 32]).unwrap();
    world.key = new.clone().with_previous(&old);
    // A wrong password is still refused during the rotation.
    assert_eq!(
        world.sign_in("dev@acme.test", "wrong password!").err(),
        Some(Refusal::SignInFailed)
    );
    assert!(world.sign_in("dev@acme.test", PASSWORD).is_ok());
    // Hashed again on that sign-in: the new key alone signs the user in.
    world.key = new;
    assert!(world.sign_in("dev@acme.test", PASSWORD).is_ok());
    world.key = old;
    assert_eq!(
        world.sign_in("dev@acme.test", PASSWORD).err(),
        Some(Refusal::SignInFailed)
    );
}
