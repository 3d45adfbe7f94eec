use super::*;
use crate::authz::{Decision, Reason};

const DOCUMENTS: &str = include_str!("../../../../policy/examples/documents/model.json");

fn codes(text: &str) -> Vec<(String, &'static str)> {
    match Model::from_json(text) {
        Ok(_) => Vec::new(),
        Err(error) => error
            .problems
            .iter()
            .map(|problem| (problem.path.clone(), problem.code()))
            .collect(),
    }
}

/// A valid document with `patch` applied to its JSON value.
fn patched(patch: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(
        r#"{
        "version": 1,
        "permissions": [{"name": "edit", "description": "edit things"}],
        "operations": [
            {"name": "read", "area": "things"},
            {"name": "write", "area": "things", "requires": ["edit"]}
        ],
        "plans": [{"name": "solo", "seats": 1}, {"name": "group", "seats": 10, "features": ["automation_keys"]}]
    }"#,
    )
    .unwrap();
    patch(&mut value);
    value.to_string()
}

#[test]
fn the_default_model_is_valid() {
    let model = Model::from_json(DEFAULT_MODEL_JSON).unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = model.permissions().map(|(_, def)| &*def.name).collect();
    assert_eq!(
        names,
        [
            "modify_configuration",
            "update_certificates",
            "build_applications",
            "manage_custom_messages",
            "user_and_api_management",
            "modify_tenant_settings"
        ]
    );
    assert_eq!(model.operations().count(), 15);
    let seats: Vec<usize> = model.plans().map(|(_, def)| def.seats).collect();
    assert_eq!(seats, [1, 20, 100]);
    assert_eq!(
        model.automation_permissions(),
        PermissionSet::only(model.permission("build_applications").unwrap())
    );
    assert_eq!(
        model.automation_managed_with(),
        model.permission("build_applications").unwrap()
    );
}

#[test]
fn the_example_documents_model_is_valid_and_different() {
    let model = Model::from_json(DOCUMENTS).unwrap_or_else(|error| panic!("{error}"));
    assert!(model.permission("build_applications").is_none());
    let seats: Vec<usize> = model.plans().map(|(_, def)| def.seats).collect();
    assert_eq!(seats, [3, 50, 500]);
    let business = model.plan("business").unwrap();
    assert!(!model.includes(business, Feature::AUTOMATION_KEYS));
    assert!(model.includes(model.plan("starter").unwrap(), Feature::AUTOMATION_KEYS));
    // Built-in permissions keep their bits wherever the document lists them.
    assert_eq!(
        model.permission("user_and_api_management"),
        Some(Permission::USER_AND_API_MANAGEMENT)
    );
    assert_eq!(
        model.permission("modify_tenant_settings"),
        Some(Permission::MODIFY_TENANT_SETTINGS)
    );
}

#[test]
fn a_served_document_reads_back_to_the_same_model() {
    for text in [DEFAULT_MODEL_JSON, DOCUMENTS] {
        let model = Model::from_json(text).unwrap();
        let served = model.to_document().to_string();
        assert_eq!(Model::from_json(&served).unwrap(), model);
    }
}

