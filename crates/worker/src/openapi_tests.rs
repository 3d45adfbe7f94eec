//! Keeps `openapi.json` (served at `GET /v1/openapi.json`) in step with the router: every
//! documented operation resolves, every route the router accepts is documented, writes name the
//! core command the router maps them to, and the enums match the core's catalogues.

use crate::api::{self, Method, Route, RouteError};
use portcullis_core::HashingKey;
use portcullis_core::credential::{issue_api_token, issue_automation_key};
use portcullis_core::random::SeededRandom;
use serde_json::Value;
use std::collections::BTreeSet;

const DOCUMENT: &str = include_str!("../openapi.json");

/// Every (method, path template) the router in `api.rs` accepts. A route added there without
/// being added here (and documented) fails `every_route_is_documented` through the `Allow`
/// check; one added here without documentation fails it directly.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/openapi.json"),
    ("get", "/v1/model"),
    ("get", "/v1/health"),
    ("post", "/v1/signup"),
    ("post", "/v1/invitations/accept"),
    ("get", "/v1/whoami"),
    ("post", "/v1/sessions"),
    ("get", "/v1/sessions"),
    ("delete", "/v1/sessions"),
    ("delete", "/v1/sessions/{session_id}"),
    ("put", "/v1/password"),
    ("get", "/v1/account/sso-connections"),
    ("post", "/v1/account/sso-connections"),
    ("get", "/v1/account/sso-connections/{connection_id}"),
    ("patch", "/v1/account/sso-connections/{connection_id}"),
    ("delete", "/v1/account/sso-connections/{connection_id}"),
    ("get", "/v1/sso/start"),
    ("get", "/v1/sso/callback"),
    ("post", "/v1/sso/saml/acs"),
    ("post", "/v1/password-reset"),
    ("post", "/v1/users/{user_id}/password-reset"),
    ("put", "/v1/account/sessions"),
    ("post", "/v1/authorize"),
    ("get", "/v1/account"),
    ("patch", "/v1/account"),
    ("put", "/v1/account/webhook"),
    ("delete", "/v1/account/webhook"),
    ("get", "/v1/notifications"),
    ("post", "/v1/notifications/ack"),
    ("post", "/v1/tenants"),
    ("get", "/v1/tenants/{tenant_id}"),
    ("patch", "/v1/tenants/{tenant_id}"),
    ("get", "/v1/tenants/{tenant_id}/members"),
    ("post", "/v1/tenants/{tenant_id}/members"),
    ("get", "/v1/tenants/{tenant_id}/members/{user_id}"),
    ("patch", "/v1/tenants/{tenant_id}/members/{user_id}"),
    ("delete", "/v1/tenants/{tenant_id}/members/{user_id}"),
    ("get", "/v1/tenants/{tenant_id}/tokens"),
    ("post", "/v1/tenants/{tenant_id}/tokens"),
    ("get", "/v1/tenants/{tenant_id}/automation-keys"),
    ("post", "/v1/tenants/{tenant_id}/automation-keys"),
    ("get", "/v1/tenants/{tenant_id}/audit"),
    ("get", "/v1/users"),
    ("post", "/v1/users/bulk"),
    ("get", "/v1/account/bulk-reports/{report_id}"),
    ("get", "/v1/users/{user_id}"),
    ("post", "/v1/users"),
    ("put", "/v1/users/{user_id}/support"),
    ("put", "/v1/tenants/{tenant_id}/license-admins/{user_id}"),
    ("delete", "/v1/tenants/{tenant_id}/license-admins/{user_id}"),
    ("put", "/v1/tenants/{tenant_id}/seats/{user_id}"),
    ("delete", "/v1/tenants/{tenant_id}/seats/{user_id}"),
    ("put", "/v1/tenants/{tenant_id}/primary-contact"),
    ("get", "/v1/licenses"),
    ("get", "/v1/account/operations"),
    ("get", "/v1/account/audit"),
    ("patch", "/v1/users/{user_id}"),
    ("delete", "/v1/users/{user_id}"),
    ("post", "/v1/users/{user_id}/deactivate"),
    ("post", "/v1/users/{user_id}/activate"),
    ("post", "/v1/users/{user_id}/invitation"),
    ("delete", "/v1/users/{user_id}/invitation"),
    ("put", "/v1/users/{user_id}/company-admin"),
    ("get", "/v1/tokens/{key_id}"),
    ("delete", "/v1/tokens/{key_id}"),
    ("get", "/v1/automation-keys/{key_id}"),
    ("patch", "/v1/automation-keys/{key_id}"),
    ("delete", "/v1/automation-keys/{key_id}"),
    ("post", "/v1/automation-keys/{key_id}/roll"),
    ("post", "/v1/tokens/{key_id}/roll"),
    ("get", "/v1/tokens/{key_id}/usage"),
    ("get", "/v1/automation-keys/{key_id}/usage"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
}

