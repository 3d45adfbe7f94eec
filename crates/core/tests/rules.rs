//! One test per domain rule: each shows the refusal, its code, and that nothing changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use portcullis_core::account::{Context, Outcome, PlanBlocker, Refusal, SignUp};
use portcullis_core::audit::verify_chain;
use portcullis_core::bulk::{BulkAction, BulkOutcome, BulkReport, MAX_BULK_REPORTS};
use portcullis_core::command::{Command, SsoChange};
use portcullis_core::credential::{CredentialState, Verification};
use portcullis_core::directory::{DirectoryPage, DirectoryQuery};
use portcullis_core::listing::ListQuery;
use portcullis_core::random::SeededRandom;
use portcullis_core::sso::SsoConnectionId;
use portcullis_core::user::UserStatus;
use portcullis_core::{
    Account, Actor, HashingKey, Permission, PermissionSet, Plan, TenantId, Timestamp, UserId,
};

const HOUR: u64 = 3600;

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;
use support::world::{World, email, perms};

// ----- sign-up, owner, invitations -------------------------------------------------------

#[test]
fn sign_up_creates_an_active_owner_with_a_working_token() {
    let world = World::new(plan_named("team"));
    let owner = world.account.user(&world.owner).unwrap();
    assert_eq!(owner.status, UserStatus::Active);
    assert!(owner.company_admin);
    let principal = world
        .verify(&world.owner_token)
        .principal()
        .cloned()
        .unwrap();
    assert_eq!(principal.permissions, PermissionSet::all());
    assert_eq!(principal.tenant_id, world.tenant);
    assert_eq!(world.account.audit_log().len(), 2);
}

#[test]
fn owner_cannot_be_deactivated_deleted_or_demoted() {
    let mut world = World::new(plan_named("team"));
    let admin = world.company_admin("admin@acme.test");
    let admin = Actor::user(admin);
    let owner = world.owner.clone();
    for command in [
        Command::DeactivateUser {
            user_id: owner.clone(),
        },
        Command::DeleteUser {
            user_id: owner.clone(),
        },
        Command::SetCompanyAdmin {
            user_id: owner.clone(),
            company_admin: false,
        },
    ] {
        assert_eq!(world.refused(&admin, command).code(), "owner_protected");
    }
    let demote = Command::ChangePermissions {
        tenant_id: world.tenant.clone(),
        user_id: owner.clone(),
        permissions: perms(&["build_applications"]),
    };
    assert_eq!(world.refused(&admin, demote).code(), "owner_protected");
    let remove = Command::RemoveMember {
        tenant_id: world.tenant.clone(),
        user_id: owner,
    };
    assert_eq!(world.refused(&admin, remove).code(), "owner_protected");
}

#[test]
fn invited_user_is_pending_and_cannot_authenticate_until_accepting() {
    let mut world = World::new(plan_named("team"));
    let (user, code) = world.invite("new@acme.test", perms(&["build_applications"]));
    assert_eq!(world.status(&user), UserStatus::Pending);
    // A pending user cannot act.
    let refusal = world.refused(
        &Actor::user(user.clone()),
        Command::CreateApiToken {
            tenant_id: world.tenant.clone(),
            name: "x".parse().unwrap(),
            permissions: PermissionSet::EMPTY,
            terms: portcullis_core::terms::Terms::default(),
        },
    );
    assert_eq!(refusal, Refusal::ActorNotActive(UserStatus::Pending));
    world.accept("NEW@acme.test", &code).unwrap();
    assert_eq!(world.status(&user), UserStatus::Active);
    assert_eq!(
        world.account.effective_permissions(&world.tenant, &user),
        perms(&["build_applications"])
    );
}

#[test]
fn invitation_is_single_use_and_checked() {
    let mut world = World::new(plan_named("team"));
    let (_, code) = world.invite("new@acme.test", PermissionSet::EMPTY);
    let before = world.account.clone();
    assert_eq!(
        world
            .accept("new@acme.test", "pcinv_wrong")
            .unwrap_err()
            .code(),
        "invitation_invalid"
    );
    assert_eq!(
        world.accept("other@acme.test", &code).unwrap_err().code(),
        "invitation_invalid"
    );
    assert_eq!(world.account, before);
    world.accept("new@acme.test", &code).unwrap();
    let before = world.account.clone();
    assert_eq!(
        world.accept("new@acme.test", &code).unwrap_err().code(),
        "invitation_invalid"
    );
    assert_eq!(world.account, before);
}

#[test]
fn invitation_expires_after_the_configured_time() {
    let mut world = World::new(plan_named("team"));
    let (_, code) = world.invite("late@acme.test", PermissionSet::EMPTY);
    world.now = world.now.plus_seconds(72 * HOUR);
    let before = world.account.clone();
    assert_eq!(
        world.accept("late@acme.test", &code).unwrap_err(),
        Refusal::InvitationExpired
    );
    assert_eq!(world.account, before);

    world
        .apply(
            &world.owner(),
            Command::UpdateAccountSettings {
                invitation_ttl_hours: 1,
            },
        )
        .unwrap();
    let (_, code) = world.invite("quick@acme.test", PermissionSet::EMPTY);
    world.now = world.now.plus_seconds(HOUR - 1);
    world.accept("quick@acme.test", &code).unwrap();
    let bad_ttl = Command::UpdateAccountSettings {
        invitation_ttl_hours: 0,
    };
    assert_eq!(
        world.refused(&world.owner(), bad_ttl).code(),
        "out_of_range"
    );
}

#[test]
fn resending_an_invitation_invalidates_the_previous_code() {
    let mut world = World::new(plan_named("team"));
    let (user, first) = world.invite("re@acme.test", PermissionSet::EMPTY);
    let outcome = world
        .apply(
            &world.owner(),
            Command::ResendInvitation {
                user_id: user.clone(),
            },
        )
        .unwrap();
    let Outcome::InvitationResent { invitation, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let second = invitation.code.expose().to_owned();
    assert_eq!(
        world.accept("re@acme.test", &first).unwrap_err().code(),
        "invitation_invalid"
    );
    world.accept("re@acme.test", &second).unwrap();
    // Only pending users get invitations.
    let again = world.refused(&world.owner(), Command::ResendInvitation { user_id: user });
    assert_eq!(again.code(), "illegal_transition");
}

// ----- lifecycle --------------------------------------------------------------------------

#[test]
fn lifecycle_transitions_follow_the_state_machine() {
    let mut world = World::new(plan_named("team"));
    let owner = world.owner();
    let (pending, _) = world.invite("p@acme.test", PermissionSet::EMPTY);
    let active = world.member("a@acme.test", PermissionSet::EMPTY);
    let refusal = world.refused(
        &owner,
        Command::DeactivateUser {
            user_id: pending.clone(),
        },
    );
    assert_eq!(
        refusal.to_string(),
        "cannot deactivate a user who is pending"
    );
    assert_eq!(
        world
            .refused(
                &owner,
                Command::ActivateUser {
                    user_id: active.clone()
                }
            )
            .code(),
        "illegal_transition"
    );
    assert_eq!(
        world
            .refused(
                &owner,
                Command::DeleteUser {
                    user_id: active.clone()
                }
            )
            .code(),
        "illegal_transition"
    );
    assert_eq!(
        world
            .refused(&owner, Command::DeleteUser { user_id: pending })
            .code(),
        "illegal_transition"
    );
    world
        .apply(
            &owner,
            Command::DeactivateUser {
                user_id: active.clone(),
            },
        )
        .unwrap();
    assert_eq!(
        world
            .refused(
                &owner,
                Command::DeactivateUser {
                    user_id: active.clone()
                }
            )
            .code(),
        "illegal_transition"
    );
    world
        .apply(
            &owner,
            Command::ActivateUser {
                user_id: active.clone(),
            },
        )
        .unwrap();
    world
        .apply(
            &owner,
            Command::DeactivateUser {
                user_id: active.clone(),
            },
        )
        .unwrap();
    world
        .apply(
            &owner,
            Command::DeleteUser {
                user_id: active.clone(),
            },
        )
        .unwrap();
    assert!(world.account.user(&active).is_none());
    assert!(
        !world
            .account
            .tenant(&world.tenant)
            .unwrap()
            .members
            .contains_key(&active)
    );
}

#[test]
fn only_company_admins_run_account_lifecycle() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", PermissionSet::all());
    let target = world.member("t@acme.test", PermissionSet::EMPTY);
    let refusal = world.refused(
        &Actor::user(manager),
        Command::DeactivateUser { user_id: target },
    );
    assert_eq!(refusal, Refusal::NotCompanyAdmin);
}

// ----- notifications ---------------------------------------------------------------------

#[test]
fn notifications_and_the_webhook_are_for_company_admins_only() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", PermissionSet::all());
    let manager = Actor::user(manager);
    assert_eq!(
        world.account.authorize_notifications(&manager, world.now),
        Err(Refusal::NotCompanyAdmin)
    );
    assert_eq!(
        world
            .account
            .authorize_notifications(&world.owner(), world.now),
        Ok(())
    );
    let configure = Command::ConfigureWebhook {
        url: "https://hooks.acme.test/portcullis".parse().unwrap(),
        start_after_seconds: 0,
    };
    assert_eq!(world.refused(&manager, configure), Refusal::NotCompanyAdmin);
    let refusal = world.refused(&world.owner(), Command::RemoveWebhook {});
    assert_eq!(
        (refusal.code(), refusal),
        ("webhook_not_found", Refusal::WebhookNotConfigured)
    );
}

#[test]
fn the_webhook_signing_secret_is_shown_once_and_never_stored() {
    let mut world = World::new(plan_named("team"));
    // Too far a first delivery is refused; the default waits a minute for the receiver.
    let late = Command::ConfigureWebhook {
        url: "https://hooks.acme.test/portcullis".parse().unwrap(),
        start_after_seconds: 3_601,
    };
    assert!(matches!(
        world.refused(&world.owner(), late),
        Refusal::OutOfRange(_)
    ));
    let configure = Command::from_json(
        br#"{"command":"configure_webhook","url":"https://hooks.acme.test/portcullis"}"#,
    )
    .unwrap();
    let Outcome::WebhookConfigured {
        signing_secret,
        deliveries_start_at,
        ..
    } = world.apply(&world.owner(), configure.clone()).unwrap()
    else {
        panic!("not configured");
    };
    assert_eq!(deliveries_start_at, world.now.plus_seconds(60));
    let stored = serde_json::to_string(&world.account).unwrap();
    assert!(!stored.contains(signing_secret.expose()));
    let webhook = world.account.webhook().unwrap();
    assert_eq!(
        webhook.signing_secret(&world.key, world.account.id()),
        signing_secret,
        "deliveries are signed with the secret that was shown"
    );
    let Outcome::WebhookConfigured {
        signing_secret: new,
        ..
    } = world.apply(&world.owner(), configure).unwrap()
    else {
        panic!("not configured");
    };
    assert_ne!(new, signing_secret, "configuring again rotates the secret");
    world
        .apply(&world.owner(), Command::RemoveWebhook {})
        .unwrap();
    assert!(world.account.webhook().is_none());
}

#[test]
fn lifecycle_notifications_are_produced_with_the_change_and_carry_no_secret() {
    let mut world = World::new(plan_named("team"));
    let (user, code) = world.invite("nina@acme.test", PermissionSet::EMPTY);
    let refused_before = world.account.notifications().len();
    world.refused(
        &world.owner(),
        Command::DeactivateUser {
            user_id: world.owner.clone(),
        },
    );
    assert_eq!(world.account.notifications().len(), refused_before);
    world.accept("nina@acme.test", &code).unwrap();
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
    let kinds: Vec<&str> = world
        .account
        .notifications()
        .iter()
        .map(|n| n.kind.name())
        .collect();
    assert_eq!(kinds, ["invitation", "activated", "deactivated", "deleted"]);
    assert!(
        world
            .account
            .notifications()
            .iter()
            .all(|n| n.user_id == user && n.email.as_str() == "nina@acme.test")
    );
    let text = serde_json::to_string(world.account.notifications()).unwrap();
    assert!(!text.contains(&code) && !text.contains("pcinv_"));
    let drained = world.account.drain_notifications();
    assert_eq!(drained.len(), 4);
    assert!(world.account.notifications().is_empty());
    world.invite("omar@acme.test", PermissionSet::EMPTY);
    assert_eq!(
        world.account.notifications().first().map(|n| n.sequence),
        Some(4),
        "numbering continues after a drain"
    );
}

