//! Portcullis edge worker: the Management API and credential verification on Cloudflare
//! Workers.
//!
//! An adapter around `portcullis-core`: [`api`] routes requests, [`edge`] verifies presented
//! credentials against their one Workers KV record and forwards account operations to the
//! account's Durable Object ([`object`]), which applies them with the core engine one at a time
//! and projects credentials back to KV. Errors become RFC 9457 problems in [`problem`]. Every
//! rule lives in the core.
#![warn(missing_docs)]

pub mod api;
pub mod problem;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, reason = "#[durable_object] generates undocumented glue")]
mod object;

#[cfg(target_arch = "wasm32")]
pub use object::AccountObject;

/// The Worker's fetch entry point.
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    request: worker::Request,
    env: worker::Env,
    _context: worker::Context,
) -> worker::Result<worker::Response> {
    edge::handle(request, env).await
}

#[cfg(test)]
mod openapi_tests;
