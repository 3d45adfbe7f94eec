//! `portcullis_tenant_settings`: the provider tenant's name, plan and SSO settings.
//!
//! Destroy only forgets the settings, with one exception: an SSO connection the configuration
//! named (`sso_connection_id`) is released, so that a `portcullis_sso_connection` destroyed in
//! the same run can be deleted (a connection a tenant names cannot be). Which connection that
//! is lives in the private state.

use super::{Empty, plan_book_snapshot, planned_tenant};
use crate::client::{Api, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, schema, string};
use crate::validation;
use crate::values::{default_if_null, known};
use async_trait::async_trait;
use portcullis_client::TenantChanges;
use portcullis_core::command::SsoChange;
use portcullis_core::model::Model;
use portcullis_core::query::TenantView;
use portcullis_core::sso::SsoConnectionId;
use portcullis_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of the tenant's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettingsState {
    /// The tenant id.
    pub id: Value<String>,
    /// Name.
    pub name: Value<String>,
    /// `free`, `team` or `enterprise`.
    pub plan: Value<String>,
    /// Whether SAML SSO is enforced.
    pub sso_enforced: Value<bool>,
    /// The member who may sign in without SSO.
    pub saml_breakglass_user_id: Value<String>,
    /// The account's SSO connection members sign in with.
    pub sso_connection_id: Value<String>,
    /// The tenant's owner.
    pub owner: Value<String>,
}

/// Private state: the SSO connection the configuration named when last applied, which destroy
/// releases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPrivate {
    /// The connection id.
    #[serde(default)]
    pub configured_sso_connection: Option<String>,
}

/// The private state as stored: null in states written before it existed.
pub type Private = Value<SettingsPrivate>;

/// The private state after applying `config`.
fn private_after(config: &TenantSettingsState) -> Private {
    Value::Value(SettingsPrivate {
        configured_sso_connection: known(&config.sso_connection_id).map(str::to_owned),
    })
}

/// The resource.
#[derive(Debug)]
pub struct TenantSettingsResource {
    shared: Arc<Shared>,
}

impl TenantSettingsResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        TenantSettingsResource { shared }
    }
}

/// The resource's schema.
pub fn tenant_settings_schema() -> Schema {
    schema(
        "The settings of the provider's tenant (at most one per provider). Creating it adopts \
         the existing tenant; destroying it only forgets the settings (a tenant cannot be deleted \
         through Terraform, and its settings stay as they are). Changing `plan` is refused with \
         every blocker when the tenant does not fit the new plan.",
        vec![
            ("id", string(Mode::Computed, "The tenant id (`ten_...`).")),
            (
                "name",
                string(
                    Mode::OptionalComputed,
                    "The tenant's name. Defaults to the current one.",
                ),
            ),
            (
                "plan",
                string(
                    Mode::OptionalComputed,
                    "A plan of the product model the worker serves (`portcullis_plans`), e.g. \
                     `free`, `team` or `enterprise` in the default model. Defaults to the current \
                     plan. Needs `modify_tenant_settings`.",
                ),
            ),
            (
                "sso_enforced",
                boolean(
                    Mode::OptionalComputed,
                    "Whether SSO is enforced (enterprise). Enforcing it needs a breakglass user \
                     and an SSO connection (`sso_connection_id`). Defaults to the current \
                     setting.",
                ),
            ),
            (
                "saml_breakglass_user_id",
                string(
                    Mode::OptionalComputed,
                    "The member (`usr_...`) who may still sign in without SSO: an active member \
                     holding `user_and_api_management`. Defaults to the current one.",
                ),
            ),
            (
                "sso_connection_id",
                string(
                    Mode::OptionalComputed,
                    "The account's SSO connection (`sso_...`, e.g. \
                     `portcullis_sso_connection.x.id`) members of the tenant sign in with; \
                     required to enforce SSO. Defaults to the current one. Destroying this \
                     resource releases a connection its configuration named (SSO enforcement \
                     then ends), so that the connection can be deleted.",
                ),
            ),
            (
                "owner",
                string(Mode::Computed, "The tenant owner's user id."),
            ),
        ],
    )
}

fn fill(model: &Model, state: &mut TenantSettingsState, view: &TenantView) {
    state.id = Value::Value(view.tenant_id.to_string());
    state.name = Value::Value(view.name.as_str().to_owned());
    state.plan = Value::Value(view.plan.name_in(model).to_owned());
    state.sso_enforced = Value::Value(view.sso_enforced);
    state.saml_breakglass_user_id = view
        .saml_breakglass_user_id
        .as_ref()
        .map_or(Value::Null, |user| Value::Value(user.to_string()));
    state.sso_connection_id = view
        .sso_connection_id
        .as_ref()
        .map_or(Value::Null, |connection| {
            Value::Value(connection.to_string())
        });
    state.owner = Value::Value(view.owner.to_string());
}