#[test]
fn names_are_edited_by_the_user_a_company_admin_or_a_tenant_manager_only() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let reader = world.member("r@acme.test", PermissionSet::EMPTY);
    let target = world.member("t@acme.test", PermissionSet::EMPTY);
    let rename = |user_id: &UserId, name: &str| Command::RenameUser {
        user_id: user_id.clone(),
        name: name.parse().unwrap(),
    };
    let refusal = world.refused(&Actor::user(reader.clone()), rename(&target, "Nope"));
    assert_eq!(refusal, Refusal::OutOfReach(target.clone()));
    assert_eq!(refusal.code(), "user_out_of_reach");
    for (actor, name) in [
        (target.clone(), "Tess Self"),
        (manager, "Tess Managed"),
        (world.owner.clone(), "Tess Admin"),
    ] {
        world
            .apply(&Actor::user(actor), rename(&target, name))
            .unwrap();
        assert_eq!(world.account.user(&target).unwrap().name.as_str(), name);
    }
    let email_before = world.account.user(&target).unwrap().email.clone();
    assert_eq!(
        email_before.as_str(),
        "t@acme.test",
        "the email never changes"
    );
    let unknown: UserId = "usr_0123456789abcdef".parse().unwrap();
    let refusal = world.refused(&world.owner(), rename(&unknown, "Ghost"));
    assert_eq!(refusal.code(), "user_not_found");
}

#[test]
fn renaming_oneself_needs_a_usable_credential() {
    let mut world = World::new(plan_named("team"));
    let member = world.member("m@acme.test", PermissionSet::EMPTY);
    let session = Actor::user(member.clone());
    let (key_id, _) = world.token(&session, PermissionSet::EMPTY);
    let via_token = Actor::via_token(member.clone(), key_id.clone());
    let rename = |name: &str| Command::RenameUser {
        user_id: member.clone(),
        name: name.parse().unwrap(),
    };
    // A live token of one's own will do, whatever its scope.
    world.apply(&via_token, rename("Mia Token")).unwrap();
    // Someone else's token, or one's own once deleted, will not.
    let foreign = Actor::via_token(member.clone(), world.owner_key());
    assert_eq!(
        world.refused(&foreign, rename("Nope")).code(),
        "credential_not_usable"
    );
    world
        .apply(&session, Command::DeleteApiToken { key_id })
        .unwrap();
    assert_eq!(
        world.refused(&via_token, rename("Nope")).code(),
        "credential_not_usable"
    );
    assert_eq!(
        world.account.user(&member).unwrap().name.as_str(),
        "Mia Token"
    );
}

#[test]
fn deactivation_blocks_every_credential_in_every_tenant_at_once() {
    let mut world = World::new(plan_named("team"));
    let user = world.member("dev@acme.test", perms(&["build_applications"]));
    let (_, token) = world.token(&Actor::user(user.clone()), perms(&["build_applications"]));
    let second = match world
        .apply(
            &world.owner(),
            Command::CreateTenant {
                name: "Staging".parse().unwrap(),
                plan: plan_named("team"),
            },
        )
        .unwrap()
    {
        Outcome::TenantCreated { tenant_id } => tenant_id,
        other => panic!("{other:?}"),
    };
    world
        .apply(
            &world.owner(),
            Command::InviteMember {
                tenant_id: second.clone(),
                email: email("dev@acme.test"),
                name: None,
                permissions: PermissionSet::EMPTY,
            },
        )
        .unwrap();
    let other_token = match world
        .apply(
            &Actor::user(user.clone()),
            Command::CreateApiToken {
                tenant_id: second.clone(),
                name: "staging".parse().unwrap(),
                permissions: PermissionSet::EMPTY,
                terms: portcullis_core::terms::Terms::default(),
            },
        )
        .unwrap()
    {
        Outcome::ApiTokenCreated { token, .. } => token.expose().to_owned(),
        other => panic!("{other:?}"),
    };
    assert!(world.verify(&token).principal().is_some());
    assert!(world.verify(&other_token).principal().is_some());
    world
        .apply(
            &world.owner(),
            Command::DeactivateUser {
                user_id: user.clone(),
            },
        )
        .unwrap();
    assert_eq!(world.verify(&token), Verification::OwnerInactive);
    assert_eq!(world.verify(&other_token), Verification::OwnerInactive);
    assert_eq!(
        world.account.effective_permissions(&second, &user),
        PermissionSet::EMPTY
    );
    world
        .apply(&world.owner(), Command::ActivateUser { user_id: user })
        .unwrap();
    assert!(world.verify(&token).principal().is_some());
}

// ----- tenants, plans and membership ----------------------------------------------------------

#[test]
fn free_plan_allows_only_the_owner() {
    let mut world = World::new(plan_named("free"));
    let command = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("second@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    let refusal = world.refused(&world.owner(), command);
    assert_eq!(
        refusal,
        Refusal::PlanLimit {
            plan: plan_named("free"),
            limit: 1
        }
    );
}

#[test]
fn team_limit_counts_owner_and_pending_invitees() {
    let mut world = World::new(plan_named("team"));
    for n in 1..20 {
        world.invite(&format!("user{n}@acme.test"), PermissionSet::EMPTY);
    }
    assert_eq!(
        world.account.tenant(&world.tenant).unwrap().members.len(),
        20
    );
    let command = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("user20@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(world.refused(&world.owner(), command).code(), "plan_limit");
}

#[test]
fn adding_an_existing_member_again_is_a_conflict() {
    let mut world = World::new(plan_named("team"));
    world.member("dup@acme.test", PermissionSet::EMPTY);
    let command = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("DUP@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        world.refused(&world.owner(), command).code(),
        "already_member"
    );
}

#[test]
fn new_members_get_no_permission_unless_granted() {
    let mut world = World::new(plan_named("team"));
    let user = world.member("ro@acme.test", PermissionSet::EMPTY);
    assert!(
        world
            .account
            .effective_permissions(&world.tenant, &user)
            .is_empty()
    );
    let invite = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("x@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        world.refused(&Actor::user(user), invite).code(),
        "missing_permission"
    );
}

#[test]
fn plan_change_is_refused_with_every_blocker() {
    let mut world = World::new(plan_named("enterprise"));
    let manager = world.member("sec@acme.test", perms(&["user_and_api_management"]));
    for n in 0..20 {
        world.invite(&format!("u{n}@acme.test"), PermissionSet::EMPTY);
    }
    world
        .apply(
            &world.owner(),
            Command::CreateAutomationKey {
                tenant_id: world.tenant.clone(),
                name: "ci".parse().unwrap(),
                terms: portcullis_core::terms::Terms::default(),
            },
        )
        .unwrap();
    let connection = world.sso_connection();
    world
        .apply(
            &world.owner(),
            Command::UpdateTenantSettings {
                tenant_id: world.tenant.clone(),
                name: None,
                plan: None,
                sso: Some(SsoChange {
                    enforced: true,
                    breakglass: Some(manager),
                    connection: Some(connection),
                }),
            },
        )
        .unwrap();
    let downgrade = Command::UpdateTenantSettings {
        tenant_id: world.tenant.clone(),
        name: None,
        plan: Some(plan_named("free")),
        sso: None,
    };
    let refusal = world.refused(&world.owner(), downgrade);
    let Refusal::PlanChangeBlocked { plan, blockers } = &refusal else {
        panic!("{refusal:?}")
    };
    assert_eq!(*plan, plan_named("free"));
    assert_eq!(
        blockers,
        &[
            PlanBlocker::TooManyMembers {
                members: 22,
                limit: 1
            },
            PlanBlocker::AutomationKeysInUse { keys: 1 },
            PlanBlocker::SsoEnforced,
        ]
    );
    let message = refusal.to_string();
    assert!(
        message.contains("22 members")
            && message.contains("automation keys")
            && message.contains("SSO"),
        "{message}"
    );
}

#[test]
fn plan_change_rewrites_credential_projections() {
    let mut world = World::new(plan_named("team"));
    world
        .apply(
            &world.owner(),
            Command::UpdateTenantSettings {
                tenant_id: world.tenant.clone(),
                name: Some("Prod EU".parse().unwrap()),
                plan: Some(plan_named("enterprise")),
                sso: None,
            },
        )
        .unwrap();
    let principal = world
        .verify(&world.owner_token)
        .principal()
        .cloned()
        .unwrap();
    assert_eq!(principal.plan, plan_named("enterprise"));
    assert_eq!(
        world.account.tenant(&world.tenant).unwrap().name.as_str(),
        "Prod EU"
    );
}

#[test]
fn removing_a_member_takes_effect_immediately_and_keeps_the_user() {
    let mut world = World::new(plan_named("team"));
    let user = world.member("gone@acme.test", perms(&["modify_configuration"]));
    let (_, token) = world.token(&Actor::user(user.clone()), perms(&["modify_configuration"]));
    assert!(world.verify(&token).principal().is_some());
    world
        .apply(
            &world.owner(),
            Command::RemoveMember {
                tenant_id: world.tenant.clone(),
                user_id: user.clone(),
            },
        )
        .unwrap();
    assert_eq!(world.verify(&token), Verification::UnknownKey);
    assert_eq!(world.status(&user), UserStatus::Active);
    let again = Command::RemoveMember {
        tenant_id: world.tenant.clone(),
        user_id: user,
    };
    assert_eq!(
        world.refused(&world.owner(), again).code(),
        "member_not_found"
    );
}

#[test]
fn users_cannot_remove_or_deactivate_themselves() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("self@acme.test", perms(&["user_and_api_management"]));
    let actor = Actor::user(manager.clone());
    let command = Command::RemoveMember {
        tenant_id: world.tenant.clone(),
        user_id: manager.clone(),
    };
    assert_eq!(
        world.refused(&actor, command),
        Refusal::SelfTarget("remove")
    );
    world
        .apply(
            &world.owner(),
            Command::SetCompanyAdmin {
                user_id: manager.clone(),
                company_admin: true,
            },
        )
        .unwrap();
    let command = Command::DeactivateUser { user_id: manager };
    assert_eq!(
        world.refused(&actor, command),
        Refusal::SelfTarget("deactivate")
    );
}

// ----- permissions: escalation, lockout, immediacy ---------------------------------------------

#[test]
fn permission_changes_take_effect_on_the_next_authorization() {
    let mut world = World::new(plan_named("team"));
    let user = world.member(
        "dev@acme.test",
        perms(&["build_applications", "modify_configuration"]),
    );
    let (_, token) = world.token(
        &Actor::user(user.clone()),
        perms(&["build_applications", "modify_configuration"]),
    );
    world
        .apply(
            &world.owner(),
            Command::ChangePermissions {
                tenant_id: world.tenant.clone(),
                user_id: user,
                permissions: perms(&["build_applications"]),
            },
        )
        .unwrap();
    let principal = world.verify(&token).principal().cloned().unwrap();
    assert_eq!(principal.permissions, perms(&["build_applications"]));
    let decision = portcullis_core::authorize(&principal, op_named("write_configuration"));
    assert!(!decision.allow);
}

#[test]
fn no_privilege_escalation_for_members_tokens_and_invites() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member(
        "mgr@acme.test",
        perms(&["user_and_api_management", "build_applications"]),
    );
    let target = world.member("t@acme.test", PermissionSet::EMPTY);
    let actor = Actor::user(manager);
    let change = Command::ChangePermissions {
        tenant_id: world.tenant.clone(),
        user_id: target,
        permissions: perms(&["build_applications", "modify_tenant_settings"]),
    };
    assert_eq!(
        world.refused(&actor, change),
        Refusal::Escalation(perms(&["modify_tenant_settings"]))
    );
    let invite = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("esc@acme.test"),
        name: None,
        permissions: perms(&["update_certificates"]),
    };
    assert_eq!(world.refused(&actor, invite).code(), "privilege_escalation");
    let token = Command::CreateApiToken {
        tenant_id: world.tenant.clone(),
        name: "wide".parse().unwrap(),
        permissions: PermissionSet::all(),
        terms: portcullis_core::terms::Terms::default(),
    };
    assert_eq!(world.refused(&actor, token).code(), "privilege_escalation");
}

