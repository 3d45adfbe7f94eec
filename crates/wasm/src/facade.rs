//! The package's operations on plain Rust values: each one parses its inputs with the engine's
//! types, calls the engine once and shapes the answer. No JavaScript here, so the native tests
//! run exactly what the exported functions run.
//!
//! Names of the product model (permissions, plans, features, operations, presets) are read and
//! written against the model in force ([`portcullis_core::model`]): whoever calls these puts
//! the model in force ([`CoreModel::enter`]) around reading the inputs, the call and writing
//! the answer, as every exported function does with the model it is given. Without one, the
//! default model is in force.

use crate::types::{
    AccessLocateResult, AccessLocated, AccessRecord, AccountOperationDecided, AccountOperationInfo,
    AccountOperationQuery, AccountOperationResult, AccountPermissionsMatrix, AccountPermissionsRow,
    AuthorizeResult, CheckResult, CompanyRoleInfo, CredentialRecord, Decided, DesiredConfig,
    Failure, IssueRequest, IssueResult, Issued, LocateResult, Located, OperationInfo, Permission,
    Principal, Problem, RolePresetInfo, SessionLocateResult, SessionLocated, SessionRecord,
    SignedInResult, TenantChangeQuery, TransitionQuery, True, Valid, ValidateResult, Verified,
    VerifyResult,
};
use portcullis_core::account::preflight::{self, TenantSnapshot};
use portcullis_core::company::{self, AccountOperation, CompanyRole};
use portcullis_core::credential::{self, CredentialRecord as CoreRecord, Placement, Presented};
use portcullis_core::model::{self, Model as CoreModel};
use portcullis_core::random::RandomSource;
use portcullis_core::session::{self, SessionVerification, SignedIn};
use portcullis_core::{HashingKey, Operation, TenantId, Timestamp, authorize, desired, store};
use std::sync::Arc;

/// The hashing key of a base64 text, or the failure every function taking one answers for it.
pub fn hashing_key(base64: &str) -> Result<HashingKey, Failure> {
    HashingKey::from_base64(base64).map_err(|error| Failure::hashing_key(&error))
}

/// Where the record of a credential (bare or `Bearer` header) is stored.
pub fn locate(credential: &str) -> LocateResult {
    match Presented::from_credential_or_header(credential) {
        Ok(presented) => LocateResult::Success(Located {
            ok: True,
            key_id: presented.key_id().clone(),
            kind: presented.kind().into(),
            storage_key: store::credential_key(presented.key_id()),
        }),
        Err(malformed) => Failure::refused(&credential::Verification::Malformed(malformed)).into(),
    }
}

/// Verifies a credential (bare or `Bearer` header) against the record stored under its key id
/// (`None`: nothing is stored there), for a request from `client` (`None`: unknown, which a
/// credential with client IP rules refuses).
pub fn verify(
    credential: &str,
    record: Option<CredentialRecord>,
    hashing_key_base64: &str,
    now: Timestamp,
    client: Option<std::net::IpAddr>,
) -> VerifyResult {
    let key = match hashing_key(hashing_key_base64) {
        Ok(key) => key,
        Err(failure) => return failure.into(),
    };
    let record = record.map(CoreRecord::from);
    verify_result(verify_with(credential, record.as_ref(), &key, now, client))
}

/// [`verify`] with the hashing key decoded and the record read already (what a
/// [`crate::Verifier`] keeps between calls): the engine's verdict.
pub fn verify_with(
    credential: &str,
    record: Option<&CoreRecord>,
    key: &HashingKey,
    now: Timestamp,
    client: Option<std::net::IpAddr>,
) -> credential::Verification {
    match Presented::from_credential_or_header(credential) {
        Ok(presented) => credential::verify_presented(&presented, record, key, now, client),
        Err(malformed) => credential::Verification::Malformed(malformed),
    }
}

