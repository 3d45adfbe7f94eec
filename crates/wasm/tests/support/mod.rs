//! The shape of `tests/vectors.json`, shared by the native test (`tests/vectors.rs`) and the
//! wasm-bindgen suite (`tests/web.rs`): inputs, and the exact JSON result the package returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The vectors file, compiled into both test binaries.
pub const VECTORS_JSON: &str = include_str!("../vectors.json");

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