fn method(name: &str) -> Method {
    match name {
        "get" => Method::Get,
        "post" => Method::Post,
        "put" => Method::Put,
        "patch" => Method::Patch,
        "delete" => Method::Delete,
        other => panic!("the router has no method `{other}`"),
    }
}

/// Follows a local `$ref` (`#/components/...`), once or more.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref `{reference}`"));
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref `{reference}`"));
            resolve(document, target)
        }
        None => value,
    }
}

/// A valid sample for a path parameter, chosen by the schema it names.
fn sample(schema: &str) -> String {
    let key = HashingKey::from_bytes(&[7; 32]).unwrap();
    match schema {
        "#/components/schemas/TenantId" => "ten_00000000000000aa".to_owned(),
        "#/components/schemas/UserId" => "usr_00000000000000bb".to_owned(),
        "#/components/schemas/BulkReportId" => "blk_00000000000000cc".to_owned(),
        "#/components/schemas/SsoConnectionId" => "sso_00000000000000dd".to_owned(),
        "#/components/schemas/SessionId" => {
            portcullis_core::session::generate(&mut SeededRandom::new(3), &key)
                .id
                .to_string()
        }
        "#/components/schemas/ApiTokenKeyId" => issue_api_token(&mut SeededRandom::new(1), &key)
            .key_id
            .to_string(),
        "#/components/schemas/AutomationKeyId" => {
            issue_automation_key(&mut SeededRandom::new(2), &key)
                .key_id
                .to_string()
        }
        other => panic!("no sample for path parameters of schema `{other}`"),
    }
}

/// Every operation: (method, path template, path item, operation).
fn operations(document: &Value) -> Vec<(&str, &str, &Value, &Value)> {
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut found = Vec::new();
    for (template, item) in paths {
        for (name, operation) in item.as_object().expect("a path item is an object") {
            if METHODS.contains(&name.as_str()) {
                found.push((name.as_str(), template.as_str(), item, operation));
            }
        }
    }
    found
}

/// The template with each `{parameter}` replaced by a sample valid for its declared schema.
fn concrete(document: &Value, template: &str, item: &Value, operation: &Value) -> String {
    let declared: Vec<&Value> = [item, operation]
        .iter()
        .filter_map(|holder| holder.get("parameters").and_then(Value::as_array))
        .flatten()
        .map(|parameter| resolve(document, parameter))
        .filter(|parameter| parameter["in"] == "path")
        .collect();
    let mut path = template.to_owned();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').expect("a closed `{`");
        let name = &path[start + 1..end];
        let parameter = declared
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("`{template}` does not declare path parameter `{name}`"));
        assert_eq!(parameter["required"], true, "{template} {name}");
        let schema = parameter["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("`{template}` {name}: schema is not a $ref"));
        path.replace_range(start..=end, &sample(schema));
    }
    path
}

#[test]
fn document_is_openapi_3_1() {
    let document = document();
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(document["info"]["title"], "Portcullis Management API");
    assert_eq!(document["info"]["version"], "1");
    assert!(document["components"]["securitySchemes"]["bearerAuth"].is_object());
}

#[test]
fn every_reference_resolves() {
    fn walk(document: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    resolve(document, value);
                }
                map.values().for_each(|child| walk(document, child));
            }
            Value::Array(items) => items.iter().for_each(|child| walk(document, child)),
            _ => {}
        }
    }
    let document = document();
    walk(&document, &document);
}

#[test]
fn every_documented_operation_resolves_to_its_route() {
    let document = document();
    let mut ids = BTreeSet::new();
    for (name, template, item, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap();
        assert!(ids.insert(id), "operationId `{id}` is not unique");
        assert!(operation["summary"].is_string(), "{name} {template}");
        let path = concrete(&document, template, item, operation);
        let route = api::route(method(name), &path, "");
        let documented_command = operation.get("x-command").and_then(Value::as_str);
        match (route, documented_command) {
            (Ok(Route::Write { command, .. }), Some(documented)) => {
                assert_eq!(command, documented, "{name} {template}");
            }
            (Ok(Route::Write { command, .. }), None) => {
                panic!("{name} {template} is the `{command}` write but has no x-command")
            }
            (Ok(_), None) => {}
            (Ok(route), Some(documented)) => {
                panic!("{name} {template} documents `{documented}` but routes to {route:?}")
            }
            (Err(error), _) => panic!("{name} {template} ({path}) does not route: {error:?}"),
        }
    }
}

