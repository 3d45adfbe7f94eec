//! The verification routes, which need no Durable Object: `GET /v1/whoami` and `POST
//! /v1/authorize`. The edge script answers them itself (they are what a protected service calls
//! on every request); the Management API script answers them too when it is called directly.

use crate::api;
use crate::authn::{Caller, authenticate, authenticate_caller};
use crate::http;
use crate::problem::Problem;
use portcullis_core::AccountId;
use portcullis_core::TenantId;
use portcullis_core::authz::{Operation, Principal};
use portcullis_core::browser;
use portcullis_core::session::SignedIn;
use serde::{Deserialize, Serialize};
use worker::{Env, Request, Response};

/// `GET /v1/whoami`: the verified caller (a credential's principal, or a session's view).
pub(crate) async fn whoami(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<worker::Result<Response>, Problem> {
    Ok(match authenticate_caller(request, env, context).await? {
        Caller::Credential(principal) => http::json(200, &principal),
        Caller::Session(signed_in) => {
            let key = http::hashing_key(env)?;
            http::json(200, &SessionWhoami::new(&signed_in, &key))
        }
    })
}

/// `POST /v1/authorize`: whether the caller may perform one operation, and why.
pub(crate) async fn authorize(
    request: &mut Request,
    env: &Env,
    context: &worker::Context,
) -> Result<worker::Result<Response>, Problem> {
    let principal = authenticate(request, env, context).await?;
    let body = http::read_body(request).await?;
    let asked: AuthorizeRequest = api::typed_body(&body)?;
    let operation: Operation =
        asked
            .operation
            .parse()
            .map_err(|error: portcullis_core::authz::UnknownOperation| {
                Problem::new(400, "unknown_operation", error.to_string())
            })?;
    let model = crate::route_policy::model().map_err(|_| Problem::unavailable())?;
    let decision = model.authorize(&principal, operation);
    Ok(http::json(
        200,
        &AuthorizeResponse {
            allow: decision.allow,
            operation: operation.name(),
            reason: decision.reason.code(),
            detail: decision.reason.to_string(),
            principal,
        },
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeRequest {
    operation: String,
}

#[derive(Serialize)]
struct AuthorizeResponse {
    allow: bool,
    operation: String,
    reason: &'static str,
    detail: String,
    principal: Principal,
}

/// `GET /v1/whoami` with a session: the user, the session, their tenants with what they hold
/// in each right now, and the session's CSRF token (for a browser holding the cookie).
#[derive(Serialize)]
struct SessionWhoami<'a> {
    kind: &'static str,
    account_id: &'a AccountId,
    user_id: &'a portcullis_core::UserId,
    session_id: &'a portcullis_core::SessionId,
    idle_expires_at: portcullis_core::Timestamp,
    absolute_expires_at: portcullis_core::Timestamp,
    tenants: Vec<TenantHeld<'a>>,
    csrf_token: String,
}

#[derive(Serialize)]
struct TenantHeld<'a> {
    tenant_id: &'a TenantId,
    permissions: portcullis_core::PermissionSet,
    plan: portcullis_core::Plan,
}

impl<'a> SessionWhoami<'a> {
    fn new(signed_in: &'a SignedIn, key: &portcullis_core::HashingKey) -> Self {
        Self {
            kind: "session",
            account_id: &signed_in.account_id,
            user_id: &signed_in.user_id,
            session_id: &signed_in.session_id,
            idle_expires_at: signed_in.idle_expires_at,
            absolute_expires_at: signed_in.absolute_expires_at,
            tenants: signed_in
                .tenants
                .iter()
                .map(|(tenant_id, held)| TenantHeld {
                    tenant_id,
                    permissions: held.permissions,
                    plan: held.plan,
                })
                .collect(),
            csrf_token: browser::csrf_token(key, &signed_in.session_id),
        }
    }
}