/// The `update_tenant_settings` body that turns `current` into `planned`; `None` if nothing
/// changes.
fn changes(
    model: &Model,
    current: &TenantView,
    planned: &TenantSettingsState,
) -> Option<TenantChanges> {
    let mut body = TenantChanges::default();
    if let Some(name) = known(&planned.name)
        && name != current.name.as_str()
    {
        body.name = Some(name.to_owned());
    }
    if let Some(plan) = known(&planned.plan)
        && plan != current.plan.name_in(model)
    {
        body.plan = Some(plan.to_owned());
    }
    let enforced = planned
        .sso_enforced
        .as_ref_option()
        .copied()
        .unwrap_or(current.sso_enforced);
    // Ids the configuration names were checked at validate time; one that does not parse
    // names nothing, as the API would answer.
    let breakglass = match &planned.saml_breakglass_user_id {
        Value::Value(user) => user.parse::<UserId>().ok(),
        _ => current.saml_breakglass_user_id.clone(),
    };
    let connection = match &planned.sso_connection_id {
        Value::Value(connection) => connection.parse::<SsoConnectionId>().ok(),
        _ => current.sso_connection_id.clone(),
    };
    // The API replaces the SSO settings as a whole: what is not changed is sent as it is.
    if enforced != current.sso_enforced
        || breakglass != current.saml_breakglass_user_id
        || connection != current.sso_connection_id
    {
        body.sso = Some(SsoChange {
            enforced,
            breakglass,
            connection,
        });
    }
    (!body.is_empty()).then_some(body)
}

impl TenantSettingsResource {
    /// Plan-time checks; what the configuration leaves out stays as the tenant has it.
    async fn check(&self, diags: &mut Diagnostics, config: &TenantSettingsState) {
        let Some(api) = self.shared.api(diags) else {
            return;
        };
        let Some(snapshot) = plan_book_snapshot(&self.shared, &api, diags).await else {
            return;
        };
        let current = snapshot
            .tenant
            .saml_breakglass_user_id
            .as_ref()
            .map(|user| user.to_string());
        let breakglass = match &config.saml_breakglass_user_id {
            Value::Unknown => None,
            Value::Null => Some(current.as_deref()),
            Value::Value(user) => Some(Some(user.as_str())),
        };
        let enforced = match config.sso_enforced {
            Value::Unknown => None,
            Value::Null => Some(snapshot.tenant.sso_enforced),
            Value::Value(enforced) => Some(enforced),
        };
        let current_connection = snapshot
            .tenant
            .sso_connection_id
            .as_ref()
            .map(|connection| connection.to_string());
        let connection = match &config.sso_connection_id {
            Value::Unknown => None,
            Value::Null => Some(current_connection.as_deref()),
            Value::Value(connection) => Some(Some(connection.as_str())),
        };
        self.shared.book.check_tenant(
            diags,
            api.model(),
            &snapshot,
            known(&config.plan),
            validation::PlannedSso {
                enforced,
                breakglass,
                connection,
            },
        );
    }

    /// Create and update: changes what differs from the tenant as it is, then reads it back.
    async fn apply(
        &self,
        diags: &mut Diagnostics,
        planned: TenantSettingsState,
    ) -> Option<TenantSettingsState> {
        let api = self.shared.api(diags)?;
        let tenant = api.tenant_id();
        let current =
            diagnostics::api_ok(diags, "read the tenant", api.tenant(tenant).await, None)?;
        if let Some(body) = changes(api.model(), &current, &planned)
            && let Err(failure) = api.update_tenant(tenant, &body).await
        {
            let attribute = match failure.code() {
                Some("plan_change_blocked" | "plan_limit" | "plan_feature_unavailable") => "plan",
                Some("invalid_breakglass" | "breakglass_required") => "saml_breakglass_user_id",
                Some("sso_connection_required" | "sso_connection_not_found") => "sso_connection_id",
                _ => "name",
            };
            diagnostics::api(
                diags,
                "change the tenant settings",
                &failure,
                Some(attribute),
            );
            return None;
        }
        let mut state = planned;
        match api.tenant(tenant).await {
            Ok(view) => fill(api.model(), &mut state, &view),
            Err(failure) => diagnostics::api(diags, "read the tenant back", &failure, None),
        }
        Some(state)
    }

