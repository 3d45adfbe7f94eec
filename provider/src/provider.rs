//! The provider: its configuration (`endpoint`, `token`) and the state every resource shares.

use crate::client::{Api, ConnectError};
use crate::data_sources;
use crate::diagnostics;
use crate::resources;
use crate::schema::{Mode, schema, sensitive, string};
use crate::validation::PlanBook;
use async_trait::async_trait;
use portcullis_core::authz::PrincipalKind;
use portcullis_core::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{Diagnostics, DynamicDataSource, DynamicResource, Provider};

/// What every resource and data source of one provider process shares.
#[derive(Debug, Default)]
pub struct Shared {
    api: OnceLock<Arc<Api>>,
    /// Plan-time validation state.
    pub book: PlanBook,
}

impl Shared {
    /// The configured API client, or an error diagnostic when the provider is not configured.
    pub fn api(&self, diags: &mut Diagnostics) -> Option<Arc<Api>> {
        let api = self.api.get().cloned();
        if api.is_none() {
            diagnostics::error(
                diags,
                "The Portcullis provider is not configured",
                "set `endpoint` and `token` in the provider block, or PORTCULLIS_ENDPOINT and PORTCULLIS_TOKEN",
                None,
            );
        }
        api
    }

    /// The product model the worker serves (read when the provider was configured), or an
    /// error diagnostic when the provider is not configured.
    pub fn model(&self, diags: &mut Diagnostics) -> Option<Arc<Model>> {
        self.api(diags).map(|api| Arc::clone(api.model()))
    }
}

/// The provider.
#[derive(Debug, Default)]
pub struct PortcullisProvider {
    shared: Arc<Shared>,
}

/// The provider block.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Base URL of the worker.
    pub endpoint: Value<String>,
    /// `key_id:key_secret`.
    pub token: Value<String>,
}

fn setting(value: &Value<String>, variable: &str) -> Result<Option<String>, ()> {
    match value {
        Value::Unknown => Err(()),
        Value::Value(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
        _ => Ok(std::env::var(variable)
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())),
    }
}

#[async_trait]
impl Provider for PortcullisProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Manages a Portcullis tenant (members, permissions, API tokens, automation keys and \
             settings) through the Management API of the Portcullis edge worker. The tenant is \
             the one the provider's API token acts in.",
            vec![
                (
                    "endpoint",
                    string(
                        Mode::Optional,
                        "Base URL of the Portcullis worker, e.g. `https://auth.example.com` or \
                         `http://127.0.0.1:8787`. Defaults to `PORTCULLIS_ENDPOINT`.",
                    ),
                ),
                (
                    "token",
                    sensitive(string(
                        Mode::Optional,
                        "A personal API token (`key_id:key_secret`) of a member of the tenant to \
                         manage, holding `user_and_api_management` (and whatever it grants). \
                         Defaults to `PORTCULLIS_TOKEN`.",
                    )),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        if let Value::Value(endpoint) = &config.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            diagnostics::error(
                diags,
                "Invalid endpoint",
                format!("`{endpoint}` must be an http:// or https:// URL"),
                Some("endpoint"),
            );
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let (Ok(endpoint), Ok(token)) = (
            setting(&config.endpoint, "PORTCULLIS_ENDPOINT"),
            setting(&config.token, "PORTCULLIS_TOKEN"),
        ) else {
            diagnostics::warning(
                diags,
                "Provider configuration is not known yet",
                "the endpoint or token depends on values known only after apply; resources of this provider cannot be planned until then",
            );
            return Some(());
        };
        let Some(endpoint) = endpoint else {
            diagnostics::error(
                diags,
                "Missing endpoint",
                "set `endpoint` in the provider block or PORTCULLIS_ENDPOINT",
                Some("endpoint"),
            );
            return None;
        };
        let Some(token) = token else {
            diagnostics::error(
                diags,
                "Missing token",
                "set `token` in the provider block or PORTCULLIS_TOKEN",
                Some("token"),
            );
            return None;
        };
        match Api::connect(&endpoint, &token).await {
            Ok(api) if matches!(api.principal.kind, PrincipalKind::User { .. }) => {
                let _ = self.shared.api.set(Arc::new(api));
                Some(())
            }
            Ok(_) => {
                diagnostics::error(
                    diags,
                    "The token is an automation key",
                    "automation keys can only build; the provider needs a personal API token",
                    Some("token"),
                );
                None
            }
            Err(ConnectError::Model(failure)) => {
                diagnostics::api(
                    diags,
                    "read the product model from the worker",
                    &failure,
                    Some("endpoint"),
                );
                None
            }
            Err(ConnectError::Token(failure)) => {
                diagnostics::api(
                    diags,
                    "verify the provider's token",
                    &failure,
                    Some("token"),
                );
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(resources::all(&self.shared))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(data_sources::all(&self.shared))
    }
}
