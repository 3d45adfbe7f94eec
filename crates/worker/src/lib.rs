//! Portcullis edge worker: the Management API, credential verification and the gateway in
//! front of a protected origin, on Cloudflare Workers.
//!
//! An adapter around `portcullis-core`: [`api`] routes requests, [`edge`] verifies presented
//! credentials against their one Workers KV record and forwards account operations to the
//! account's Durable Object ([`object`]), which applies them with the core engine one at a time
//! and projects credentials back to KV. Outside `/v1`, [`gateway`] checks requests against the
//! embedded [`route_policy`] and forwards allowed ones to the origin with signed identity
//! headers; [`guard`] throttles failed verifications and reports credential use. Errors become
//! RFC 9457 problems in [`problem`]. Every rule lives in the core.
#![warn(missing_docs)]

pub mod api;
pub mod problem;
pub mod protocol;
pub mod route_policy;

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod gateway;
#[cfg(target_arch = "wasm32")]
mod guard;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, reason = "#[durable_object] generates undocumented glue")]
mod object;
#[cfg(target_arch = "wasm32")]
mod sso;

#[cfg(target_arch = "wasm32")]
pub use object::AccountObject;

/// The Worker's fetch entry point.
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    request: worker::Request,
    env: worker::Env,
    context: worker::Context,
) -> worker::Result<worker::Response> {
    edge::handle(request, env, context).await
}

#[cfg(test)]
mod openapi_tests;