#[test]
fn built_in_permissions_are_added_when_not_listed() {
    let model = Model::from_json(&patched(|_| {})).unwrap();
    let names: Vec<&str> = model.permissions().map(|(_, def)| &*def.name).collect();
    assert_eq!(
        names,
        ["edit", "user_and_api_management", "modify_tenant_settings"]
    );
    assert_eq!(
        model.automation_managed_with(),
        Permission::USER_AND_API_MANAGEMENT
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let text = patched(|doc| {
        doc["version"] = 2.into();
        doc["permissions"] = serde_json::json!([
            {"name": "edit"}, {"name": "edit"}, {"name": "Bad-Name"},
            {"name": "long", "description": "x".repeat(201)}
        ]);
        doc["operations"] = serde_json::json!([
            {"name": "write", "requires": ["edit", "root"]},
            {"name": "write"},
            {"name": "audit", "feature": "nope"},
            {"name": "sso_thing", "feature": "saml_sso"},
            {"name": "area_bad", "area": "Not An Area"}
        ]);
        doc["plans"] = serde_json::json!([
            {"name": "big", "seats": 50},
            {"name": "small", "seats": 5, "features": ["gold"]},
            {"name": "none"},
            {"name": "zero", "seats": 0},
            {"name": "huge", "seats": 1_000_000}
        ]);
        doc["presets"] = serde_json::json!([{"name": "boss", "permissions": ["everything"]}]);
        doc["automation_keys"] = serde_json::json!({"managed_with": "builds"});
    });
    let found = codes(&text);
    let expected: Vec<(String, &str)> = [
        ("/version", "unsupported_version"),
        ("/permissions/1/name", "duplicate_name"),
        ("/permissions/2/name", "invalid_name"),
        ("/permissions/3/description", "description_too_long"),
        ("/plans/1/seats", "plans_out_of_order"),
        ("/plans/1/features/0", "unknown_feature"),
        ("/plans/2", "missing_seat_limit"),
        ("/plans/3/seats", "invalid_seat_limit"),
        ("/plans/4/seats", "invalid_seat_limit"),
        ("/operations/0/requires/1", "unknown_permission"),
        ("/operations/1/name", "duplicate_name"),
        ("/operations/2/feature", "unknown_feature"),
        ("/operations/3/feature", "unreachable_operation"),
        ("/operations/4/area", "invalid_name"),
        ("/presets/0/permissions/0", "unknown_permission"),
        ("/automation_keys/managed_with", "unknown_permission"),
    ]
    .into_iter()
    .map(|(path, code)| (path.to_owned(), code))
    .collect();
    assert_eq!(found, expected);
    let error = Model::from_json(&text).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("/operations/0/requires/1: unknown permission `root`"));
    assert!(message.contains("(unsupported_version)"));
}

#[test]
fn structural_and_size_problems_have_codes() {
    assert_eq!(codes("{"), [(String::new(), "syntax")]);
    assert_eq!(
        codes(&patched(|doc| doc["colour"] = "red".into())),
        [(String::new(), "syntax")],
        "unknown fields are refused"
    );
    assert_eq!(
        codes(&patched(|doc| doc["plans"] = serde_json::json!([]))),
        [("/plans".to_owned(), "no_plans")]
    );
    assert_eq!(
        codes(&patched(|doc| doc["operations"] = serde_json::json!([]))),
        [("/operations".to_owned(), "no_operations")]
    );
    let many: Vec<serde_json::Value> = (0..63)
        .map(|index| serde_json::json!({"name": if index == 0 { "edit".to_owned() } else { format!("p{index}") }}))
        .collect();
    assert_eq!(
        codes(&patched(|doc| doc["permissions"] = many.into())),
        [("/permissions".to_owned(), "too_many")],
        "63 product permissions and two built-in ones are more than 64"
    );
    let fits: Vec<serde_json::Value> = (0..62)
        .map(|index| serde_json::json!({"name": if index == 0 { "edit".to_owned() } else { format!("p{index}") }}))
        .collect();
    assert!(codes(&patched(|doc| doc["permissions"] = fits.into())).is_empty());
    let plans: Vec<serde_json::Value> = (0..17)
        .map(|index| serde_json::json!({"name": format!("plan{index}"), "seats": 1}))
        .collect();
    assert_eq!(
        codes(&patched(|doc| doc["plans"] = plans.into())),
        [("/plans".to_owned(), "too_many")]
    );
    assert_eq!(
        codes(&patched(|doc| {
            doc["plans"] = serde_json::json!([{"name": "solo", "seats": 1}]);
            doc["operations"] = serde_json::json!([{"name": "build", "automation_keys": true}]);
        })),
        [(
            "/operations/0/automation_keys".to_owned(),
            "unreachable_for_automation_keys"
        )]
    );
}

