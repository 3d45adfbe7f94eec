//! HTTP plumbing shared by the edge script, the Management API and the Durable Object: bounded body reading,
//! JSON and problem responses, the worker's secrets and clock.

use crate::api::{BodyError, MAX_BODY_BYTES};
use crate::problem::{CONTENT_TYPE, Problem};
use futures_util::StreamExt as _;
use portcullis_core::secret::Secret;
use portcullis_core::{HashingKey, Timestamp};
use serde::Serialize;
use std::cell::RefCell;
use worker::{Env, Headers, Request, Response};

/// The KV namespace binding holding credential projections.
pub const KV_BINDING: &str = "CREDENTIALS";
/// The Durable Object namespace binding, one object per account.
pub const ACCOUNTS_BINDING: &str = "ACCOUNTS";
/// The edge script's service binding to the Management API script (wrangler.edge.toml).
#[cfg(not(feature = "api"))]
pub const API_BINDING: &str = "API";
/// The Worker secret holding the base64 HMAC key for secrets.
pub const HASHING_KEY_SECRET: &str = "PORTCULLIS_HASHING_KEY";
/// The optional Worker secret holding the hashing key the current one replaced, during a
/// rotation (README, "Rotating the hashing key").
pub const PREVIOUS_HASHING_KEY_SECRET: &str = "PORTCULLIS_HASHING_KEY_PREVIOUS";
/// The Worker secret holding the platform sign-up key.
#[cfg(feature = "api")]
pub const SIGNUP_KEY_SECRET: &str = "PORTCULLIS_SIGNUP_KEY";
/// The Worker secret holding the base64 key that signs the gateway's identity headers.
pub const GATEWAY_KEY_SECRET: &str = "PORTCULLIS_GATEWAY_KEY";
/// The Worker variable naming the protected origin (empty or absent: no gateway).
pub const ORIGIN_VAR: &str = "PORTCULLIS_ORIGIN";
/// The rate limiter counting failed verifications per client.
pub const FAILURES_BY_CLIENT_BINDING: &str = "FAILED_AUTH_BY_CLIENT";
/// The rate limiter counting failed verifications per presented key id.
pub const FAILURES_BY_KEY_BINDING: &str = "FAILED_AUTH_BY_KEY";

/// The Worker variable setting the first webhook retry delay in milliseconds (default 1000).
#[cfg(feature = "api")]
pub const RETRY_BASE_VAR: &str = "PORTCULLIS_WEBHOOK_RETRY_BASE_MS";
/// The Worker variable setting how long a webhook receiver may take to answer, in milliseconds
/// (default 10000); a receiver that has not answered by then counts as a failed attempt.
#[cfg(feature = "api")]
pub const WEBHOOK_TIMEOUT_VAR: &str = "PORTCULLIS_WEBHOOK_TIMEOUT_MS";
/// The Worker variable setting how often, at most, an isolate reports one credential's use and
/// request counts, in seconds (default: the core's `REPORT_INTERVAL_SECONDS`, 60); the test
/// suite sets 1 so counts show without waiting a minute.
pub const USAGE_REPORT_VAR: &str = "PORTCULLIS_USAGE_REPORT_SECONDS";

/// [`USAGE_REPORT_VAR`], or the core's interval when absent or not a positive number.
pub fn usage_report_seconds(env: &Env) -> u64 {
    env.var(USAGE_REPORT_VAR)
        .ok()
        .and_then(|value| value.to_string().parse::<u64>().ok())
        .filter(|seconds| *seconds > 0)
        .unwrap_or(portcullis_core::gateway::usage::REPORT_INTERVAL_SECONDS)
}

/// The webhook answer timeout when the variable is absent or not a positive number.
#[cfg(feature = "api")]
pub const WEBHOOK_TIMEOUT_DEFAULT_MS: u64 = 10_000;

/// The request's method as sent: workers-rs reads a method it does not know as GET, so the raw
/// name is matched here (`PROPFIND /v1/users` must not be served as a read).
pub fn method(request: &Request) -> crate::api::Method {
    crate::api::Method::from_name(&request.inner().method())
}

/// What an outgoing request sends besides its method and URL.
#[derive(Default)]
pub struct Outgoing<'a> {
    /// Its headers (none when absent).
    pub headers: Option<&'a Headers>,
    /// Its body: a string or a stream.
    pub body: Option<&'a worker::wasm_bindgen::JsValue>,
    /// A redirect is answered as it is instead of followed.
    pub manual_redirect: bool,
}

/// A request to send with [`worker::Fetch`], made from the platform's own `RequestInit`:
/// workers-rs's `RequestInit` also carries Cloudflare's cache, image and Polish options, and
/// its conversion kept about 11 KB of code and strings in every script although no request
/// here sets one of them.
pub fn outgoing(method: &str, url: &str, parts: &Outgoing<'_>) -> worker::Result<Request> {
    use worker::web_sys;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(headers) = parts.headers {
        init.set_headers(&headers.0);
    }
    if let Some(body) = parts.body {
        init.set_body(body);
    }
    if parts.manual_redirect {
        init.set_redirect(web_sys::RequestRedirect::Manual);
    }
    web_sys::Request::new_with_str_and_init(url, &init)
        .map(Request::from)
        .map_err(|_| worker::Error::RustError("invalid URL or options for a request".into()))
}

/// Now, in Unix milliseconds.
#[cfg(feature = "api")]
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// Now, from the runtime's clock.
pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(worker::Date::now().as_millis() / 1000)
}

