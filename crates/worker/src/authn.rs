//! Who is calling: the presented credential (a token, an automation key, or a session in the
//! `Authorization` header or the session cookie) verified against its KV records, never calling
//! a Durable Object to do so, with the throttling and use reports of [`crate::guard`] around it.
//! Both scripts use it: the edge for the gateway and the verification routes, the Management API
//! for everything else.

use crate::guard;
use crate::http::{self, ACCOUNTS_BINDING, KV_BINDING, Outgoing};
use crate::problem::Problem;
use portcullis_core::AccountId;
use portcullis_core::TenantId;
use portcullis_core::authz::Principal;
use portcullis_core::browser::{self, Presentation};
use portcullis_core::credential::{
    CredentialRecord, Presented, Rehash, Verification, verify_rehashing,
};
use portcullis_core::session::{self, AccessRecord, SessionRecord, SignedIn, TENANT_HEADER};
use portcullis_core::store::{access_key, account_object_name, credential_key, session_key};
use portcullis_core::terms::RateLimit;
use serde::Serialize;
use worker::{Env, Request, Response};

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
pub(crate) async fn read_record<T: serde::de::DeserializeOwned>(
    env: &Env,
    key: &str,
) -> Result<Option<T>, Problem> {
    let text = read_text(env, key).await?;
    // Stored data: a permission the model lacks (a record written before the model changed)
    // is not granted, a plan it lacks reads as its first plan.
    text.map(|text| portcullis_core::model::resolving_stored(|| serde_json::from_str(&text)).0)
        .transpose()
        .map_err(|_| Problem::unavailable())
}

/// The KV value under `key`.
async fn kv_text(env: &Env, key: &str) -> Result<Option<String>, Problem> {
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    kv.get(key).text().await.map_err(|_| Problem::unavailable())
}

#[cfg(all(feature = "bench-fixed-record", feature = "api"))]
compile_error!("`bench-fixed-record` is for benchmarking the edge script only");

/// The KV value under `key`.
#[cfg(not(feature = "bench-fixed-record"))]
async fn read_text(env: &Env, key: &str) -> Result<Option<String>, Problem> {
    kv_text(env, key).await
}

#[cfg(feature = "bench-fixed-record")]
thread_local! {
    /// Benchmarks only: every value read, kept for the isolate's life.
    static FIXED: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> =
        std::cell::RefCell::default();
}

/// Benchmarks only: the KV value under `key` as first read in this isolate.
#[cfg(feature = "bench-fixed-record")]
async fn read_text(env: &Env, key: &str) -> Result<Option<String>, Problem> {
    if let Some(text) = FIXED.with_borrow(|fixed| fixed.get(key).cloned()) {
        return Ok(text);
    }
    let text = kv_text(env, key).await?;
    FIXED.with_borrow_mut(|fixed| fixed.insert(key.to_owned(), text.clone()));
    Ok(text)
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

/// Sends `message` to the account's Durable Object and returns its answer as is.
pub(crate) async fn forward<M: Serialize>(
    env: &Env,
    account: &AccountId,
    message: &M,
) -> Result<worker::Result<Response>, Problem> {
    let namespace = env
        .durable_object(ACCOUNTS_BINDING)
        .map_err(|_| Problem::unavailable())?;
    let stub = namespace
        .get_by_name(&account_object_name(account))
        .map_err(|_| Problem::unavailable())?;
    let body = serde_json::to_string(message).map_err(|_| Problem::unavailable())?;
    let body = wasm_bindgen::JsValue::from_str(&body);
    let internal = http::outgoing(
        "POST",
        "https://account.internal/",
        &Outgoing {
            body: Some(&body),
            ..Outgoing::default()
        },
    )
    .map_err(|_| Problem::unavailable())?;
    Ok(stub.fetch_with_request(internal).await)
}
