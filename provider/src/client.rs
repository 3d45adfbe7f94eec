//! The provider's connection to the worker: the shared Management API client
//! (`portcullis-client`, which the `portcullis` CLI uses too) and the principal behind the
//! provider's token.
//!
//! One client per provider process (Terraform calls the provider concurrently, ten resources at
//! a time by default). [`Api::connect`] reads the product model from `GET /v1/model` before
//! anything else, then checks the token with `GET /v1/whoami`.

pub use portcullis_client::{ApiError, Client, NotFound};
use portcullis_core::{Principal, TenantId, UserId};
use std::ops::Deref;

/// A connected client and who its token is.
#[derive(Debug)]
pub struct Api {
    client: Client,
    /// Who the token is.
    pub principal: Principal,
}

/// Why [`Api::connect`] failed: at reading the model, or at checking the token.
#[derive(Debug)]
pub enum ConnectError {
    /// `GET /v1/model` failed or served an invalid model.
    Model(ApiError),
    /// `GET /v1/whoami` failed.
    Token(ApiError),
}

impl Api {
    /// Connects: reads the product model (public), then checks the token and keeps its
    /// principal. An unreachable worker or an invalid model is an error: there is no fallback
    /// to a compiled-in model.
    pub async fn connect(endpoint: &str, token: &str) -> Result<Api, ConnectError> {
        let agent = concat!("terraform-provider-portcullis/", env!("CARGO_PKG_VERSION"));
        let client = Client::connect(endpoint, Some(token), agent)
            .await
            .map_err(ConnectError::Model)?;
        let principal = client.whoami().await.map_err(ConnectError::Token)?;
        Ok(Api { client, principal })
    }

    /// The tenant every resource lives in.
    pub fn tenant_id(&self) -> &TenantId {
        &self.principal.tenant_id
    }

    /// The user behind the token (none for an automation key).
    pub fn me(&self) -> Option<&UserId> {
        self.principal.kind.user_id()
    }
}

impl Deref for Api {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}
