//! The gateway in front of the protected origin: every path outside `/v1` when
//! `PORTCULLIS_ORIGIN` is set.
//!
//! The route policy (`policy/gateway.json`, see [`crate::route_policy`]) decides: unknown
//! routes are refused (404/405) and never reach the origin; public routes are forwarded as
//! they are; a protected route's credential is verified (one KV read, [`crate::authn`]'s
//! `authenticate`) and authorized for the route's operation by the core, then the request is
//! forwarded with the credential removed and the signed identity headers of
//! `portcullis_core::gateway::identity` added. Which inbound headers pass is the core's
//! `gateway::forward::forwards_header`: `portcullis-*` headers (also spelled with `_`, in any
//! case) are always dropped, so a caller can never pass identity headers of its own to the
//! origin. The method is read as sent, never through `worker::Method` (which reads every
//! method it does not know as `GET`).

use crate::authn::authenticate;
use crate::http::{self, Outgoing};
use crate::problem::{self, Problem};
use crate::route_policy;
use crate::target::Target;
use portcullis_core::gateway::forward::forwards_header;
use portcullis_core::gateway::identity::{Identity, header, new_request_id};
use portcullis_core::gateway::{Access, RouteMatch};
use portcullis_core::random::OsRandom;
use worker::{Context, Env, Fetch, Headers, Request, Response};

/// Serves one request in either script: nothing without a valid product model in force; a path
/// outside `/v1` goes to the gateway when an origin is configured, everything else to `rest`
/// (with the request's URL, read from the runtime once per request). Every failure becomes a
/// problem response.
pub async fn serve(
    request: Request,
    env: Env,
    context: Context,
    rest: impl AsyncFnOnce(Request, &str, &Env, &Context) -> Result<Response, Problem>,
) -> worker::Result<Response> {
    if !route_policy::install() {
        return http::problem(&Problem::unavailable());
    }
    let url = request.inner().url();
    let outcome = match origin_for(&url, &env) {
        Some(origin) => handle(request, &url, &env, &context, &origin).await,
        None => rest(request, &url, &env, &context).await,
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(problem) => http::problem(&problem),
    }
}

/// The origin a request goes to through the gateway: every path outside `/v1` when
/// `PORTCULLIS_ORIGIN` is set; `None` for the API's paths, or when no gateway is configured.
fn origin_for(url: &str, env: &Env) -> Option<String> {
    let path = Target::of(url)?.path;
    if path == "/v1" || path.starts_with("/v1/") {
        return None;
    }
    let origin = env.var(http::ORIGIN_VAR).ok()?.to_string();
    let origin = origin.trim();
    (!origin.is_empty()).then(|| origin.to_owned())
}

/// Handles one gateway request (`url` is the request's URL).
async fn handle(
    request: Request,
    url: &str,
    env: &Env,
    context: &Context,
    origin: &str,
) -> Result<Response, Problem> {
    let url =
        Target::of(url).ok_or_else(|| Problem::new(400, "invalid_url", "the URL is malformed"))?;
    let policy = route_policy::policy().map_err(|_| Problem::unavailable())?;
    // As sent: the core refuses any method outside the policy's catalogue, so only those
    // (upper-case GET, HEAD, POST...) go on.
    let method = request.inner().method();
    let route = match policy.find_request(&method, url.path) {
        RouteMatch::Matched { route, .. } => route,
        refused => return Err(Problem::from(&refused)),
    };
    // The origin may sit under a path prefix: sign the target exactly as the origin will
    // receive it.
    let destination = format!("{}{}", origin.trim_end_matches('/'), url.request_target());
    let target = Target::of(&destination)
        .ok_or_else(Problem::unavailable)?
        .request_target();
    let request_id = new_request_id(&mut OsRandom);
    let headers = forwarded_headers(&request)?;
    headers
        .set(header::REQUEST_ID, &request_id)
        .map_err(|_| Problem::unavailable())?;
    if let Access::Operation(operation) = route.access {
        let principal = authenticate(&request, env, context).await?;
        let model = route_policy::model().map_err(|_| Problem::unavailable())?;
        let decision = model.authorize(&principal, operation);
        if !decision.allow {
            return Err(problem::denied(decision.reason));
        }
        let key = http::gateway_key(env)?;
        let identity = Identity::new(&principal, operation, &request_id, http::now());
        for (name, value) in identity.headers() {
            headers
                .set(name, value)
                .map_err(|_| Problem::unavailable())?;
        }
        headers
            .set(header::SIGNATURE, &identity.sign(&key, &method, &target))
            .map_err(|_| Problem::unavailable())?;
    }
    send(
        &request,
        worker::Method::from(method),
        &destination,
        headers,
    )
    .await
}

/// The inbound headers the origin may see (the core's `forwards_header`).
fn forwarded_headers(request: &Request) -> Result<Headers, Problem> {
    let headers = Headers::new();
    for (name, value) in request.headers().entries() {
        if !forwards_header(&name) {
            continue;
        }
        headers
            .append(&name, &value)
            .map_err(|_| Problem::unavailable())?;
    }
    Ok(headers)
}

/// Forwards the request to `destination` with `method`, streaming its body, and answers the
/// origin's response as it is (redirects included: they are the client's to follow).
async fn send(
    request: &Request,
    method: worker::Method,
    destination: &str,
    headers: Headers,
) -> Result<Response, Problem> {
    let body = !matches!(method, worker::Method::Get | worker::Method::Head);
    let stream = if body {
        request.inner().body().map(wasm_bindgen::JsValue::from)
    } else {
        None
    };
    let outbound = http::outgoing(
        method.as_ref(),
        destination,
        &Outgoing {
            headers: Some(&headers),
            body: stream.as_ref(),
            manual_redirect: true,
        },
    )
    .map_err(|_| Problem::unavailable())?;
    Fetch::Request(outbound)
        .send()
        .await
        .map_err(|_| Problem::origin_unreachable())
}