#[test]
fn decisions_follow_the_model_in_force() {
    let documents = Arc::new(Model::from_json(DOCUMENTS).unwrap());
    let _scope = documents.enter();
    let edit = Permission::named("edit_documents").unwrap();
    let publish = Permission::named("publish_documents").unwrap();
    let operation: Operation = "publish_document".parse().unwrap();
    let corporate = Plan::named("corporate").unwrap();
    assert_eq!(
        documents.decide(PermissionSet::only(edit), corporate, false, operation),
        Decision {
            allow: false,
            reason: Reason::MissingPermission {
                permission: publish
            }
        }
    );
    assert!(
        documents
            .decide(
                PermissionSet::only(edit).with(publish),
                corporate,
                false,
                operation
            )
            .allow
    );
    let history: Operation = "read_history".parse().unwrap();
    let starter = Plan::named("starter").unwrap();
    assert_eq!(
        documents
            .decide(PermissionSet::EMPTY, starter, false, history)
            .reason,
        Reason::PlanExcludes {
            feature: documents.feature("version_history").unwrap()
        }
    );
    let import: Operation = "run_import".parse().unwrap();
    assert_eq!(
        documents.decide(documents.automation_permissions(), starter, true, operation),
        Decision {
            allow: false,
            reason: Reason::AutomationKeyScope
        }
    );
    assert!(
        documents
            .decide(documents.automation_permissions(), starter, true, import)
            .allow
    );
    // The default model's names mean nothing here.
    assert!(Permission::named("build_applications").is_err());
    assert!("run_build".parse::<Operation>().is_err());
    assert!(Plan::named("team").is_err());
    assert!(serde_json::from_str::<PermissionSet>(r#"["build_applications"]"#).is_err());
    assert_eq!(
        serde_json::to_string(&PermissionSet::only(publish).with(edit)).unwrap(),
        r#"["edit_documents","publish_documents"]"#
    );
}

#[test]
fn a_scope_restores_the_model_before_it() {
    let documents = Arc::new(Model::from_json(DOCUMENTS).unwrap());
    assert!(Plan::named("team").is_ok());
    {
        let _scope = documents.enter();
        assert!(Plan::named("team").is_err());
        {
            let _inner = Arc::clone(default_model()).enter();
            assert!(Plan::named("team").is_ok());
        }
        assert!(Plan::named("corporate").is_ok());
    }
    assert!(Plan::named("team").is_ok());
}

#[test]
fn stored_names_the_model_lacks_grant_nothing_and_are_reported() {
    let (read, unresolved) = resolving_stored(|| {
        let set: PermissionSet =
            serde_json::from_str(r#"["build_applications","retired_permission"]"#).unwrap();
        let plan: Plan = serde_json::from_str(r#""platinum""#).unwrap();
        (set, plan)
    });
    assert_eq!(
        read,
        (
            PermissionSet::only(default_model().permission("build_applications").unwrap()),
            Plan::FIRST
        )
    );
    assert_eq!(
        unresolved,
        [
            Unresolved {
                kind: NameKind::Permission,
                name: "retired_permission".into()
            },
            Unresolved {
                kind: NameKind::Plan,
                name: "platinum".into()
            }
        ]
    );
    // Outside stored data the same names are refused.
    assert!(serde_json::from_str::<PermissionSet>(r#"["retired_permission"]"#).is_err());
    assert!(serde_json::from_str::<Plan>(r#""platinum""#).is_err());
}

#[test]
fn a_policy_is_checked_against_its_model() {
    let documents_policy = include_str!("../../../../policy/examples/documents/gateway.json");
    let default_policy = include_str!("../../../../policy/gateway.json");
    let report = check(DOCUMENTS, Some(documents_policy));
    assert!(report.is_ok(), "{report:?}");
    assert!(report.unrouted.is_empty(), "{:?}", report.unrouted);
    assert!(check(DEFAULT_MODEL_JSON, Some(default_policy)).is_ok());
    // The default policy names operations the documents product does not have.
    let report = check(DOCUMENTS, Some(default_policy));
    let Some(Err(error)) = &report.policy else {
        panic!("{report:?}")
    };
    assert!(error.problems.len() >= 10);
    assert!(
        error
            .problems
            .iter()
            .all(|problem| problem.code() == "unknown_operation")
    );
    // An invalid model: the policy cannot be checked against it.
    let report = check("{}", Some(documents_policy));
    assert!(!report.is_ok() && report.policy.is_none());
}