#[test]
fn acting_through_a_token_is_bounded_by_its_scope() {
    let mut world = World::new(plan_named("team"));
    let owner = world.owner();
    let (narrow, _) = world.token(&owner, perms(&["build_applications"]));
    let via = Actor::via_token(world.owner.clone(), narrow);
    let invite = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("x@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        world.refused(&via, invite),
        Refusal::MissingPermission(Permission::USER_AND_API_MANAGEMENT)
    );
    let deactivate = Command::DeactivateUser {
        user_id: world.owner.clone(),
    };
    assert_eq!(world.refused(&via, deactivate).code(), "missing_permission");
}

#[test]
fn lockout_prevention_keeps_an_active_manager_in_every_tenant() {
    let mut world = World::new(plan_named("team"));
    // A second tenant owned by a company admin other than the account owner.
    let admin = world.company_admin("admin@acme.test");
    let tenant = world.launch_tenant(&admin, "Labs", plan_named("team"));
    // The admin is the only manager of Labs: deactivating them would lock Labs out.
    let refusal = world.refused(
        &world.owner(),
        Command::DeactivateUser {
            user_id: admin.clone(),
        },
    );
    assert_eq!(refusal, Refusal::Lockout(tenant.clone()));
    // With a second manager in Labs, deactivation is fine.
    world
        .apply(
            &Actor::user(admin.clone()),
            Command::InviteMember {
                tenant_id: tenant.clone(),
                email: email("owner@acme.test"),
                name: None,
                permissions: perms(&["user_and_api_management"]),
            },
        )
        .unwrap();
    world
        .apply(&world.owner(), Command::DeactivateUser { user_id: admin })
        .unwrap();
}

#[test]
fn lockout_prevention_covers_permission_changes_and_removal() {
    let mut world = World::new(plan_named("team"));
    let admin = world.company_admin("admin@acme.test");
    let actor = Actor::user(admin.clone());
    let tenant = match world
        .apply(
            &actor,
            Command::CreateTenant {
                name: "Labs".parse().unwrap(),
                plan: plan_named("team"),
            },
        )
        .unwrap()
    {
        Outcome::TenantCreated { tenant_id } => tenant_id,
        other => panic!("{other:?}"),
    };
    let helper_id = match world
        .apply(
            &actor,
            Command::InviteMember {
                tenant_id: tenant.clone(),
                email: email("helper@acme.test"),
                name: None,
                permissions: perms(&["user_and_api_management"]),
            },
        )
        .unwrap()
    {
        Outcome::MemberAdded { user_id, .. } => user_id,
        other => panic!("{other:?}"),
    };
    // helper is pending, so the admin (tenant owner) is still the only active manager; the
    // owner cannot be demoted, and removing the pending helper leaves the admin in place.
    world
        .apply(
            &actor,
            Command::RemoveMember {
                tenant_id: tenant.clone(),
                user_id: helper_id,
            },
        )
        .unwrap();
    let demote_self = Command::ChangePermissions {
        tenant_id: tenant.clone(),
        user_id: admin,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(world.refused(&actor, demote_self).code(), "owner_protected");
}

// ----- SSO ------------------------------------------------------------------------------------

#[test]
fn sso_needs_enterprise_and_a_valid_breakglass_user() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("bg@acme.test", perms(&["user_and_api_management"]));
    let reader = world.member("ro@acme.test", PermissionSet::EMPTY);
    let tenant_id = world.tenant.clone();
    let connection = world.sso_connection();
    let sso = |breakglass: Option<UserId>| Command::UpdateTenantSettings {
        tenant_id: tenant_id.clone(),
        name: None,
        plan: None,
        sso: Some(SsoChange {
            enforced: true,
            breakglass,
            connection: Some(connection.clone()),
        }),
    };
    let on_team = sso(Some(manager.clone()));
    assert_eq!(
        world.refused(&world.owner(), on_team).code(),
        "plan_feature_unavailable"
    );
    let upgrade = |plan| Command::UpdateTenantSettings {
        tenant_id: tenant_id.clone(),
        name: None,
        plan: Some(plan),
        sso: None,
    };
    world
        .apply(&world.owner(), upgrade(plan_named("enterprise")))
        .unwrap();
    assert_eq!(
        world.refused(&world.owner(), sso(None)),
        Refusal::BreakglassRequired
    );
    assert_eq!(
        world.refused(&world.owner(), sso(Some(reader.clone()))),
        Refusal::InvalidBreakglass(reader)
    );
    world
        .apply(&world.owner(), sso(Some(manager.clone())))
        .unwrap();
    let tenant = world.account.tenant(&world.tenant).unwrap();
    assert!(tenant.sso.enforced);

    // While chosen, the breakglass user keeps the permission and the membership.
    let demote = Command::ChangePermissions {
        tenant_id: world.tenant.clone(),
        user_id: manager.clone(),
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        world.refused(&world.owner(), demote).code(),
        "breakglass_protected"
    );
    let remove = Command::RemoveMember {
        tenant_id: world.tenant.clone(),
        user_id: manager.clone(),
    };
    assert_eq!(
        world.refused(&world.owner(), remove).code(),
        "breakglass_protected"
    );
    let deactivate = Command::DeactivateUser { user_id: manager };
    assert_eq!(
        world.refused(&world.owner(), deactivate).code(),
        "breakglass_protected"
    );
    // And the plan cannot drop below enterprise while SSO is enforced.
    assert_eq!(
        world
            .refused(&world.owner(), upgrade(plan_named("team")))
            .code(),
        "plan_change_blocked"
    );
}

#[test]
fn enforcing_sso_names_an_existing_connection_which_then_cannot_be_deleted() {
    let mut world = World::new(plan_named("enterprise"));
    let manager = world.member("bg@acme.test", perms(&["user_and_api_management"]));
    let tenant_id = world.tenant.clone();
    let sso = |enforced: bool, connection: Option<SsoConnectionId>| Command::UpdateTenantSettings {
        tenant_id: tenant_id.clone(),
        name: None,
        plan: None,
        sso: Some(SsoChange {
            enforced,
            breakglass: Some(manager.clone()),
            connection,
        }),
    };
    assert_eq!(
        world.refused(&world.owner(), sso(true, None)),
        Refusal::SsoConnectionRequired
    );
    let missing: SsoConnectionId = "sso_00000000000000ff".parse().unwrap();
    assert_eq!(
        world
            .refused(&world.owner(), sso(true, Some(missing.clone())))
            .code(),
        "sso_connection_not_found"
    );
    assert_eq!(
        world
            .refused(&world.owner(), sso(false, Some(missing)))
            .code(),
        "sso_connection_not_found"
    );
    let connection = world.sso_connection();
    world
        .apply(&world.owner(), sso(true, Some(connection.clone())))
        .unwrap();
    let settings = &world.account.tenant(&world.tenant).unwrap().sso;
    assert_eq!(settings.connection.as_ref(), Some(&connection));
    let event = world.account.audit_log().events().last().unwrap();
    assert!(
        event
            .body
            .detail
            .contains(&format!("sso_connection={connection}")),
        "{:?}",
        event.body.detail
    );
    // Named by a tenant, the connection stays.
    let delete = Command::DeleteSsoConnection {
        connection_id: connection.clone(),
    };
    let refusal = world.refused(&world.owner(), delete.clone());
    assert_eq!(
        refusal,
        Refusal::SsoConnectionInUse {
            connection: connection.clone(),
            tenant: world.tenant.clone(),
        }
    );
    assert_eq!(refusal.code(), "sso_connection_in_use");
    // Once the tenant stops naming it, it goes.
    world.apply(&world.owner(), sso(false, None)).unwrap();
    world.apply(&world.owner(), delete.clone()).unwrap();
    assert_eq!(
        world.refused(&world.owner(), delete).code(),
        "sso_connection_not_found"
    );
}

// ----- credentials ----------------------------------------------------------------------------

#[test]
fn timestamps_after_year_9999_are_refused_at_parse() {
    let mut world = World::new(plan_named("team"));
    let body = |expires_at: u64| {
        format!(
            r#"{{"command":"create_api_token","tenant_id":"{}","name":"far","expires_at":{expires_at}}}"#,
            world.tenant
        )
    };
    for late in [253_402_300_800_u64, 1 << 53, u64::MAX] {
        let error = Command::from_json(body(late).as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("9999-12-31T23:59:59Z"),
            "{error}"
        );
    }
    // The latest accepted time works end to end: created, projected, verified.
    let command = Command::from_json(body(Timestamp::MAX.unix_seconds()).as_bytes()).unwrap();
    let Outcome::ApiTokenCreated { token, .. } = world.apply(&world.owner(), command).unwrap()
    else {
        panic!()
    };
    assert!(world.verify(token.expose()).principal().is_some());
    let record = world
        .account
        .credential_records()
        .into_values()
        .find(|record| record.expires_at == Some(Timestamp::MAX))
        .unwrap();
    let json = serde_json::to_string(&record).unwrap();
    assert_eq!(
        serde_json::from_str::<portcullis_core::credential::CredentialRecord>(&json).unwrap(),
        record
    );
}

#[test]
fn token_effective_permissions_are_scope_intersect_member() {
    let mut world = World::new(plan_named("team"));
    let user = world.member(
        "dev@acme.test",
        perms(&["build_applications", "manage_custom_messages"]),
    );
    let (_, token) = world.token(&Actor::user(user), perms(&["build_applications"]));
    let principal = world.verify(&token).principal().cloned().unwrap();
    assert_eq!(principal.permissions, perms(&["build_applications"]));
}

#[test]
fn deleted_token_stops_verifying_immediately() {
    let mut world = World::new(plan_named("team"));
    let owner = world.owner();
    let (key_id, token) = world.token(&owner, PermissionSet::EMPTY);
    assert!(world.verify(&token).principal().is_some());
    world
        .apply(
            &owner,
            Command::DeleteApiToken {
                key_id: key_id.clone(),
            },
        )
        .unwrap();
    assert_eq!(world.verify(&token), Verification::UnknownKey);
    assert_eq!(
        world
            .refused(&owner, Command::DeleteApiToken { key_id })
            .code(),
        "credential_not_found"
    );
}

#[test]
fn members_delete_their_own_tokens_and_managers_any() {
    let mut world = World::new(plan_named("team"));
    let dev = world.member("dev@acme.test", PermissionSet::EMPTY);
    let other = world.member("other@acme.test", PermissionSet::EMPTY);
    let (key_id, _) = world.token(&Actor::user(dev.clone()), PermissionSet::EMPTY);
    let refusal = world.refused(
        &Actor::user(other),
        Command::DeleteApiToken {
            key_id: key_id.clone(),
        },
    );
    assert_eq!(refusal.code(), "missing_permission");
    world
        .apply(&world.owner(), Command::DeleteApiToken { key_id })
        .unwrap();
}

#[test]
fn token_expiry_is_enforced() {
    let mut world = World::new(plan_named("team"));
    let past = Command::CreateApiToken {
        tenant_id: world.tenant.clone(),
        name: "old".parse().unwrap(),
        permissions: PermissionSet::EMPTY,
        terms: portcullis_core::terms::Terms {
            expires_at: Some(world.now),
            ..portcullis_core::terms::Terms::default()
        },
    };
    assert_eq!(world.refused(&world.owner(), past), Refusal::ExpiryInPast);
    let expiring = Command::CreateApiToken {
        tenant_id: world.tenant.clone(),
        name: "short".parse().unwrap(),
        permissions: PermissionSet::EMPTY,
        terms: portcullis_core::terms::Terms {
            expires_at: Some(world.now.plus_seconds(60)),
            ..portcullis_core::terms::Terms::default()
        },
    };
    let Outcome::ApiTokenCreated { token, .. } = world.apply(&world.owner(), expiring).unwrap()
    else {
        panic!()
    };
    assert!(world.verify(token.expose()).principal().is_some());
    world.now = world.now.plus_seconds(60);
    assert_eq!(world.verify(token.expose()), Verification::Expired);
}

