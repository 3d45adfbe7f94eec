//! Portcullis for JavaScript: the engine ([`portcullis_core`]) compiled to WebAssembly, for
//! browsers, Node and edge workers that run JavaScript.
//!
//! This crate is a thin [`wasm_bindgen`] facade with no rule of its own: each exported function
//! converts its arguments, calls the engine once (through [`facade`]) and returns a tagged
//! result, `{ ok: true, ... }` or `{ ok: false, errors: [{ code, message, path? }] }`. Domain
//! outcomes (a wrong secret, a denied operation, a broken configuration) never throw. The
//! TypeScript declarations of every shape come from [`types`] through tsify.
//!
//! Permissions, plans, features, operations and role presets are those of a product model
//! ([`portcullis_core::model`]): [`Model::load`] reads one (every problem of a broken document
//! reported at once), [`Model::default_model`] is the one built in (`policy/model.json`). Every
//! function that reads or writes those names takes the model as its first argument and runs
//! with it in force; the rest (credential and session parsing, the account's company roles,
//! hashing keys) is the engine's own and takes none.
//!
//! Sessions are verified like tokens, over two records instead of one: [`locate_session`]
//! names the session's record, [`access_record_key`] the access record of its user, and
//! [`verify_session`] (in a tenant) or [`verify_signed_in`] (account-level) decide.
//!
//! Randomness comes from the platform's Web Crypto (`crypto.getRandomValues`, through
//! getrandom's `wasm_js` backend); time is the caller's `now` (seconds since the Unix epoch) or
//! else `Date.now()`.
#![warn(missing_docs)]

pub mod facade;
mod problem;
pub mod types;
mod verifier;

pub use verifier::{StoredRecord, Verdict, Verifier};

use portcullis_core::Timestamp;
use portcullis_core::model::{self as core_model, Model as CoreModel};
use portcullis_core::random::OsRandom;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use types::{
    AccessLocateResult, AccountOperationResult, CheckResult, Failure, IssueResult, ValidateResult,
    VerifyResult,
};
use wasm_bindgen::prelude::*;

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An argument given either as a JavaScript value or as JSON text (as KV returns it), as JSON
/// text: objects go through `JSON.stringify`.
fn json_text(value: &JsValue, argument: &str) -> Result<String, Failure> {
    match value.as_string() {
        Some(text) => Ok(text),
        None => js_sys::JSON::stringify(value)
            .ok()
            .and_then(|text| text.as_string())
            .ok_or_else(|| Failure::input(argument, "the value cannot be written as JSON")),
    }
}

/// Reads an argument given either as a JavaScript value or as JSON text (as KV returns it).
///
/// Objects go through `JSON.stringify` and the same JSON parser as text, so both forms obey
/// the same rules (unknown fields are refused) and give the same messages as the engine's JSON.
fn decode<T: DeserializeOwned>(value: JsValue, argument: &str) -> Result<T, Failure> {
    let text = json_text(&value, argument)?;
    serde_json::from_str(&text).map_err(|error| Failure::input(argument, error))
}

/// Like [`decode`], with `null` and `undefined` meaning "none".
fn decode_optional<T: DeserializeOwned>(
    value: JsValue,
    argument: &str,
) -> Result<Option<T>, Failure> {
    if value.is_null() || value.is_undefined() {
        Ok(None)
    } else {
        decode(value, argument).map(Some)
    }
}

/// Hands a result to JavaScript as plain objects and arrays, `None` as `null`.
fn encode<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    value.serialize(&serializer).unwrap_or_else(|error| {
        Failure::unrepresentable(error)
            .serialize(&serializer)
            .unwrap_or(JsValue::NULL)
    })
}

/// `{ ok: true, <name>: handle }`, for a function that hands over an object of this package.
fn handle_result(name: &str, handle: JsValue) -> JsValue {
    let result = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        js_sys::Reflect::set(&result, &JsValue::from_str(key), value).is_ok()
    };
    if set("ok", &JsValue::TRUE) && set(name, &handle) {
        result.into()
    } else {
        encode(&Failure::unrepresentable(format!(
            "the {name} cannot be handed over"
        )))
    }
}