/// A verification as `verifyCredential` answers it.
pub fn verify_result(verification: credential::Verification) -> VerifyResult {
    match verification {
        credential::Verification::Valid(principal) => VerifyResult::Success(Verified {
            ok: True,
            principal: principal.into(),
        }),
        refused => Failure::refused(&refused).into(),
    }
}

/// Where the record of a session (bare or `Bearer` header) is stored.
pub fn locate_session(presented: &str) -> SessionLocateResult {
    match session::lookup_session(presented) {
        Ok(session_id) => SessionLocateResult::Success(SessionLocated {
            ok: True,
            storage_key: store::session_key(&session_id),
            session_id,
        }),
        Err(malformed) => {
            Failure::refused_session(&SessionVerification::Malformed(malformed)).into()
        }
    }
}

/// Where the access record of the user a session record names is stored: the second record a
/// session's verification reads.
pub fn access_record_key(record: SessionRecord) -> AccessLocateResult {
    AccessLocateResult::Success(AccessLocated {
        ok: True,
        storage_key: store::access_key(&record.account_id, &record.user_id),
        account_id: record.account_id,
        user_id: record.user_id,
    })
}

/// Verifies a session (bare or `Bearer` header) against its record and its user's access
/// record (`None`: nothing stored) without naming a tenant: what [`verify_session`] and
/// [`verify_signed_in`] share.
fn signed_in(
    presented: &str,
    session_record: Option<SessionRecord>,
    access_record: Option<AccessRecord>,
    hashing_key_base64: &str,
    now: Timestamp,
) -> Result<SignedIn, Failure> {
    let key = hashing_key(hashing_key_base64)?;
    let session_record = session_record.map(session::SessionRecord::from);
    let access_record = access_record.map(session::AccessRecord::from);
    session::verify_signed_in(
        presented,
        session_record.as_ref(),
        access_record.as_ref(),
        &key,
        now,
    )
    .map_err(|refused| Failure::refused_session(&refused))
}

/// Verifies a session (bare or `Bearer` header) for acting in the tenant named `tenant_id`,
/// against the record stored under its id and the access record of that record's user
/// (`None`: nothing is stored there). No tenant, or text that is not a tenant id, names no
/// tenant the user is in: once the session itself verified, that is `not_member` (publicly
/// `tenant_not_found`), as the edge worker answers.
pub fn verify_session(
    presented: &str,
    session_record: Option<SessionRecord>,
    access_record: Option<AccessRecord>,
    tenant_id: Option<&str>,
    hashing_key_base64: &str,
    now: Timestamp,
) -> VerifyResult {
    let principal = signed_in(
        presented,
        session_record,
        access_record,
        hashing_key_base64,
        now,
    )
    .and_then(|signed_in| {
        tenant_id
            .and_then(|text| text.trim().parse::<TenantId>().ok())
            .ok_or(SessionVerification::NotMember)
            .and_then(|tenant| signed_in.in_tenant(&tenant))
            .map_err(|refused| Failure::refused_session(&refused))
    });
    match principal {
        Ok(principal) => VerifyResult::Success(Verified {
            ok: True,
            principal: principal.into(),
        }),
        Err(failure) => failure.into(),
    }
}

/// Verifies a session (bare or `Bearer` header) without naming a tenant, against the same two
/// records as [`verify_session`]: who is signed in and every tenant they belong to, with their
/// permissions and plan there now.
pub fn verify_signed_in(
    presented: &str,
    session_record: Option<SessionRecord>,
    access_record: Option<AccessRecord>,
    hashing_key_base64: &str,
    now: Timestamp,
) -> SignedInResult {
    match signed_in(
        presented,
        session_record,
        access_record,
        hashing_key_base64,
        now,
    ) {
        Ok(signed_in) => SignedInResult::Success(signed_in.into()),
        Err(failure) => failure.into(),
    }
}