#[test]
fn automation_keys_need_team_and_build_applications() {
    let mut free = World::new(plan_named("free"));
    let command = Command::CreateAutomationKey {
        tenant_id: free.tenant.clone(),
        name: "ci".parse().unwrap(),
        terms: portcullis_core::terms::Terms::default(),
    };
    assert_eq!(
        free.refused(&free.owner(), command).code(),
        "plan_feature_unavailable"
    );

    let mut world = World::new(plan_named("team"));
    let reader = world.member("ro@acme.test", perms(&["user_and_api_management"]));
    let command = Command::CreateAutomationKey {
        tenant_id: world.tenant.clone(),
        name: "ci".parse().unwrap(),
        terms: portcullis_core::terms::Terms::default(),
    };
    assert_eq!(
        world.refused(&Actor::user(reader), command.clone()),
        Refusal::MissingPermission(perm("build_applications"))
    );
    let Outcome::AutomationKeyCreated { key_id, key } =
        world.apply(&world.owner(), command).unwrap()
    else {
        panic!()
    };
    let principal = world.verify(key.expose()).principal().cloned().unwrap();
    assert_eq!(principal.permissions, perms(&["build_applications"]));
    for operation in portcullis_core::Operation::all() {
        let decision = portcullis_core::authorize(&principal, operation);
        let build = portcullis_core::model::with_model(|model| {
            model.operation_def(operation).unwrap().automation_keys
        });
        assert_eq!(decision.allow, build, "{operation}");
    }

    world
        .apply(
            &world.owner(),
            Command::SetAutomationKeyEnabled {
                key_id: key_id.clone(),
                enabled: false,
            },
        )
        .unwrap();
    assert_eq!(world.verify(key.expose()), Verification::Disabled);
    world
        .apply(
            &world.owner(),
            Command::SetAutomationKeyEnabled {
                key_id: key_id.clone(),
                enabled: true,
            },
        )
        .unwrap();
    assert!(world.verify(key.expose()).principal().is_some());
    world
        .apply(&world.owner(), Command::DeleteAutomationKey { key_id })
        .unwrap();
    assert_eq!(world.verify(key.expose()), Verification::UnknownKey);
}

#[test]
fn projections_follow_every_change() {
    let mut world = World::new(plan_named("team"));
    let user = world.member("dev@acme.test", perms(&["build_applications"]));
    let (key_id, _) = world.token(&Actor::user(user.clone()), perms(&["build_applications"]));
    let before = world.account.credential_records();
    world
        .apply(&world.owner(), Command::DeactivateUser { user_id: user })
        .unwrap();
    let after = world.account.credential_records();
    let changes = portcullis_core::store::record_changes(&before, &after);
    assert_eq!(changes.len(), 1);
    let portcullis_core::store::RecordChange::Put(record) = &changes[0] else {
        panic!()
    };
    assert_eq!(record.key_id, key_id);
    assert_eq!(record.state, CredentialState::OwnerInactive);
}

// ----- audit ----------------------------------------------------------------------------------

#[test]
fn every_accepted_mutation_appends_one_event_and_refusals_none() {
    let mut world = World::new(plan_named("enterprise"));
    let start = world.account.audit_log().len();
    let user = world.member("a@acme.test", PermissionSet::EMPTY);
    assert_eq!(
        world.account.audit_log().len(),
        start + 2,
        "invite + accept"
    );
    world.refused(
        &world.owner(),
        Command::DeleteUser {
            user_id: user.clone(),
        },
    );
    assert_eq!(world.account.audit_log().len(), start + 2);
    world
        .apply(&world.owner(), Command::DeactivateUser { user_id: user })
        .unwrap();
    let events = world.account.audit_log().events();
    assert_eq!(events.len(), start + 3);
    let last = &events[events.len() - 1].body;
    assert_eq!(last.action, "user.deactivated");
    assert_eq!(last.actor.as_ref(), Some(&world.owner));
    assert_eq!(verify_chain(events), Ok(()));
    // No secret ever reaches the log.
    let log = serde_json::to_string(world.account.audit_log()).unwrap();
    assert!(!log.contains("pcts_") && !log.contains("pcinv_"));
}

#[test]
fn audit_log_reading_needs_enterprise_and_user_management() {
    let mut world = World::new(plan_named("team"));
    let owner = world.owner();
    let refusal = world
        .account
        .audit_page(&owner, &world.tenant, 0, 10, world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "plan_feature_unavailable");
    world
        .apply(
            &owner,
            Command::UpdateTenantSettings {
                tenant_id: world.tenant.clone(),
                name: None,
                plan: Some(plan_named("enterprise")),
                sso: None,
            },
        )
        .unwrap();
    let page = world
        .account
        .audit_page(&owner, &world.tenant, 0, 10, world.now)
        .unwrap();
    assert!(!page.is_empty());
    let reader = world.member("ro@acme.test", PermissionSet::EMPTY);
    let refusal = world
        .account
        .audit_page(&Actor::user(reader), &world.tenant, 0, 10, world.now)
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::MissingPermission(Permission::USER_AND_API_MANAGEMENT)
    );
}

#[test]
fn account_state_round_trips_through_json() {
    let mut world = World::new(plan_named("enterprise"));
    world.member("a@acme.test", perms(&["build_applications"]));
    let json = serde_json::to_string(&world.account).unwrap();
    assert!(!json.contains("pcts_"), "no secret in stored state");
    let restored: Account = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, world.account);
}

// ----- reads -------------------------------------------------------------------------------

/// A refusal as the caller sees it (status class, code, message), with `id` written as `{id}`
/// so that answers about different ids compare.
impl World {
    /// A member of the first tenant holding every permission there, and a second tenant
    /// (launched by the owner) that member is not in.
    fn outsider_and_second_tenant(&mut self) -> (Actor, TenantId) {
        let outsider = Actor::user(self.member("outsider@acme.test", PermissionSet::all()));
        let owner = self.owner.clone();
        (outsider, self.create_tenant(&owner, "Second"))
    }
}

fn answer_about(
    refusal: &Refusal,
    id: &str,
) -> (portcullis_core::account::RefusalClass, &'static str, String) {
    (
        refusal.class(),
        refusal.code(),
        refusal.to_string().replace(id, "{id}"),
    )
}

#[test]
fn existence_oracles_a_tenant_the_caller_is_not_in_answers_like_an_unknown_one() {
    let mut world = World::new(plan_named("team"));
    let (outsider, second) = world.outsider_and_second_tenant();
    let unknown: TenantId = "ten_00000000000000ff".parse().unwrap();
    let now = world.now;

    let hidden = world
        .account
        .view_members(&outsider, &second, &ListQuery::default(), now)
        .unwrap_err();
    let missing = world
        .account
        .view_members(&outsider, &unknown, &ListQuery::default(), now)
        .unwrap_err();
    assert_eq!(hidden, Refusal::ActorNotMember(second.clone()));
    assert_eq!(
        answer_about(&hidden, second.as_str()),
        answer_about(&missing, unknown.as_str())
    );
    assert_eq!(hidden.code(), "tenant_not_found");
    for tenant_id in [&second, &unknown] {
        let invite = Command::InviteMember {
            tenant_id: tenant_id.clone(),
            email: email("x@acme.test"),
            name: None,
            permissions: PermissionSet::EMPTY,
        };
        let refusal = world.refused(&outsider, invite);
        assert_eq!(
            answer_about(&refusal, tenant_id.as_str()),
            answer_about(&missing, unknown.as_str())
        );
    }
}

#[test]
fn existence_oracles_a_credential_in_a_tenant_the_caller_is_not_in_answers_like_an_unknown_one() {
    let mut world = World::new(plan_named("team"));
    let (outsider, second) = world.outsider_and_second_tenant();
    let created = world.apply(
        &world.owner(),
        Command::CreateApiToken {
            tenant_id: second.clone(),
            name: "there".parse().unwrap(),
            permissions: PermissionSet::EMPTY,
            terms: portcullis_core::terms::Terms::default(),
        },
    );
    let Ok(Outcome::ApiTokenCreated { key_id: token, .. }) = created else {
        panic!("{created:?}")
    };
    let created = world.apply(
        &world.owner(),
        Command::CreateAutomationKey {
            tenant_id: second.clone(),
            name: "ci".parse().unwrap(),
            terms: portcullis_core::terms::Terms::default(),
        },
    );
    let Ok(Outcome::AutomationKeyCreated {
        key_id: automation, ..
    }) = created
    else {
        panic!("{created:?}")
    };
    let mut random = SeededRandom::new(404);
    let unknown_token =
        portcullis_core::credential::issue_api_token(&mut random, &world.key).key_id;
    let unknown_key =
        portcullis_core::credential::issue_automation_key(&mut random, &world.key).key_id;
    let now = world.now;

    let expected = answer_about(
        &Refusal::UnknownCredential(unknown_token.clone()),
        unknown_token.as_str(),
    );
    for (key_id, unknown) in [(&token, &unknown_token), (&automation, &unknown_key)] {
        let reads = [key_id, unknown].map(|key_id| {
            if key_id.kind() == portcullis_core::credential::CredentialKind::ApiToken {
                world.account.view_api_token(&outsider, key_id, now).err()
            } else {
                world
                    .account
                    .view_automation_key(&outsider, key_id, now)
                    .err()
            }
        });
        let [hidden, missing] = reads.map(Option::unwrap);
        assert_eq!(hidden, Refusal::UnknownCredential(key_id.clone()));
        assert_eq!(answer_about(&hidden, key_id.as_str()), expected);
        assert_eq!(answer_about(&missing, unknown.as_str()), expected);
    }
    for command in [
        Command::DeleteApiToken {
            key_id: token.clone(),
        },
        Command::SetAutomationKeyEnabled {
            key_id: automation.clone(),
            enabled: false,
        },
        Command::DeleteAutomationKey {
            key_id: automation.clone(),
        },
    ] {
        let refusal = world.refused(&outsider, command);
        assert_eq!(refusal.code(), "credential_not_found", "{refusal:?}");
        assert!(!refusal.to_string().contains(second.as_str()), "{refusal}");
    }
}

#[test]
fn existence_oracles_unknown_key_and_wrong_secret_answer_alike() {
    let mut world = World::new(plan_named("team"));
    let (key_id, _) = world.token(&world.owner(), PermissionSet::EMPTY);
    let (_, other) = world.token(&world.owner(), PermissionSet::EMPTY);
    let other_secret = other.split(':').nth(1).unwrap();
    let wrong_secret = world.verify(&format!("{key_id}:{other_secret}"));
    let mut random = SeededRandom::new(404);
    let never_issued = portcullis_core::credential::issue_api_token(&mut random, &world.key);
    let unknown_key = world.verify(never_issued.secret.expose());
    // The precise reason stays for the verifier (rate limiting), the answer is one.
    assert_eq!(
        (unknown_key.code(), wrong_secret.code()),
        ("unknown_key", "wrong_secret")
    );
    for refused in [
        &wrong_secret,
        &Verification::Expired,
        &Verification::Disabled,
        &Verification::OwnerInactive,
        &Verification::OwnerPending,
    ] {
        assert_eq!(
            (refused.public_code(), refused.public_message()),
            (unknown_key.public_code(), unknown_key.public_message())
        );
    }
    assert_eq!(unknown_key.public_code(), "invalid_credentials");
    let malformed = world.verify("hello");
    assert_eq!(malformed.public_code(), "malformed_credential");
}

#[test]
fn read_only_members_see_the_tenant_but_not_other_members_tokens() {
    let mut world = World::new(plan_named("team"));
    let reader = world.member("reader@acme.test", PermissionSet::EMPTY);
    let reader_actor = Actor::user(reader.clone());
    let (owner_key, _) = world.token(&world.owner(), PermissionSet::all());
    let (reader_key, _) = world.token(&reader_actor, PermissionSet::EMPTY);
    let now = world.now;

    let members = world
        .account
        .view_members(&reader_actor, &world.tenant, &ListQuery::default(), now)
        .unwrap()
        .items;
    assert_eq!(members.len(), 2);
    let me = members.iter().find(|m| m.user_id == reader).unwrap();
    assert_eq!(me.effective_permissions, PermissionSet::EMPTY);
    assert!(!me.tenant_owner);

    let visible: Vec<_> = world
        .account
        .view_api_tokens(&reader_actor, &world.tenant, &ListQuery::default(), now)
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.key_id)
        .collect();
    assert_eq!(visible, vec![reader_key.clone()]);
    let hidden = world
        .account
        .view_api_token(&reader_actor, &owner_key, now)
        .unwrap_err();
    assert_eq!(hidden.code(), "credential_not_found");
    let all = world
        .account
        .view_api_tokens(&world.owner(), &world.tenant, &ListQuery::default(), now)
        .unwrap()
        .items;
    assert!(all.iter().any(|t| t.key_id == reader_key));
    assert!(all.iter().any(|t| t.key_id == owner_key));
}