#[test]
fn every_route_is_documented() {
    let document = document();
    let documented: BTreeSet<(&str, &str)> = operations(&document)
        .into_iter()
        .map(|(name, template, _, _)| (name, template))
        .collect();
    let listed: BTreeSet<(&str, &str)> = ROUTES.iter().copied().collect();
    assert_eq!(listed.len(), ROUTES.len(), "ROUTES has duplicates");
    for (name, template) in &listed {
        assert!(
            documented.contains(&(name, template)),
            "{} {template} is routed but not documented",
            name.to_uppercase()
        );
    }
    assert_eq!(
        documented, listed,
        "documented operations differ from ROUTES"
    );
    // The router's own `Allow` lists (what a 405 answers) must name exactly the documented
    // methods of each path: this catches a method added to a path in `api.rs` even if ROUTES
    // was not updated.
    let paths = document["paths"].as_object().unwrap();
    for (template, item) in paths {
        let (_, _, _, operation) = operations(&document)
            .into_iter()
            .find(|(_, t, _, _)| t == template)
            .unwrap();
        let path = concrete(&document, template, item, operation);
        let allowed = match api::route(Method::Other, &path, "") {
            Err(RouteError::MethodNotAllowed(allowed)) => allowed,
            other => panic!("{template}: unexpected {other:?} for an unknown method"),
        };
        let allowed: BTreeSet<String> = allowed
            .split(',')
            .map(|method| method.trim().to_ascii_lowercase())
            .collect();
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| METHODS.contains(&key.as_str()))
            .cloned()
            .collect();
        assert_eq!(
            allowed, documented,
            "{template}: Allow vs documented methods"
        );
    }
}

#[test]
fn writes_document_bad_request_and_unauthorized_problems() {
    let document = document();
    let default_security = &document["security"];
    for (name, template, _, operation) in operations(&document) {
        if name == "get" {
            continue;
        }
        let responses = &operation["responses"];
        let security = operation.get("security").unwrap_or(default_security);
        let authenticated = security.as_array().is_some_and(|list| !list.is_empty());
        let mut statuses = vec!["400"];
        if authenticated {
            statuses.push("401");
        }
        for status in statuses {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{name} {template} does not document {status}"));
            let response = resolve(&document, response);
            let schema = &response["content"]["application/problem+json"]["schema"];
            let names_problem = schema["$ref"] == "#/components/schemas/Problem"
                || schema["allOf"].as_array().is_some_and(|parts| {
                    parts
                        .iter()
                        .any(|part| part["$ref"] == "#/components/schemas/Problem")
                });
            assert!(names_problem, "{name} {template} {status} is not a problem");
            if status == "401" {
                assert!(
                    response["headers"]["WWW-Authenticate"].is_object(),
                    "{name} {template} 401 without WWW-Authenticate"
                );
            }
        }
        let success: Vec<&String> = responses
            .as_object()
            .unwrap()
            .keys()
            .filter(|status| status.starts_with('2'))
            .collect();
        assert_eq!(success.len(), 1, "{name} {template}: {success:?}");
    }
}

#[test]
fn enums_match_the_core_catalogues() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    let names = |schema: &str| -> Vec<String> {
        schemas[schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} has no enum"))
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    // Model-defined vocabularies are strings; the default model's names are the examples.
    let examples = |schema: &str| -> Vec<String> {
        assert!(
            schemas[schema].get("enum").is_none(),
            "{schema} is model-defined"
        );
        schemas[schema]["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} has no examples"))
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    let model = portcullis_core::model::default_model();
    let permissions: Vec<String> = model
        .permissions()
        .map(|(_, def)| def.name.to_string())
        .collect();
    assert_eq!(examples("Permission"), permissions);
    let plans: Vec<String> = model.plans().map(|(_, def)| def.name.to_string()).collect();
    assert_eq!(examples("Plan"), plans);
    let operations: Vec<String> = model
        .operations()
        .map(|(_, def)| def.name.to_string())
        .collect();
    assert_eq!(examples("Operation"), operations);
    let statuses: Vec<String> = [
        portcullis_core::user::UserStatus::Pending,
        portcullis_core::user::UserStatus::Active,
        portcullis_core::user::UserStatus::Inactive,
    ]
    .iter()
    .map(|status| {
        serde_json::to_value(status)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    })
    .collect();
    assert_eq!(names("UserStatus"), statuses);
    let roles: Vec<String> = portcullis_core::company::CompanyRole::ALL
        .iter()
        .map(|role| role.name().to_owned())
        .collect();
    assert_eq!(names("CompanyRole"), roles);
    let account_operations: Vec<String> = portcullis_core::company::AccountOperation::ALL
        .iter()
        .map(|operation| operation.name().to_owned())
        .collect();
    assert_eq!(names("AccountOperation"), account_operations);
    let kinds: Vec<String> = portcullis_core::notification::NotificationKind::ALL
        .iter()
        .map(|kind| kind.name().to_owned())
        .collect();
    assert_eq!(names("NotificationKind"), kinds);
}