/// A request's client address (`clientIp`), when given.
fn client_address(client_ip: Option<String>) -> Result<Option<std::net::IpAddr>, Failure> {
    client_ip
        .map(|text| text.trim().parse().map_err(|_| Failure::client_ip()))
        .transpose()
}

/// `now` in whole seconds, or the platform clock when absent.
fn timestamp(now: Option<f64>) -> Result<Timestamp, Failure> {
    let seconds = now.unwrap_or_else(|| js_sys::Date::now() / 1000.0);
    if seconds.is_finite() && (0.0..=MAX_SAFE_INTEGER).contains(&seconds) {
        // In range and finite, so the conversion is exact after flooring; the engine bounds
        // the rest (nothing after 9999-12-31T23:59:59Z).
        Timestamp::try_from_unix_seconds(seconds.floor() as u64).map_err(|_| Failure::time())
    } else {
        Err(Failure::time())
    }
}

#[wasm_bindgen(typescript_custom_section)]
const MODEL_TYPES: &str = r#"
/** What `Model.load` returns: the model, or every problem of the document. */
export type ModelLoadResult = { ok: true; model: Model } | Failure;

/** A product model document, as `Model.document()` gives it (and `Model.load` reads it). */
export interface ModelDocument {
    version: number;
    product: string;
    permissions: { name: Permission; description: string; built_in: boolean }[];
    features: { name: Feature; description: string; built_in: boolean }[];
    operations: {
        name: Operation;
        area: string;
        description: string;
        requires: Permission[];
        feature: Feature | null;
        automation_keys: boolean;
    }[];
    plans: { name: Plan; description: string; seats: number; features: Feature[] }[];
    presets: { name: RolePreset; description: string; permissions: Permission[] }[];
    automation_keys: { managed_with: Permission };
}
"#;

/// A validated product model: the permissions, plan features, operations, plans and role
/// presets that every model-dependent function resolves names against. Cheap to hold and pass:
/// it is parsed once, and shared.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct Model {
    inner: Arc<CoreModel>,
}

impl Model {
    /// The engine's model this handle holds.
    pub fn core(&self) -> &Arc<CoreModel> {
        &self.inner
    }

    /// Runs `f` with this model in force, so that every name read or written resolves in it.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _scope = self.inner.enter();
        f()
    }
}

impl From<Arc<CoreModel>> for Model {
    fn from(inner: Arc<CoreModel>) -> Self {
        Self { inner }
    }
}

#[wasm_bindgen]
impl Model {
    /// Reads and validates a model document, given as JSON text or as a plain object (such as
    /// `policy/model.json`, or what `document()` returns): `{ ok: true, model }`, or every
    /// problem of the document at once, each with its code (`invalid_name`,
    /// `unknown_permission`, `plans_out_of_order`, ...), message and path
    /// (`operations[3].requires[0]`).
    #[wasm_bindgen(unchecked_return_type = "ModelLoadResult")]
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "ModelDocument | object | string")] document: JsValue,
    ) -> JsValue {
        let loaded = json_text(&document, "document").and_then(|text| facade::load_model(&text));
        match loaded {
            Ok(inner) => handle_result("model", Model { inner }.into()),
            Err(failure) => encode(&failure),
        }
    }

    /// The default model, built into the package (`policy/model.json`).
    #[wasm_bindgen(js_name = default)]
    pub fn default_model() -> Model {
        Self {
            inner: Arc::clone(core_model::default_model()),
        }
    }

    /// The product's display name.
    #[wasm_bindgen(getter)]
    pub fn product(&self) -> String {
        self.inner.product().to_owned()
    }

    /// The whole model as a document (the built-in permissions and features made explicit):
    /// `Model.load` reads it back to the same model.
    #[wasm_bindgen(unchecked_return_type = "ModelDocument")]
    pub fn document(&self) -> JsValue {
        encode(&self.inner.to_document())
    }

    /// The document, so that `JSON.stringify(model)` writes it.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "ModelDocument")]
    pub fn to_json(&self) -> JsValue {
        self.document()
    }
}

/// Parses a presented credential (bare, or an `Authorization: Bearer` header value) without
/// any secret check, and says where its record is stored: read that one record, then call
/// `verifyCredential`.
#[wasm_bindgen(js_name = credentialKeyId, unchecked_return_type = "LocateResult")]
pub fn credential_key_id(
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: Option<String>,
) -> JsValue {
    encode(&facade::locate(credential.as_deref().unwrap_or_default()))
}

