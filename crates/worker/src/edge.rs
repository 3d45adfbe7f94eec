//! The edge handler: every request enters here. Paths under `/v1` are the Management API: it
//! routes, verifies the presented credential against its one KV record (never calling a Durable
//! Object to do so), and forwards account reads and writes to the account's Durable Object.
//! Every other path belongs to the gateway in front of the protected origin ([`crate::gateway`])
//! when one is configured.

use crate::api::{self, Method, OwnRoute, Route};
use crate::guard;
use crate::http::{self, ACCOUNTS_BINDING, KV_BINDING, ORIGIN_VAR, SIGNUP_KEY_SECRET};
use crate::problem::{self, Problem};
use crate::protocol::{
    Acceptance, ObjectRequest, PasswordResetRequest, SessionAction, SignInRequest,
};
use portcullis_core::AccountId;
use portcullis_core::TenantId;
use portcullis_core::account::Refusal;
use portcullis_core::account::{Account, Actor, Context, SignUp};
use portcullis_core::authz::{Operation, Principal, PrincipalKind};
use portcullis_core::browser::{self, Presentation};
use portcullis_core::credential::{
    CredentialRecord, Presented, Rehash, Verification, verify_rehashing,
};
use portcullis_core::gateway::throttle::{SignInLimit, Subject};
use portcullis_core::random::OsRandom;
use portcullis_core::session::{self, AccessRecord, SessionRecord, SignedIn, TENANT_HEADER};
use portcullis_core::store::{
    access_key, account_key, account_object_name, credential_key, session_key,
};
use portcullis_core::terms::RateLimit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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
    // The product model is in force for everything; without a valid one nothing is served.
    if !crate::route_policy::install() {
        return http::problem(&Problem::unavailable());
    }
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
        Route::Model => http::json(200, &portcullis_core::model::current().to_document()),
        Route::Health => health(env).await?,
        Route::SignUp => sign_up(request, env).await?,
        Route::AcceptInvitation => accept_invitation(request, env).await?,
        Route::SignIn => sign_in(request, env).await?,
        Route::ResetPassword => reset_password(request, env).await?,
        Route::SsoStart => crate::sso::start(request, env).await?,
        Route::SsoCallback => crate::sso::callback(request, env).await?,
        Route::SamlAcs => crate::sso::saml_acs(request, env).await?,
        Route::Own(own) => own_route(request, env, context, own).await?,
        Route::Whoami => match authenticate_caller(request, env, context).await? {
            Caller::Credential(principal) => http::json(200, &principal),
            Caller::Session(signed_in) => {
                let key = http::hashing_key(env)?;
                http::json(200, &SessionWhoami::new(&signed_in, &key))
            }
        },
        Route::Authorize => {
            let principal = authenticate(request, env, context).await?;
            let body = http::read_body(request).await?;
            let asked: AuthorizeRequest = api::typed_body(&body)?;
            let operation: Operation = asked.operation.parse().map_err(
                |error: portcullis_core::authz::UnknownOperation| {
                    Problem::new(400, "unknown_operation", error.to_string())
                },
            )?;
            let model = crate::route_policy::model().map_err(|_| Problem::unavailable())?;
            let decision = model.authorize(&principal, operation);
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
            let (account_id, actor) = management_actor(request, env, context).await?;
            let answer = forward(env, &account_id, &ObjectRequest::Query { actor, query }).await?;
            crate::sso::with_service_provider(answer, &url, &account_id).await?
        }
        Route::AcknowledgeNotifications => {
            let (account_id, actor) = management_actor(request, env, context).await?;
            let body = http::read_body(request).await?;
            let acknowledgement = api::typed_body(&body)?;
            forward(
                env,
                &account_id,
                &ObjectRequest::AcknowledgeNotifications {
                    actor,
                    acknowledgement,
                },
            )
            .await?
        }
        Route::Write { command, fields } => {
            let (account_id, actor) = management_actor(request, env, context).await?;
            let body = http::read_body(request).await?;
            let command = api::command(command, &fields, &body)?;
            let answer =
                forward(env, &account_id, &ObjectRequest::Command { actor, command }).await?;
            crate::sso::with_service_provider(answer, &url, &account_id).await?
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
    operation: String,
    reason: &'static str,
    detail: String,
    principal: Principal,
}