thread_local! {
    /// The hashing key last made from the secrets' texts (current, previous): keying the HMAC
    /// states costs two SHA-256 compressions per key, so it is done when the texts change, not
    /// on every verification.
    static HASHING_KEY: RefCell<Option<(Secret, Secret, HashingKey)>> = const { RefCell::new(None) };
}

/// The HMAC key, from the Worker secret, with the previous key when one is set (a rotation).
/// A missing or short key, or a previous key that is set but not a key, is a deployment
/// error: 503.
pub fn hashing_key(env: &Env) -> Result<HashingKey, Problem> {
    let text = |name: &str| {
        env.secret(name)
            .ok()
            .map(|secret| Secret::new(secret.to_string().trim().to_owned()))
    };
    let current = text(HASHING_KEY_SECRET).ok_or_else(Problem::unavailable)?;
    let previous = text(PREVIOUS_HASHING_KEY_SECRET).unwrap_or_else(|| Secret::new(String::new()));
    let cached = HASHING_KEY.with_borrow(|cache| {
        cache
            .as_ref()
            .filter(|(now, before, _)| *now == current && *before == previous)
            .map(|(_, _, key)| key.clone())
    });
    if let Some(key) = cached {
        return Ok(key);
    }
    let mut key = HashingKey::from_base64(current.expose()).map_err(|_| Problem::unavailable())?;
    if !previous.expose().is_empty() {
        match HashingKey::from_base64(previous.expose()) {
            Ok(previous) => key = key.with_previous(&previous),
            Err(error) => {
                worker::console_error!("{PREVIOUS_HASHING_KEY_SECRET}: {error}");
                return Err(Problem::unavailable());
            }
        }
    }
    HASHING_KEY.with_borrow_mut(|cache| *cache = Some((current, previous, key.clone())));
    Ok(key)
}

/// The gateway's identity-signing key, from its Worker secret (503 when missing or short).
pub fn gateway_key(env: &Env) -> Result<HashingKey, Problem> {
    key_secret(env, GATEWAY_KEY_SECRET)
}

fn key_secret(env: &Env, name: &str) -> Result<HashingKey, Problem> {
    let secret = env.secret(name).map_err(|_| Problem::unavailable())?;
    HashingKey::from_base64(secret.to_string().trim()).map_err(|_| Problem::unavailable())
}

/// Reads a request body of at most [`MAX_BODY_BYTES`], refusing larger ones without buffering
/// them, and bodies that are not JSON (415).
pub async fn read_body(request: &mut Request) -> Result<Vec<u8>, Problem> {
    let json = |media_type: &str| media_type == "application/json" || media_type.ends_with("+json");
    read_typed(
        request,
        MAX_BODY_BYTES,
        json,
        "request bodies must be `application/json`",
    )
    .await
}

/// Reads an HTML form post (`application/x-www-form-urlencoded`) of at most `max` bytes.
#[cfg(feature = "api")]
pub async fn read_form(request: &mut Request, max: usize) -> Result<Vec<u8>, Problem> {
    let form = |media_type: &str| media_type == "application/x-www-form-urlencoded";
    let refusal = "this request body must be `application/x-www-form-urlencoded`";
    read_typed(request, max, form, refusal).await
}

/// A body of at most `max` bytes whose media type `accepted` takes (a non-empty body of another
/// type is refused with 415 and `refusal`).
async fn read_typed(
    request: &mut Request,
    max: usize,
    accepted: impl Fn(&str) -> bool,
    refusal: &'static str,
) -> Result<Vec<u8>, Problem> {
    let headers = request.headers();
    let declared = headers
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(BodyError::TooLarge.into());
    }
    let content_type = headers
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut body = Vec::new();
    if let Ok(mut stream) = request.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                Problem::new(400, "invalid_body", "the request body could not be read")
            })?;
            if body.len() + chunk.len() > max {
                return Err(BodyError::TooLarge.into());
            }
            body.extend_from_slice(&chunk);
        }
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !body.is_empty() && !accepted(&media_type) {
        return Err(Problem::new(415, "unsupported_media_type", refusal));
    }
    Ok(body)
}

fn base_headers(content_type: &str) -> worker::Result<Headers> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    // Bodies may carry a secret shown once: never cache them anywhere.
    headers.set("cache-control", "no-store")?;
    headers.set("x-content-type-options", "nosniff")?;
    Ok(headers)
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, value: &T) -> worker::Result<Response> {
    let body = serde_json::to_string(value)
        .map_err(|error| worker::Error::RustError(error.to_string()))?;
    raw_json(status, body)
}

/// A response with a JSON body already rendered.
pub fn raw_json(status: u16, body: String) -> worker::Result<Response> {
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(base_headers("application/json")?))
}

/// A problem response, with `WWW-Authenticate` on 401 and `Allow` on 405.
pub fn problem(problem: &Problem) -> worker::Result<Response> {
    let headers = base_headers(CONTENT_TYPE)?;
    if problem.status == 401 {
        headers.set(
            "www-authenticate",
            &format!(
                "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
                problem.code
            ),
        )?;
    }
    if let Some(allow) = &problem.allow {
        headers.set("allow", allow)?;
    }
    if let Some(seconds) = problem.retry_after {
        headers.set("retry-after", &seconds.to_string())?;
    }
    Ok(Response::ok(problem.body())?
        .with_status(problem.status)
        .with_headers(headers))
}
