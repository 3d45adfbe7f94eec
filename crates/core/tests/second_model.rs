//! The engine's rules with another product's model in force (`policy/examples/documents`:
//! seven permissions, an operation needing two, plans of 3 / 50 / 500 seats, automation keys on
//! the smallest and the largest plan but not the middle one, managed with `run_imports`), so
//! that nothing in the engine can quietly depend on the default model's names or numbers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;

use portcullis_core::account::{Outcome, Refusal};
use portcullis_core::command::Command;
use portcullis_core::model::{ModelScope, NameKind, Unresolved};
use portcullis_core::plan::Feature;
use portcullis_core::{Account, Actor, Model, Operation, Permission, PermissionSet, Plan};
use std::sync::Arc;
use support::world::{World, perms};

const DOCUMENTS: &str = include_str!("../../../policy/examples/documents/model.json");

fn documents() -> ModelScope {
    Arc::new(Model::from_json(DOCUMENTS).unwrap()).enter()
}

fn plan(name: &str) -> Plan {
    Plan::named(name).unwrap()
}

fn switch_plan(world: &mut World, to: &str) -> Result<Outcome, Refusal> {
    let tenant_id = world.tenant.clone();
    world.apply(
        &world.owner(),
        Command::UpdateTenantSettings {
            tenant_id,
            name: None,
            plan: Some(plan(to)),
            sso: None,
        },
    )
}

#[test]
fn the_owner_holds_every_permission_of_this_model() {
    let _model = documents();
    let world = World::new(plan("corporate"));
    let all = PermissionSet::all();
    assert_eq!(all.len(), 7);
    let owner = world.verify(&world.owner_token);
    let principal = owner.principal().unwrap();
    assert_eq!(principal.permissions, all);
    assert_eq!(
        serde_json::to_value(principal.plan).unwrap(),
        serde_json::json!("corporate")
    );
}

#[test]
fn the_default_models_names_are_not_names_here() {
    let _model = documents();
    for name in ["build_applications", "modify_configuration"] {
        let error = PermissionSet::parse_names([name]).unwrap_err();
        assert!(error.to_string().contains("edit_documents"), "{error}");
    }
    assert!(Plan::named("team").is_err());
    assert!("run_build".parse::<Operation>().is_err());
    assert!(serde_json::from_str::<Command>(
        r#"{"command":"update_tenant_settings","tenant_id":"ten_0000000000000000","plan":"enterprise"}"#
    )
    .is_err());
}

#[test]
fn seat_limits_are_the_models() {
    let _model = documents();
    let mut world = World::new(plan("starter"));
    world.invite("second@acme.test", PermissionSet::EMPTY);
    world.invite("third@acme.test", PermissionSet::EMPTY);
    let tenant_id = world.tenant.clone();
    let refusal = world.refused(
        &world.owner(),
        Command::InviteMember {
            tenant_id,
            email: "fourth@acme.test".parse().unwrap(),
            name: None,
            permissions: PermissionSet::EMPTY,
        },
    );
    assert_eq!(refusal.code(), "plan_limit", "3 seats, owner included");
    switch_plan(&mut world, "business").unwrap();
    for index in 0..47 {
        world.invite(&format!("m{index}@acme.test"), PermissionSet::EMPTY);
    }
    let tenant_id = world.tenant.clone();
    let refusal = world.refused(
        &world.owner(),
        Command::InviteMember {
            tenant_id,
            email: "fifty-first@acme.test".parse().unwrap(),
            name: None,
            permissions: PermissionSet::EMPTY,
        },
    );
    assert_eq!(refusal.code(), "plan_limit", "50 seats on business");
    // Fifty members do not fit the starter plan again.
    let refusal = switch_plan(&mut world, "starter").unwrap_err();
    assert_eq!(refusal.code(), "plan_change_blocked");
}

#[test]
fn automation_keys_follow_the_models_plans_and_permission() {
    let _model = documents();
    let mut world = World::new(plan("starter"));
    let writer = world.member("writer@acme.test", perms(&["edit_documents"]));
    let tenant_id = world.tenant.clone();
    let create = |tenant_id| Command::CreateAutomationKey {
        tenant_id,
        name: "importer".parse().unwrap(),
        terms: portcullis_core::terms::Terms::default(),
    };
    // Managed with `run_imports`, which the writer lacks.
    let refusal = world.refused(&Actor::user(writer), create(tenant_id.clone()));
    assert_eq!(
        refusal,
        Refusal::MissingPermission(Permission::named("run_imports").unwrap())
    );
    let Outcome::AutomationKeyCreated { key, .. } = world
        .apply(&world.owner(), create(tenant_id.clone()))
        .unwrap()
    else {
        panic!("no key")
    };
    let principal = world.verify(key.expose()).principal().cloned().unwrap();
    assert_eq!(principal.permissions, perms(&["run_imports"]));
    let import: Operation = "run_import".parse().unwrap();
    let edit: Operation = "edit_document".parse().unwrap();
    assert!(portcullis_core::authorize(&principal, import).allow);
    assert_eq!(
        portcullis_core::authorize(&principal, edit).reason.code(),
        "automation_key_scope"
    );
    // The middle plan has no automation keys: moving there with a key is blocked...
    let refusal = switch_plan(&mut world, "business").unwrap_err();
    assert_eq!(refusal.code(), "plan_change_blocked");
    // ...and a tenant on it cannot create one.
    let mut business = World::seeded(plan("business"), 12);
    let tenant_id = business.tenant.clone();
    let refusal = business.refused(&business.owner(), create(tenant_id));
    assert_eq!(
        refusal,
        Refusal::PlanFeature {
            plan: plan("business"),
            feature: Feature::AUTOMATION_KEYS
        }
    );
}