/// A verified caller.
pub(crate) enum Caller {
    /// A token or an automation key, acting in its own tenant.
    Credential(Principal),
    /// A signed-in person, acting in any tenant they belong to.
    Session(SignedIn),
}

pub(crate) fn header(request: &Request, name: &str) -> Option<String> {
    request.headers().get(name).ok().flatten()
}

/// Verifies the request's credential: `Authorization` (a token, an automation key or a
/// session) or else the session cookie (see `portcullis_core::browser`). Tokens need one KV
/// read, sessions two; neither calls a Durable Object.
pub(crate) async fn authenticate_caller(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<Caller, Problem> {
    let authorization = header(request, "authorization");
    let cookie = header(request, "cookie");
    match browser::presentation(authorization.as_deref(), cookie.as_deref()) {
        Presentation::Nothing => Err(Problem::unauthorized(
            "missing_credentials",
            "send `Authorization: Bearer <credential>` (or sign in for a session cookie)",
        )),
        Presentation::Header(value) if session::presents_session(value) => {
            verify_session_caller(request, env, context, value, false)
                .await
                .map(Caller::Session)
        }
        Presentation::Header(value) => authenticate_token(request, env, context, value)
            .await
            .map(Caller::Credential),
        Presentation::Cookie(value) => verify_session_caller(request, env, context, value, true)
            .await
            .map(Caller::Session),
    }
}

/// The caller acting in one tenant: a token's own, or a session's in the tenant the
/// `Portcullis-Tenant` header names (the gateway and `POST /v1/authorize`).
pub(crate) async fn authenticate(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<Principal, Problem> {
    match authenticate_caller(request, env, context).await? {
        Caller::Credential(principal) => Ok(principal),
        Caller::Session(signed_in) => {
            let tenant = header(request, TENANT_HEADER).ok_or_else(|| {
                Problem::new(
                    400,
                    "tenant_required",
                    "a session acts in one tenant at a time: name it in the `Portcullis-Tenant` header",
                )
            })?;
            let tenant: TenantId = tenant.trim().parse().map_err(|_| {
                Problem::from(&portcullis_core::session::SessionVerification::NotMember)
            })?;
            signed_in
                .in_tenant(&tenant)
                .map_err(|refused| Problem::from(&refused))
        }
    }
}

/// A token or automation key, with one KV read. A client or key id blocked for failing too
/// often is refused (429) before anything is verified; a failure is charged to the rate
/// limiters; a success is reported for last-used times after the response.
async fn authenticate_token(
    request: &Request,
    env: &Env,
    context: &worker::Context,
    header: &str,
) -> Result<Principal, Problem> {
    let client = guard::client(request);
    let presented = Presented::from_authorization_header(header);
    let key_id = presented.as_ref().ok().map(Presented::key_id);
    if let Some(wait) = guard::blocked(&client, key_id) {
        return Err(Problem::too_many_failures(wait));
    }
    let mut rate_limit = None;
    let verification = match &presented {
        Ok(presented) => {
            let checked = verify(presented, env, guard::client_address(request)).await?;
            if let Some((account, rehash)) = checked.rehash {
                guard::report_rehash(env, context, &account, rehash);
            }
            rate_limit = checked.rate_limit;
            checked.verification
        }
        Err(malformed) => Verification::Malformed(*malformed),
    };
    match verification {
        Verification::Valid(principal) => {
            if let (Some(limit), Some(key_id)) = (rate_limit, key_id)
                && !guard::within_rate_limit(env, key_id, limit).await
            {
                return Err(Problem::rate_limited(limit));
            }
            guard::report_use(env, context, &principal);
            Ok(principal)
        }
        refused => match guard::charge(env, &client, key_id, &refused).await {
            Some(wait) => Err(Problem::too_many_failures(wait)),
            None => Err(Problem::from(&refused)),
        },
    }
}

/// A record from KV, read as text and parsed here: KV's `.json()` would parse in JavaScript,
/// where numbers beyond 2^53 lose precision before the engine sees them.
async fn read_record<T: serde::de::DeserializeOwned>(
    env: &Env,
    key: &str,
) -> Result<Option<T>, Problem> {
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    let text = kv
        .get(key)
        .text()
        .await
        .map_err(|_| Problem::unavailable())?;
    // Stored data: a permission the model lacks (a record written before the model changed)
    // is not granted, a plan it lacks reads as its first plan.
    text.map(|text| portcullis_core::model::resolving_stored(|| serde_json::from_str(&text)).0)
        .transpose()
        .map_err(|_| Problem::unavailable())
}

/// What the edge learns from verifying a presented credential against its KV record.
struct Checked {
    verification: Verification,
    /// The re-hash to ask the record's account for: the secret matched under the previous
    /// hashing key.
    rehash: Option<(AccountId, Rehash)>,
    /// The record's rate limit, enforced when the verification is valid.
    rate_limit: Option<RateLimit>,
}

async fn verify(
    presented: &Presented,
    env: &Env,
    client: Option<std::net::IpAddr>,
) -> Result<Checked, Problem> {
    let record: Option<CredentialRecord> =
        read_record(env, &credential_key(presented.key_id())).await?;
    let key = http::hashing_key(env)?;
    let (verification, rehash) =
        verify_rehashing(presented, record.as_ref(), &key, http::now(), client);
    let rate_limit = record.as_ref().and_then(|record| record.rate_limit);
    let rehash = rehash
        .zip(record.map(|record| record.account_id))
        .map(|(rehash, account)| (account, rehash));
    Ok(Checked {
        verification,
        rehash,
        rate_limit,
    })
}

/// A session, with two KV reads (its record, then its user's access record), throttled like
/// tokens. Through the cookie, a request that changes state must also carry the session's CSRF
/// token (403 `csrf_token_invalid` otherwise); a bearer session needs none.
async fn verify_session_caller(
    request: &Request,
    env: &Env,
    context: &worker::Context,
    presented: &str,
    via_cookie: bool,
) -> Result<SignedIn, Problem> {
    let client = guard::client(request);
    let session_id = session::lookup_session(presented).ok();
    if let Some(wait) = guard::session_blocked(&client, session_id.as_ref()) {
        return Err(Problem::too_many_failures(wait));
    }
    let key = http::hashing_key(env)?;
    let (record, access) = match &session_id {
        Some(id) => {
            let record: Option<SessionRecord> = read_record(env, &session_key(id)).await?;
            let access: Option<AccessRecord> = match &record {
                Some(record) => {
                    read_record(env, &access_key(&record.account_id, &record.user_id)).await?
                }
                None => None,
            };
            (record, access)
        }
        None => (None, None),
    };
    let verified = session::verify_signed_in(
        presented,
        record.as_ref(),
        access.as_ref(),
        &key,
        http::now(),
    );
    match verified {
        Ok(signed_in) => {
            let token = header(request, browser::CSRF_HEADER);
            let method = request.inner().method();
            if !browser::csrf_satisfied(
                &key,
                &signed_in.session_id,
                via_cookie,
                &method,
                token.as_deref(),
            ) {
                return Err(Problem::new(
                    403,
                    "csrf_token_invalid",
                    "a request that changes state with the session cookie must carry the \
                     session's CSRF token in the `Portcullis-CSRF` header",
                ));
            }
            guard::report_session_seen(env, context, &signed_in.account_id, &signed_in.session_id);
            Ok(signed_in)
        }
        Err(refused) => {
            match guard::charge_session(env, &client, session_id.as_ref(), &refused).await {
                Some(wait) => Err(Problem::too_many_failures(wait)),
                None => Err(Problem::from(&refused)),
            }
        }
    }
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

/// Whether the account exists: its marker in KV, written when it was created. Requests that no
/// credential authenticates check it first, so ids that were never issued create no object.
pub(crate) async fn account_known(env: &Env, account_id: &AccountId) -> Result<bool, Problem> {
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    Ok(kv
        .get(&account_key(account_id))
        .text()
        .await
        .map_err(|_| Problem::unavailable())?
        .is_some())
}

/// `POST /v1/sessions`: email and password to a session. Every failure is the one 401
/// `sign_in_failed` after the same work (an unknown account is checked against the dummy
/// hash here, as the engine does for an unknown email), charged to the client and to the
/// account's email; either blocked answers 429 before anything is checked.
async fn sign_in(request: &mut Request, env: &Env) -> Result<worker::Result<Response>, Problem> {
    let client = guard::client(request);
    let body = http::read_body(request).await?;
    let sign_in: SignInRequest = api::typed_body(&body)?;
    let account_id = sign_in.account_id.clone();
    let email = sign_in.email.clone();
    if let Some(wait) = guard::sign_in_blocked(&client, &account_id, &email) {
        return Err(Problem::too_many_failures(wait));
    }
    let cookie = sign_in.cookie;
    let known = account_known(env, &account_id).await?;
    if known {
        let message = ObjectRequest::SignIn {
            request: sign_in,
            user_agent: header(request, "user-agent"),
        };
        let answer = forward(env, &account_id, &message)
            .await?
            .map_err(|_| Problem::unavailable())?;
        match answer.status_code() {
            201 => return session_answer(answer, cookie).await,
            401 => {}
            _ => return Ok(Ok(answer)),
        }
    } else {
        let key = http::hashing_key(env)?;
        let _ = portcullis_core::password::verify(&sign_in.password.0, None, &key);
    }
    if let Some((wait, limits)) = guard::charge_sign_in(env, &client, &account_id, &email).await {
        if known {
            record_sign_in_throttled(env, &account_id, email, limits, &client).await;
        }
        return Err(Problem::too_many_failures(wait));
    }
    Err(Problem::from(&Refusal::SignInFailed))
}

/// Records in the account's audit log that its sign-in limiter just tripped for `email`: best
/// effort (the caller is refused either way). Called only for an account that exists, so no
/// object comes into being for guessed ids.
async fn record_sign_in_throttled(
    env: &Env,
    account_id: &AccountId,
    email: String,
    limits: BTreeSet<SignInLimit>,
    client: &Subject,
) {
    let Subject::Client(address) = client else {
        return;
    };
    let message = ObjectRequest::RecordSignInThrottled {
        email,
        limits,
        client: address.clone(),
        at: http::now(),
    };
    match forward(env, account_id, &message).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => worker::console_warn!("sign-in throttling not recorded: {error}"),
        Err(problem) => worker::console_warn!("sign-in throttling not recorded: {}", problem.code),
    }
}

/// A signed-in answer as the caller asked for it: as it is, or with the session moved out of
/// the body into the `HttpOnly` session cookie (`portcullis_core::browser`).
pub(crate) async fn session_answer(
    mut answer: Response,
    cookie: bool,
) -> Result<worker::Result<Response>, Problem> {
    if !cookie {
        return Ok(Ok(answer));
    }
    let status = answer.status_code();
    let text = answer.text().await.map_err(|_| Problem::unavailable())?;
    let mut body: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| Problem::unavailable())?;
    let map = body.as_object_mut().ok_or_else(Problem::unavailable)?;
    let session = map
        .remove("session")
        .and_then(|value| value.as_str().map(str::to_owned))
        .ok_or_else(Problem::unavailable)?;
    let ends: portcullis_core::Timestamp = map
        .get("absolute_expires_at")
        .cloned()
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(Problem::unavailable)?;
    map.insert("cookie".into(), serde_json::Value::Bool(true));
    let max_age = ends
        .unix_seconds()
        .saturating_sub(http::now().unix_seconds());
    let response = http::json(status, &body).map_err(|_| Problem::unavailable())?;
    let headers = response.headers().clone();
    headers
        .set("set-cookie", &browser::set_cookie(&session, max_age))
        .map_err(|_| Problem::unavailable())?;
    Ok(Ok(response.with_headers(headers)))
}

/// The caller's own sessions and password.
async fn own_route(
    request: &mut Request,
    env: &Env,
    context: &worker::Context,
    own: OwnRoute,
) -> Result<worker::Result<Response>, Problem> {
    let (account_id, actor) = management_actor(request, env, context).await?;
    let ends_current = match &own {
        OwnRoute::SignOutEverywhere => true,
        OwnRoute::SignOut(id) => actor.session.as_ref() == Some(id),
        _ => false,
    };
    let action = match own {
        OwnRoute::ListSessions => SessionAction::List,
        OwnRoute::SignOut(session_id) => SessionAction::SignOut { session_id },
        OwnRoute::SignOutEverywhere => SessionAction::SignOutEverywhere,
        OwnRoute::ChangePassword => {
            SessionAction::ChangePassword(api::typed_body(&http::read_body(request).await?)?)
        }
        OwnRoute::ConfigureLifetimes => {
            SessionAction::ConfigureLifetimes(api::typed_body(&http::read_body(request).await?)?)
        }
    };
    let answer = forward(env, &account_id, &ObjectRequest::Sessions { actor, action })
        .await?
        .map_err(|_| Problem::unavailable())?;
    if ends_current && answer.status_code() == 200 {
        // The session in use ended: a browser forgets its cookie.
        let headers = answer.headers().clone();
        headers
            .set("set-cookie", &browser::clear_cookie())
            .map_err(|_| Problem::unavailable())?;
        return Ok(Ok(answer.with_headers(headers)));
    }
    Ok(Ok(answer))
}

/// `POST /v1/invitations/accept`, which no credential authenticates: a client that keeps
/// presenting codes that are not valid is throttled like failed verifications, and an account
/// id that was never issued (no account marker in KV) is refused with the same answer as a
/// wrong code before any Durable Object is touched, so such requests create no object.
async fn accept_invitation(
    request: &mut Request,
    env: &Env,
) -> Result<worker::Result<Response>, Problem> {
    redeem(
        request,
        env,
        Refusal::InvitationInvalid,
        |body, user_agent| {
            let acceptance: Acceptance = api::typed_body(body)?;
            let cookie = acceptance.cookie && acceptance.password.is_some();
            Ok((
                acceptance.account_id.clone(),
                cookie,
                ObjectRequest::AcceptInvitation {
                    acceptance,
                    user_agent,
                },
            ))
        },
    )
    .await
}

/// `POST /v1/password-reset`: a reset code and a new password, treated like an invitation
/// acceptance (throttled per client, unknown accounts refused before any object).
async fn reset_password(
    request: &mut Request,
    env: &Env,
) -> Result<worker::Result<Response>, Problem> {
    redeem(
        request,
        env,
        Refusal::PasswordResetInvalid,
        |body, user_agent| {
            let reset: PasswordResetRequest = api::typed_body(body)?;
            Ok((
                reset.account_id.clone(),
                reset.cookie,
                ObjectRequest::ResetPassword {
                    request: reset,
                    user_agent,
                },
            ))
        },
    )
    .await
}

/// Redeems a one-time code (an invitation or a password reset) that no credential
/// authenticates: a client that keeps presenting codes that are not valid is throttled like
/// failed verifications, and an account id that was never issued (no account marker in KV) is
/// refused with the same answer as a wrong code (`invalid`) before any Durable Object is
/// touched, so such requests create no object. `parse` turns the body into the account, whether
/// a resulting session goes into the cookie, and the message for the account's object.
async fn redeem(
    request: &mut Request,
    env: &Env,
    invalid: Refusal,
    parse: impl FnOnce(&[u8], Option<String>) -> Result<(AccountId, bool, ObjectRequest), Problem>,
) -> Result<worker::Result<Response>, Problem> {
    let client = guard::client(request);
    if let Some(wait) = guard::blocked(&client, None) {
        return Err(Problem::too_many_failures(wait));
    }
    let body = http::read_body(request).await?;
    let (account_id, cookie, message) = parse(&body, header(request, "user-agent"))?;
    let answer = if account_known(env, &account_id).await? {
        let answer = forward(env, &account_id, &message)
            .await?
            .map_err(|_| Problem::unavailable())?;
        if answer.status_code() == 200 {
            return session_answer(answer, cookie).await;
        }
        // The account's object answers 403 only for a code that is not valid.
        if answer.status_code() != 403 {
            return Ok(Ok(answer));
        }
        Ok(answer)
    } else {
        Err(Problem::from(&invalid))
    };
    if let Some(wait) = guard::charge_acceptance(env, &client, invalid.code()).await {
        return Err(Problem::too_many_failures(wait));
    }
    answer.map(Ok)
}

/// The Management API is for people (their tokens and sessions): automation keys only run
/// builds. The account the caller belongs to, and the actor to run as.
async fn management_actor(
    request: &Request,
    env: &Env,
    context: &worker::Context,
) -> Result<(AccountId, Actor), Problem> {
    match authenticate_caller(request, env, context).await? {
        Caller::Credential(principal) => match principal.kind {
            PrincipalKind::User { user_id, key_id } => {
                Ok((principal.account_id, Actor::via_token(user_id, key_id)))
            }
            PrincipalKind::Session {
                user_id,
                session_id,
            } => Ok((
                principal.account_id,
                Actor::via_session(user_id, session_id),
            )),
            PrincipalKind::AutomationKey { .. } => Err(problem::denied(
                portcullis_core::authz::Reason::AutomationKeyScope,
            )),
        },
        Caller::Session(signed_in) => Ok((
            signed_in.account_id,
            Actor::via_session(signed_in.user_id, signed_in.session_id),
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