/// Verifies a presented credential (bare, or an `Authorization: Bearer` header value) against
/// the record stored under its key id (`null` when there is none), with the server-side hashing
/// key (base64) at `now` (seconds since the Unix epoch; default: the platform clock), the
/// record's permissions and plan read in `model`, for a request from `clientIp` (the client's
/// address, e.g. `CF-Connecting-IP`; `null` when unknown, which a credential with client IP
/// rules refuses with `ip_not_allowed`).
#[wasm_bindgen(js_name = verifyCredential, unchecked_return_type = "VerifyResult")]
pub fn verify_credential(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: Option<String>,
    #[wasm_bindgen(unchecked_param_type = "CredentialRecord | string | null | undefined")]
    record: JsValue,
    #[wasm_bindgen(js_name = hashingKey)] hashing_key: &str,
    now: Option<f64>,
    #[wasm_bindgen(js_name = clientIp, unchecked_param_type = "string | null | undefined")]
    client_ip: Option<String>,
) -> JsValue {
    model.run(|| {
        let result = decode_optional(record, "record").and_then(|record| {
            let now = timestamp(now)?;
            let client = client_address(client_ip)?;
            Ok(facade::verify(
                credential.as_deref().unwrap_or_default(),
                record,
                hashing_key,
                now,
                client,
            ))
        });
        encode(&result.unwrap_or_else(VerifyResult::from))
    })
}

/// Parses a presented session (bare `pcss_…`, or an `Authorization: Bearer` header value)
/// without any secret check, and says where its record is stored: read that record, then the
/// access record `accessRecordKey` names, then call `verifySession` or `verifySignedIn`.
#[wasm_bindgen(js_name = locateSession, unchecked_return_type = "SessionLocateResult")]
pub fn locate_session(
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] session: Option<String>,
) -> JsValue {
    encode(&facade::locate_session(
        session.as_deref().unwrap_or_default(),
    ))
}

/// Where the access record of the user a session record names is stored (the record as read
/// from the session's `storage_key`, an object or its JSON text).
#[wasm_bindgen(js_name = accessRecordKey, unchecked_return_type = "AccessLocateResult")]
pub fn access_record_key(
    #[wasm_bindgen(js_name = sessionRecord, unchecked_param_type = "SessionRecord | string")]
    session_record: JsValue,
) -> JsValue {
    let result = decode(session_record, "sessionRecord")
        .map(facade::access_record_key)
        .unwrap_or_else(AccessLocateResult::from);
    encode(&result)
}

/// Verifies a presented session (bare, or an `Authorization: Bearer` header value) for acting
/// in the tenant `tenantId` names, against the session's record and its user's access record
/// (each `null` when none is stored), with the server-side hashing key (base64) at `now`
/// (seconds since the Unix epoch; default: the platform clock), permissions and plans read in
/// `model`.
#[wasm_bindgen(js_name = verifySession, unchecked_return_type = "VerifyResult")]
pub fn verify_session(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] session: Option<String>,
    #[wasm_bindgen(
        js_name = sessionRecord,
        unchecked_param_type = "SessionRecord | string | null | undefined"
    )]
    session_record: JsValue,
    #[wasm_bindgen(
        js_name = accessRecord,
        unchecked_param_type = "AccessRecord | string | null | undefined"
    )]
    access_record: JsValue,
    #[wasm_bindgen(js_name = tenantId, unchecked_param_type = "string | null | undefined")]
    tenant_id: Option<String>,
    #[wasm_bindgen(js_name = hashingKey)] hashing_key: &str,
    now: Option<f64>,
) -> JsValue {
    with_session_records(
        model,
        session_record,
        access_record,
        now,
        |record, access, now| {
            facade::verify_session(
                session.as_deref().unwrap_or_default(),
                record,
                access,
                tenant_id.as_deref(),
                hashing_key,
                now,
            )
        },
    )
}