/// Paths the router still answers but the document leaves out, each with the documented path
/// it answers like: `/v1/users/bulk/{report_id}` was the bulk reports' first path; its template
/// overlaps `/v1/users/{user_id}/activate` and the other per-user actions, which linters (and
/// clients generated from the document) cannot tell apart by template alone.
const UNDOCUMENTED_ALIASES: &[(&str, &str, &str)] = &[(
    "get",
    "/v1/users/bulk/{report_id}",
    "/v1/account/bulk-reports/{report_id}",
)];

#[test]
fn undocumented_aliases_answer_as_their_documented_path() {
    let document = document();
    let paths = document["paths"].as_object().unwrap();
    for (name, alias, documented) in UNDOCUMENTED_ALIASES {
        assert!(!paths.contains_key(*alias), "{alias} is documented");
        let item = &paths[*documented];
        let operation = &item[*name];
        let concrete_documented = concrete(&document, documented, item, operation);
        let concrete_alias = concrete(&document, alias, item, operation);
        assert_eq!(
            api::route(method(name), &concrete_alias, ""),
            api::route(method(name), &concrete_documented, ""),
            "{alias}"
        );
        assert!(api::route(method(name), &concrete_alias, "").is_ok());
        assert_eq!(
            api::route(Method::Other, &concrete_alias, ""),
            api::route(Method::Other, &concrete_documented, ""),
            "{alias}: Allow"
        );
    }
}

/// The operations whose success is a redirect, not a 2xx: browser navigations.
const REDIRECTS: &[(&str, &str, &str)] = &[("get", "/v1/sso/start", "302")];

#[test]
fn every_operation_documents_its_success_and_405() {
    let document = document();
    for (name, template, _, operation) in operations(&document) {
        let responses = operation["responses"].as_object().unwrap();
        let success: Vec<&String> = responses
            .keys()
            .filter(|status| status.starts_with('2'))
            .collect();
        match REDIRECTS
            .iter()
            .find(|(method, path, _)| *method == name && *path == template)
        {
            Some((_, _, redirect)) => {
                assert!(success.is_empty(), "{name} {template}: {success:?}");
                assert!(responses.contains_key(*redirect), "{name} {template}");
            }
            None => assert!(!success.is_empty(), "{name} {template} has no 2xx"),
        }
        // Every path answers 405 for the methods it does not take (api.rs `allow`).
        assert_eq!(
            responses
                .get("405")
                .and_then(|response| response["$ref"].as_str()),
            Some("#/components/responses/MethodNotAllowed"),
            "{name} {template} does not document 405"
        );
    }
    let method_not_allowed = &document["components"]["responses"]["MethodNotAllowed"];
    assert!(method_not_allowed["headers"]["Allow"].is_object());
}

#[test]
fn tags_are_declared_and_described() {
    let document = document();
    let declared: BTreeSet<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| {
            let name = tag["name"].as_str().unwrap();
            assert!(
                tag["description"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty()),
                "tag `{name}` has no description"
            );
            name
        })
        .collect();
    for (name, template, _, operation) in operations(&document) {
        let tags = operation["tags"].as_array().unwrap();
        assert!(!tags.is_empty(), "{name} {template} has no tag");
        for tag in tags {
            let tag = tag.as_str().unwrap();
            assert!(
                declared.contains(tag),
                "{name} {template}: tag `{tag}` is not declared"
            );
        }
    }
    assert_eq!(document["info"]["license"]["identifier"], "Apache-2.0");
}

#[test]
fn invitation_accepted_without_a_tenant_has_every_field_null() {
    // The worker's answer when the accepted user gets no token (object.rs `accept`): the
    // schema requires every field and allows null for each token field.
    let document = document();
    let schema = &document["components"]["schemas"]["InvitationAccepted"];
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    for field in ["tenant_id", "key_id", "token", "permissions", "expires_at"] {
        assert!(required.contains(field), "{field} is not required");
        let property = &schema["properties"][field];
        let nullable = property["oneOf"]
            .as_array()
            .is_some_and(|choices| choices.iter().any(|choice| choice["type"] == "null"));
        assert!(nullable, "{field} cannot be null");
    }
}