/// The decision for `principal` performing the operation named `operation`.
pub fn decide(principal: Principal, operation: &str) -> AuthorizeResult {
    let operation = match operation.parse::<Operation>() {
        Ok(operation) => operation,
        Err(error) => return Failure::operation(&error).into(),
    };
    let decision = authorize(&principal.into(), operation);
    AuthorizeResult::Success(Decided {
        ok: True,
        allow: decision.allow,
        reason: decision.reason.into(),
        message: decision.reason.to_string(),
    })
}

/// Whether the verified `principal` may perform the operation named `operation`: the allow of
/// [`decide`], `false` for a name the model in force does not have.
pub fn allows(principal: &portcullis_core::authz::Principal, operation: &str) -> bool {
    operation
        .parse::<Operation>()
        .is_ok_and(|operation| authorize(principal, operation).allow)
}

/// Issues a new credential with randomness from `random`: the secret to show once and the
/// record to store.
pub fn issue(
    request: IssueRequest,
    hashing_key_base64: &str,
    random: &mut dyn RandomSource,
) -> IssueResult {
    let key = match hashing_key(hashing_key_base64) {
        Ok(key) => key,
        Err(failure) => return failure.into(),
    };
    let (issued, record) = match request {
        IssueRequest::ApiToken {
            account_id,
            tenant_id,
            name,
            plan,
            owner,
            permissions,
            expires_at,
        } => {
            let issued = credential::issue_api_token(random, &key);
            let record = CoreRecord::active_api_token(
                &issued,
                Placement {
                    account_id,
                    tenant_id,
                    name,
                    plan: plan.into(),
                },
                owner,
                permissions
                    .into_iter()
                    .map(portcullis_core::Permission::from)
                    .collect(),
                expires_at,
            );
            (issued, record)
        }
        IssueRequest::AutomationKey {
            account_id,
            tenant_id,
            name,
            plan,
            enabled,
        } => {
            let issued = credential::issue_automation_key(random, &key);
            let record = CoreRecord::automation_key(
                issued.key_id.clone(),
                issued.hash,
                Placement {
                    account_id,
                    tenant_id,
                    name,
                    plan: plan.into(),
                },
                enabled,
            );
            (issued, record)
        }
    };
    IssueResult::Success(Issued {
        ok: True,
        secret: issued.secret.expose().to_owned(),
        storage_key: store::credential_key(&record.key_id),
        record: record.into(),
    })
}

/// Every problem of a desired configuration, all at once.
pub fn validate(config: DesiredConfig) -> ValidateResult {
    let problems = desired::validate(&config.into());
    if problems.is_empty() {
        ValidateResult::Success(Valid { ok: True })
    } else {
        Failure::from_problems(problems.into_iter().map(Into::into).collect()).into()
    }
}

/// Parses and validates a model document (JSON text), reporting every problem at once.
pub fn load_model(document: &str) -> Result<Arc<CoreModel>, Failure> {
    CoreModel::from_json(document)
        .map(Arc::new)
        .map_err(|error| Failure::model(&error))
}

/// The permissions of the model in force, in catalogue order.
pub fn permissions() -> Vec<Permission> {
    model::with_model(|model| {
        model
            .catalogue()
            .iter()
            .copied()
            .map(Permission::from)
            .collect()
    })
}

/// The role presets of the model in force, with their permissions.
pub fn role_presets() -> Vec<RolePresetInfo> {
    model::with_model(|model| {
        model
            .presets()
            .map(|(preset, def)| RolePresetInfo::new(model, preset, def))
            .collect()
    })
}

/// The operations of the model in force, in its order.
pub fn operations() -> Vec<OperationInfo> {
    model::with_model(|model| {
        model
            .operations()
            .map(|(operation, def)| OperationInfo::new(model, operation, def))
            .collect()
    })
}

/// The company roles, in the matrix's column order.
pub fn company_roles() -> Vec<CompanyRoleInfo> {
    CompanyRole::ALL
        .into_iter()
        .map(CompanyRoleInfo::from)
        .collect()
}