#[test]
fn only_company_admins_list_users_but_anyone_reads_themselves() {
    let mut world = World::new(plan_named("team"));
    let reader = world.member("reader@acme.test", PermissionSet::EMPTY);
    let reader_actor = Actor::user(reader.clone());
    let now = world.now;
    let refusal = world.account.view_users(&reader_actor, now).unwrap_err();
    assert_eq!(refusal.code(), "not_company_admin");
    let me = world
        .account
        .view_user(&reader_actor, &reader, now)
        .unwrap();
    assert_eq!(me.tenants, vec![world.tenant.clone()]);
    let users = world.account.view_users(&world.owner(), now).unwrap();
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u.account_owner && u.user_id == world.owner)
    );
}

#[test]
fn strangers_cannot_read_a_tenant() {
    let world = World::new(plan_named("team"));
    let stranger = Actor::user("usr_00000000000000ff".parse().unwrap());
    let refusal = world
        .account
        .view_tenant(&stranger, &world.tenant, world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "unknown_actor");
}

#[test]
fn drained_audit_events_stay_chained_and_reads_stay_authorized() {
    let mut world = World::new(plan_named("enterprise"));
    let mut stored = world.account.drain_audit();
    assert!(world.account.audit_log().events().is_empty());
    world.member("member@acme.test", perms(&["build_applications"]));
    stored.extend(world.account.drain_audit());
    assert_eq!(stored.len(), world.account.audit_log().len());
    verify_chain(&stored).unwrap();
    assert!(
        world
            .account
            .authorize_audit_read(&world.owner(), &world.tenant, world.now)
            .is_ok()
    );
    let member = world
        .account
        .user_by_email(&email("member@acme.test"))
        .unwrap()
        .id
        .clone();
    let refusal = world
        .account
        .authorize_audit_read(&Actor::user(member), &world.tenant, world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "missing_permission");
}

// ----- company roles, license admins, primary contacts -----------------------------------

impl World {
    /// A second tenant launched by the owner.
    fn launch(&mut self, name: &str) -> TenantId {
        let command = Command::CreateTenant {
            name: name.parse().unwrap(),
            plan: plan_named("team"),
        };
        match self.apply(&self.owner(), command).unwrap() {
            Outcome::TenantCreated { tenant_id, .. } => tenant_id,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// A second tenant "Staging" and a member with no tenant permission who is its license
    /// admin: (the tenant, the license admin).
    fn staging_license_admin(&mut self) -> (TenantId, UserId) {
        let staging = self.launch("Staging");
        let license = self.member("l@acme.test", PermissionSet::EMPTY);
        let grant = Command::GrantLicenseAdmin {
            tenant_id: staging.clone(),
            user_id: license.clone(),
        };
        self.apply(&self.owner(), grant).unwrap();
        (staging, license)
    }
}

#[test]
fn only_company_admins_and_license_admins_create_users() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    // A tenant manager adds existing users, but cannot create new ones.
    let refusal = world.refused(
        &Actor::user(manager.clone()),
        Command::InviteMember {
            tenant_id: world.tenant.clone(),
            email: email("new@acme.test"),
            name: None,
            permissions: PermissionSet::EMPTY,
        },
    );
    assert_eq!(refusal.code(), "role_not_permitted");
    let refusal = world.refused(
        &Actor::user(manager.clone()),
        Command::CreateUser {
            email: email("new@acme.test"),
            name: None,
        },
    );
    assert_eq!(refusal.code(), "role_not_permitted");
    // Once a license admin of the tenant, the same member can.
    world
        .apply(
            &world.owner(),
            Command::GrantLicenseAdmin {
                tenant_id: world.tenant.clone(),
                user_id: manager.clone(),
            },
        )
        .unwrap();
    let created = world
        .apply(
            &Actor::user(manager.clone()),
            Command::CreateUser {
                email: email("new@acme.test"),
                name: None,
            },
        )
        .unwrap();
    assert!(matches!(created, Outcome::UserCreated { .. }));
    let refusal = world.refused(
        &Actor::user(manager),
        Command::CreateUser {
            email: email("NEW@acme.test"),
            name: None,
        },
    );
    assert_eq!(refusal.code(), "user_exists");
}

#[test]
fn license_admins_administer_seats_of_their_tenants_only() {
    let mut world = World::new(plan_named("team"));
    let (other, license) = world.staging_license_admin();
    let seat = world.member("s@acme.test", PermissionSet::EMPTY);
    let admin = Actor::user(license.clone());
    // Their tenant: a seat, with no tenant permission, then taken back.
    world
        .apply(
            &admin,
            Command::AssignLicense {
                tenant_id: other.clone(),
                user_id: seat.clone(),
            },
        )
        .unwrap();
    let granted = world.account.tenant(&other).unwrap().granted(&seat);
    assert_eq!(granted, Some(PermissionSet::EMPTY));
    world
        .apply(
            &admin,
            Command::RevokeLicense {
                tenant_id: other.clone(),
                user_id: seat.clone(),
            },
        )
        .unwrap();
    // Another tenant: refused.
    let refusal = world.refused(
        &admin,
        Command::RevokeLicense {
            tenant_id: world.tenant.clone(),
            user_id: seat.clone(),
        },
    );
    assert_eq!(
        refusal,
        Refusal::RoleNotPermitted(portcullis_core::company::AccountOperation::AssignLicenses)
    );
    // No tenant administration and no account lifecycle come with the role.
    let refusal = world.refused(
        &admin,
        Command::ChangePermissions {
            tenant_id: other.clone(),
            user_id: world.owner.clone(),
            permissions: PermissionSet::all(),
        },
    );
    assert_eq!(refusal, Refusal::ActorNotMember(other.clone()));
    assert_eq!(refusal.code(), "tenant_not_found");
    let refusal = world.refused(&admin, Command::DeactivateUser { user_id: seat });
    assert_eq!(refusal.code(), "not_company_admin");
    let refusal = world.refused(
        &admin,
        Command::CreateTenant {
            name: "Mine".parse().unwrap(),
            plan: plan_named("free"),
        },
    );
    assert_eq!(refusal.code(), "not_company_admin");
    // They view every tenant's usage, administering only their own.
    let usage = world.account.view_license_usage(&admin, world.now).unwrap();
    assert_eq!(usage.len(), 2);
    for row in usage {
        assert_eq!(row.administered_by_caller, row.tenant_id == other);
    }
    let plain = world.member("p@acme.test", PermissionSet::EMPTY);
    let refusal = world
        .account
        .view_license_usage(&Actor::user(plain), world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "role_not_permitted");
}

#[test]
fn license_admins_read_the_users_they_administer_and_unassigned_ones() {
    let mut world = World::new(plan_named("team"));
    let (other, license) = world.staging_license_admin();
    let admin = Actor::user(license);
    let now = world.now;
    // A user they create holds no seat yet: readable, so it can be given one.
    let Outcome::UserCreated { user_id: fresh, .. } = world
        .apply(
            &admin,
            Command::CreateUser {
                email: email("fresh@acme.test"),
                name: None,
            },
        )
        .unwrap()
    else {
        panic!("expected a created user");
    };
    assert!(world.account.view_user(&admin, &fresh, now).is_ok());
    world
        .apply(
            &admin,
            Command::AssignLicense {
                tenant_id: other.clone(),
                user_id: fresh.clone(),
            },
        )
        .unwrap();
    let seen = world.account.view_user(&admin, &fresh, now).unwrap();
    assert_eq!(seen.tenants, vec![other.clone()]);
    // A member of a tenant they do not administer is not theirs to read.
    let elsewhere = world.member("e@acme.test", PermissionSet::EMPTY);
    let refusal = world
        .account
        .view_user(&admin, &elsewhere, now)
        .unwrap_err();
    assert_eq!(refusal.code(), "not_company_admin");
    // Neither is an unassigned user for someone who may not add users.
    let plain = Actor::user(elsewhere);
    world
        .apply(
            &admin,
            Command::RevokeLicense {
                tenant_id: other,
                user_id: fresh.clone(),
            },
        )
        .unwrap();
    // Taking the seat their (re-issued) invitation was for revokes it: the pending user is gone.
    assert!(world.account.user(&fresh).is_none());
    let Outcome::UserCreated {
        user_id: unseated, ..
    } = world
        .apply(
            &admin,
            Command::CreateUser {
                email: email("unseated@acme.test"),
                name: None,
            },
        )
        .unwrap()
    else {
        panic!("expected a created user");
    };
    let refusal = world.account.view_user(&plain, &unseated, now).unwrap_err();
    assert_eq!(refusal.code(), "not_company_admin");
    assert!(world.account.view_user(&admin, &unseated, now).is_ok());
}

#[test]
fn the_primary_contact_is_swapped_never_removed() {
    let mut world = World::new(plan_named("team"));
    let tenant = world.tenant.clone();
    assert_eq!(
        world.account.tenant(&tenant).unwrap().primary_contact(),
        &world.owner
    );
    let next = world.member("next@acme.test", PermissionSet::EMPTY);
    // The primary contact keeps the license admin role.
    let refusal = world.refused(
        &world.owner(),
        Command::RevokeLicenseAdmin {
            tenant_id: tenant.clone(),
            user_id: world.owner.clone(),
        },
    );
    assert_eq!(refusal.code(), "primary_contact_protected");
    // Only a company admin names another one, in one swap.
    let license = world.member("l@acme.test", PermissionSet::EMPTY);
    world
        .apply(
            &world.owner(),
            Command::GrantLicenseAdmin {
                tenant_id: tenant.clone(),
                user_id: license.clone(),
            },
        )
        .unwrap();
    let refusal = world.refused(
        &Actor::user(license.clone()),
        Command::SetPrimaryContact {
            tenant_id: tenant.clone(),
            user_id: next.clone(),
        },
    );
    assert_eq!(refusal.code(), "not_company_admin");
    world
        .apply(
            &world.owner(),
            Command::SetPrimaryContact {
                tenant_id: tenant.clone(),
                user_id: next.clone(),
            },
        )
        .unwrap();
    let view = world.account.tenant(&tenant).unwrap();
    assert_eq!(view.primary_contact(), &next);
    assert!(
        world
            .account
            .user(&next)
            .unwrap()
            .license_tenants
            .contains(&tenant)
    );
    // The previous one may now lose the role; the new one cannot be deleted.
    world
        .apply(
            &world.owner(),
            Command::RevokeLicenseAdmin {
                tenant_id: tenant.clone(),
                user_id: world.owner.clone(),
            },
        )
        .unwrap();
    world
        .apply(
            &world.owner(),
            Command::DeactivateUser {
                user_id: next.clone(),
            },
        )
        .unwrap();
    let refusal = world.refused(&world.owner(), Command::DeleteUser { user_id: next });
    assert_eq!(refusal.code(), "primary_contact_protected");
}

#[test]
fn trial_accounts_have_no_company_admin_but_the_owner() {
    let key = HashingKey::from_bytes(&[3; 32]).unwrap();
    let mut random = SeededRandom::new(5);
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let mut context = Context {
        now,
        random: &mut random,
        key: &key,
    };
    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Trial".parse().unwrap(),
            owner_email: email("o@trial.test"),
            owner_name: "Owner".parse().unwrap(),
            tenant_name: "Try".parse().unwrap(),
            plan: plan_named("team"),
            trial: true,
        },
        &mut context,
    );
    let mut world = World::new(plan_named("team"));
    world.account = signed_up.account;
    world.owner = signed_up.owner_id;
    world.tenant = signed_up.tenant_id;
    let member = world.member("m@trial.test", PermissionSet::EMPTY);
    let refusal = world.refused(
        &world.owner(),
        Command::SetCompanyAdmin {
            user_id: member.clone(),
            company_admin: true,
        },
    );
    assert_eq!(refusal.code(), "trial_account");
    // Other roles are fine.
    world
        .apply(
            &world.owner(),
            Command::SetSupport {
                user_id: member,
                support: true,
            },
        )
        .unwrap();
}

