//! `portcullis_automation_key`: a build-only automation key of the provider's tenant.

use super::{
    Empty, found_or_error, parse_id, plan_book_snapshot, planned_tenant, planned_token_user,
};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, schema, sensitive, string};
use crate::values::{default_if_null, known, null_if_unknown, rfc3339};
use async_trait::async_trait;
use portcullis_client::NewAutomationKey;
use portcullis_core::KeyId;
use portcullis_core::credential::CredentialKind;
use portcullis_core::query::AutomationKeyView;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of an automation key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationKeyState {
    /// Same as `key_id`.
    pub id: Value<String>,
    /// Public key id (`pcak_...`).
    pub key_id: Value<String>,
    /// The tenant.
    pub tenant_id: Value<String>,
    /// Name.
    pub name: Value<String>,
    /// Whether the key works.
    pub enabled: Value<bool>,
    /// The key, known only after create.
    pub key: Value<String>,
    /// Who created it.
    pub created_by: Value<String>,
    /// Creation time.
    pub created_at: Value<String>,
}

/// The resource.
#[derive(Debug)]
pub struct AutomationKeyResource {
    shared: Arc<Shared>,
}

impl AutomationKeyResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        AutomationKeyResource { shared }
    }
}

/// The resource's schema.
pub fn automation_key_schema() -> Schema {
    schema(
        "A build-only automation key of the provider's tenant (team plan and up; creating one \
         needs `build_applications`). It authorizes only build operations, whoever created it. \
         The key is shown once by the API: it is known only in the apply that creates it and is \
         stored in the Terraform state (treat the state as secret).",
        vec![
            ("id", string(Mode::Computed, "Same as `key_id`.")),
            (
                "key_id",
                string(Mode::Computed, "The key's public id (`pcak_...`)."),
            ),
            (
                "tenant_id",
                string(Mode::Computed, "The tenant the key builds in."),
            ),
            (
                "name",
                string(
                    Mode::Required,
                    "A name for people. Changing it replaces the key.",
                ),
            ),
            (
                "enabled",
                boolean(
                    Mode::OptionalComputed,
                    "Whether the key works (default `true`); switched in place, the key stays the same.",
                ),
            ),
            (
                "key",
                sensitive(string(
                    Mode::Computed,
                    "The key, for `Authorization: Bearer`. Known only after create (null after import).",
                )),
            ),
            (
                "created_by",
                string(Mode::Computed, "The creator's user id."),
            ),
            (
                "created_at",
                string(Mode::Computed, "Creation time (RFC 3339)."),
            ),
        ],
    )
}

fn fill(state: &mut AutomationKeyState, view: &AutomationKeyView) {
    state.id = Value::Value(view.key_id.to_string());
    state.key_id = Value::Value(view.key_id.to_string());
    state.tenant_id = Value::Value(view.tenant_id.to_string());
    state.name = Value::Value(view.name.as_str().to_owned());
    state.enabled = Value::Value(view.enabled);
    null_if_unknown(&mut state.key);
    state.created_by = Value::Value(view.created_by.to_string());
    state.created_at = rfc3339(view.created_at);
}

async fn read_key(api: &Api, key_id: &str) -> Result<Option<AutomationKeyView>, ApiError> {
    let Some(key) = parse_id::<KeyId>(key_id) else {
        return Ok(None);
    };
    api.automation_key(&key).await.found()
}

/// Switches the key on or off.
async fn switch(api: &Api, key_id: &KeyId, enabled: bool) -> Result<(), ApiError> {
    api.set_automation_key_enabled(key_id, enabled)
        .await
        .map(|_| ())
}

#[async_trait]
impl Resource for AutomationKeyResource {
    type State<'a> = AutomationKeyState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(automation_key_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty)> {
        let api = self.shared.api(diags)?;
        let key_id = known(&state.id)?.to_owned();
        let found = read_key(&api, &key_id).await;
        super::state_after_read(diags, "read the automation key", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: AutomationKeyState,
        _config: AutomationKeyState,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty)> {
        let mut state = proposed;
        let api = self.shared.api(diags);
        state.id = Value::Unknown;
        state.key_id = Value::Unknown;
        state.tenant_id = planned_tenant(api.as_deref());
        default_if_null(&mut state.enabled, Value::Value(true));
        state.key = Value::Unknown;
        state.created_by = planned_token_user(api.as_deref());
        state.created_at = Value::Unknown;
        if let Some(api) = api
            && let Some(snapshot) = plan_book_snapshot(&self.shared, &api, diags).await
        {
            self.shared
                .book
                .check_automation_key(diags, api.model(), &snapshot);
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: AutomationKeyState,
        mut proposed: AutomationKeyState,
        config: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty, Vec<AttributePath>)> {
        if config.enabled.is_null() {
            proposed.enabled = Value::Value(true);
        }
        if proposed.name != prior.name {
            let (state, _) = self
                .plan_create(diags, proposed, config, Empty::default())
                .await?;
            return Some((state, private_state, vec![AttributePath::new("name")]));
        }
        Some((proposed, private_state, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: AutomationKeyState,
        _config: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty)> {
        let api = self.shared.api(diags)?;
        let key = NewAutomationKey {
            name: known(&planned.name)?.to_owned(),
        };
        let created = diagnostics::api_ok(
            diags,
            "create the automation key",
            api.create_automation_key(api.tenant_id(), &key).await,
            None,
        )?;
        let mut state = planned;
        state.id = Value::Value(created.key_id.to_string());
        state.key_id = Value::Value(created.key_id.to_string());
        state.key = Value::Value(created.key.expose().to_owned());
        if state.enabled == Value::Value(false)
            && let Err(failure) = switch(&api, &created.key_id, false).await
        {
            diagnostics::api(
                diags,
                "disable the new automation key",
                &failure,
                Some("enabled"),
            );
        }
        if let Some(view) = found_or_error(
            diags,
            "read the new automation key",
            read_key(&api, created.key_id.as_str()).await,
            "The automation key disappeared",
            "the key was deleted right after it was created",
        ) {
            fill(&mut state, &view);
        }
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: AutomationKeyState,
        planned: AutomationKeyState,
        _config: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty)> {
        let api = self.shared.api(diags)?;
        let key_id = known(&prior.id)?.to_owned();
        let mut state = planned;
        if let Value::Value(enabled) = state.enabled
            && state.enabled != prior.enabled
        {
            let switched = match parse_id::<KeyId>(&key_id) {
                Some(key) => switch(&api, &key, enabled).await,
                None => Ok(()),
            };
            diagnostics::api_ok(
                diags,
                "switch the automation key",
                switched,
                Some("enabled"),
            )?;
        }
        if let Some(view) = found_or_error(
            diags,
            "read the automation key",
            read_key(&api, &key_id).await,
            "The automation key no longer exists",
            format!("`{key_id}` was deleted; run terraform apply again to re-create it"),
        ) {
            fill(&mut state, &view);
        }
        Some((state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AutomationKeyState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        let delete =
            |api: Arc<Api>, key: KeyId| async move { api.delete_automation_key(&key).await };
        super::remove_by_id(
            &self.shared,
            diags,
            &state.id,
            delete,
            "delete the automation key",
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AutomationKeyState, Empty)> {
        let id = super::import_key_id(diags, &id, CredentialKind::AutomationKey)?;
        let id = id.as_str();
        let state = AutomationKeyState {
            id: Value::Value(id.to_owned()),
            key_id: Value::Value(id.to_owned()),
            ..AutomationKeyState::default()
        };
        Some((state, Empty::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&automation_key_schema(), &AutomationKeyState::default());
    }
}