/// The account operations, in the matrix's row order.
pub fn account_operations() -> Vec<AccountOperationInfo> {
    AccountOperation::ALL
        .into_iter()
        .map(AccountOperationInfo::from)
        .collect()
}

/// Whether `role` allows `operation` only on the tenants assigned to the user. The engine's
/// [`AccountOperation::scoped_to_licenses`] is about license admins alone (see
/// [`company::allows`]); this says so per cell, so that no caller has to.
/// Whether a user holding the roles named in `query` may run the operation it names, which of
/// them allow it, and whether only on the tenants assigned to the user. Every unknown name is
/// reported, each with its path.
pub fn account_operation_allowed(query: AccountOperationQuery) -> AccountOperationResult {
    let mut problems = Vec::new();
    let mut roles = Vec::with_capacity(query.roles.len());
    for (index, name) in query.roles.iter().enumerate() {
        match name.parse::<CompanyRole>() {
            Ok(role) => roles.push(role),
            Err(error) => problems.push(Problem::company_role(&error, format!("roles[{index}]"))),
        }
    }
    let operation = query.operation.parse::<AccountOperation>();
    if let Err(error) = &operation {
        problems.push(Problem::account_operation(error));
    }
    let operation = match operation {
        Ok(operation) if problems.is_empty() => operation,
        _ => return Failure::from_problems(problems).into(),
    };
    let granted_by: Vec<CompanyRole> = CompanyRole::ALL
        .into_iter()
        .filter(|role| roles.contains(role) && company::allows(*role, operation))
        .collect();
    let allowed = company::any_allows(&roles, operation);
    AccountOperationResult::Success(AccountOperationDecided {
        ok: True,
        allowed,
        scoped_to_assigned_tenants: allowed
            && granted_by
                .iter()
                .all(|role| company::limited_to_assigned_tenants(*role, operation)),
        granted_by: granted_by.into_iter().map(Into::into).collect(),
    })
}

/// The account permissions matrix: a row per operation, a column per company role.
pub fn account_permissions_matrix() -> AccountPermissionsMatrix {
    let cells = |operation, cell: fn(CompanyRole, AccountOperation) -> bool| {
        CompanyRole::ALL
            .into_iter()
            .map(|role| cell(role, operation))
            .collect()
    };
    AccountPermissionsMatrix {
        roles: CompanyRole::ALL.into_iter().map(Into::into).collect(),
        rows: AccountOperation::ALL
            .into_iter()
            .map(|operation| AccountPermissionsRow {
                operation: operation.into(),
                description: operation.description().to_owned(),
                allowed: cells(operation, company::allows),
                scoped_to_assigned_tenants: cells(operation, company::limited_to_assigned_tenants),
            })
            .collect(),
    }
}

/// A fresh random hashing key, as base64url text for a secret store.
pub fn new_hashing_key(random: &mut dyn RandomSource) -> String {
    HashingKey::generate(random).to_base64().as_str().to_owned()
}

/// Judges a change to a tenant's members with the engine's rules, on the tenant as the
/// Management API shows it: allowed, or the refusal the server would answer.
pub fn check_tenant_change(query: TenantChangeQuery) -> CheckResult {
    let snapshot = TenantSnapshot {
        tenant: query.tenant,
        members: query.members,
    };
    checked(preflight::check_tenant_change(
        &snapshot,
        &query.actor,
        &query.change,
    ))
}

/// Judges a lifecycle action on a user with the engine's lifecycle.
pub fn check_user_transition(query: TransitionQuery) -> CheckResult {
    checked(preflight::check_transition(query.status, query.action))
}

fn checked(judged: Result<(), portcullis_core::Refusal>) -> CheckResult {
    match judged {
        Ok(()) => CheckResult::Success(Valid { ok: True }),
        Err(refusal) => Failure::rule(&refusal).into(),
    }
}