#[test]
fn a_new_user_has_no_company_role_and_very_limited_rights() {
    let mut world = World::new(plan_named("team"));
    let member = world.member("m@acme.test", PermissionSet::EMPTY);
    assert_eq!(
        world.account.company_roles(&member),
        [portcullis_core::company::CompanyRole::TenantUser]
    );
    let allowed: Vec<&str> = world
        .account
        .view_account_operations(&Actor::user(member.clone()), world.now)
        .unwrap()
        .into_iter()
        .filter(|row| row.allowed)
        .map(|row| row.operation.name())
        .collect();
    assert_eq!(allowed, ["log_in_to_assigned_tenant", "manage_own_profile"]);
    world
        .apply(
            &world.owner(),
            Command::SetSupport {
                user_id: member.clone(),
                support: true,
            },
        )
        .unwrap();
    let roles = world.account.company_roles(&member);
    assert_eq!(roles.len(), 2, "support and tenant_user: {roles:?}");
    let owner_ops = world
        .account
        .view_account_operations(&world.owner(), world.now)
        .unwrap();
    assert!(
        owner_ops.iter().all(|row| row.allowed),
        "company admins can do everything"
    );
}

#[test]
fn last_used_only_moves_forward_and_is_not_audited() {
    let mut world = World::new(plan_named("team"));
    let key_id = world.owner_key();
    let owner = Actor::user(world.owner.clone());
    let audited = world.account.audit_log().len();
    let seen = |world: &World| {
        world
            .account
            .view_api_token(&owner, &key_id, world.now)
            .unwrap()
            .last_used_at
    };
    assert_eq!(seen(&world), None);
    let later = world.now.plus_seconds(60);
    assert!(world.account.record_last_used(&key_id, later));
    assert_eq!(seen(&world), Some(later));
    assert!(
        !world.account.record_last_used(&key_id, world.now),
        "older report"
    );
    assert!(
        !world.account.record_last_used(&key_id, later),
        "repeated report"
    );
    assert_eq!(seen(&world), Some(later));
    assert_eq!(
        world.account.audit_log().len(),
        audited,
        "telemetry is not audited"
    );
}

// ----- user directory and bulk lifecycle --------------------------------------------------

impl World {
    fn bulk(&mut self, actor: &Actor, action: BulkAction, user_ids: &[&UserId]) -> BulkReport {
        let command = Command::BulkUserLifecycle {
            action,
            user_ids: user_ids.iter().map(|&id| id.clone()).collect(),
        };
        match self.apply(actor, command).unwrap() {
            Outcome::BulkReported(report) => report,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    fn make_company_admin(&mut self, user: &UserId) {
        let command = Command::SetCompanyAdmin {
            user_id: user.clone(),
            company_admin: true,
        };
        self.apply(&self.owner(), command).unwrap();
    }

    fn create_tenant(&mut self, founder: &UserId, name: &str) -> TenantId {
        let command = Command::CreateTenant {
            name: name.parse().unwrap(),
            plan: plan_named("team"),
        };
        match self.apply(&Actor::user(founder.clone()), command).unwrap() {
            Outcome::TenantCreated { tenant_id } => tenant_id,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    fn directory_query(parameters: &[(&str, &str)]) -> DirectoryQuery {
        DirectoryQuery::from_parameters(parameters.iter().copied()).unwrap()
    }

    fn directory(&self, parameters: &[(&str, &str)]) -> DirectoryPage {
        let query = DirectoryQuery::from_parameters(parameters.iter().copied()).unwrap();
        self.account
            .view_directory(&self.owner(), &query, &self.key, self.now)
            .unwrap()
    }
}

fn outcomes(report: &BulkReport) -> Vec<(BulkOutcome, Option<&str>)> {
    report
        .results
        .iter()
        .map(|result| (result.outcome, result.code.as_deref()))
        .collect()
}

#[test]
fn bulk_lifecycle_judges_each_user_by_the_single_user_rules() {
    let mut world = World::new(plan_named("team"));
    let admin = world.member("admin@acme.test", PermissionSet::all());
    world.make_company_admin(&admin);
    let active = world.member("a@acme.test", PermissionSet::EMPTY);
    let (pending, _) = world.invite("p@acme.test", PermissionSet::EMPTY);
    let unknown: UserId = "usr_00000000000000ff".parse().unwrap();
    let by = Actor::user(admin.clone());
    let events = world.account.audit_log().len();
    let owner = world.owner.clone();
    let report = world.bulk(
        &by,
        BulkAction::Deactivate,
        &[&active, &pending, &owner, &admin, &unknown],
    );
    assert_eq!(
        outcomes(&report),
        [
            (BulkOutcome::Deactivated, None),
            (BulkOutcome::Refused, Some("illegal_transition")),
            (BulkOutcome::Refused, Some("owner_protected")),
            (BulkOutcome::Refused, Some("self_target")),
            (BulkOutcome::Refused, Some("user_not_found")),
        ]
    );
    assert_eq!(
        (
            report.counts.requested,
            report.counts.changed,
            report.counts.refused
        ),
        (5, 1, 4)
    );
    assert_eq!(
        report.results[1].message.as_deref(),
        Some("cannot deactivate a user who is pending")
    );
    assert_eq!(world.status(&active), UserStatus::Inactive);
    assert_eq!(world.status(&pending), UserStatus::Pending);
    assert_eq!(world.status(&admin), UserStatus::Active);
    assert_eq!(world.account.audit_log().len(), events + 1);

    // Delete: only inactive users go; the rest stay as they were.
    let report = world.bulk(&by, BulkAction::Delete, &[&pending, &active]);
    assert_eq!(
        outcomes(&report),
        [
            (BulkOutcome::Refused, Some("illegal_transition")),
            (BulkOutcome::Deleted, None),
        ]
    );
    assert!(world.account.user(&active).is_none());
    assert_eq!(world.account.audit_log().len(), events + 2);
    assert!(verify_chain(world.account.audit_log().events()).is_ok());
}

#[test]
fn bulk_lifecycle_judges_users_in_order_so_the_lockout_rule_still_holds() {
    let mut world = World::new(plan_named("team"));
    let carol = world.member("carol@acme.test", PermissionSet::all());
    let dave = world.member("dave@acme.test", PermissionSet::all());
    world.make_company_admin(&carol);
    world.make_company_admin(&dave);
    // Carol's tenant has Carol and Dave as its only managers.
    let tenant = world.create_tenant(&carol, "Carol's");
    world.tenant = tenant;
    world
        .apply(
            &Actor::user(carol.clone()),
            Command::InviteMember {
                tenant_id: world.tenant.clone(),
                email: email("dave@acme.test"),
                name: None,
                permissions: PermissionSet::all(),
            },
        )
        .unwrap();
    let report = world.bulk(&world.owner(), BulkAction::Deactivate, &[&carol, &dave]);
    assert_eq!(
        outcomes(&report),
        [
            (BulkOutcome::Deactivated, None),
            (BulkOutcome::Refused, Some("lockout")),
        ]
    );
}

#[test]
fn bulk_requests_need_a_company_admin_and_a_valid_list_or_change_nothing() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", PermissionSet::all());
    let target = world.member("t@acme.test", PermissionSet::EMPTY);
    let bulk = |user_ids: Vec<UserId>| Command::BulkUserLifecycle {
        action: BulkAction::Deactivate,
        user_ids,
    };
    let refusal = world.refused(&Actor::user(manager), bulk(vec![target.clone()]));
    assert_eq!(refusal, Refusal::NotCompanyAdmin);
    let owner = world.owner();
    assert_eq!(world.refused(&owner, bulk(vec![])).code(), "out_of_range");
    let many: Vec<UserId> = (0..101)
        .map(|n| format!("usr_{n:016x}").parse().unwrap())
        .collect();
    assert_eq!(world.refused(&owner, bulk(many)).code(), "out_of_range");
    let twice = world.refused(&owner, bulk(vec![target.clone(), target.clone()]));
    assert_eq!(twice.to_string(), "a bulk request names each user once");
    assert_eq!(world.status(&target), UserStatus::Active);
}

#[test]
fn bulk_reports_are_kept_bounded_and_read_again_by_company_admins_only() {
    let mut world = World::new(plan_named("team"));
    let reader = world.member("r@acme.test", PermissionSet::EMPTY);
    let unknown: UserId = "usr_00000000000000ff".parse().unwrap();
    let owner = world.owner();
    let first = world.bulk(&owner, BulkAction::Delete, &[&unknown]);
    let now = world.now;
    assert_eq!(
        world.account.bulk_report(&owner, &first.report_id, now),
        Ok(&first)
    );
    assert_eq!(
        world
            .account
            .bulk_report(&Actor::user(reader), &first.report_id, now)
            .unwrap_err()
            .code(),
        "not_company_admin"
    );
    let kept: Vec<BulkReport> = (0..MAX_BULK_REPORTS)
        .map(|_| world.bulk(&owner, BulkAction::Activate, &[&unknown]))
        .collect();
    let forgotten = world
        .account
        .bulk_report(&owner, &first.report_id, now)
        .unwrap_err();
    assert_eq!(forgotten.code(), "bulk_report_not_found");
    for report in &kept {
        assert_eq!(
            world.account.bulk_report(&owner, &report.report_id, now),
            Ok(report)
        );
    }
    let json = serde_json::to_value(&world.account).unwrap();
    assert_eq!(
        serde_json::from_value::<Account>(json).unwrap(),
        world.account
    );
}

#[test]
fn last_activity_is_recorded_on_acceptance_and_on_each_command() {
    let mut world = World::new(plan_named("team"));
    let (user, code) = world.invite("late@acme.test", PermissionSet::EMPTY);
    assert_eq!(world.account.user(&user).unwrap().last_active_at, None);
    world.now = world.now.plus_seconds(HOUR);
    world.accept("late@acme.test", &code).unwrap();
    assert_eq!(
        world.account.user(&user).unwrap().last_active_at,
        Some(world.now)
    );
    world.now = world.now.plus_seconds(HOUR);
    let actor = Actor::user(user.clone());
    world.token(&actor, PermissionSet::EMPTY);
    assert_eq!(
        world.account.user(&user).unwrap().last_active_at,
        Some(world.now)
    );
    let at = world.now;
    world.now = world.now.plus_seconds(HOUR);
    world.refused(
        &actor,
        Command::DeactivateUser {
            user_id: world.owner.clone(),
        },
    );
    assert_eq!(world.account.user(&user).unwrap().last_active_at, Some(at));
}

#[test]
fn the_directory_sorts_filters_searches_and_is_for_company_admins() {
    let mut world = World::new(plan_named("team"));
    let (pending, _) = world.invite("zed@acme.test", PermissionSet::EMPTY);
    world.now = world.now.plus_seconds(60);
    let bea = world.member("bea@acme.test", PermissionSet::EMPTY);
    world
        .apply(
            &world.owner(),
            Command::RenameUser {
                user_id: bea.clone(),
                name: "Beatrix Ann Quill".parse().unwrap(),
            },
        )
        .unwrap();
    let emails = |page: &DirectoryPage| -> Vec<String> {
        page.items
            .iter()
            .map(|entry| entry.user.email.as_str().to_owned())
            .collect()
    };
    let all = world.directory(&[]);
    assert_eq!(
        emails(&all),
        ["bea@acme.test", "owner@acme.test", "zed@acme.test"]
    );
    assert_eq!(all.next_cursor, None);
    assert_eq!(
        emails(&world.directory(&[("sort", "email"), ("order", "desc")])),
        ["zed@acme.test", "owner@acme.test", "bea@acme.test"]
    );
    assert_eq!(
        emails(&world.directory(&[("sort", "name")])),
        ["bea@acme.test", "owner@acme.test", "zed@acme.test"]
    );
    // Active before pending; equal keys in user id order.
    let by_status = emails(&world.directory(&[("sort", "status")]));
    assert_eq!(by_status[2], "zed@acme.test");
    let mut actives = [world.owner.clone(), bea.clone()];
    actives.sort();
    let ids: Vec<UserId> = world
        .directory(&[("sort", "status")])
        .items
        .iter()
        .map(|entry| entry.user.user_id.clone())
        .take(2)
        .collect();
    assert_eq!(ids, actives);
    assert_eq!(
        emails(&world.directory(&[("sort", "created_at"), ("order", "desc")])),
        ["bea@acme.test", "zed@acme.test", "owner@acme.test"]
    );
    assert_eq!(
        emails(&world.directory(&[("sort", "last_active_at")])),
        ["zed@acme.test", "owner@acme.test", "bea@acme.test"]
    );
    assert_eq!(
        emails(&world.directory(&[("status", "pending")])),
        ["zed@acme.test"]
    );
    let admins = world.directory(&[("role", "company_admin")]);
    assert_eq!(emails(&admins), ["owner@acme.test"]);
    assert_eq!(
        admins.items[0]
            .user
            .roles
            .iter()
            .map(|role| role.name())
            .collect::<Vec<_>>(),
        ["company_admin", "license_admin", "tenant_user"],
        "the owner launched the first tenant: its license admin and primary contact"
    );
    for text in ["QUI", "ann", "bea@", "Beatrix A"] {
        assert_eq!(
            emails(&world.directory(&[("q", text)])),
            ["bea@acme.test"],
            "{text}"
        );
    }
    assert!(world.directory(&[("q", "acme")]).items.is_empty());
    let pending_entry = world.directory(&[("q", "zed")]);
    assert_eq!(pending_entry.items[0].user.user_id, pending);
    assert_eq!(pending_entry.items[0].last_active_at, None);
    let reader = Actor::user(bea);
    let refusal = world
        .account
        .view_directory(&reader, &DirectoryQuery::default(), &world.key, world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "not_company_admin");
}

#[test]
fn directory_cursors_are_bound_to_the_account_and_the_query() {
    let mut world = World::new(plan_named("team"));
    let mut elsewhere = World::seeded(plan_named("team"), 12);
    assert_ne!(world.account.id(), elsewhere.account.id());
    for n in 0..3 {
        world.invite(&format!("user{n}@acme.test"), PermissionSet::EMPTY);
        elsewhere.invite(&format!("user{n}@acme.test"), PermissionSet::EMPTY);
    }
    let first = [
        ("sort", "email"),
        ("status", "pending"),
        ("q", "user"),
        ("limit", "1"),
    ];
    let cursor = world.directory(&first).next_cursor.unwrap();
    let with = |parameters: &[(&str, &str)]| {
        let mut parameters = parameters.to_vec();
        parameters.push(("cursor", cursor.as_str()));
        World::directory_query(&parameters)
    };
    // Its own query, whatever the page size: the next page.
    let next = world.account.view_directory(
        &world.owner(),
        &with(&[
            ("sort", "email"),
            ("status", "pending"),
            ("q", "user"),
            ("limit", "5"),
        ]),
        &world.key,
        world.now,
    );
    assert_eq!(next.unwrap().items.len(), 2);
    // Another query of the same account.
    for other in [
        vec![("sort", "email"), ("status", "pending"), ("q", "use")],
        vec![("sort", "email"), ("status", "active"), ("q", "user")],
        vec![("sort", "email"), ("q", "user")],
        vec![
            ("sort", "email"),
            ("status", "pending"),
            ("q", "user"),
            ("order", "desc"),
        ],
        vec![("sort", "name"), ("status", "pending"), ("q", "user")],
        vec![
            ("sort", "email"),
            ("status", "pending"),
            ("q", "user"),
            ("role", "tenant_user"),
        ],
    ] {
        let refusal = world
            .account
            .view_directory(&world.owner(), &with(&other), &world.key, world.now)
            .unwrap_err();
        assert_eq!(refusal, Refusal::InvalidCursor, "{other:?}");
        assert_eq!(refusal.code(), "invalid_cursor");
        assert_eq!(
            refusal.class(),
            portcullis_core::account::RefusalClass::Invalid
        );
    }
    // The same query in another account.
    let refusal = elsewhere
        .account
        .view_directory(
            &elsewhere.owner(),
            &with(&first),
            &elsewhere.key,
            elsewhere.now,
        )
        .unwrap_err();
    assert_eq!(refusal, Refusal::InvalidCursor);
    // The same account under another hashing key.
    let other_key = HashingKey::from_bytes(&[4; 32]).unwrap();
    let refusal = world
        .account
        .view_directory(&world.owner(), &with(&first), &other_key, world.now)
        .unwrap_err();
    assert_eq!(refusal, Refusal::InvalidCursor);
}

#[test]
fn directory_pages_neither_repeat_nor_skip_users_added_or_removed_between_them() {
    let mut world = World::new(plan_named("enterprise"));
    let owner = world.owner();
    let mut stable = vec!["owner@acme.test".to_owned()];
    for n in 0..30 {
        let address = format!("user{n:02}@acme.test");
        world.invite(&address, PermissionSet::EMPTY);
        stable.push(address);
    }
    let mut transient = Vec::new();
    for n in 0..20 {
        let user = world.member(&format!("temp{n:02}@acme.test"), PermissionSet::EMPTY);
        world
            .apply(
                &owner,
                Command::DeactivateUser {
                    user_id: user.clone(),
                },
            )
            .unwrap();
        transient.push(user);
    }
    for (sort, order) in [("email", "asc"), ("name", "desc"), ("created_at", "asc")] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut parameters = vec![("sort", sort), ("order", order), ("limit", "7")];
            if let Some(cursor) = &cursor {
                parameters.push(("cursor", cursor.as_str()));
            }
            let page = world.directory(&parameters);
            seen.extend(page.items.iter().map(|e| e.user.email.as_str().to_owned()));
            // Between pages someone new arrives and someone transient leaves.
            let newcomer = format!("new-{sort}-{}@acme.test", seen.len());
            world.invite(&newcomer, PermissionSet::EMPTY);
            if let Some(user) = transient.pop() {
                world
                    .apply(&owner, Command::DeleteUser { user_id: user })
                    .unwrap();
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort} {order}: a user appeared twice"
        );
        for address in &stable {
            assert!(
                seen.contains(address),
                "{sort} {order}: {address} was skipped"
            );
        }
    }
}

// ----- security review: invitations and reach over users ------------------------------------

impl World {
    /// A tenant launched by the owner on `plan`.
    fn launch_on(&mut self, plan: Plan) -> TenantId {
        let tenant = self.launch("Elsewhere");
        if plan != plan_named("team") {
            let change = Command::UpdateTenantSettings {
                tenant_id: tenant.clone(),
                name: None,
                plan: Some(plan),
                sso: None,
            };
            self.apply(&self.owner(), change).unwrap();
        }
        tenant
    }