/// Verifies a presented session like `verifySession` without naming a tenant: the user signed
/// in, the session, and every tenant the user belongs to with their permissions and plan there
/// now (for account-level use), read in `model`.
#[wasm_bindgen(js_name = verifySignedIn, unchecked_return_type = "SignedInResult")]
pub fn verify_signed_in(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] session: Option<String>,
    #[wasm_bindgen(
        js_name = sessionRecord,
        unchecked_param_type = "SessionRecord | string | null | undefined"
    )]
    session_record: JsValue,
    #[wasm_bindgen(
        js_name = accessRecord,
        unchecked_param_type = "AccessRecord | string | null | undefined"
    )]
    access_record: JsValue,
    #[wasm_bindgen(js_name = hashingKey)] hashing_key: &str,
    now: Option<f64>,
) -> JsValue {
    with_session_records(
        model,
        session_record,
        access_record,
        now,
        |record, access, now| {
            facade::verify_signed_in(
                session.as_deref().unwrap_or_default(),
                record,
                access,
                hashing_key,
                now,
            )
        },
    )
}

/// Reads the two records a session's verification reads (each optional) and the time, then
/// verifies with them, all with `model` in force; a bad argument is the failure instead.
fn with_session_records<R: Serialize + From<Failure>>(
    model: &Model,
    session_record: JsValue,
    access_record: JsValue,
    now: Option<f64>,
    verify: impl FnOnce(Option<types::SessionRecord>, Option<types::AccessRecord>, Timestamp) -> R,
) -> JsValue {
    model.run(|| {
        let result = (|| {
            let record = decode_optional(session_record, "sessionRecord")?;
            let access = decode_optional(access_record, "accessRecord")?;
            Ok(verify(record, access, timestamp(now)?))
        })();
        encode(&result.unwrap_or_else(R::from))
    })
}

/// The decision in `model` for a verified `principal` performing `operation` (a name of the
/// model's operations).
#[wasm_bindgen(js_name = authorize, unchecked_return_type = "AuthorizeResult")]
pub fn authorize_operation(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "Principal | string")] principal: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Operation")] operation: &str,
) -> JsValue {
    model.run(|| match decode(principal, "principal") {
        Ok(principal) => encode(&facade::decide(principal, operation)),
        Err(failure) => encode(&failure),
    })
}

/// Issues a new API token or automation key with Web Crypto randomness: the secret to show
/// once, and the record (holding only the secret's HMAC) to store under `storage_key`; its
/// plan and permissions are names of `model`.
#[wasm_bindgen(js_name = issueCredential, unchecked_return_type = "IssueResult")]
pub fn issue_credential(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "IssueRequest | string")] request: JsValue,
    #[wasm_bindgen(js_name = hashingKey)] hashing_key: &str,
) -> JsValue {
    model.run(|| {
        let result = decode(request, "request")
            .map(|request| facade::issue(request, hashing_key, &mut OsRandom))
            .unwrap_or_else(IssueResult::from);
        encode(&result)
    })
}

/// Validates a desired tenant configuration against `model` (its plans, permissions and
/// presets), reporting every problem at once.
#[wasm_bindgen(js_name = validateConfig, unchecked_return_type = "ValidateResult")]
pub fn validate_config(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "DesiredConfig | string")] config: JsValue,
) -> JsValue {
    model.run(|| {
        let result = decode(config, "config")
            .map(facade::validate)
            .unwrap_or_else(ValidateResult::from);
        encode(&result)
    })
}

#[wasm_bindgen(typescript_custom_section)]
const CHECK_TYPES: &str = r#"
/** A change to a tenant's members, as `checkTenantChange` judges it. */
export type TenantChange =
    | { change: "change_permissions"; user_id: string; permissions: Permission[] }
    | { change: "remove_member"; user_id: string }
    | { change: "invite_member"; email: string; permissions?: Permission[] };

/** What `checkTenantChange` reads: the API's answers for the tenant and its members as they
 * came (`GET /v1/tenants/{id}`, the `items` of `GET /v1/tenants/{id}/members`), the
 * signed-in member proposing the change, and the change. */
export interface TenantChangeQuery {
    tenant: object;
    members: object[];
    actor: string;
    change: TenantChange;
}

/** What `checkUserTransition` reads. */
export interface TransitionQuery {
    status: "pending" | "active" | "inactive";
    action: "activate" | "deactivate" | "delete" | "resend_invitation" | "revoke_invitation";
}
"#;

