//! Portcullis edge worker: the Management API, credential verification and the gateway in
//! front of a protected origin, on Cloudflare Workers, as two scripts built from this crate.
//!
//! The Management API script (feature `api`, the default): [`api`] routes requests, `authn`
//! verifies presented credentials against their Workers KV records, and `management` forwards
//! account operations to the account's Durable Object (`object`), which applies them with the
//! core engine one at a time and projects credentials back to KV. The edge script
//! (`--no-default-features`, `edge`) answers the gateway and the verification routes from KV
//! alone and hands every other request to the Management API script through a service binding. Outside `/v1`, [`gateway`] checks requests against the
//! embedded [`route_policy`] and forwards allowed ones to the origin with signed identity
//! headers; [`guard`] throttles failed verifications and reports credential use. Errors become
//! RFC 9457 problems in [`problem`]. Every rule lives in the core.
#![warn(missing_docs)]

pub mod api;
pub mod problem;
pub mod protocol;
pub mod route_policy;
pub mod target;

#[cfg(target_arch = "wasm32")]
mod authn;
#[cfg(all(target_arch = "wasm32", not(feature = "api")))]
mod edge;
#[cfg(target_arch = "wasm32")]
mod gateway;
#[cfg(target_arch = "wasm32")]
mod guard;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(all(target_arch = "wasm32", feature = "api"))]
mod management;
#[cfg(all(target_arch = "wasm32", feature = "api"))]
#[allow(missing_docs, reason = "#[durable_object] generates undocumented glue")]
mod object;
#[cfg(all(target_arch = "wasm32", feature = "api"))]
mod sso;
#[cfg(target_arch = "wasm32")]
mod verify_routes;

#[cfg(all(target_arch = "wasm32", feature = "api"))]
pub use object::AccountObject;

/// The Worker's fetch entry point: the Management API script (feature `api`, the default) or
/// the edge script in front of it (built with `--no-default-features`).
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    request: worker::Request,
    env: worker::Env,
    context: worker::Context,
) -> worker::Result<worker::Response> {
    #[cfg(feature = "api")]
    return management::handle(request, env, context).await;
    #[cfg(not(feature = "api"))]
    return edge::handle(request, env, context).await;
}

#[cfg(test)]
mod openapi_tests;