    fn accept_for(
        &mut self,
        address: &str,
        code: &str,
        tenant: Option<&TenantId>,
    ) -> Result<Outcome, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account
            .accept_invitation(&email(address), code, tenant, &mut context)
    }
}

/// The review's high finding: a manager of one tenant became a pending user of another by
/// adding them to their own tenant and re-sending the invitation to themselves.
#[test]
fn cross_tenant_takeover_through_invitation_resend_is_refused() {
    let mut world = World::new(plan_named("team"));
    let t1 = world.tenant.clone();
    let t2 = world.launch_on(plan_named("enterprise"));
    let m1 = world.member("m1@acme.test", perms(&["user_and_api_management"]));
    let m1 = Actor::user(m1);
    let (victim, victim_code) = world.invite_into(&t2, "victim@acme.test", PermissionSet::all());
    // (1) Adding the pending user of another tenant to one's own is refused: M1 does not answer
    // for the user's membership of T2.
    let add = Command::InviteMember {
        tenant_id: t1.clone(),
        email: email("victim@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    let refusal = world.refused(&m1, add);
    assert_eq!(refusal, Refusal::OutOfReach(victim.clone()));
    assert_eq!(refusal.code(), "user_out_of_reach");
    // (2) So is re-sending: the code would reach M1.
    let resend = Command::ResendInvitation {
        user_id: victim.clone(),
    };
    assert_eq!(
        world.refused(&m1, resend.clone()).code(),
        "user_out_of_reach"
    );
    // Even once the user is in both tenants (a company admin added them), a manager of only
    // one of them cannot get the code.
    let add = Command::InviteMember {
        tenant_id: t1.clone(),
        email: email("victim@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    let Outcome::MemberAdded {
        invitation: Some(reissued),
        ..
    } = world.apply(&world.owner(), add).unwrap()
    else {
        panic!("admitting a pending user re-issues their code to the admitter");
    };
    assert_eq!(world.refused(&m1, resend).code(), "user_out_of_reach");
    // Admitting re-issued the code: the one the first inviter held is dead.
    assert_eq!(
        world
            .accept_for("victim@acme.test", &victim_code, None)
            .unwrap_err(),
        Refusal::InvitationInvalid
    );
    // (3) The acceptor cannot pick a tenant the invitation is not for (it is for T1 now).
    let before = world.account.clone();
    assert_eq!(
        world
            .accept_for("victim@acme.test", reissued.code.expose(), Some(&t2))
            .unwrap_err(),
        Refusal::InvitationInvalid
    );
    assert_eq!(
        world.account, before,
        "a refused acceptance changed nothing"
    );
    let accepted = world
        .accept_for("victim@acme.test", reissued.code.expose(), Some(&t1))
        .unwrap();
    assert!(matches!(
        accepted,
        Outcome::InvitationAccepted { user_id, tenant_id: Some(tenant) }
            if user_id == victim && tenant == t1
    ));
}

#[test]
fn a_user_created_without_a_tenant_is_not_a_tenant_managers_to_claim() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let manager = Actor::user(manager);
    let Outcome::UserCreated { user_id, .. } = world
        .apply(
            &world.owner(),
            Command::CreateUser {
                email: email("new@acme.test"),
                name: None,
            },
        )
        .unwrap()
    else {
        panic!("expected a created user");
    };
    let add = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("new@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(world.refused(&manager, add).code(), "user_out_of_reach");
    let resend = Command::ResendInvitation { user_id };
    assert_eq!(world.refused(&manager, resend).code(), "user_out_of_reach");
}

#[test]
fn a_manager_who_answers_for_every_tenant_of_the_user_may_resend() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let manager = Actor::user(manager);
    let (user_id, old) = world.invite("p@acme.test", perms(&["user_and_api_management"]));
    let Outcome::InvitationResent { invitation, .. } = world
        .apply(
            &manager,
            Command::ResendInvitation {
                user_id: user_id.clone(),
            },
        )
        .unwrap()
    else {
        panic!("expected a re-sent invitation");
    };
    assert_eq!(
        world.accept_for("p@acme.test", &old, None).unwrap_err(),
        Refusal::InvitationInvalid
    );
    // A manager who lacks a permission the pending user holds would gain it: refused.
    let (other, _) = world.invite("q@acme.test", perms(&["modify_configuration"]));
    let resend = Command::ResendInvitation { user_id: other };
    assert_eq!(world.refused(&manager, resend).code(), "user_out_of_reach");
    let accepted = world
        .accept_for("p@acme.test", invitation.code.expose(), None)
        .unwrap();
    let tenant = world.tenant.clone();
    assert!(matches!(
        accepted,
        Outcome::InvitationAccepted { tenant_id: Some(t), .. } if t == tenant
    ));
}

#[test]
fn pending_users_are_revoked_and_removal_revokes_their_invitation() {
    let mut world = World::new(plan_named("team"));
    let (user_id, code) = world.invite("p@acme.test", PermissionSet::EMPTY);
    // Deleting is only for inactive users; revoking is the pending user's way out.
    let delete = Command::DeleteUser {
        user_id: user_id.clone(),
    };
    assert_eq!(
        world.refused(&world.owner(), delete).code(),
        "illegal_transition"
    );
    world
        .apply(
            &world.owner(),
            Command::RevokeInvitation {
                user_id: user_id.clone(),
            },
        )
        .unwrap();
    assert!(world.account.user(&user_id).is_none());
    assert_eq!(
        world.accept_for("p@acme.test", &code, None).unwrap_err(),
        Refusal::InvitationInvalid
    );
    let last = world.account.notifications().last().unwrap();
    assert_eq!(last.kind.name(), "deleted");
    // Only pending users' invitations are revoked.
    let active = world.member("a@acme.test", PermissionSet::EMPTY);
    let revoke = Command::RevokeInvitation { user_id: active };
    assert_eq!(
        world.refused(&world.owner(), revoke).code(),
        "illegal_transition"
    );
    // Removing a never-accepted member (what `terraform destroy` does) revokes the code too.
    let (removed, removed_code) = world.invite("r@acme.test", PermissionSet::EMPTY);
    world
        .apply(
            &world.owner(),
            Command::RemoveMember {
                tenant_id: world.tenant.clone(),
                user_id: removed.clone(),
            },
        )
        .unwrap();
    assert!(
        world.account.user(&removed).is_none(),
        "no tenant, no code: gone"
    );
    assert_eq!(
        world
            .accept_for("r@acme.test", &removed_code, None)
            .unwrap_err(),
        Refusal::InvitationInvalid
    );
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.action, "member.removed");
    assert_eq!(event.body.detail, "invitation_revoked");
}

#[test]
fn accounts_hold_no_more_users_than_their_tenants_have_seats() {
    let mut world = World::new(plan_named("free"));
    assert_eq!(world.account.user_limit(), 1);
    let create = |address: &str| Command::CreateUser {
        email: email(address),
        name: None,
    };
    let refusal = world.refused(&world.owner(), create("a@acme.test"));
    assert_eq!(refusal, Refusal::UserLimit { limit: 1 });
    assert_eq!(refusal.code(), "user_limit");
    world.launch_on(plan_named("team"));
    assert_eq!(world.account.user_limit(), 21);
    for index in 0..20 {
        world
            .apply(&world.owner(), create(&format!("u{index}@acme.test")))
            .unwrap();
    }
    assert_eq!(world.account.users().count(), 21);
    let refusal = world.refused(&world.owner(), create("late@acme.test"));
    assert_eq!(refusal.code(), "user_limit");
}

#[test]
fn account_audit_shows_account_level_events_to_company_admins_only() {
    let mut world = World::new(plan_named("team"));
    let member = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let (pending, _) = world.invite("p@acme.test", PermissionSet::EMPTY);
    world
        .apply(
            &world.owner(),
            Command::ResendInvitation { user_id: pending },
        )
        .unwrap();
    let owner = world.owner();
    let page = world
        .account
        .account_audit_page(&owner, 0, 100, world.now)
        .unwrap();
    let actions: Vec<&str> = page.iter().map(|e| e.body.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "account.signed_up",
            "user.invitation_accepted",
            "user.invitation_resent"
        ]
    );
    assert!(page.iter().all(|e| e.body.tenant.is_none()));
    let from = page[1].body.sequence + 1;
    let rest = world
        .account
        .account_audit_page(&owner, from, 100, world.now)
        .unwrap();
    assert_eq!(rest.len(), 1);
    let refusal = world
        .account
        .account_audit_page(&Actor::user(member), 0, 100, world.now)
        .unwrap_err();
    assert_eq!(refusal.code(), "not_company_admin");
}