    /// Destroy: releases the SSO connection `private` records when the tenant still names it
    /// (ending SSO enforcement, which needs a connection); everything else stays.
    async fn release(&self, diags: &mut Diagnostics, api: &Api, private: &Private) -> Option<()> {
        let Value::Value(SettingsPrivate {
            configured_sso_connection: Some(connection),
        }) = private
        else {
            return Some(());
        };
        let tenant = api.tenant_id();
        let current =
            diagnostics::api_ok(diags, "read the tenant", api.tenant(tenant).await, None)?;
        if current
            .sso_connection_id
            .as_ref()
            .map(SsoConnectionId::as_str)
            != Some(connection.as_str())
        {
            return Some(());
        }
        let body = TenantChanges {
            sso: Some(SsoChange {
                enforced: false,
                breakglass: current.saml_breakglass_user_id,
                connection: None,
            }),
            ..TenantChanges::default()
        };
        diagnostics::api_ok(
            diags,
            "release the tenant's SSO connection",
            api.update_tenant(tenant, &body).await,
            Some("sso_connection_id"),
        )?;
        Some(())
    }
}

#[async_trait]
impl Resource for TenantSettingsResource {
    type State<'a> = TenantSettingsState;
    type PrivateState<'a> = Private;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(tenant_settings_schema())
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: TenantSettingsState,
    ) -> Option<()> {
        // The plan's name is checked at plan time, against the served model.
        if let Some(user) = known(&config.saml_breakglass_user_id) {
            validation::check_user_id(
                diags,
                "Invalid breakglass user",
                user,
                "saml_breakglass_user_id",
            );
        }
        if let Some(connection) = known(&config.sso_connection_id)
            && connection.parse::<SsoConnectionId>().is_err()
        {
            diagnostics::error(
                diags,
                "Invalid SSO connection",
                format!("`{connection}` is not an SSO connection id (`sso_...`)"),
                Some("sso_connection_id"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: TenantSettingsState,
        private_state: Private,
        _meta: Empty,
    ) -> Option<(TenantSettingsState, Private)> {
        let api = self.shared.api(diags)?;
        let tenant_id = known(&state.id)?.to_owned();
        let found = match super::parse_id::<TenantId>(&tenant_id) {
            Some(tenant) => api.tenant(&tenant).await.found(),
            None => Ok(None),
        };
        let fill =
            |state: &mut TenantSettingsState, view: &TenantView| fill(api.model(), state, view);
        super::state_after_read(diags, "read the tenant", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: TenantSettingsState,
        config: TenantSettingsState,
        _meta: Empty,
    ) -> Option<(TenantSettingsState, Private)> {
        self.check(diags, &config).await;
        let mut state = proposed;
        state.id = planned_tenant(self.shared.api(diags).as_deref());
        // What the configuration leaves out stays as the tenant has it, known after apply.
        default_if_null(&mut state.name, Value::Unknown);
        default_if_null(&mut state.plan, Value::Unknown);
        default_if_null(&mut state.sso_enforced, Value::Unknown);
        default_if_null(&mut state.saml_breakglass_user_id, Value::Unknown);
        default_if_null(&mut state.sso_connection_id, Value::Unknown);
        state.owner = Value::Unknown;
        Some((state, Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: TenantSettingsState,
        proposed: TenantSettingsState,
        config: TenantSettingsState,
        private_state: Private,
        _meta: Empty,
    ) -> Option<(TenantSettingsState, Private, Vec<AttributePath>)> {
        if proposed != prior {
            self.check(diags, &config).await;
        }
        Some((proposed, private_state, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: TenantSettingsState,
        private_state: Private,
        _meta: Empty,
    ) -> Option<Private> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: TenantSettingsState,
        config: TenantSettingsState,
        _private_state: Private,
        _meta: Empty,
    ) -> Option<(TenantSettingsState, Private)> {
        Some((self.apply(diags, planned).await?, private_after(&config)))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: TenantSettingsState,
        planned: TenantSettingsState,
        config: TenantSettingsState,
        _private_state: Private,
        _meta: Empty,
    ) -> Option<(TenantSettingsState, Private)> {
        Some((self.apply(diags, planned).await?, private_after(&config)))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        _state: TenantSettingsState,
        private_state: Private,
        _meta: Empty,
    ) -> Option<()> {
        // A tenant is not deleted through Terraform: forgetting the settings is all destroy does,
        // but for releasing the SSO connection the configuration named.
        let api = self.shared.api(diags)?;
        self.release(diags, &api, &private_state).await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(TenantSettingsState, Private)> {
        let api = self.shared.api(diags)?;
        if id.trim() != api.tenant_id().as_str() {
            diagnostics::error(
                diags,
                "Cannot import these tenant settings",
                format!(
                    "`{id}` is not the provider's tenant; the provider's token acts in `{}`",
                    api.tenant_id()
                ),
                None,
            );
            return None;
        }
        let state = TenantSettingsState {
            id: Value::Value(id.trim().to_owned()),
            ..TenantSettingsState::default()
        };
        Some((state, Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;
    use crate::test_models::{default, documents};
    use portcullis_core::{Plan, Timestamp};
    use serde_json::{Value as Json, json};

    /// The body as sent, with `model` in force.
    fn encoded(model: &Arc<Model>, changes: Option<TenantChanges>) -> Option<Json> {
        let _in_force = model.enter();
        changes.map(|changes| serde_json::to_value(changes).unwrap())
    }

    fn view() -> TenantView {
        TenantView {
            tenant_id: "ten_0123456789abcdef".parse().unwrap(),
            name: "Prod".parse().unwrap(),
            plan: Plan::named("team").unwrap(),
            owner: "usr_0123456789abcdef".parse().unwrap(),
            member_count: 1,
            member_limit: 20,
            sso_enforced: false,
            saml_breakglass_user_id: None,
            sso_connection_id: None,
            created_at: Timestamp::from_unix_seconds(0),
            primary_contact: "usr_0123456789abcdef".parse().unwrap(),
        }
    }

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&tenant_settings_schema(), &TenantSettingsState::default());
    }

    #[test]
    fn only_what_differs_is_sent() {
        let mut state = TenantSettingsState::default();
        fill(&default(), &mut state, &view());
        assert_eq!(changes(&default(), &view(), &state), None);
        state.plan = Value::Value("enterprise".into());
        state.sso_enforced = Value::Value(true);
        state.saml_breakglass_user_id = Value::Value("usr_00000000000000aa".into());
        state.sso_connection_id = Value::Value("sso_00000000000000bb".into());
        assert_eq!(
            encoded(&default(), changes(&default(), &view(), &state)),
            Some(json!({
                "plan": "enterprise",
                "sso": {
                    "enforced": true,
                    "breakglass": "usr_00000000000000aa",
                    "connection": "sso_00000000000000bb"
                }
            }))
        );
        // Unknown name (not configured): left alone.
        state.name = Value::Unknown;
        assert!(changes(&default(), &view(), &state).unwrap().name.is_none());
    }

    #[test]
    fn plans_are_named_as_the_served_model_names_them() {
        // The same index is `business` in the documents model.
        let documents = documents();
        let mut state = TenantSettingsState::default();
        fill(&documents, &mut state, &view());
        assert_eq!(state.plan, Value::Value("business".into()));
        assert_eq!(changes(&documents, &view(), &state), None);
        state.plan = Value::Value("corporate".into());
        assert_eq!(
            encoded(&documents, changes(&documents, &view(), &state)),
            Some(json!({ "plan": "corporate" }))
        );
    }

    #[test]
    fn sso_settings_are_sent_whole_so_a_breakglass_change_keeps_the_connection() {
        let current = TenantView {
            sso_enforced: true,
            saml_breakglass_user_id: Some("usr_00000000000000aa".parse().unwrap()),
            sso_connection_id: Some("sso_00000000000000bb".parse().unwrap()),
            ..view()
        };
        let mut state = TenantSettingsState::default();
        fill(&default(), &mut state, &current);
        assert_eq!(changes(&default(), &current, &state), None);
        state.saml_breakglass_user_id = Value::Value("usr_00000000000000cc".into());
        state.sso_connection_id = Value::Unknown;
        assert_eq!(
            encoded(&default(), changes(&default(), &current, &state)),
            Some(json!({ "sso": {
                "enforced": true,
                "breakglass": "usr_00000000000000cc",
                "connection": "sso_00000000000000bb"
            } }))
        );
    }

    #[test]
    fn destroy_releases_only_a_connection_the_configuration_named() {
        let mut config = TenantSettingsState::default();
        assert_eq!(
            private_after(&config),
            Value::Value(SettingsPrivate::default())
        );
        config.sso_connection_id = Value::Value("sso_00000000000000bb".into());
        let private = private_after(&config);
        assert_eq!(
            private,
            Value::Value(SettingsPrivate {
                configured_sso_connection: Some("sso_00000000000000bb".into())
            })
        );
        // States written before the private state existed hold nothing (null).
        let old: Private = serde_json::from_str("null").unwrap();
        assert_eq!(old, Value::Null);
    }
}
