//! The edge handler: every request enters here. Paths under `/v1` are the Management API: it
//! routes, verifies the presented credential against its one KV record (never calling a Durable
//! Object to do so), and forwards account reads and writes to the account's Durable Object.
//! Every other path belongs to the gateway in front of the protected origin ([`crate::gateway`])
//! when one is configured.

use crate::api::{self, Method, Route};
use crate::guard;
use crate::http::{self, ACCOUNTS_BINDING, KV_BINDING, ORIGIN_VAR, SIGNUP_KEY_SECRET};
use crate::problem::{self, Problem};
use crate::protocol::{Acceptance, ObjectRequest};
use portcullis_core::AccountId;
use portcullis_core::account::Refusal;
use portcullis_core::account::{Account, Actor, Context, SignUp};
use portcullis_core::authz::{Operation, Principal, PrincipalKind, authorize};
use portcullis_core::credential::{CredentialRecord, Presented, Verification, verify_presented};
use portcullis_core::random::OsRandom;
use portcullis_core::store::{account_key, account_object_name, credential_key};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use worker::{Env, Request, RequestInit, Response};

/// The OpenAPI document of this API, kept in the repository next to the crate.
const OPENAPI: &str = include_str!("../openapi.json");

/// The KV key the health route reads (its value does not matter).
const HEALTH_KEY: &str = "health:v1";

/// Handles one request; every failure becomes a problem response.
pub async fn handle(
    mut request: Request,
    env: Env,
    context: worker::Context,
) -> worker::Result<Response> {
    let gateway = is_gateway_path(&request).then(|| origin(&env)).flatten();
    let outcome = match gateway {
        Some(origin) => crate::gateway::handle(request, &env, &context, &origin).await,
        None => dispatch(&mut request, &env, &context).await,
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(problem) => http::problem(&problem),
    }
}

/// Everything outside `/v1` belongs to the gateway.
fn is_gateway_path(request: &Request) -> bool {
    let path = request.path();
    path != "/v1" && !path.starts_with("/v1/")
}

/// The configured origin, when the gateway is on.
fn origin(env: &Env) -> Option<String> {
    let origin = env.var(ORIGIN_VAR).ok()?.to_string();
    let origin = origin.trim();
    (!origin.is_empty()).then(|| origin.to_owned())
}

/// The request's method as sent: workers-rs reads a method it does not know as GET, so the raw
/// name is matched here (`PROPFIND /v1/users` must not be served as a read).
fn method(request: &Request) -> Method {
    api::Method::from_name(&request.inner().method())
}