#[test]
fn tenant_managers_read_and_rename_only_users_they_wholly_administer() {
    let mut world = World::new(plan_named("team"));
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let manager = Actor::user(manager);
    let admin = world.company_admin("ca@acme.test");
    // A company admin of the account, pulled into the manager's tenant... is already a member
    // here; the manager sees them as a member, not their profile, and cannot rename them.
    let now = world.now;
    assert!(
        world
            .account
            .view_member(&manager, &world.tenant, &admin, now)
            .is_ok()
    );
    assert_eq!(
        world
            .account
            .view_user(&manager, &admin, now)
            .unwrap_err()
            .code(),
        "not_company_admin"
    );
    let rename = |user_id: &UserId| Command::RenameUser {
        user_id: user_id.clone(),
        name: "Mallory".parse().unwrap(),
    };
    assert_eq!(
        world.refused(&manager, rename(&admin)).code(),
        "user_out_of_reach"
    );
    assert_eq!(
        world.refused(&manager, rename(&world.owner.clone())).code(),
        "user_out_of_reach"
    );
    // A plain user who is also in a tenant the manager does not administer: out of reach too.
    let plain = world.member("plain@acme.test", PermissionSet::EMPTY);
    assert!(world.account.view_user(&manager, &plain, now).is_ok());
    let other = world.launch_on(plan_named("team"));
    world
        .apply(
            &world.owner(),
            Command::AssignLicense {
                tenant_id: other,
                user_id: plain.clone(),
            },
        )
        .unwrap();
    assert_eq!(
        world
            .account
            .view_user(&manager, &plain, now)
            .unwrap_err()
            .code(),
        "not_company_admin"
    );
    assert_eq!(
        world.refused(&manager, rename(&plain)).code(),
        "user_out_of_reach"
    );
}

#[test]
fn license_admins_take_bare_seats_only() {
    let mut world = World::new(plan_named("team"));
    let tenant = world.tenant.clone();
    let license_admin = world.member("la@acme.test", PermissionSet::EMPTY);
    world
        .apply(
            &world.owner(),
            Command::GrantLicenseAdmin {
                tenant_id: tenant.clone(),
                user_id: license_admin.clone(),
            },
        )
        .unwrap();
    let license_admin = Actor::user(license_admin);
    let manager = world.member("m@acme.test", perms(&["user_and_api_management"]));
    let seat = world.member("s@acme.test", PermissionSet::EMPTY);
    let revoke = |user_id: &UserId| Command::RevokeLicense {
        tenant_id: tenant.clone(),
        user_id: user_id.clone(),
    };
    let refusal = world.refused(&license_admin, revoke(&manager));
    assert_eq!(refusal, Refusal::SeatHoldsPermissions(manager.clone()));
    assert_eq!(refusal.code(), "seat_holds_permissions");
    world.apply(&license_admin, revoke(&seat)).unwrap();
    // A company admin may take any seat (the tenant's rules still hold).
    world.apply(&world.owner(), revoke(&manager)).unwrap();
}

// ----- issue 13: directory pages read from the columns' indexes -----------------------------

/// Every column, both orders, paged 3 at a time (with and without a status filter), lists
/// exactly the users a full sort of the account's users gives, after changes that move users
/// in each order: renames, deactivations, activity at different times, invitations and
/// deletions.
#[test]
fn directory_pages_follow_every_change_to_every_column() {
    let mut world = World::new(plan_named("enterprise"));
    let owner = world.owner();
    let mut members = Vec::new();
    for n in 0..12 {
        world.now = world.now.plus_seconds(60);
        members.push(world.member(
            &format!("m{n:02}@acme.test"),
            perms(&["build_applications"]),
        ));
    }
    for n in 0..4 {
        world.invite(&format!("p{n}@acme.test"), PermissionSet::EMPTY);
    }
    for (n, member) in members.iter().enumerate().step_by(3) {
        let name = format!("{} Zed", ["bo", "Al", "cy", "al"][n % 4]);
        let rename = Command::RenameUser {
            user_id: member.clone(),
            name: name.parse().unwrap(),
        };
        world.apply(&owner, rename).unwrap();
    }
    for member in members.iter().skip(1).step_by(4) {
        let deactivate = Command::DeactivateUser {
            user_id: member.clone(),
        };
        world.apply(&owner, deactivate).unwrap();
    }
    // Activity at later times, in an order unlike the ids'.
    for member in members.iter().rev().step_by(2) {
        world.now = world.now.plus_seconds(30);
        let create = Command::CreateApiToken {
            tenant_id: world.tenant.clone(),
            name: "ci".parse().unwrap(),
            permissions: PermissionSet::EMPTY,
            terms: portcullis_core::terms::Terms::default(),
        };
        let _ = world.apply(&Actor::user(member.clone()), create);
    }
    let gone = members.get(1).unwrap().clone();
    world
        .apply(&owner, Command::DeleteUser { user_id: gone })
        .unwrap();
    let reference = |sort: &str, order: &str, status: Option<UserStatus>| -> Vec<String> {
        let mut users: Vec<&portcullis_core::user::User> = world
            .account
            .users()
            .filter(|user| status.is_none_or(|status| user.status == status))
            .collect();
        users.sort_by(|a, b| {
            let by = match sort {
                "email" => a.email.cmp(&b.email),
                "name" => a
                    .name
                    .as_str()
                    .to_lowercase()
                    .cmp(&b.name.as_str().to_lowercase()),
                "status" => a.status.name().cmp(b.status.name()),
                "created_at" => a.created_at.cmp(&b.created_at),
                _ => a.last_active_at.cmp(&b.last_active_at),
            };
            by.then_with(|| a.id.cmp(&b.id))
        });
        if order == "desc" {
            users.reverse();
        }
        users.iter().map(|user| user.id.to_string()).collect()
    };
    for sort in ["email", "name", "status", "created_at", "last_active_at"] {
        for order in ["asc", "desc"] {
            for status in [None, Some(UserStatus::Active), Some(UserStatus::Inactive)] {
                let mut seen = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let mut parameters = vec![("sort", sort), ("order", order), ("limit", "3")];
                    if let Some(status) = status {
                        parameters.push(("status", status.name()));
                    }
                    if let Some(cursor) = &cursor {
                        parameters.push(("cursor", cursor.as_str()));
                    }
                    let page = world.directory(&parameters);
                    assert!(page.items.len() <= 3);
                    seen.extend(page.items.iter().map(|e| e.user.user_id.to_string()));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                assert_eq!(
                    seen,
                    reference(sort, order, status),
                    "{sort} {order} {status:?}"
                );
            }
        }
    }
}

/// Members and tokens page by keyset in id order: pages of two list everyone once, in the
/// whole list's order, with members removed and tokens added between pages; a member who sees
/// only their own tokens pages through those alone; a cursor of the wrong kind is refused.
#[test]
fn member_and_token_lists_page_by_keyset() {
    let mut world = World::new(plan_named("enterprise"));
    let owner = world.owner();
    let mut members = Vec::new();
    for n in 0..7 {
        members.push(world.member(&format!("p{n}@acme.test"), PermissionSet::EMPTY));
    }
    let tenant = world.tenant.clone();
    let all = |world: &World, actor: &Actor| -> Vec<String> {
        world
            .account
            .view_api_tokens(actor, &tenant, &ListQuery::default(), world.now)
            .unwrap()
            .items
            .iter()
            .map(|token| token.key_id.to_string())
            .collect()
    };
    let whole: Vec<String> = world
        .account
        .view_members(&owner, &tenant, &ListQuery::default(), world.now)
        .unwrap()
        .items
        .iter()
        .map(|member| member.user_id.to_string())
        .collect();
    let mut seen = Vec::new();
    let mut list = ListQuery {
        limit: Some(2),
        cursor: None,
    };
    let mut leaving = members.clone();
    loop {
        let page = world
            .account
            .view_members(&owner, &tenant, &list, world.now)
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|member| member.user_id.to_string()));
        // Someone not yet shown leaves between pages.
        if let Some(gone) = leaving.pop()
            && !seen.contains(&gone.to_string())
        {
            let remove = Command::RemoveMember {
                tenant_id: tenant.clone(),
                user_id: gone.clone(),
            };
            world.apply(&owner, remove).unwrap();
        }
        match page.next_cursor {
            Some(next) => list.cursor = Some(next),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "id order, no repeats");
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len());
    assert!(seen.iter().all(|id| whole.contains(id)));
    assert!(seen.contains(&owner.user_id.to_string()));

    let member = Actor::user(members[0].clone());
    for _ in 0..3 {
        let create = Command::CreateApiToken {
            tenant_id: tenant.clone(),
            name: "ci".parse().unwrap(),
            permissions: PermissionSet::EMPTY,
            terms: portcullis_core::terms::Terms::default(),
        };
        world.apply(&member, create).unwrap();
    }
    let own = all(&world, &member);
    assert_eq!(own.len(), 3);
    let mut paged = Vec::new();
    let mut list = ListQuery {
        limit: Some(1),
        cursor: None,
    };
    loop {
        let page = world
            .account
            .view_api_tokens(&member, &tenant, &list, world.now)
            .unwrap();
        paged.extend(page.items.iter().map(|token| token.key_id.to_string()));
        match page.next_cursor {
            Some(next) => list.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, own, "only their own tokens, each once");
    assert!(all(&world, &owner).len() > own.len());
    let wrong_kind = ListQuery {
        limit: Some(1),
        cursor: Some(owner.user_id.to_string()),
    };
    assert_eq!(
        world
            .account
            .view_api_tokens(&member, &tenant, &wrong_kind, world.now)
            .unwrap_err(),
        Refusal::InvalidCursor
    );
}
