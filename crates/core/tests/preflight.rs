//! The preflight ([`portcullis_core::account::preflight`]) judges a change on what the
//! Management API shows of a tenant exactly as the engine judges it on the account: for every
//! change here, the engine's answer and the preflight's are the same refusal (same code, same
//! message) or both allow it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use portcullis_core::account::Outcome;
use portcullis_core::account::preflight::{
    LifecycleAction, TenantChange, TenantSnapshot, check_tenant_change, check_transition,
};
use portcullis_core::command::Command;
use portcullis_core::listing::ListQuery;
use portcullis_core::random::SeededRandom;
use portcullis_core::user::UserStatus;
use portcullis_core::{Actor, PermissionSet, TenantId, UserId};

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;
use support::world::{World, email, perms};

/// What a console holds of `tenant` when `actor` signed in: its settings and every member.
fn snapshot(world: &World, actor: &UserId, tenant: &TenantId) -> TenantSnapshot {
    let actor = Actor::user(actor.clone());
    let view = world
        .account
        .view_tenant(&actor, tenant, world.now)
        .unwrap();
    let members = world
        .account
        .view_members(&actor, tenant, &ListQuery::default(), world.now)
        .unwrap()
        .items;
    TenantSnapshot {
        tenant: view,
        members,
    }
}

/// The command the engine runs for `change` in `tenant`.
fn command(tenant: &TenantId, change: &TenantChange) -> Command {
    match change.clone() {
        TenantChange::ChangePermissions {
            user_id,
            permissions,
        } => Command::ChangePermissions {
            tenant_id: tenant.clone(),
            user_id,
            permissions,
        },
        TenantChange::RemoveMember { user_id } => Command::RemoveMember {
            tenant_id: tenant.clone(),
            user_id,
        },
        TenantChange::InviteMember { email, permissions } => Command::InviteMember {
            tenant_id: tenant.clone(),
            email,
            name: None,
            permissions,
        },
    }
}

/// Asserts that the preflight and the engine give the same answer for `change` by `actor`
/// (the engine on a copy, so the world stays as it is) and returns the refusal's code.
fn agree(world: &World, actor: &UserId, tenant: &TenantId, change: TenantChange) -> Option<String> {
    let preflight = check_tenant_change(&snapshot(world, actor, tenant), actor, &change);
    let mut copy = World {
        account: world.account.clone(),
        key: world.key.clone(),
        random: SeededRandom::new(99),
        now: world.now,
        owner: world.owner.clone(),
        tenant: world.tenant.clone(),
        owner_token: world.owner_token.clone(),
    };
    let engine = copy.apply(&Actor::user(actor.clone()), command(tenant, &change));
    match (&preflight, &engine) {
        (Ok(()), Ok(_)) => None,
        (Err(said), Err(refused)) => {
            assert_eq!(said, refused, "{change:?}");
            assert_eq!(said.to_string(), refused.to_string());
            Some(said.code().to_owned())
        }
        _ => panic!("{change:?}: the preflight said {preflight:?}, the engine {engine:?}"),
    }
}

#[test]
fn escalation_self_removal_owner_and_members_agree() {
    let mut world = World::new(plan_named("team"));
    let tenant = world.tenant.clone();
    let manager = world.member("manager@acme.test", perms(&["user_and_api_management"]));
    let reader = world.member("reader@acme.test", PermissionSet::EMPTY);
    let owner = world.owner.clone();
    let grant = |user: &UserId, names: &[&str]| TenantChange::ChangePermissions {
        user_id: user.clone(),
        permissions: perms(names),
    };
    let cases: Vec<(&UserId, TenantChange, Option<&str>)> = vec![
        (
            &manager,
            grant(&reader, &["build_applications"]),
            Some("privilege_escalation"),
        ),
        (&manager, grant(&reader, &["user_and_api_management"]), None),
        (&owner, grant(&reader, &["build_applications"]), None),
        (&manager, grant(&owner, &[]), Some("owner_protected")),
        (
            &reader,
            grant(&reader, &["build_applications"]),
            Some("missing_permission"),
        ),
        (
            &manager,
            TenantChange::RemoveMember {
                user_id: manager.clone(),
            },
            Some("self_target"),
        ),
        (
            &manager,
            TenantChange::RemoveMember {
                user_id: owner.clone(),
            },
            Some("owner_protected"),
        ),
        (
            &manager,
            TenantChange::RemoveMember {
                user_id: reader.clone(),
            },
            None,
        ),
        (
            &manager,
            TenantChange::InviteMember {
                email: email("new@acme.test"),
                permissions: perms(&["build_applications"]),
            },
            Some("privilege_escalation"),
        ),
        (
            &manager,
            TenantChange::InviteMember {
                email: email("reader@acme.test"),
                permissions: PermissionSet::EMPTY,
            },
            Some("already_member"),
        ),
        (
            &owner,
            TenantChange::InviteMember {
                email: email("new@acme.test"),
                permissions: perms(&["user_and_api_management"]),
            },
            None,
        ),
    ];
    for (actor, change, expected) in cases {
        let described = format!("{change:?}");
        assert_eq!(
            agree(&world, actor, &tenant, change).as_deref(),
            expected,
            "{described}"
        );
    }
}

#[test]
fn a_full_plan_refuses_the_invitation_alike() {
    let world = World::new(plan_named("free"));
    let invite = TenantChange::InviteMember {
        email: email("second@acme.test"),
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        agree(&world, &world.owner, &world.tenant, invite).as_deref(),
        Some("plan_limit")
    );
}

#[test]
fn the_last_active_manager_demoting_themselves_is_a_lockout_alike() {
    let mut world = World::new(plan_named("team"));
    // Carol launches a tenant (its owner), Bob manages it with her, then Carol is deactivated:
    // Bob is its last active manager.
    let carol = world.company_admin("carol@acme.test");
    let carols = world.launch_tenant(&carol, "Carol's", plan_named("team"));
    let invited = world
        .apply(
            &Actor::user(carol.clone()),
            Command::InviteMember {
                tenant_id: carols.clone(),
                email: email("bob@acme.test"),
                name: None,
                permissions: perms(&["user_and_api_management"]),
            },
        )
        .unwrap();
    let Outcome::MemberAdded {
        user_id: bob,
        invitation: Some(invitation),
        ..
    } = invited
    else {
        panic!("unexpected outcome {invited:?}");
    };
    world
        .accept("bob@acme.test", invitation.code.expose())
        .unwrap();
    world
        .apply(
            &world.owner(),
            Command::DeactivateUser {
                user_id: carol.clone(),
            },
        )
        .unwrap();
    assert_eq!(world.status(&carol), UserStatus::Inactive);
    let demote = TenantChange::ChangePermissions {
        user_id: bob.clone(),
        permissions: PermissionSet::EMPTY,
    };
    assert_eq!(
        agree(&world, &bob, &carols, demote).as_deref(),
        Some("lockout")
    );
    let keep = TenantChange::ChangePermissions {
        user_id: bob.clone(),
        permissions: perms(&["user_and_api_management"]),
    };
    assert_eq!(agree(&world, &bob, &carols, keep), None);
}

#[test]
fn an_illegal_transition_is_the_engines_refusal() {
    let mut world = World::new(plan_named("team"));
    let user = world.member("active@acme.test", PermissionSet::EMPTY);
    let delete = Command::DeleteUser {
        user_id: user.clone(),
    };
    let refused = world.refused(&world.owner(), delete);
    let said = check_transition(world.status(&user), LifecycleAction::Delete).unwrap_err();
    assert_eq!(said, refused);
    assert_eq!(said.to_string(), refused.to_string());
}