async fn dispatch(
    request: &mut Request,
    env: &Env,
    context: &worker::Context,
) -> Result<Response, Problem> {
    let url = request
        .url()
        .map_err(|_| Problem::new(400, "invalid_url", "the URL is malformed"))?;
    let route = api::route(method(request), url.path(), url.query().unwrap_or_default())?;
    let reply = match route {
        Route::OpenApi => Response::ok(OPENAPI).and_then(|response| {
            let headers = worker::Headers::new();
            headers.set("content-type", "application/json")?;
            Ok(response.with_headers(headers))
        }),
        Route::Health => health(env).await?,
        Route::SignUp => sign_up(request, env).await?,
        Route::AcceptInvitation => accept_invitation(request, env).await?,
        Route::Whoami => {
            let principal = authenticate(request, env, context).await?;
            http::json(200, &principal)
        }
        Route::Authorize => {
            let principal = authenticate(request, env, context).await?;
            let body = http::read_body(request).await?;
            let asked: AuthorizeRequest = api::typed_body(&body)?;
            let operation: Operation = asked.operation.parse().map_err(
                |error: portcullis_core::authz::UnknownOperation| {
                    Problem::new(400, "unknown_operation", error.to_string())
                },
            )?;
            let decision = authorize(&principal, operation);
            http::json(
                200,
                &AuthorizeResponse {
                    allow: decision.allow,
                    operation: operation.name(),
                    reason: decision.reason.code(),
                    detail: decision.reason.to_string(),
                    principal,
                },
            )
        }
        Route::Read(query) => {
            let (principal, actor) = management_actor(request, env, context).await?;
            forward(
                env,
                &principal.account_id,
                &ObjectRequest::Query { actor, query },
            )
            .await?
        }
        Route::AcknowledgeNotifications => {
            let (principal, actor) = management_actor(request, env, context).await?;
            let body = http::read_body(request).await?;
            let acknowledgement = api::typed_body(&body)?;
            forward(
                env,
                &principal.account_id,
                &ObjectRequest::AcknowledgeNotifications {
                    actor,
                    acknowledgement,
                },
            )
            .await?
        }
        Route::Write { command, fields } => {
            let (principal, actor) = management_actor(request, env, context).await?;
            let body = http::read_body(request).await?;
            let command = api::command(command, &fields, &body)?;
            forward(
                env,
                &principal.account_id,
                &ObjectRequest::Command { actor, command },
            )
            .await?
        }
    };
    reply.map_err(|_| Problem::unavailable())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeRequest {
    operation: String,
}

#[derive(Serialize)]
struct AuthorizeResponse {
    allow: bool,
    operation: &'static str,
    reason: &'static str,
    detail: String,
    principal: Principal,
}

/// Verifies the `Authorization: Bearer` credential with one KV read. A client or key id blocked
/// for failing too often is refused (429) before anything is verified; a failure is charged to
/// the rate limiters; a success is reported for last-used times after the response.
pub(crate) async fn authenticate(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<Principal, Problem> {
    let header = request
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .ok_or_else(|| {
            Problem::unauthorized(
                "missing_credentials",
                "send `Authorization: Bearer <credential>`",
            )
        })?;
    let client = guard::client(request);
    let presented = Presented::from_authorization_header(&header);
    let key_id = presented.as_ref().ok().map(Presented::key_id);
    if let Some(wait) = guard::blocked(&client, key_id) {
        return Err(Problem::too_many_failures(wait));
    }
    let verification = match &presented {
        Ok(presented) => verify(presented, env).await?,
        Err(malformed) => Verification::Malformed(*malformed),
    };
    match verification {
        Verification::Valid(principal) => {
            guard::report_use(env, context, &principal);
            Ok(principal)
        }
        refused => match guard::charge(env, &client, key_id, &refused).await {
            Some(wait) => Err(Problem::too_many_failures(wait)),
            None => Err(Problem::from(&refused)),
        },
    }
}

async fn verify(presented: &Presented, env: &Env) -> Result<Verification, Problem> {
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    // Read as text and parsed here: KV's `.json()` would parse in JavaScript, where numbers
    // beyond 2^53 lose precision before the engine sees them.
    let text = kv
        .get(&credential_key(presented.key_id()))
        .text()
        .await
        .map_err(|_| Problem::unavailable())?;
    let record: Option<CredentialRecord> = text
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|_| Problem::unavailable())?;
    let key = http::hashing_key(env)?;
    Ok(verify_presented(
        presented,
        record.as_ref(),
        &key,
        http::now(),
    ))
}

/// `POST /v1/invitations/accept`, which no credential authenticates: a client that keeps
/// presenting codes that are not valid is throttled like failed verifications, and an account
/// id that was never issued (no account marker in KV) is refused with the same answer as a
/// wrong code before any Durable Object is touched, so such requests create no object.
async fn accept_invitation(
    request: &mut Request,
    env: &Env,
) -> Result<worker::Result<Response>, Problem> {
    let client = guard::client(request);
    if let Some(wait) = guard::blocked(&client, None) {
        return Err(Problem::too_many_failures(wait));
    }
    let body = http::read_body(request).await?;
    let acceptance: Acceptance = api::typed_body(&body)?;
    let account_id = acceptance.account_id.clone();
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    let known = kv
        .get(&account_key(&account_id))
        .text()
        .await
        .map_err(|_| Problem::unavailable())?
        .is_some();
    let invalid = Refusal::InvitationInvalid;
    let answer = if known {
        let answer = forward(
            env,
            &account_id,
            &ObjectRequest::AcceptInvitation(acceptance),
        )
        .await?
        .map_err(|_| Problem::unavailable())?;
        if answer.status_code() != 403 {
            return Ok(Ok(answer));
        }
        Ok(answer)
    } else {
        Err(Problem::from(&invalid))
    };
    // The account's object answers 403 only for a code that is not valid.
    if let Some(wait) = guard::charge_acceptance(env, &client, invalid.code()).await {
        return Err(Problem::too_many_failures(wait));
    }
    answer.map(Ok)
}

/// The Management API is for people's tokens: automation keys only run builds.
async fn management_actor(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<(Principal, Actor), Problem> {
    let principal = authenticate(request, env, context).await?;
    match &principal.kind {
        PrincipalKind::User { user_id, key_id } => {
            let actor = Actor::via_token(user_id.clone(), key_id.clone());
            Ok((principal, actor))
        }
        PrincipalKind::AutomationKey { .. } => Err(problem::denied(
            portcullis_core::authz::Reason::AutomationKeyScope,
        )),
    }
}

async fn health(env: &Env) -> Result<worker::Result<Response>, Problem> {
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    let value = kv
        .get(HEALTH_KEY)
        .text()
        .await
        .map_err(|_| Problem::unavailable())?;
    Ok(http::json(
        200,
        &serde_json::json!({ "status": "ok", "kv": true, "marker": value.is_some() }),
    ))
}

#[derive(Serialize)]
struct SignedUpResponse<'a> {
    account_id: &'a AccountId,
    tenant_id: &'a portcullis_core::TenantId,
    owner_id: &'a portcullis_core::UserId,
    key_id: &'a portcullis_core::KeyId,
    /// `key_id:key_secret`, shown once.
    token: &'a str,
}

async fn sign_up(request: &mut Request, env: &Env) -> Result<worker::Result<Response>, Problem> {
    let expected = env
        .secret(SIGNUP_KEY_SECRET)
        .map_err(|_| Problem::unavailable())?
        .to_string();
    let presented = request
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let presented = presented.strip_prefix("Bearer ").unwrap_or_default().trim();
    let matches: bool = presented
        .as_bytes()
        .ct_eq(expected.trim().as_bytes())
        .into();
    if expected.trim().is_empty() || !matches {
        return Err(Problem::unauthorized(
            "invalid_signup_key",
            "sign-up needs the platform sign-up key as a Bearer credential",
        ));
    }
    let body = http::read_body(request).await?;
    let sign_up: SignUp = api::typed_body(&body)?;
    let key = http::hashing_key(env)?;
    let signed_up = Account::sign_up(
        sign_up,
        &mut Context {
            now: http::now(),
            random: &mut OsRandom,
            key: &key,
        },
    );
    let account_id = signed_up.account.id().clone();
    let init = ObjectRequest::Init {
        account: Box::new(signed_up.account),
    };
    let stored = forward(env, &account_id, &init).await?;
    let stored = stored.map_err(|_| Problem::unavailable())?;
    if stored.status_code() != 204 {
        return Err(Problem::unavailable());
    }
    Ok(http::json(
        201,
        &SignedUpResponse {
            account_id: &account_id,
            tenant_id: &signed_up.tenant_id,
            owner_id: &signed_up.owner_id,
            key_id: &signed_up.token.key_id,
            token: signed_up.token.secret.expose(),
        },
    ))
}

/// Sends `message` to the account's Durable Object and returns its answer as is.
pub(crate) async fn forward(
    env: &Env,
    account: &AccountId,
    message: &ObjectRequest,
) -> Result<worker::Result<Response>, Problem> {
    let namespace = env
        .durable_object(ACCOUNTS_BINDING)
        .map_err(|_| Problem::unavailable())?;
    let stub = namespace
        .get_by_name(&account_object_name(account))
        .map_err(|_| Problem::unavailable())?;
    let body = serde_json::to_string(message).map_err(|_| Problem::unavailable())?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(wasm_bindgen::JsValue::from_str(&body)));
    let internal = Request::new_with_init("https://account.internal/", &init)
        .map_err(|_| Problem::unavailable())?;
    Ok(stub.fetch_with_request(internal).await)
}
