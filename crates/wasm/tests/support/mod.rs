//! The shape of `tests/vectors.json`, shared by the native test (`tests/vectors.rs`) and the
//! wasm-bindgen suite (`tests/web.rs`): inputs, and the exact JSON result the package returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The vectors file, compiled into both test binaries.
pub const VECTORS_JSON: &str = include_str!("../vectors.json");

/// A second product model, unlike the default one (`policy/model.json`): a documents product
/// with its own permissions, a feature of its own, three plans and a handful of operations.
/// No name of the default model but the engine's built-in ones is in it.
pub const DOCUMENTS_MODEL: &str = r#"{
  "version": 1,
  "product": "Documents",
  "permissions": [
    {"name": "edit_documents", "description": "write and revise documents"},
    {"name": "publish_documents", "description": "make documents public"}
  ],
  "features": [
    {"name": "version_history", "description": "earlier versions of every document"}
  ],
  "operations": [
    {"name": "read_documents", "area": "documents", "description": "List and read documents", "automation_keys": true},
    {"name": "edit_document", "area": "documents", "description": "Write a document", "requires": ["edit_documents"]},
    {"name": "publish_document", "area": "publishing", "description": "Publish a document", "requires": ["publish_documents"]},
    {"name": "restore_version", "area": "documents", "description": "Restore an earlier version", "requires": ["edit_documents"], "feature": "version_history"},
    {"name": "manage_members", "area": "members", "description": "Invite and re-permission members", "requires": ["user_and_api_management"]}
  ],
  "plans": [
    {"name": "starter", "description": "Three seats", "seats": 3},
    {"name": "business", "description": "Fifty seats and version history", "seats": 50, "features": ["version_history"]},
    {"name": "corporate", "description": "Everything", "seats": 500, "features": ["version_history", "automation_keys", "audit_log", "saml_sso"]}
  ],
  "presets": [
    {"name": "editor", "description": "Writes documents", "permissions": ["edit_documents"]},
    {"name": "publisher", "description": "Writes and publishes", "permissions": ["edit_documents", "publish_documents"]}
  ]
}"#;

/// Every vector.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectors {
    /// What the file is and how to regenerate it.
    pub about: String,
    /// The hashing key every record was hashed with (base64url).
    pub hashing_key: String,
    /// The time of every verification (seconds since the Unix epoch).
    pub now: u64,
    /// `verifyCredential` cases.
    pub verify: Vec<VerifyCase>,
    /// `authorize` cases.
    pub authorize: Vec<AuthorizeCase>,
    /// `validateConfig` cases.
    pub validate: Vec<ValidateCase>,
    /// What `listCompanyRoles` returns.
    pub company_roles: Value,
    /// What `listAccountOperations` returns.
    pub account_operations: Value,
    /// What `accountPermissionsMatrix` returns.
    pub account_permissions_matrix: Value,
    /// `accountOperationAllowed` cases.
    pub account_operation_allowed: Vec<AccountOperationCase>,
    /// `locateSession`, `accessRecordKey`, `verifySession` and `verifySignedIn` cases.
    pub sessions: Vec<SessionCase>,
    /// What the catalogues of the default model are.
    pub catalogues: Catalogues,
    /// `Model.load` cases: documents, valid or not, and what loading them returns.
    pub model_load: Vec<ModelLoadCase>,
    /// The package under another model, [`DOCUMENTS_MODEL`].
    pub documents: ModelCases,
}

/// What `listPermissions`, `listRolePresets` and `listOperations` return for a model.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogues {
    /// `listPermissions(model)`.
    pub permissions: Value,
    /// `listRolePresets(model)`.
    pub role_presets: Value,
    /// `listOperations(model)`.
    pub operations: Value,
}

/// One model document and what `Model.load` returns for it, read back as JSON (a loaded model
/// writes itself as its document).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelLoadCase {
    /// What the case shows.
    pub name: String,
    /// The document: JSON text (a string) or an object.
    pub document: Value,
    /// The exact result.
    pub result: Value,
}

/// The answers of the package with one model in force.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCases {
    /// The model's document, as `Model.document()` returns it.
    pub document: Value,
    /// Its catalogues.
    pub catalogues: Catalogues,
    /// `verifyCredential` cases.
    pub verify: Vec<VerifyCase>,
    /// `authorize` cases.
    pub authorize: Vec<AuthorizeCase>,
    /// `validateConfig` cases.
    pub validate: Vec<ValidateCase>,
}

/// One verification: a presented credential and the record stored under its key id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCase {
    /// What the case shows.
    pub name: String,
    /// The credential or `Authorization` header as presented.
    pub credential: String,
    /// The stored record (null: none stored).
    pub record: Value,
    /// The exact result.
    pub result: Value,
}

/// One presented session, the two records its verification reads and the tenant the request
/// names, with what each session function returns for them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCase {
    /// What the case shows.
    pub name: String,
    /// The session or `Authorization` header as presented.
    pub session: String,
    /// The record stored under the session's id (null: none stored).
    pub session_record: Value,
    /// The access record stored under the session record's user (null: none stored).
    pub access_record: Value,
    /// The tenant the request names (null: none).
    pub tenant_id: Option<String>,
    /// The exact result of `locateSession(session)`.
    pub located: Value,
    /// The exact result of `accessRecordKey(session_record)` (null when no record is stored).
    pub access_record_key: Value,
    /// The exact result of `verifySession`.
    pub result: Value,
    /// The exact result of `verifySignedIn`.
    pub signed_in: Value,
}

/// One principal, and the decision for every operation of the catalogue (and a few names
/// outside it).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeCase {
    /// What the case shows.
    pub name: String,
    /// The principal, as a verification returned it.
    pub principal: Value,
    /// Operation name and exact result.
    pub decisions: Vec<Decision>,
}

/// The result of one operation for a principal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The operation name.
    pub operation: String,
    /// The exact result.
    pub result: Value,
}

/// A set of company role names, and the matrix's answer for each operation asked (every
/// account operation, or a few, and a name outside the matrix).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountOperationCase {
    /// What the case shows.
    pub name: String,
    /// The `roles` of the query: names, known or not.
    pub roles: Value,
    /// The query's `operation` and the exact result.
    pub decisions: Vec<Decision>,
}

/// One desired configuration.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateCase {
    /// What the case shows.
    pub name: String,
    /// The configuration.
    pub config: Value,
    /// The exact result.
    pub result: Value,
}

/// The vectors in the file.
pub fn vectors() -> Vectors {
    serde_json::from_str(VECTORS_JSON).expect("tests/vectors.json is valid")
}
