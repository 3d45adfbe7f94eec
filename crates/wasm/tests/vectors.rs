//! Shared test vectors, native side: `tests/vectors.json` holds inputs and the exact result the
//! package returns for each; `tests/web.rs` checks the same file inside wasm (Node and
//! Chromium), so both runtimes are held to the same decisions: under the default model, and
//! under a second one ([`support::DOCUMENTS_MODEL`]).
//!
//! The file is generated deterministically (a seeded random source, a fixed time) by
//! [`generate`], which also asserts by hand what each case must decide. Regenerate it after a
//! deliberate change with:
//!
//! ```sh
//! PORTCULLIS_WRITE_VECTORS=1 cargo test -p portcullis-wasm --test vectors
//! ```
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;

use portcullis_core::company::AccountOperation;
use portcullis_core::credential::{
    self, CredentialRecord as CoreRecord, CredentialState, Issued, Placement,
};
use portcullis_core::model::{Model, default_model};
use portcullis_core::random::SeededRandom;
use portcullis_core::session::{
    self, AccessRecord as CoreAccessRecord, SessionRecord as CoreSessionRecord, TenantAccess,
};
use portcullis_core::user::UserStatus;
use portcullis_core::{
    AccountId, HashingKey, Operation, Permission, PermissionSet, Plan, TenantId, Timestamp, UserId,
};
use portcullis_wasm::facade;
use portcullis_wasm::types::{
    AccessRecord, AccountOperationQuery, CredentialRecord, DesiredConfig, Principal, SessionRecord,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use support::{
    AccountOperationCase, AuthorizeCase, Catalogues, Decision, ModelCases, ModelLoadCase,
    SessionCase, ValidateCase, Vectors, VerifyCase,
};

const NOW: u64 = 1_750_000_000;
const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");

fn verify(vectors_key: &str, now: u64, credential: &str, record: &Value) -> Value {
    let record: Option<CredentialRecord> = serde_json::from_value(record.clone()).unwrap();
    let result = facade::verify(
        credential,
        record,
        vectors_key,
        Timestamp::from_unix_seconds(now),
        None,
    );
    serde_json::to_value(result).unwrap()
}

/// A session case: its inputs and what each session function of the package returns for them.
fn session_case(
    hashing_key: &str,
    now: u64,
    name: &str,
    session: String,
    session_record: Value,
    access_record: Value,
    tenant_id: Option<String>,
) -> SessionCase {
    let record: Option<SessionRecord> = serde_json::from_value(session_record.clone()).unwrap();
    let access: Option<AccessRecord> = serde_json::from_value(access_record.clone()).unwrap();
    let now = Timestamp::from_unix_seconds(now);
    SessionCase {
        located: json_of(facade::locate_session(&session)),
        access_record_key: record.clone().map_or(Value::Null, |record| {
            json_of(facade::access_record_key(record))
        }),
        result: json_of(facade::verify_session(
            &session,
            record.clone(),
            access.clone(),
            tenant_id.as_deref(),
            hashing_key,
            now,
        )),
        signed_in: json_of(facade::verify_signed_in(
            &session,
            record,
            access,
            hashing_key,
            now,
        )),
        name: name.to_owned(),
        session,
        session_record,
        access_record,
        tenant_id,
    }
}

fn decide(principal: &Value, operation: &str) -> Value {
    let principal: Principal = serde_json::from_value(principal.clone()).unwrap();
    serde_json::to_value(facade::decide(principal, operation)).unwrap()
}

fn validate(config: &Value) -> Value {
    let config: DesiredConfig = serde_json::from_value(config.clone()).unwrap();
    serde_json::to_value(facade::validate(config)).unwrap()
}

fn account_operation_allowed(roles: &Value, operation: &str) -> Value {
    let query: AccountOperationQuery =
        serde_json::from_value(json!({ "roles": roles, "operation": operation })).unwrap();
    serde_json::to_value(facade::account_operation_allowed(query)).unwrap()
}

fn json_of<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Runs `f` with `model` in force, as every model-dependent function of the package does with
/// the model it is given.
fn within<R>(model: &Arc<Model>, f: impl FnOnce() -> R) -> R {
    let _scope = model.enter();
    f()
}

/// The documents model of the shared support module.
fn documents_model() -> Arc<Model> {
    facade::load_model(support::DOCUMENTS_MODEL).unwrap()
}

/// The permission or plan named `name` in the model in force.
fn perm(name: &str) -> Permission {
    name.parse().unwrap()
}

fn plan(name: &str) -> Plan {
    name.parse().unwrap()
}

/// What `Model.load` returns for `document` (JSON text, or an object written as JSON), read
/// back as JSON: a loaded model writes itself as its document.
fn load(document: &Value) -> Value {
    let text = document
        .as_str()
        .map_or_else(|| document.to_string(), str::to_owned);
    match facade::load_model(&text) {
        Ok(model) => json!({ "ok": true, "model": model.to_document() }),
        Err(failure) => json_of(failure),
    }
}

/// What the three catalogues return for the model in force.
fn catalogues() -> Catalogues {
    Catalogues {
        permissions: json_of(facade::permissions()),
        role_presets: json_of(facade::role_presets()),
        operations: json_of(facade::operations()),
    }
}

fn code(result: &Value) -> &str {
    if result["ok"] == json!(true) {
        "valid"
    } else {
        result["errors"][0]["code"].as_str().unwrap()
    }
}

/// Replaces one character of the secret part with another base64 character.
fn mistype(credential: &str) -> String {
    let mut chars: Vec<char> = credential.chars().collect();
    let index = chars.len() - 10;
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

struct Fixture {
    key: HashingKey,
    random: SeededRandom,
    account: AccountId,
    tenant: TenantId,
    owner: UserId,
}

impl Fixture {
    fn placement(&self, plan: Plan, name: &str) -> Placement {
        Placement {
            account_id: self.account.clone(),
            tenant_id: self.tenant.clone(),
            name: name.parse().unwrap(),
            plan,
        }
    }

    fn token(&mut self, permissions: PermissionSet) -> (Issued, CoreRecord) {
        let issued = credential::issue_api_token(&mut self.random, &self.key);
        let record = CoreRecord::active_api_token(
            &issued,
            self.placement(plan("team"), "deploy"),
            self.owner.clone(),
            permissions,
            Some(Timestamp::from_unix_seconds(NOW + 3600)),
        );
        (issued, record)
    }

    fn automation_key(&mut self, plan: Plan, enabled: bool) -> (Issued, CoreRecord) {
        let issued = credential::issue_automation_key(&mut self.random, &self.key);
        let record = CoreRecord::automation_key(
            issued.key_id.clone(),
            issued.hash,
            self.placement(plan, "ci"),
            enabled,
        );
        (issued, record)
    }
}

fn generate() -> Vectors {
    let mut random = SeededRandom::new(2026);
    let key = HashingKey::generate(&mut random);
    let hashing_key = key.to_base64().as_str().to_owned();
    let mut fixture = Fixture {
        key,
        account: AccountId::generate(&mut random),
        tenant: TenantId::generate(&mut random),
        owner: UserId::generate(&mut random),
        random,
    };

    let scope = PermissionSet::only(perm("build_applications")).with(perm("update_certificates"));
    let (token, token_record) = fixture.token(scope);
    let (other, other_record) = fixture.token(PermissionSet::all());
    let (automation, automation_record) = fixture.automation_key(plan("team"), true);
    let (disabled, disabled_record) = fixture.automation_key(plan("team"), false);
    let (on_free, on_free_record) = fixture.automation_key(plan("free"), true);

    let token_text = token.secret.expose().to_owned();
    let other_secret = other.secret.expose().split_once(':').unwrap().1;
    let with_state = |state| CoreRecord {
        state,
        ..token_record.clone()
    };
    let record = |record: &CoreRecord| serde_json::to_value(record).unwrap();
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "api token, bare",
            token_text.clone(),
            record(&token_record),
            "valid",
        ),
        (
            "api token in a Bearer header",
            format!("Bearer {token_text}"),
            record(&token_record),
            "valid",
        ),
        (
            "automation key in a Bearer header",
            format!("Bearer {}", automation.secret.expose()),
            record(&automation_record),
            "valid",
        ),
        (
            "wrong secret: the token's key id with another token's secret",
            format!("{}:{other_secret}", token.key_id),
            record(&token_record),
            "wrong_secret",
        ),
        (
            "malformed: one character of the secret changed",
            mistype(&token_text),
            record(&token_record),
            "malformed_credential",
        ),
        (
            "malformed: Basic instead of Bearer",
            format!("Basic {token_text}"),
            record(&token_record),
            "malformed_credential",
        ),
        (
            "malformed: nothing presented",
            String::new(),
            Value::Null,
            "malformed_credential",
        ),
        (
            "expired: the record expires at `now`",
            token_text.clone(),
            record(&CoreRecord {
                expires_at: Some(Timestamp::from_unix_seconds(NOW)),
                ..token_record.clone()
            }),
            "expired",
        ),
        (
            "disabled automation key",
            disabled.secret.expose().to_owned(),
            record(&disabled_record),
            "disabled",
        ),
        (
            "automation key of a tenant whose plan has no automation keys",
            on_free.secret.expose().to_owned(),
            record(&on_free_record),
            "disabled",
        ),
        (
            "deleted credential: no record stored",
            token_text.clone(),
            Value::Null,
            "unknown_key",
        ),
        (
            "a record stored under another key id",
            token_text.clone(),
            record(&other_record),
            "unknown_key",
        ),
        (
            "owner deactivated",
            token_text.clone(),
            record(&with_state(CredentialState::OwnerInactive)),
            "owner_inactive",
        ),
        (
            "owner has not accepted the invitation",
            token_text.clone(),
            record(&with_state(CredentialState::OwnerPending)),
            "owner_pending",
        ),
    ];
    let verify_cases: Vec<VerifyCase> = cases
        .into_iter()
        .map(|(name, credential, record, expected)| {
            let result = verify(&hashing_key, NOW, &credential, &record);
            assert_eq!(code(&result), expected, "{name}: {result}");
            VerifyCase {
                name: name.to_owned(),
                credential,
                record,
                result,
            }
        })
        .collect();

    // The valid cases' principals: the token's effective permissions, the key's build scope.
    let token_principal = verify_cases[0].result["principal"].clone();
    assert_eq!(token_principal["kind"], "user");
    assert_eq!(
        token_principal["permissions"],
        json!(["update_certificates", "build_applications"])
    );
    let automation_principal = verify_cases[2].result["principal"].clone();
    assert_eq!(automation_principal["kind"], "automation_key");
    assert_eq!(
        automation_principal["permissions"],
        json!(["build_applications"])
    );
    let admin_principal = json!({
        "kind": "user",
        "account_id": fixture.account,
        "tenant_id": fixture.tenant,
        "user_id": fixture.owner,
        "key_id": other.key_id,
        "permissions": PermissionSet::all(),
        "plan": "enterprise",
    });

    let operations = Operation::all()
        .into_iter()
        .map(|operation| operation.name())
        .chain(["drop_tables".to_owned()]);
    let authorize_cases: Vec<AuthorizeCase> = [
        (
            "api token: builds and certificates on team",
            token_principal,
        ),
        ("automation key", automation_principal),
        ("platform admin on enterprise", admin_principal),
    ]
    .into_iter()
    .map(|(name, principal)| AuthorizeCase {
        name: name.to_owned(),
        decisions: operations
            .clone()
            .map(|operation| Decision {
                result: decide(&principal, &operation),
                operation,
            })
            .collect(),
        principal,
    })
    .collect();
    let reason = |case: &AuthorizeCase, operation: &str| -> (Value, Value) {
        let decision = case
            .decisions
            .iter()
            .find(|decision| decision.operation == operation)
            .unwrap();
        (
            decision.result["allow"].clone(),
            decision.result["reason"]["code"].clone(),
        )
    };
    let [token_case, automation_case, admin_case] = &authorize_cases[..] else {
        panic!("three principals");
    };
    assert_eq!(
        reason(token_case, "write_certificates"),
        (json!(true), json!("granted"))
    );
    assert_eq!(
        reason(token_case, "write_configuration"),
        (json!(false), json!("missing_permission"))
    );
    assert_eq!(
        reason(token_case, "read_audit_log"),
        (json!(false), json!("plan_excludes"))
    );
    assert_eq!(
        reason(token_case, "read_users"),
        (json!(true), json!("open_to_members"))
    );
    let mut builds = 0;
    for (operation, def) in default_model().operations() {
        // The default model opens exactly the build operations to automation keys.
        assert_eq!(def.automation_keys, &*def.area == "builds", "{operation}");
        builds += usize::from(def.automation_keys);
        let (allow, code) = reason(automation_case, &operation.name());
        assert_eq!(
            allow,
            json!(def.automation_keys),
            "automation key, {operation}"
        );
        if !def.automation_keys {
            assert_eq!(code, "automation_key_scope", "automation key, {operation}");
        }
        assert_eq!(
            reason(admin_case, &operation.name()).0,
            json!(true),
            "admin, {operation}"
        );
    }
    assert_eq!(builds, 4);
    for case in &authorize_cases {
        let unknown = &case.decisions.last().unwrap().result;
        assert_eq!(unknown["errors"][0]["code"], "unknown_operation");
    }
    let (_, automation_scope) = automation_case
        .decisions
        .iter()
        .map(|decision| (decision.operation.as_str(), &decision.result))
        .find(|(operation, _)| *operation == "manage_users")
        .unwrap();
    assert_eq!(
        automation_scope["message"],
        "automation keys may not perform this operation"
    );

    let validate_cases: Vec<ValidateCase> = [
        (
            "a valid enterprise tenant with SSO and a breakglass user",
            json!({
                "actor_permissions": ["user_and_api_management", "build_applications"],
                "tenant": {
                    "plan": "enterprise",
                    "members": [
                        { "email": "owner@example.com", "owner": true },
                        { "email": "ops@example.com", "permissions": ["user_and_api_management"] },
                        { "email": "ci@example.com", "role": "release_engineer" }
                    ],
                    "sso": { "enforced": true, "breakglass": "ops@example.com", "connection": "sso_0123456789abcdef" },
                    "api_tokens": [
                        { "name": "ci", "owner": "ci@example.com", "permissions": ["build_applications"] }
                    ],
                    "automation_keys": [{ "name": "builds" }]
                }
            }),
            vec![],
        ),
        (
            "every rule broken at once",
            json!({
                "actor_permissions": ["build_applications"],
                "tenant": {
                    "plan": "free",
                    "members": [
                        { "email": "a@example.com", "permissions": ["build_applications", "root"] },
                        { "email": "b@example.com", "permissions": ["modify_configuration"] },
                        { "email": "not-an-email" }
                    ],
                    "sso": { "enforced": true },
                    "api_tokens": [
                        { "name": "t", "owner": "a@example.com", "permissions": ["update_certificates"] }
                    ],
                    "automation_keys": [{ "name": "k" }]
                }
            }),
            vec![
                "unknown_permission",
                "privilege_escalation",
                "invalid_email",
                "plan_limit",
                "plan_feature_unavailable",
                "plan_feature_unavailable",
                "lockout",
                "sso_connection_required",
                "breakglass_required",
                "privilege_escalation",
            ],
        ),
        (
            "unknown names, a duplicate member and an inactive breakglass",
            json!({
                "tenant": {
                    "plan": "gold",
                    "members": [
                        { "email": "a@example.com", "role": "god", "status": "asleep",
                          "permissions": ["user_and_api_management"] },
                        { "email": "A@EXAMPLE.com" },
                        { "email": "i@example.com", "status": "inactive",
                          "permissions": ["user_and_api_management"] }
                    ],
                    "sso": { "enforced": false, "breakglass": "i@example.com" }
                }
            }),
            vec![
                "unknown_plan",
                "unknown_role",
                "unknown_status",
                "duplicate_member",
                "invalid_breakglass",
            ],
        ),
    ]
    .into_iter()
    .map(|(name, config, codes)| {
        let result = validate(&config);
        let found: Vec<&str> = result["errors"]
            .as_array()
            .map(|errors| errors.iter().map(|e| e["code"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(found, codes, "{name}");
        ValidateCase {
            name: name.to_owned(),
            config,
            result,
        }
    })
    .collect();

    let account_operation_allowed_cases = account_operation_cases();
    let session_cases = session_cases(&mut fixture, &hashing_key);
    let documents = documents_cases(&hashing_key);

    Vectors {
        about: "Shared test vectors of portcullis-wasm: inputs and the exact result of \
                verifyCredential, authorize, validateConfig, accountOperationAllowed, the \
                account catalogues, locateSession, accessRecordKey, verifySession and \
                verifySignedIn under the default model; the catalogues of that model; \
                Model.load of valid and broken documents; and the same functions under a \
                second model (documents: support::DOCUMENTS_MODEL), checked natively \
                (crates/wasm/tests/vectors.rs) and in wasm under Node and Chromium \
                (crates/wasm/tests/web.rs). Generated, do not edit: \
                PORTCULLIS_WRITE_VECTORS=1 cargo test -p portcullis-wasm --test vectors"
            .to_owned(),
        hashing_key,
        now: NOW,
        verify: verify_cases,
        authorize: authorize_cases,
        validate: validate_cases,
        company_roles: json_of(facade::company_roles()),
        account_operations: json_of(facade::account_operations()),
        account_permissions_matrix: json_of(facade::account_permissions_matrix()),
        account_operation_allowed: account_operation_allowed_cases,
        sessions: session_cases,
        catalogues: catalogues(),
        model_load: model_load_cases(),
        documents,
    }
}

/// A session case to generate: name, presented text, session record, access record, tenant
/// named, and the codes `verifySession` and `verifySignedIn` must answer.
type SessionRow<'a> = (
    &'a str,
    String,
    Value,
    Value,
    Option<String>,
    &'a str,
    &'a str,
);

/// Sessions of the fixture's user, who holds `update_certificates` and `build_applications` in
/// the fixture's tenant (team) and everything in a second tenant (enterprise): the records are
/// the engine's own types, serialised as the edge worker writes them to KV.
fn session_cases(fixture: &mut Fixture, hashing_key: &str) -> Vec<SessionCase> {
    let issued = session::generate(&mut fixture.random, &fixture.key);
    let other = session::generate(&mut fixture.random, &fixture.key);
    let token = credential::issue_api_token(&mut fixture.random, &fixture.key);
    let second_tenant = TenantId::generate(&mut fixture.random);
    let stranger_tenant = TenantId::generate(&mut fixture.random);
    let someone_else = UserId::generate(&mut fixture.random);
    let scope = PermissionSet::only(perm("build_applications")).with(perm("update_certificates"));

    let record = CoreSessionRecord {
        session_id: issued.id.clone(),
        account_id: fixture.account.clone(),
        user_id: fixture.owner.clone(),
        secret_hash: issued.hash,
        idle_expires_at: Timestamp::from_unix_seconds(NOW + 3600),
        absolute_expires_at: Timestamp::from_unix_seconds(NOW + 86_400),
        method: portcullis_core::session::SignInMethod::Password,
    };
    let access = CoreAccessRecord {
        account_id: fixture.account.clone(),
        user_id: fixture.owner.clone(),
        status: UserStatus::Active,
        tenants: BTreeMap::from([
            (
                fixture.tenant.clone(),
                TenantAccess {
                    permissions: scope,
                    plan: plan("team"),
                    sso: None,
                },
            ),
            (
                second_tenant.clone(),
                TenantAccess {
                    permissions: PermissionSet::all(),
                    plan: plan("enterprise"),
                    sso: None,
                },
            ),
        ]),
    };
    let text = issued.secret.expose().to_owned();
    let tenant = Some(fixture.tenant.to_string());
    let with_status = |status| {
        json_of(&CoreAccessRecord {
            status,
            ..access.clone()
        })
    };
    let expiring = |idle: u64, absolute: u64| {
        json_of(&CoreSessionRecord {
            idle_expires_at: Timestamp::from_unix_seconds(idle),
            absolute_expires_at: Timestamp::from_unix_seconds(absolute),
            ..record.clone()
        })
    };
    let (session, access_json) = (json_of(&record), json_of(&access));
    let cases: Vec<SessionRow> = vec![
        (
            "session, bare",
            text.clone(),
            session.clone(),
            access_json.clone(),
            tenant.clone(),
            "valid",
            "valid",
        ),
        (
            "session in a Bearer header",
            format!("Bearer {text}"),
            session.clone(),
            access_json.clone(),
            tenant.clone(),
            "valid",
            "valid",
        ),
        (
            "session in the user's other tenant (enterprise, every permission)",
            text.clone(),
            session.clone(),
            access_json.clone(),
            Some(second_tenant.to_string()),
            "valid",
            "valid",
        ),
        (
            "wrong secret: the record holds another session's hash",
            text.clone(),
            json_of(&CoreSessionRecord {
                secret_hash: other.hash,
                ..record.clone()
            }),
            access_json.clone(),
            tenant.clone(),
            "wrong_secret",
            "wrong_secret",
        ),
        (
            "wrong secret in a tenant the user is not in: the secret is checked first",
            text.clone(),
            json_of(&CoreSessionRecord {
                secret_hash: other.hash,
                ..record.clone()
            }),
            access_json.clone(),
            Some(stranger_tenant.to_string()),
            "wrong_secret",
            "wrong_secret",
        ),
        (
            "unknown session: no record stored (signed out)",
            text.clone(),
            Value::Null,
            Value::Null,
            tenant.clone(),
            "unknown_session",
            "unknown_session",
        ),
        (
            "a record stored under another session id",
            text.clone(),
            json_of(&CoreSessionRecord {
                session_id: other.id.clone(),
                secret_hash: other.hash,
                ..record.clone()
            }),
            access_json.clone(),
            tenant.clone(),
            "unknown_session",
            "unknown_session",
        ),
        (
            "expired: the idle lifetime ends at `now`",
            text.clone(),
            expiring(NOW, NOW + 86_400),
            access_json.clone(),
            tenant.clone(),
            "session_expired",
            "session_expired",
        ),
        (
            "expired: the absolute lifetime ends at `now`, whatever the idle one says",
            text.clone(),
            expiring(NOW + 3600, NOW),
            access_json.clone(),
            tenant.clone(),
            "session_expired",
            "session_expired",
        ),
        (
            "user deactivated",
            text.clone(),
            session.clone(),
            with_status(UserStatus::Inactive),
            tenant.clone(),
            "user_not_active",
            "user_not_active",
        ),
        (
            "user not active: no access record stored",
            text.clone(),
            session.clone(),
            Value::Null,
            tenant.clone(),
            "user_not_active",
            "user_not_active",
        ),
        (
            "user not active: the access record of another user",
            text.clone(),
            session.clone(),
            json_of(&CoreAccessRecord {
                user_id: someone_else,
                ..access.clone()
            }),
            tenant.clone(),
            "user_not_active",
            "user_not_active",
        ),
        (
            "not a member of the tenant named",
            text.clone(),
            session.clone(),
            access_json.clone(),
            Some(stranger_tenant.to_string()),
            "not_member",
            "valid",
        ),
        (
            "no tenant named",
            text.clone(),
            session.clone(),
            access_json.clone(),
            None,
            "not_member",
            "valid",
        ),
        (
            "a tenant named by text that is not a tenant id",
            text.clone(),
            session.clone(),
            access_json.clone(),
            Some("acme".to_owned()),
            "not_member",
            "valid",
        ),
        (
            "malformed: an API token instead of a session",
            token.secret.expose().to_owned(),
            session.clone(),
            access_json.clone(),
            tenant.clone(),
            "malformed_credential",
            "malformed_credential",
        ),
        (
            "malformed: one character of the session changed",
            mistype(&text),
            session.clone(),
            access_json.clone(),
            tenant.clone(),
            "malformed_credential",
            "malformed_credential",
        ),
        (
            "malformed: Basic instead of Bearer",
            format!("Basic {text}"),
            session.clone(),
            access_json.clone(),
            tenant.clone(),
            "malformed_credential",
            "malformed_credential",
        ),
        (
            "malformed: nothing presented",
            String::new(),
            Value::Null,
            Value::Null,
            tenant.clone(),
            "malformed_credential",
            "malformed_credential",
        ),
    ];
    let cases: Vec<SessionCase> = cases
        .into_iter()
        .map(
            |(name, presented, session_record, access_record, tenant_id, verified, signed_in)| {
                let case = session_case(
                    hashing_key,
                    NOW,
                    name,
                    presented,
                    session_record,
                    access_record,
                    tenant_id,
                );
                assert_eq!(code(&case.result), verified, "{name}: {}", case.result);
                assert_eq!(
                    code(&case.signed_in),
                    signed_in,
                    "{name}: {}",
                    case.signed_in
                );
                if verified == "malformed_credential" {
                    assert_eq!(code(&case.located), verified, "{name}");
                } else {
                    assert_eq!(
                        case.located,
                        json!({
                            "ok": true,
                            "session_id": issued.id,
                            "storage_key": format!("sess:v1:{}", issued.id),
                        }),
                        "{name}"
                    );
                }
                case
            },
        )
        .collect();

    // The principal is the user's in the tenant named, with what they hold there; signed in,
    // the user is seen with every tenant.
    let principal = |index: usize| cases[index].result["principal"].clone();
    assert_eq!(
        principal(0),
        json!({
            "kind": "session",
            "account_id": fixture.account,
            "tenant_id": fixture.tenant,
            "user_id": fixture.owner,
            "session_id": issued.id,
            "permissions": ["update_certificates", "build_applications"],
            "plan": "team",
        })
    );
    assert_eq!(principal(1), principal(0));
    assert_eq!(principal(2)["tenant_id"], json!(second_tenant));
    assert_eq!(principal(2)["permissions"], json!(PermissionSet::all()));
    assert_eq!(principal(2)["plan"], "enterprise");
    assert_eq!(
        cases[0].signed_in,
        json!({
            "ok": true,
            "account_id": fixture.account,
            "user_id": fixture.owner,
            "session_id": issued.id,
            "idle_expires_at": NOW + 3600,
            "absolute_expires_at": NOW + 86_400,
            "tenants": access.tenants,
        })
    );
    assert_eq!(
        cases[0].access_record_key,
        json!({
            "ok": true,
            "account_id": fixture.account,
            "user_id": fixture.owner,
            "storage_key": format!("access:v1:{}:{}", fixture.account, fixture.owner),
        })
    );
    cases
}

/// `accountOperationAllowed` for each role alone, no role, two combinations and unknown names,
/// each checked against the matrix of docs/ACCOUNT_ROLES.md written out by hand.
fn account_operation_cases() -> Vec<AccountOperationCase> {
    let every: Vec<&str> = AccountOperation::ALL
        .iter()
        .map(|operation| operation.name())
        .chain(["format_disk"])
        .collect();
    let cases: Vec<AccountOperationCase> = [
        ("company admin", json!(["company_admin"]), &every[..]),
        ("license admin", json!(["license_admin"]), &every[..]),
        ("support", json!(["support"]), &every[..]),
        ("tenant user", json!(["tenant_user"]), &every[..]),
        ("no role at all", json!([]), &every[..]),
        (
            "license admin and company admin",
            json!(["license_admin", "company_admin"]),
            &every[..],
        ),
        (
            "tenant user and support, support named twice",
            json!(["tenant_user", "support", "support"]),
            &every[..],
        ),
        (
            "unknown role names among known ones",
            json!(["support", "root", "tenant_user", "Company_Admin"]),
            &["view_support_tickets", "format_disk"][..],
        ),
    ]
    .into_iter()
    .map(|(name, roles, operations)| AccountOperationCase {
        name: name.to_owned(),
        decisions: operations
            .iter()
            .map(|operation| Decision {
                operation: (*operation).to_owned(),
                result: account_operation_allowed(&roles, operation),
            })
            .collect(),
        roles,
    })
    .collect();
    let result = |case: &str, operation: &str| -> Value {
        let case = cases.iter().find(|c| c.name == case).unwrap();
        let decision = case.decisions.iter().find(|d| d.operation == operation);
        decision.unwrap().result.clone()
    };

    // The matrix of docs/ACCOUNT_ROLES.md, by hand.
    let license_admin = [
        "add_user",
        "edit_user_name",
        "assign_license_admin",
        "view_license_usage",
        "assign_licenses",
        "log_in_to_assigned_tenant",
        "view_support_tickets",
        "create_support_tickets",
        "view_account_details",
        "manage_own_profile",
    ];
    let assigned_tenants_only = ["edit_user_name", "assign_license_admin", "assign_licenses"];
    let support = [
        "log_in_to_assigned_tenant",
        "view_support_tickets",
        "create_support_tickets",
        "view_account_details",
        "manage_own_profile",
    ];
    let tenant_user = ["log_in_to_assigned_tenant", "manage_own_profile"];
    let answer = |granted_by: &[&str], scoped: bool| {
        json!({
            "ok": true,
            "allowed": !granted_by.is_empty(),
            "granted_by": granted_by,
            "scoped_to_assigned_tenants": scoped,
        })
    };
    let only = |role: &'static str, allowed: bool| if allowed { vec![role] } else { vec![] };
    for operation in AccountOperation::ALL {
        let name = operation.name();
        let is = |list: &[&str]| list.contains(&name);
        let scoped = is(&assigned_tenants_only);
        assert_eq!(
            result("company admin", name),
            answer(&["company_admin"], false)
        );
        assert_eq!(
            result("license admin", name),
            answer(&only("license_admin", is(&license_admin)), scoped),
            "license admin, {name}"
        );
        assert_eq!(
            result("support", name),
            answer(&only("support", is(&support)), false),
            "support, {name}"
        );
        assert_eq!(
            result("tenant user", name),
            answer(&only("tenant_user", is(&tenant_user)), false),
            "tenant user, {name}"
        );
        assert_eq!(result("no role at all", name), answer(&[], false), "{name}");
    }
    // A company admin's grant is not limited to assigned tenants, even when they are also a
    // license admin; roles come back in column order, each once.
    let both = "license admin and company admin";
    assert_eq!(
        result(both, "assign_licenses"),
        answer(&["company_admin", "license_admin"], false)
    );
    assert_eq!(
        result(both, "delete_user"),
        answer(&["company_admin"], false)
    );
    let twice = "tenant user and support, support named twice";
    assert_eq!(
        result(twice, "manage_own_profile"),
        answer(&["support", "tenant_user"], false)
    );
    assert_eq!(result(twice, "add_user"), answer(&[], false));

    // Every unknown name is reported, with its path.
    let problems = |result: Value| -> Vec<(String, String)> {
        let errors = result["errors"].as_array().unwrap().iter();
        errors
            .map(|error| (error["code"].to_string(), error["path"].to_string()))
            .collect()
    };
    let problem = |code: &str, path: &str| (format!("\"{code}\""), format!("\"{path}\""));
    let bad_names = "unknown role names among known ones";
    assert_eq!(
        problems(result(bad_names, "view_support_tickets")),
        [
            problem("unknown_company_role", "roles[1]"),
            problem("unknown_company_role", "roles[3]"),
        ]
    );
    assert_eq!(
        problems(result(bad_names, "format_disk")),
        [
            problem("unknown_company_role", "roles[1]"),
            problem("unknown_company_role", "roles[3]"),
            problem("unknown_account_operation", "operation"),
        ]
    );
    for case in cases.iter().filter(|case| case.name != bad_names) {
        assert_eq!(
            problems(result(&case.name, "format_disk")),
            [problem("unknown_account_operation", "operation")],
            "{}",
            case.name
        );
    }
    cases
}

/// `Model.load` of valid and broken documents: every problem of a broken one at once.
fn model_load_cases() -> Vec<ModelLoadCase> {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "the documents model, as JSON text",
            json!(support::DOCUMENTS_MODEL),
            vec![],
        ),
        (
            "the default model's own document reads back",
            default_model().to_document(),
            vec![],
        ),
        (
            "every problem at once",
            json!({
                "version": 2,
                "product": "Broken",
                "permissions": [
                    { "name": "Edit Documents" },
                    { "name": "publish" },
                    { "name": "publish" }
                ],
                "features": [{ "name": "history" }],
                "operations": [
                    { "name": "publish_document", "requires": ["publish", "approve"],
                      "feature": "history" },
                    { "name": "export", "feature": "watermarks", "automation_keys": true }
                ],
                "plans": [
                    { "name": "business", "seats": 50 },
                    { "name": "starter", "seats": 3 },
                    { "name": "huge", "seats": 0 }
                ],
                "presets": [{ "name": "editor", "permissions": ["edit_documents"] }],
                "automation_keys": { "managed_with": "root" }
            }),
            vec![
                "unsupported_version",
                "invalid_name",
                "duplicate_name",
                "plans_out_of_order",
                "invalid_seat_limit",
                "unknown_permission",
                "unreachable_operation",
                "unknown_feature",
                "unreachable_for_automation_keys",
                "unknown_permission",
                "unknown_permission",
            ],
        ),
        (
            "no plans and no operations",
            json!({ "version": 1, "permissions": [], "operations": [], "plans": [] }),
            vec!["no_plans", "no_operations"],
        ),
        (
            "not JSON",
            json!(r#"{"version": 1, "permissions": ["#),
            vec!["syntax"],
        ),
        (
            "a field the format does not have",
            json!(
                r#"{"version": 1, "permissions": [], "operations": [], "plans": [], "colour": "red"}"#
            ),
            vec!["syntax"],
        ),
    ];
    cases
        .into_iter()
        .map(|(name, document, codes)| {
            let result = load(&document);
            if codes.is_empty() {
                assert_eq!(result["ok"], true, "{name}: {result}");
            } else {
                let found: Vec<&str> = result["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|error| error["code"].as_str().unwrap())
                    .collect();
                assert_eq!(found, codes, "{name}: {result}");
            }
            ModelLoadCase {
                name: name.to_owned(),
                document,
                result,
            }
        })
        .collect()
}

/// The package under the documents model: credentials issued and verified, principals
/// authorized and configurations validated with its names, and the default model's refused.
fn documents_cases(hashing_key: &str) -> ModelCases {
    let model = documents_model();
    within(&model, || {
        let mut random = SeededRandom::new(7);
        let account = AccountId::generate(&mut random);
        let tenant = TenantId::generate(&mut random);
        let owner = UserId::generate(&mut random);
        let mut issue = |request: Value| -> Value {
            let mut request = request;
            request["account_id"] = json!(account);
            request["tenant_id"] = json!(tenant);
            let issued = json_of(facade::issue(
                serde_json::from_value(request).unwrap(),
                hashing_key,
                &mut random,
            ));
            assert_eq!(issued["ok"], true, "{issued}");
            issued
        };
        let token = |plan: &str, permissions: &[&str]| {
            json!({ "kind": "api_token", "name": "laptop", "owner": owner, "plan": plan,
                    "permissions": permissions })
        };
        let key = |plan: &str| json!({ "kind": "automation_key", "name": "ci", "plan": plan });
        let publisher = issue(token("business", &["publish_documents", "edit_documents"]));
        let editor = issue(token("starter", &["edit_documents"]));
        let automation = issue(key("corporate"));
        let on_starter = issue(key("starter"));

        let verify_cases: Vec<VerifyCase> = [
            ("publisher's token on business", &publisher, "valid"),
            ("editor's token on starter", &editor, "valid"),
            ("automation key on corporate", &automation, "valid"),
            (
                "automation key on starter, whose plan has no automation keys",
                &on_starter,
                "disabled",
            ),
        ]
        .into_iter()
        .map(|(name, issued, expected)| {
            let credential = issued["secret"].as_str().unwrap().to_owned();
            let record = issued["record"].clone();
            let result = verify(hashing_key, NOW, &credential, &record);
            assert_eq!(code(&result), expected, "{name}: {result}");
            VerifyCase {
                name: name.to_owned(),
                credential,
                record,
                result,
            }
        })
        .collect();
        let principal = |index: usize| verify_cases[index].result["principal"].clone();
        assert_eq!(
            principal(0)["permissions"],
            json!(["edit_documents", "publish_documents"])
        );
        assert_eq!(principal(0)["plan"], "business");
        // What the model opens to automation keys needs no permission: a key carries none.
        assert_eq!(principal(2)["permissions"], json!([]));

        let operations: Vec<String> = Operation::all()
            .into_iter()
            .map(|operation| operation.name())
            .chain(["run_build".to_owned()])
            .collect();
        let authorize_cases: Vec<AuthorizeCase> = [
            ("publisher on business", principal(0)),
            ("editor on starter", principal(1)),
            ("automation key on corporate", principal(2)),
        ]
        .into_iter()
        .map(|(name, principal)| AuthorizeCase {
            name: name.to_owned(),
            decisions: operations
                .iter()
                .map(|operation| Decision {
                    operation: operation.clone(),
                    result: decide(&principal, operation),
                })
                .collect(),
            principal,
        })
        .collect();
        let outcome = |case: usize, operation: &str| -> Value {
            let decision = authorize_cases[case]
                .decisions
                .iter()
                .find(|decision| decision.operation == operation)
                .unwrap();
            let result = &decision.result;
            if result["ok"] == true {
                json!([result["allow"], result["reason"]])
            } else {
                json!(result["errors"][0]["code"])
            }
        };
        let reason = |allow: bool, code: &str, detail: Value| {
            let mut reason = json!({ "code": code });
            if let Value::Object(detail) = detail {
                reason.as_object_mut().unwrap().extend(detail);
            }
            json!([allow, reason])
        };
        assert_eq!(
            outcome(0, "publish_document"),
            reason(
                true,
                "granted",
                json!({ "permission": "publish_documents" })
            )
        );
        assert_eq!(
            outcome(0, "restore_version"),
            reason(true, "granted", json!({ "permission": "edit_documents" }))
        );
        assert_eq!(
            outcome(0, "manage_members"),
            reason(
                false,
                "missing_permission",
                json!({ "permission": "user_and_api_management" })
            )
        );
        assert_eq!(
            outcome(1, "publish_document"),
            reason(
                false,
                "missing_permission",
                json!({ "permission": "publish_documents" })
            )
        );
        assert_eq!(
            outcome(1, "restore_version"),
            reason(
                false,
                "plan_excludes",
                json!({ "feature": "version_history" })
            )
        );
        assert_eq!(
            outcome(2, "read_documents"),
            reason(true, "open_to_members", Value::Null)
        );
        assert_eq!(
            outcome(2, "publish_document"),
            reason(false, "automation_key_scope", Value::Null)
        );
        for case in 0..authorize_cases.len() {
            assert_eq!(outcome(case, "run_build"), json!("unknown_operation"));
        }

        let validate_cases: Vec<ValidateCase> = [
            (
                "a business tenant of editors and publishers",
                json!({
                    "actor_permissions": ["user_and_api_management", "publish_documents", "edit_documents"],
                    "tenant": {
                        "plan": "business",
                        "members": [
                            { "email": "owner@example.com", "owner": true },
                            { "email": "pat@example.com", "role": "publisher" },
                            { "email": "eve@example.com", "permissions": ["edit_documents"] },
                            { "email": "max@example.com", "permissions": ["user_and_api_management"] }
                        ],
                        "api_tokens": [
                            { "name": "cms", "owner": "pat@example.com", "permissions": ["publish_documents"] }
                        ]
                    }
                }),
                vec![],
            ),
            (
                "a starter tenant over its seats, with the default model's names",
                json!({
                    "tenant": {
                        "plan": "starter",
                        "members": [
                            { "email": "owner@example.com", "owner": true },
                            { "email": "a@example.com", "permissions": ["build_applications"] },
                            { "email": "b@example.com", "role": "release_engineer" },
                            { "email": "c@example.com", "role": "editor" }
                        ],
                        "automation_keys": [{ "name": "ci" }]
                    }
                }),
                vec![
                    "unknown_permission",
                    "unknown_role",
                    "plan_limit",
                    "plan_feature_unavailable",
                ],
            ),
            (
                "a plan of the default model",
                json!({ "tenant": { "plan": "team" } }),
                vec!["unknown_plan"],
            ),
        ]
        .into_iter()
        .map(|(name, config, codes)| {
            let result = validate(&config);
            let found: Vec<&str> = result["errors"]
                .as_array()
                .map(|errors| errors.iter().map(|e| e["code"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(found, codes, "{name}: {result}");
            ValidateCase {
                name: name.to_owned(),
                config,
                result,
            }
        })
        .collect();

        ModelCases {
            document: model.to_document(),
            catalogues: catalogues(),
            verify: verify_cases,
            authorize: authorize_cases,
            validate: validate_cases,
        }
    })
}

#[test]
fn vectors_file_is_what_the_generator_produces() {
    let generated = format!("{}\n", serde_json::to_string_pretty(&generate()).unwrap());
    if std::env::var_os("PORTCULLIS_WRITE_VECTORS").is_some() {
        std::fs::write(VECTORS_PATH, &generated).unwrap();
    }
    assert!(
        support::VECTORS_JSON == generated,
        "tests/vectors.json is stale; regenerate it with \
         PORTCULLIS_WRITE_VECTORS=1 cargo test -p portcullis-wasm --test vectors"
    );
}

#[test]
fn refused_credentials_keep_the_precise_code_and_carry_one_public_answer() {
    // Local callers get the precise reason (for their own rate limiting); what they answer
    // outside is `public`: an unknown key id and a wrong secret (and every refused state) alike.
    let vectors = support::vectors();
    let mut precise = std::collections::BTreeSet::new();
    let mut answers = std::collections::BTreeSet::new();
    for case in vectors
        .verify
        .iter()
        .filter(|case| case.result["ok"] == false)
    {
        let error = &case.result["errors"][0];
        let code = error["code"].as_str().unwrap();
        let public = &error["public"];
        let expected = if code == "malformed_credential" {
            "malformed_credential"
        } else {
            "invalid_credentials"
        };
        assert_eq!(public["code"], expected, "{}", case.name);
        precise.insert(code.to_owned());
        if expected == "invalid_credentials" {
            answers.insert(public.to_string());
        }
    }
    assert!(precise.contains("unknown_key") && precise.contains("wrong_secret"));
    assert_eq!(answers.len(), 1, "{answers:?}");
}

#[test]
fn refused_sessions_keep_the_precise_code_and_answer_as_tokens_do() {
    // As for tokens: the precise reason stays for the verifier, and outside every refused
    // session reads as a refused token does; a tenant the user is not in reads as none.
    let vectors = support::vectors();
    let token_answer = vectors
        .verify
        .iter()
        .find(|case| case.result["errors"][0]["code"] == "wrong_secret")
        .map(|case| case.result["errors"][0]["public"].clone())
        .unwrap();
    let mut precise = std::collections::BTreeSet::new();
    let mut answers = std::collections::BTreeSet::new();
    for case in &vectors.sessions {
        for result in [&case.result, &case.signed_in, &case.located] {
            if result["ok"] == true {
                continue;
            }
            let error = &result["errors"][0];
            let code = error["code"].as_str().unwrap();
            let public = &error["public"];
            let expected = match code {
                "malformed_credential" => "malformed_credential",
                "not_member" => "tenant_not_found",
                _ => "invalid_credentials",
            };
            assert_eq!(public["code"], expected, "{}", case.name);
            assert_ne!(error["message"], "", "{}", case.name);
            precise.insert(code.to_owned());
            if expected == "invalid_credentials" {
                answers.insert(public.to_string());
                assert_eq!(public, &token_answer, "{}", case.name);
            }
        }
    }
    for code in [
        "unknown_session",
        "wrong_secret",
        "session_expired",
        "user_not_active",
        "not_member",
        "malformed_credential",
    ] {
        assert!(precise.contains(code), "{code} missing from {precise:?}");
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
}

#[test]
fn native_results_match_every_vector() {
    let vectors = support::vectors();
    assert!(vectors.verify.len() >= 10 && vectors.validate.len() >= 3);
    for case in &vectors.verify {
        let result = verify(
            &vectors.hashing_key,
            vectors.now,
            &case.credential,
            &case.record,
        );
        assert_eq!(result, case.result, "{}", case.name);
    }
    for case in &vectors.authorize {
        for decision in &case.decisions {
            let result = decide(&case.principal, &decision.operation);
            assert_eq!(
                result, decision.result,
                "{}: {}",
                case.name, decision.operation
            );
        }
    }
    for case in &vectors.validate {
        assert_eq!(validate(&case.config), case.result, "{}", case.name);
    }
    assert_eq!(json_of(facade::company_roles()), vectors.company_roles);
    assert_eq!(
        json_of(facade::account_operations()),
        vectors.account_operations
    );
    assert_eq!(
        json_of(facade::account_permissions_matrix()),
        vectors.account_permissions_matrix
    );
    assert!(vectors.sessions.len() >= 15);
    for case in &vectors.sessions {
        let again = session_case(
            &vectors.hashing_key,
            vectors.now,
            &case.name,
            case.session.clone(),
            case.session_record.clone(),
            case.access_record.clone(),
            case.tenant_id.clone(),
        );
        assert_eq!(json_of(again), json_of(case), "{}", case.name);
    }
    assert!(vectors.account_operation_allowed.len() >= 8);
    for case in &vectors.account_operation_allowed {
        for decision in &case.decisions {
            let result = account_operation_allowed(&case.roles, &decision.operation);
            assert_eq!(
                result, decision.result,
                "{}: {}",
                case.name, decision.operation
            );
        }
    }
    assert_eq!(json_of(catalogues()), json_of(&vectors.catalogues));
    assert!(vectors.model_load.len() >= 5);
    for case in &vectors.model_load {
        assert_eq!(load(&case.document), case.result, "{}", case.name);
    }
    let documents = documents_model();
    within(&documents, || {
        let cases = &vectors.documents;
        assert_eq!(documents.to_document(), cases.document);
        assert_eq!(json_of(catalogues()), json_of(&cases.catalogues));
        for case in &cases.verify {
            let result = verify(
                &vectors.hashing_key,
                vectors.now,
                &case.credential,
                &case.record,
            );
            assert_eq!(result, case.result, "{}", case.name);
        }
        for case in &cases.authorize {
            for decision in &case.decisions {
                let result = decide(&case.principal, &decision.operation);
                assert_eq!(
                    result, decision.result,
                    "{}: {}",
                    case.name, decision.operation
                );
            }
        }
        for case in &cases.validate {
            assert_eq!(validate(&case.config), case.result, "{}", case.name);
        }
    });
}

#[test]
fn a_second_model_authorizes_with_its_own_names() {
    let documents = documents_model();
    let mut random = SeededRandom::new(11);
    let key = HashingKey::generate(&mut random);
    let key_id = credential::issue_api_token(&mut random, &key).key_id;
    let principal = |permissions: &[&str], plan: &str| {
        json!({
            "kind": "user",
            "account_id": "acc_00000000000000aa",
            "tenant_id": "ten_00000000000000bb",
            "user_id": "usr_00000000000000cc",
            "key_id": key_id,
            "permissions": permissions,
            "plan": plan,
        })
    };
    within(&documents, || {
        let publisher = principal(&["publish_documents"], "starter");
        let allowed = decide(&publisher, "publish_document");
        assert_eq!(
            allowed,
            json!({
                "ok": true,
                "allow": true,
                "reason": { "code": "granted", "permission": "publish_documents" },
                "message": "granted by `publish_documents`",
            })
        );
        let editor = principal(&["edit_documents"], "business");
        let denied = decide(&editor, "publish_document");
        assert_eq!(denied["allow"], false, "{denied}");
        assert_eq!(
            denied["reason"],
            json!({ "code": "missing_permission", "permission": "publish_documents" })
        );
        // The default model's names are not this model's: refused, never ignored.
        let stranger = principal(&["build_applications"], "team");
        let refused = serde_json::from_value::<Principal>(stranger).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("unknown permission `build_applications`"),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("edit_documents"),
            "the message names what the model has: {refused}"
        );
        assert_eq!(
            decide(&publisher, "run_build")["errors"][0]["code"],
            "unknown_operation"
        );
        assert_eq!(
            json_of(facade::permissions()),
            json!([
                "edit_documents",
                "publish_documents",
                "user_and_api_management",
                "modify_tenant_settings"
            ])
        );
    });
    // The same principal under the default model: the documents names are unknown there.
    assert!(
        serde_json::from_value::<Principal>(principal(&["publish_documents"], "starter")).is_err()
    );
}

#[test]
fn broken_model_documents_report_every_problem_with_its_code_and_path() {
    let vectors = support::vectors();
    let broken = vectors
        .model_load
        .iter()
        .find(|case| case.name == "every problem at once")
        .unwrap();
    let problems: Vec<(&str, Option<&str>)> = broken.result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            assert_ne!(error["message"], "", "{error}");
            (error["code"].as_str().unwrap(), error["path"].as_str())
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("unsupported_version", Some("version")),
            ("invalid_name", Some("permissions[0].name")),
            ("duplicate_name", Some("permissions[2].name")),
            ("plans_out_of_order", Some("plans[1].seats")),
            ("invalid_seat_limit", Some("plans[2].seats")),
            ("unknown_permission", Some("operations[0].requires[1]")),
            ("unreachable_operation", Some("operations[0].feature")),
            ("unknown_feature", Some("operations[1].feature")),
            (
                "unreachable_for_automation_keys",
                Some("operations[1].automation_keys")
            ),
            ("unknown_permission", Some("presets[0].permissions[0]")),
            ("unknown_permission", Some("automation_keys.managed_with")),
        ]
    );
    assert_eq!(broken.result["ok"], false);
    let syntax = vectors
        .model_load
        .iter()
        .find(|case| case.name == "not JSON")
        .unwrap();
    assert!(
        syntax.result["errors"][0].get("path").is_none(),
        "{}",
        syntax.result
    );
    // A model's document reads back to the same model.
    for case in vectors
        .model_load
        .iter()
        .filter(|case| case.result["ok"] == true)
    {
        assert_eq!(load(&case.result["model"]), case.result, "{}", case.name);
    }
}

#[test]
fn the_matrix_is_the_one_docs_account_roles_shows() {
    // docs/ACCOUNT_ROLES.md renders the engine's matrix ("yes", "assigned tenants", "—"); the
    // package's matrix must say the same, cell for cell, with nothing left for a UI to infer.
    let docs = include_str!("../../../docs/ACCOUNT_ROLES.md");
    let table: Vec<&str> = docs
        .lines()
        .skip_while(|line| !line.starts_with("<!-- matrix:begin"))
        .skip(1)
        .take_while(|line| !line.starts_with("<!-- matrix:end"))
        .collect();
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect()
    };
    let matrix = json_of(facade::account_permissions_matrix());
    let roles: Vec<String> = matrix["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| format!("`{}`", role.as_str().unwrap()))
        .collect();
    assert_eq!(cells(table[0])[1..], roles[..]);
    let rows = matrix["rows"].as_array().unwrap();
    assert_eq!(table.len(), 2 + rows.len());
    for (line, row) in table[2..].iter().zip(rows) {
        let cells = cells(line);
        let operation = row["operation"].as_str().unwrap();
        assert_eq!(
            cells[0],
            format!("{} (`{operation}`)", row["description"].as_str().unwrap())
        );
        for (index, cell) in cells[1..].iter().enumerate() {
            let shown = match (
                row["allowed"][index].as_bool().unwrap(),
                row["scoped_to_assigned_tenants"][index].as_bool().unwrap(),
            ) {
                (false, false) => "—",
                (true, false) => "yes",
                (true, true) => "assigned tenants",
                (false, true) => panic!("{operation}: scoped but not allowed"),
            };
            assert_eq!(cell, shown, "{operation}, {}", roles[index]);
        }
    }
}

#[test]
fn records_and_principals_keep_the_engine_json() {
    // The package reads records exactly as the engine (and the edge worker's KV) writes them,
    // and its principals are the engine's principals.
    let vectors = support::vectors();
    for case in vectors.verify.iter().filter(|case| !case.record.is_null()) {
        let core: CoreRecord = serde_json::from_value(case.record.clone()).unwrap();
        let mirrored: CredentialRecord = serde_json::from_value(case.record.clone()).unwrap();
        assert_eq!(serde_json::to_value(&mirrored).unwrap(), case.record);
        assert_eq!(CoreRecord::from(mirrored), core);
    }
    // Session and access records: the engine's JSON text parses as the package's type and
    // comes back as the same text, and converts to the same engine record.
    fn same_record<Core, Mirror>(value: &Value, name: &str)
    where
        Core: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
        Mirror: serde::Serialize + serde::de::DeserializeOwned + Into<Core> + From<Core>,
    {
        let text = value.to_string();
        let core: Core = serde_json::from_str(&text).unwrap();
        let core_text = serde_json::to_string(&core).unwrap();
        let mirrored: Mirror = serde_json::from_str(&core_text).unwrap();
        assert_eq!(
            serde_json::to_string(&mirrored).unwrap(),
            core_text,
            "{name}"
        );
        assert_eq!(mirrored.into(), core, "{name}");
        let back = Mirror::from(serde_json::from_str::<Core>(&core_text).unwrap());
        assert_eq!(serde_json::to_string(&back).unwrap(), core_text, "{name}");
    }
    let mut records = 0;
    for case in &vectors.sessions {
        if !case.session_record.is_null() {
            same_record::<CoreSessionRecord, SessionRecord>(&case.session_record, &case.name);
            records += 1;
        }
        if !case.access_record.is_null() {
            same_record::<CoreAccessRecord, AccessRecord>(&case.access_record, &case.name);
            records += 1;
        }
    }
    assert!(records >= 20, "{records}");
    // Both refuse what the engine refuses: an unknown field, an unknown status.
    let access = &vectors.sessions[0].access_record;
    let mut extra = access.clone();
    extra["role"] = json!("admin");
    let mut status = access.clone();
    status["status"] = json!("asleep");
    for bad in [extra, status] {
        assert!(serde_json::from_value::<CoreAccessRecord>(bad.clone()).is_err());
        assert!(serde_json::from_value::<AccessRecord>(bad).is_err());
    }
    for case in &vectors.authorize {
        let core: portcullis_core::Principal =
            serde_json::from_value(case.principal.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&core).unwrap(),
            case.principal,
            "{}",
            case.name
        );
    }
}

#[test]
fn issued_credentials_verify_against_their_records() {
    let mut random = SeededRandom::new(5);
    let key = HashingKey::generate(&mut random)
        .to_base64()
        .as_str()
        .to_owned();
    let request = json!({
        "kind": "automation_key",
        "account_id": AccountId::generate(&mut random),
        "tenant_id": TenantId::generate(&mut random),
        "name": "nightly",
        "plan": "team",
    });
    let issued = facade::issue(serde_json::from_value(request).unwrap(), &key, &mut random);
    let issued = serde_json::to_value(issued).unwrap();
    assert_eq!(issued["record"]["state"], "active");
    assert_eq!(
        issued["storage_key"],
        format!("cred:v1:{}", issued["record"]["key_id"].as_str().unwrap())
    );
    let result = verify(
        &key,
        NOW,
        issued["secret"].as_str().unwrap(),
        &issued["record"],
    );
    assert_eq!(result["principal"]["kind"], "automation_key");
    assert!(
        !issued["record"]
            .to_string()
            .contains(issued["secret"].as_str().unwrap()),
        "the record must not hold the secret"
    );
    let bad_key = facade::issue(
        serde_json::from_value(json!({
            "kind": "automation_key", "account_id": AccountId::generate(&mut random),
            "tenant_id": TenantId::generate(&mut random), "name": "x", "plan": "team"
        }))
        .unwrap(),
        "c2hvcnQ",
        &mut random,
    );
    assert_eq!(
        serde_json::to_value(bad_key).unwrap()["errors"][0]["code"],
        "invalid_hashing_key"
    );
}
