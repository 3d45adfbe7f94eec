//! The edge script: every public request enters here. It answers what needs no Durable Object
//! itself — the gateway in front of the protected origin ([`crate::gateway`]) and the
//! verification routes `GET /v1/whoami` and `POST /v1/authorize` ([`crate::verify_routes`]),
//! each verified against KV alone — and hands every other `/v1` request, unchanged, to the
//! Management API script through the `API` service binding. So the script on the hot path
//! carries no account engine, no SSO stack and no OpenAPI document (docs/PERFORMANCE.md,
//! "Edge and Management API scripts").

use crate::api::{self, Route};
use crate::http::{self, API_BINDING};
use crate::problem::Problem;
use crate::target::Target;
use worker::{Env, Request, Response};

/// Handles one request; every failure becomes a problem response.
pub async fn handle(
    request: Request,
    env: Env,
    context: worker::Context,
) -> worker::Result<Response> {
    crate::gateway::serve(request, env, context, dispatch).await
}

/// A request that is not the gateway's: a verification route here, anything else to the
/// Management API script.
async fn dispatch(
    mut request: Request,
    url: &str,
    env: &Env,
    context: &worker::Context,
) -> Result<Response, Problem> {
    match verification_route(&request, url) {
        Some(Route::Whoami) => crate::verify_routes::whoami(&request, env, context)
            .await
            .and_then(answered),
        Some(Route::Authorize) => crate::verify_routes::authorize(&mut request, env, context)
            .await
            .and_then(answered),
        _ => to_api(request, env).await,
    }
}

/// The route when the request is one of the verification routes the edge answers itself.
fn verification_route(request: &Request, url: &str) -> Option<Route> {
    api::verification_route(http::method(request), Target::of(url)?.path)
}

fn answered(reply: worker::Result<Response>) -> Result<Response, Problem> {
    reply.map_err(|_| Problem::unavailable())
}

/// The request as it came (method, URL, headers, streamed body) to the Management API script;
/// its answer goes back as it is.
async fn to_api(request: Request, env: &Env) -> Result<Response, Problem> {
    let api = env
        .service(API_BINDING)
        .map_err(|_| Problem::unavailable())?;
    api.fetch_request(request)
        .await
        .map_err(|_| Problem::unavailable())
}
