//! `portcullis_primary_contact`: who receives a tenant's license and maintenance notifications.

use super::{Empty, parse_id};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, schema, string};
use crate::validation;
use crate::values::known;
use async_trait::async_trait;
use portcullis_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of a tenant's primary contact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryContactState {
    /// Same as `tenant_id`.
    pub id: Value<String>,
    /// The tenant.
    pub tenant_id: Value<String>,
    /// The primary contact.
    pub user_id: Value<String>,
}

/// The resource.
#[derive(Debug)]
pub struct PrimaryContactResource {
    shared: Arc<Shared>,
}

impl PrimaryContactResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        PrimaryContactResource { shared }
    }
}

/// The resource's schema.
pub fn primary_contact_schema() -> Schema {
    schema(
        "A tenant's primary contact: the license admin who receives its license and \
         maintenance notifications. Every tenant has exactly one; changing `user_id` swaps it \
         in place (company admins; the new contact, an active user, becomes a license admin of \
         the tenant). Destroying the resource only forgets it: a tenant always keeps a primary \
         contact.",
        vec![
            ("id", string(Mode::Computed, "Same as `tenant_id`.")),
            (
                "tenant_id",
                string(
                    Mode::Required,
                    "The tenant (`ten_...`). Changing it replaces the resource.",
                ),
            ),
            (
                "user_id",
                string(Mode::Required, "The primary contact (`usr_...`)."),
            ),
        ],
    )
}

async fn current(api: &Api, tenant: &str) -> Result<Option<UserId>, ApiError> {
    let usage = api.license_usage().await?;
    Ok(usage
        .into_iter()
        .find(|row| row.tenant_id.as_str() == tenant)
        .map(|row| row.primary_contact))
}

impl PrimaryContactResource {
    async fn set(
        &self,
        diags: &mut Diagnostics,
        planned: PrimaryContactState,
    ) -> Option<PrimaryContactState> {
        let api = self.shared.api(diags)?;
        let tenant_text = known(&planned.tenant_id)?;
        let Some(tenant) = parse_id::<TenantId>(tenant_text) else {
            validation::check_tenant_id(diags, tenant_text, "tenant_id");
            return None;
        };
        let user_text = known(&planned.user_id)?;
        let Some(user) = parse_id::<UserId>(user_text) else {
            validation::check_user_id(diags, "Invalid primary contact", user_text, "user_id");
            return None;
        };
        let named = api.set_primary_contact(&tenant, &user).await;
        diagnostics::api_ok(diags, "name the primary contact", named, Some("user_id"))?;
        let mut state = planned;
        state.id = Value::Value(tenant.to_string());
        Some(state)
    }
}

#[async_trait]
impl Resource for PrimaryContactResource {
    type State<'a> = PrimaryContactState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(primary_contact_schema())
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: PrimaryContactState,
    ) -> Option<()> {
        if let Some(tenant) = known(&config.tenant_id) {
            validation::check_tenant_id(diags, tenant, "tenant_id");
        }
        if let Some(user) = known(&config.user_id) {
            validation::check_user_id(diags, "Invalid user", user, "user_id");
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: PrimaryContactState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(PrimaryContactState, Empty)> {
        let api = self.shared.api(diags)?;
        let tenant = known(&state.tenant_id).or(known(&state.id))?.to_owned();
        let found = current(&api, &tenant).await;
        let fill = |state: &mut PrimaryContactState, user: &UserId| {
            state.id = Value::Value(tenant.clone());
            state.tenant_id = Value::Value(tenant);
            state.user_id = Value::Value(user.to_string());
        };
        super::state_after_read(diags, "read the primary contact", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: PrimaryContactState,
        _config: PrimaryContactState,
        _meta: Empty,
    ) -> Option<(PrimaryContactState, Empty)> {
        let mut state = proposed;
        state.id = state.tenant_id.clone();
        if let Some(api) = self.shared.api(diags) {
            check_company_admin(&api, diags).await;
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: PrimaryContactState,
        proposed: PrimaryContactState,
        _config: PrimaryContactState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(PrimaryContactState, Empty, Vec<AttributePath>)> {
        let mut replace = Vec::new();
        if proposed.tenant_id != prior.tenant_id {
            replace.push(AttributePath::new("tenant_id"));
        }
        if proposed != prior
            && let Some(api) = self.shared.api(diags)
        {
            check_company_admin(&api, diags).await;
        }
        let mut state = proposed;
        state.id = state.tenant_id.clone();
        Some((state, private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: PrimaryContactState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: PrimaryContactState,
        _config: PrimaryContactState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(PrimaryContactState, Empty)> {
        Some((self.set(diags, planned).await?, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: PrimaryContactState,
        planned: PrimaryContactState,
        _config: PrimaryContactState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(PrimaryContactState, Empty)> {
        Some((self.set(diags, planned).await?, private_state))
    }

    async fn destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _state: PrimaryContactState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        // A tenant always keeps a primary contact: destroy only forgets the resource.
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(PrimaryContactState, Empty)> {
        let id = id.trim();
        if id.parse::<TenantId>().is_err() {
            diagnostics::error(
                diags,
                "Cannot import the primary contact",
                format!("`{id}` is not a tenant id; import with the tenant id (`ten_...`)"),
                None,
            );
            return None;
        }
        Some((
            PrimaryContactState {
                id: Value::Value(id.to_owned()),
                tenant_id: Value::Value(id.to_owned()),
                user_id: Value::Null,
            },
            Empty::default(),
        ))
    }
}

/// Plan-time check: only company admins name primary contacts.
async fn check_company_admin(api: &Api, diags: &mut Diagnostics) {
    let Some(me) = api.me() else {
        return;
    };
    let found = api.user(me).await.found();
    if let Some(Some(user)) =
        diagnostics::api_ok(diags, "read the provider token's user", found, None)
        && !user.company_admin
    {
        diagnostics::error(
            diags,
            "Invalid configuration (not_company_admin)",
            "only company admins name a tenant's primary contact",
            Some("user_id"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&primary_contact_schema(), &PrimaryContactState::default());
    }
}
