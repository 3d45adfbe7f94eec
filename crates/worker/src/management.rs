//! The Management API script: paths under `/v1`. It routes, verifies the presented credential
//! against its KV records ([`crate::authn`], never calling a Durable Object to do so), and
//! forwards account reads and writes to the account's Durable Object ([`crate::object`]). In a
//! deployment the edge script (`edge`, built without this feature) sits in front and calls it through a service
//! binding for everything but the gateway and the verification routes; called directly, it
//! serves those too (every other path belongs to the gateway when an origin is configured).

use crate::api::{self, OwnRoute, Route};
use crate::authn::{Caller, authenticate_caller, forward, header};
use crate::guard;
use crate::http::{self, KV_BINDING, SIGNUP_KEY_SECRET};
use crate::problem::{self, Problem};
use crate::protocol::{
    Acceptance, ObjectRequest, PasswordResetRequest, SessionAction, SignInRequest,
};
use portcullis_core::AccountId;
use portcullis_core::account::Refusal;
use portcullis_core::account::{Account, Actor, Context, SignUp};
use portcullis_core::authz::PrincipalKind;
use portcullis_core::browser::{self};
use portcullis_core::gateway::throttle::{SignInLimit, Subject};
use portcullis_core::random::OsRandom;
use portcullis_core::store::account_key;
use serde::Serialize;
use std::collections::BTreeSet;
use subtle::ConstantTimeEq as _;
use worker::{Env, Request, Response};

/// The OpenAPI document of this API, kept in the repository next to the crate.
const OPENAPI: &str = include_str!("../openapi.json");

/// The KV key the health route reads (its value does not matter).
const HEALTH_KEY: &str = "health:v1";

/// Handles one request; every failure becomes a problem response.
pub async fn handle(
    request: Request,
    env: Env,
    context: worker::Context,
) -> worker::Result<Response> {
    crate::gateway::serve(
        request,
        env,
        context,
        async |mut request, url, env, context| dispatch(&mut request, url, env, context).await,
    )
    .await
}

async fn dispatch(
    request: &mut Request,
    url: &str,
    env: &Env,
    context: &worker::Context,
) -> Result<Response, Problem> {
    let url = worker::Url::parse(url)
        .map_err(|_| Problem::new(400, "invalid_url", "the URL is malformed"))?;
    let route = api::route(
        http::method(request),
        url.path(),
        url.query().unwrap_or_default(),
    )?;
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
        Route::Whoami => crate::verify_routes::whoami(request, env, context).await?,
        Route::Authorize => crate::verify_routes::authorize(request, env, context).await?,
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