/// Judges, before it is sent, a change to a tenant's members (new permissions, a removal, an
/// invitation) with the engine's own rules on the tenant as the Management API showed it:
/// `{ ok: true }`, or the refusal the server answers for the same change (the same `code`, and
/// its `detail` as `message`): `privilege_escalation`, `lockout`, `self_target`, `plan_limit`,
/// `owner_protected`, `breakglass_protected`, `missing_permission`, `already_member`, ... The
/// server still judges what this allows. Names are read in `model`.
#[wasm_bindgen(js_name = checkTenantChange, unchecked_return_type = "CheckResult")]
pub fn check_tenant_change(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "TenantChangeQuery | string")] query: JsValue,
) -> JsValue {
    model.run(|| {
        let result = decode(query, "query")
            .map(facade::check_tenant_change)
            .unwrap_or_else(CheckResult::from);
        encode(&result)
    })
}

/// Judges a lifecycle action on a user who is `status` with the engine's lifecycle:
/// `{ ok: true }`, or the server's refusal (`illegal_transition`, "cannot delete a user who is
/// active").
#[wasm_bindgen(js_name = checkUserTransition, unchecked_return_type = "CheckResult")]
pub fn check_user_transition(
    #[wasm_bindgen(unchecked_param_type = "TransitionQuery | string")] query: JsValue,
) -> JsValue {
    let result = decode(query, "query")
        .map(facade::check_user_transition)
        .unwrap_or_else(CheckResult::from);
    encode(&result)
}

/// The permissions of `model`, in catalogue order.
#[wasm_bindgen(js_name = listPermissions, unchecked_return_type = "Permission[]")]
pub fn list_permissions(model: &Model) -> JsValue {
    model.run(|| encode(&facade::permissions()))
}

/// The role presets of `model`, each with its description and the permissions it stands for.
#[wasm_bindgen(js_name = listRolePresets, unchecked_return_type = "RolePresetInfo[]")]
pub fn list_role_presets(model: &Model) -> JsValue {
    model.run(|| encode(&facade::role_presets()))
}

/// The operations of `model`: each one's area, description, the permissions and plan feature
/// it needs, and whether automation keys may perform it.
#[wasm_bindgen(js_name = listOperations, unchecked_return_type = "OperationInfo[]")]
pub fn list_operations(model: &Model) -> JsValue {
    model.run(|| encode(&facade::operations()))
}

/// The company roles (account-level, above the tenants), in the matrix's column order.
#[wasm_bindgen(js_name = listCompanyRoles, unchecked_return_type = "CompanyRoleInfo[]")]
pub fn list_company_roles() -> JsValue {
    encode(&facade::company_roles())
}

/// The account operations, each with its description and whether a license admin may run it
/// only on the tenants assigned to them, in the matrix's row order.
#[wasm_bindgen(
    js_name = listAccountOperations,
    unchecked_return_type = "AccountOperationInfo[]"
)]
pub fn list_account_operations() -> JsValue {
    encode(&facade::account_operations())
}

/// Whether a user holding `roles` may run the account `operation`, which of the roles allow
/// it, and whether only on the tenants assigned to the user; every unknown name is a problem.
#[wasm_bindgen(
    js_name = accountOperationAllowed,
    unchecked_return_type = "AccountOperationResult"
)]
pub fn account_operation_allowed(
    #[wasm_bindgen(unchecked_param_type = "AccountOperationQuery | string")] query: JsValue,
) -> JsValue {
    let result = decode(query, "query")
        .map(facade::account_operation_allowed)
        .unwrap_or_else(AccountOperationResult::from);
    encode(&result)
}

/// The account permissions matrix: a row per account operation, a column per company role.
#[wasm_bindgen(
    js_name = accountPermissionsMatrix,
    unchecked_return_type = "AccountPermissionsMatrix"
)]
pub fn account_permissions_matrix() -> JsValue {
    encode(&facade::account_permissions_matrix())
}

/// A fresh random 32-byte hashing key (base64url), to keep in a secret store.
#[wasm_bindgen(js_name = generateHashingKey)]
pub fn generate_hashing_key() -> String {
    facade::new_hashing_key(&mut OsRandom)
}