#[test]
fn the_built_in_permissions_keep_their_rules() {
    let _model = documents();
    let mut world = World::new(plan("corporate"));
    let tenant_id = world.tenant.clone();
    let manager = world.member(
        "manager@acme.test",
        perms(&["user_and_api_management", "edit_documents"]),
    );
    // A manager may not grant what they do not hold.
    let refusal = world.refused(
        &Actor::user(manager.clone()),
        Command::InviteMember {
            tenant_id: tenant_id.clone(),
            email: "publisher@acme.test".parse().unwrap(),
            name: None,
            permissions: perms(&["publish_documents"]),
        },
    );
    assert_eq!(refusal.code(), "privilege_escalation");
    // Without `modify_tenant_settings` the plan does not change.
    let refusal = world.refused(
        &Actor::user(manager.clone()),
        Command::UpdateTenantSettings {
            tenant_id: tenant_id.clone(),
            name: None,
            plan: Some(plan("business")),
            sso: None,
        },
    );
    assert_eq!(
        refusal,
        Refusal::MissingPermission(Permission::MODIFY_TENANT_SETTINGS)
    );
    // The audit log: on business and corporate, for holders of the management permission.
    let now = world.now;
    assert!(
        world
            .account
            .authorize_audit_read(&Actor::user(manager.clone()), &tenant_id, now)
            .is_ok()
    );
    let starter = World::seeded(plan("starter"), 13);
    assert_eq!(
        starter
            .account
            .authorize_audit_read(&starter.owner(), &starter.tenant, starter.now)
            .unwrap_err(),
        Refusal::PlanFeature {
            plan: plan("starter"),
            feature: Feature::AUDIT_LOG
        }
    );
}

#[test]
fn a_token_scope_meets_an_operation_needing_two_permissions() {
    let _model = documents();
    let mut world = World::new(plan("corporate"));
    let editor = world.member(
        "editor@acme.test",
        perms(&["edit_documents", "publish_documents"]),
    );
    let publish: Operation = "publish_document".parse().unwrap();
    let (_, both) = world.token(
        &Actor::user(editor.clone()),
        perms(&["edit_documents", "publish_documents"]),
    );
    let (_, one) = world.token(&Actor::user(editor), perms(&["edit_documents"]));
    let decide = |token: &str| {
        let principal = world.verify(token).principal().cloned().unwrap();
        portcullis_core::authorize(&principal, publish)
    };
    assert!(decide(&both).allow);
    let denied = decide(&one);
    assert!(!denied.allow);
    assert_eq!(
        denied.reason.to_string(),
        "the operation needs the `publish_documents` permission"
    );
}

#[test]
fn presets_are_the_models() {
    let _model = documents();
    let editor: portcullis_core::RolePreset = "editor".parse().unwrap();
    assert_eq!(
        editor.permissions(),
        perms(&["edit_documents", "publish_documents"])
    );
    assert!(
        "platform_admin"
            .parse::<portcullis_core::RolePreset>()
            .is_err()
    );
}

#[test]
fn stored_data_of_another_model_grants_nothing_it_lacks_and_is_reported() {
    // Written under the default model...
    let mut world = World::new(Plan::named("team").unwrap());
    let builder = world.member(
        "builder@acme.test",
        PermissionSet::parse_names(["build_applications", "user_and_api_management"]).unwrap(),
    );
    let rows = world.account.to_rows().unwrap();
    // ...read under the documents model.
    let _model = documents();
    let (account, unresolved) = Account::from_rows_reporting(rows).unwrap();
    for name in ["build_applications", "modify_configuration"] {
        assert!(
            unresolved.contains(&Unresolved {
                kind: NameKind::Permission,
                name: name.into()
            }),
            "{name}: {unresolved:?}"
        );
    }
    assert!(unresolved.contains(&Unresolved {
        kind: NameKind::Plan,
        name: "team".into()
    }));
    // The audit log keeps its history as written; grants keep only what resolves.
    let tenant = account.tenant(&world.tenant).unwrap();
    let grants = serde_json::to_string(&tenant.members).unwrap();
    assert!(!grants.contains("build_applications"), "{grants}");
    // The built-in permission still resolves, so the member still manages people.
    assert_eq!(
        tenant.members[&builder].permissions,
        PermissionSet::only(Permission::USER_AND_API_MANAGEMENT)
    );
    assert_eq!(
        tenant.plan,
        Plan::FIRST,
        "an unknown plan reads as the smallest"
    );
}
