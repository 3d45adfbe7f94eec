//! `portcullis_automation_key`: a build-only automation key of the provider's tenant.

use super::credential::{self, credential_state};
use super::{
    Empty, found_or_error, parse_id, plan_book_snapshot, planned_tenant, planned_token_user,
};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, schema, sensitive, string};
use crate::values::{default_if_null, known, rfc3339};
use async_trait::async_trait;
use portcullis_client::NewAutomationKey;
use portcullis_core::KeyId;
use portcullis_core::credential::CredentialKind;
use portcullis_core::query::AutomationKeyView;
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

credential_state! {
    /// Terraform state of an automation key.
    pub struct AutomationKeyState {
        /// Whether the key works.
        pub enabled: Value<bool>,
        /// The key, known only after create or a roll.
        pub key: Value<String>,
        /// Who created it.
        pub created_by: Value<String>,
        /// Creation time.
        pub created_at: Value<String>,
    }
    secret: key
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
    let mut attributes = credential::identity_attributes(
        "key",
        "The key's public id (`pcak_...`).",
        "The tenant the key builds in.",
    );
    attributes.extend([(
        "enabled",
        boolean(
            Mode::OptionalComputed,
            "Whether the key works (default `true`); switched in place, the key stays the same.",
        ),
    )]);
    attributes.extend(credential::term_attributes("key"));
    attributes.extend(credential::rotation_attributes("key"));
    attributes.extend([
        (
            "key",
            sensitive(string(
                Mode::Computed,
                "The key, for `Authorization: Bearer`. Known only after create or a roll (null \
                 after import).",
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
    ]);
    schema(
        "A build-only automation key of the provider's tenant (team plan and up; creating one \
         needs `build_applications`). It authorizes only build operations, whoever created it. \
         The key is shown once by the API: it is known only in the apply that creates (or rolls) \
         it and is stored in the Terraform state (treat the state as secret). Its name and terms \
         cannot change: changing one replaces the key; changing `rotation_triggers` rolls it in \
         place (same key id, a new secret).",
        attributes,
    )
}

fn fill(state: &mut AutomationKeyState, view: &AutomationKeyView) {
    state.id = Value::Value(view.key_id.to_string());
    state.key_id = Value::Value(view.key_id.to_string());
    state.tenant_id = Value::Value(view.tenant_id.to_string());
    state.name = Value::Value(view.name.as_str().to_owned());
    state.enabled = Value::Value(view.enabled);
    credential::fill(
        state,
        &view.terms,
        view.rolled_at,
        view.previous_valid_until,
    );
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

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        mut config: AutomationKeyState,
    ) -> Option<()> {
        credential::validate(diags, &mut config);
        Some(())
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
        state.created_by = planned_token_user(api.as_deref());
        state.created_at = Value::Unknown;
        credential::plan_create(diags, &mut state);
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
        mut prior: AutomationKeyState,
        mut proposed: AutomationKeyState,
        mut config: AutomationKeyState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AutomationKeyState, Empty, Vec<AttributePath>)> {
        if config.enabled.is_null() {
            proposed.enabled = Value::Value(true);
        }
        let mut replace = Vec::new();
        if proposed.name != prior.name {
            replace.push(AttributePath::new("name"));
        }
        replace.extend(credential::replaced_terms(&mut prior, &mut proposed));
        // A change of the triggers rolls the key (adding them to one that had none, an
        // imported one, does not).
        credential::plan_update(&mut prior, &mut proposed, &mut config);
        if replace.is_empty() {
            return Some((proposed, private_state, replace));
        }
        let (state, _) = self
            .plan_create(diags, proposed, config, Empty::default())
            .await?;
        Some((state, private_state, replace))
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
        let mut planned = planned;
        let api = self.shared.api(diags)?;
        let terms = credential::terms_to_create(diags, &mut planned)?;
        let key = NewAutomationKey {
            name: known(&planned.name)?.to_owned(),
            terms,
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
        if credential::rolls(&mut state) {
            let (key, overlap) = credential::planned_roll(diags, &prior.id, &mut state)?;
            let rolled = diagnostics::api_ok(
                diags,
                "roll the automation key",
                api.roll_automation_key(&key, overlap).await,
                Some("rotation_triggers"),
            )?;
            credential::rolled(&mut state, rolled.key.expose());
        }
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

    #[tokio::test]
    async fn triggers_roll_the_key_and_a_new_name_or_term_replaces_it() {
        let resource = AutomationKeyResource::new(Arc::new(Shared::default()));
        let triggers = |version: &str| {
            Value::Value(std::collections::BTreeMap::from([(
                "version".to_owned(),
                Value::Value(version.to_owned()),
            )]))
        };
        let config = AutomationKeyState {
            name: Value::Value("builder".into()),
            metadata: Value::Value(r#"{"pool":"linux"}"#.into()),
            rotation_triggers: triggers("1"),
            ..AutomationKeyState::default()
        };
        let prior = AutomationKeyState {
            id: Value::Value("pcak_x".into()),
            enabled: Value::Value(true),
            key: Value::Value("pcak_x_secret".into()),
            rotation_overlap_seconds: Value::Value(0),
            ..config.clone()
        };
        let plan = |changed: AutomationKeyState| {
            let resource = &resource;
            let prior = prior.clone();
            async move {
                let proposed = AutomationKeyState {
                    id: prior.id.clone(),
                    key: prior.key.clone(),
                    enabled: prior.enabled,
                    rotation_overlap_seconds: prior.rotation_overlap_seconds,
                    ..changed.clone()
                };
                let mut diags = Diagnostics::default();
                let (planned, _, replace) = resource
                    .plan_update(
                        &mut diags,
                        prior,
                        proposed,
                        changed,
                        Empty::default(),
                        Empty::default(),
                    )
                    .await
                    .unwrap();
                (planned, replace)
            }
        };
        let (planned, replace) = plan(AutomationKeyState {
            rotation_triggers: triggers("2"),
            ..config.clone()
        })
        .await;
        assert!(replace.is_empty(), "{replace:?}");
        assert_eq!(
            planned.key,
            Value::Unknown,
            "rolled: the new key after apply"
        );
        assert_eq!(planned.id, prior.id);
        assert_eq!(planned.enabled, Value::Value(true));

        let (_, replace) = plan(AutomationKeyState {
            name: Value::Value("farm".into()),
            metadata: Value::Value(r#"{"pool":"arm"}"#.into()),
            ..config.clone()
        })
        .await;
        assert_eq!(replace, ["name", "metadata"].map(AttributePath::new));

        let (planned, replace) = plan(AutomationKeyState {
            metadata: Value::Value("{ \"pool\" : \"linux\" }".into()),
            ..config
        })
        .await;
        assert!(replace.is_empty(), "the same JSON: {replace:?}");
        assert_eq!(planned.key, prior.key);
    }
}
