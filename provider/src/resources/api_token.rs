//! `portcullis_api_token`: a personal API token of the provider token's owner.

use super::{Empty, found_or_error, parse_id, planned_tenant, planned_token_user};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, schema, sensitive, string, string_map, string_set};
use crate::validation;
use crate::values::{
    StringSet, known, null_if_unknown, parse_permissions, parse_rfc3339, permission_set, rfc3339,
    set_elements,
};
use async_trait::async_trait;
use portcullis_client::NewApiToken;
use portcullis_core::credential::CredentialKind;
use portcullis_core::model::Model;
use portcullis_core::query::ApiTokenView;
use portcullis_core::{KeyId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of an API token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenState {
    /// Same as `key_id`.
    pub id: Value<String>,
    /// Public key id (`pctk_...`).
    pub key_id: Value<String>,
    /// The tenant.
    pub tenant_id: Value<String>,
    /// Name.
    pub name: Value<String>,
    /// Scope.
    pub permissions: StringSet,
    /// Optional expiry (RFC 3339).
    pub expires_at: Value<String>,
    /// Arbitrary values whose change replaces (rotates) the token.
    pub rotation_triggers: Value<BTreeMap<String, Value<String>>>,
    /// `key_id:key_secret`, known only after create.
    pub token: Value<String>,
    /// The owner (the provider token's user).
    pub owner: Value<String>,
    /// Scope ∩ the owner's current permissions.
    pub effective_permissions: StringSet,
    /// Creation time (RFC 3339).
    pub created_at: Value<String>,
}

/// The resource.
#[derive(Debug)]
pub struct ApiTokenResource {
    shared: Arc<Shared>,
}

impl ApiTokenResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        ApiTokenResource { shared }
    }
}

/// The resource's schema.
pub fn api_token_schema() -> Schema {
    schema(
        "A personal API token, owned by the user of the provider's token and acting in its \
         tenant. The secret is shown once by the API: it is known only in the apply that \
         creates the token, and it is stored in the Terraform state (treat the state as secret). \
         Tokens are immutable: changing anything replaces the token (a rotation).",
        vec![
            ("id", string(Mode::Computed, "Same as `key_id`.")),
            (
                "key_id",
                string(Mode::Computed, "The token's public key id (`pctk_...`)."),
            ),
            (
                "tenant_id",
                string(Mode::Computed, "The tenant the token acts in."),
            ),
            (
                "name",
                string(
                    Mode::Required,
                    "A name for people. Changing it replaces the token.",
                ),
            ),
            (
                "permissions",
                string_set(
                    Mode::Optional,
                    "The most the token may do, at most what the provider's token holds: names \
                     of the product model the worker serves (none: read-only). Changing it \
                     replaces the token.",
                ),
            ),
            (
                "expires_at",
                string(
                    Mode::Optional,
                    "Optional expiry, an RFC 3339 time in the future such as \
                     `2027-01-31T00:00:00Z`. Changing it replaces the token.",
                ),
            ),
            (
                "rotation_triggers",
                string_map(
                    Mode::Optional,
                    "Arbitrary values; changing or removing them replaces the token with a new \
                     secret (adding them to a token that had none, e.g. after import, does not).",
                ),
            ),
            (
                "token",
                sensitive(string(
                    Mode::Computed,
                    "The token, `key_id:key_secret`, for `Authorization: Bearer`. Known only \
                     after create (null after import).",
                )),
            ),
            ("owner", string(Mode::Computed, "The owning user's id.")),
            (
                "effective_permissions",
                string_set(
                    Mode::Computed,
                    "What the token can do now: its scope ∩ the owner's current permissions.",
                ),
            ),
            (
                "created_at",
                string(Mode::Computed, "Creation time (RFC 3339)."),
            ),
        ],
    )
}

fn fill(model: &Model, state: &mut ApiTokenState, view: &ApiTokenView) {
    state.id = Value::Value(view.key_id.to_string());
    state.key_id = Value::Value(view.key_id.to_string());
    state.tenant_id = Value::Value(view.tenant_id.to_string());
    state.name = Value::Value(view.name.as_str().to_owned());
    let configured =
        set_elements(&state.permissions).and_then(|names| parse_permissions(model, &names));
    if configured != Some(view.permissions) {
        state.permissions = permission_set(model, view.permissions);
    }
    let same_expiry = known(&state.expires_at)
        .and_then(|text| parse_rfc3339(text).ok())
        .zip(view.terms.expires_at)
        .is_some_and(|(configured, actual)| configured == actual);
    if !same_expiry {
        state.expires_at = view.terms.expires_at.map_or(Value::Null, rfc3339);
    }
    null_if_unknown(&mut state.token);
    state.owner = Value::Value(view.owner.to_string());
    state.effective_permissions = permission_set(model, view.effective_permissions);
    state.created_at = rfc3339(view.created_at);
}

async fn read_token(api: &Api, key_id: &str) -> Result<Option<ApiTokenView>, ApiError> {
    let Some(key) = parse_id::<KeyId>(key_id) else {
        return Ok(None);
    };
    api.api_token(&key).await.found()
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    )
}

#[async_trait]
impl Resource for ApiTokenResource {
    type State<'a> = ApiTokenState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(api_token_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ApiTokenState) -> Option<()> {
        // Permission names are checked at plan time, against the served model.
        if let Some(text) = known(&config.expires_at)
            && let Err(message) = parse_rfc3339(text)
        {
            diagnostics::error(diags, "Invalid expiry", message, Some("expires_at"));
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty)> {
        let api = self.shared.api(diags)?;
        let key_id = known(&state.id)?.to_owned();
        let found = read_token(&api, &key_id).await;
        let fill = |state: &mut ApiTokenState, view: &ApiTokenView| fill(api.model(), state, view);
        super::state_after_read(diags, "read the API token", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: ApiTokenState,
        _config: ApiTokenState,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty)> {
        let mut state = proposed;
        let api = self.shared.api(diags);
        state.id = Value::Unknown;
        state.key_id = Value::Unknown;
        state.tenant_id = planned_tenant(api.as_deref());
        state.token = Value::Unknown;
        state.owner = planned_token_user(api.as_deref());
        state.effective_permissions = Value::Unknown;
        state.created_at = Value::Unknown;
        // Only a token about to be created must expire in the future: an existing one that has
        // expired stays in the state (and is refused by the edge) until it is rotated.
        if let Some(text) = known(&state.expires_at)
            && parse_rfc3339(text).is_ok_and(|at| at <= now())
        {
            diagnostics::error(
                diags,
                "Expiry in the past",
                format!("`{text}` has already passed"),
                Some("expires_at"),
            );
        }
        if let (Some(api), Some(scope)) = (api, set_elements(&state.permissions)) {
            validation::check_token(diags, api.model(), api.principal.permissions, &scope);
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ApiTokenState,
        proposed: ApiTokenState,
        _config: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty, Vec<AttributePath>)> {
        let mut replace = Vec::new();
        if proposed.name != prior.name {
            replace.push(AttributePath::new("name"));
        }
        if proposed.permissions != prior.permissions {
            replace.push(AttributePath::new("permissions"));
        }
        if proposed.expires_at != prior.expires_at {
            replace.push(AttributePath::new("expires_at"));
        }
        // Adding triggers to a token that had none (an imported one) does not rotate it;
        // changing or removing them does.
        if !prior.rotation_triggers.is_null()
            && proposed.rotation_triggers != prior.rotation_triggers
        {
            replace.push(AttributePath::new("rotation_triggers"));
        }
        if replace.is_empty() {
            return Some((proposed, private_state, replace));
        }
        let (state, _) = self
            .plan_create(diags, proposed, ApiTokenState::default(), Empty::default())
            .await?;
        Some((state, private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: ApiTokenState,
        _config: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty)> {
        let api = self.shared.api(diags)?;
        let scope = set_elements(&planned.permissions).unwrap_or_default();
        let expires_at = match known(&planned.expires_at).map(parse_rfc3339) {
            None => None,
            Some(Ok(at)) => Some(at),
            Some(Err(message)) => {
                diagnostics::error(diags, "Invalid expiry", message, Some("expires_at"));
                return None;
            }
        };
        let Some(permissions) = parse_permissions(api.model(), &scope) else {
            diagnostics::error(
                diags,
                "Invalid permissions",
                "the scope names a permission the served model does not have",
                Some("permissions"),
            );
            return None;
        };
        let token = NewApiToken {
            name: known(&planned.name)?.to_owned(),
            permissions,
            expires_at,
        };
        let created = diagnostics::api_ok(
            diags,
            "create the API token",
            api.create_api_token(api.tenant_id(), &token).await,
            Some("permissions"),
        )?;
        let mut state = planned;
        state.id = Value::Value(created.key_id.to_string());
        state.key_id = Value::Value(created.key_id.to_string());
        state.token = Value::Value(created.token.expose().to_owned());
        if let Some(view) = found_or_error(
            diags,
            "read the new API token",
            read_token(&api, created.key_id.as_str()).await,
            "The API token disappeared",
            "the token was deleted right after it was created",
        ) {
            fill(api.model(), &mut state, &view);
        }
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: ApiTokenState,
        planned: ApiTokenState,
        _config: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty)> {
        // Every configurable attribute replaces the token; nothing changes in place.
        Some((planned, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ApiTokenState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        let delete = |api: Arc<Api>, key: KeyId| async move { api.delete_api_token(&key).await };
        super::remove_by_id(
            &self.shared,
            diags,
            &state.id,
            delete,
            "delete the API token",
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ApiTokenState, Empty)> {
        let id = super::import_key_id(diags, &id, CredentialKind::ApiToken)?;
        let id = id.as_str();
        let state = ApiTokenState {
            id: Value::Value(id.to_owned()),
            key_id: Value::Value(id.to_owned()),
            ..ApiTokenState::default()
        };
        Some((state, Empty::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;
    use crate::values::set_of;
    use portcullis_core::PermissionSet;

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&api_token_schema(), &ApiTokenState::default());
    }

    #[test]
    fn read_keeps_an_equivalent_expiry_spelling_and_the_secret() {
        let mut state = ApiTokenState {
            permissions: set_of(["build_applications"]),
            expires_at: Value::Value("2027-01-31T12:00:00+02:00".into()),
            token: Value::Value("pat_x:secret".into()),
            ..ApiTokenState::default()
        };
        let view = ApiTokenView {
            key_id: portcullis_core::credential::issue_api_token(
                &mut portcullis_core::random::SeededRandom::new(7),
                &portcullis_core::HashingKey::from_bytes(&[1; 32]).unwrap(),
            )
            .key_id,
            tenant_id: "ten_0123456789abcdef".parse().unwrap(),
            owner: "usr_0123456789abcdef".parse().unwrap(),
            name: "ci".parse().unwrap(),
            permissions: PermissionSet::parse_names(["build_applications"]).unwrap(),
            effective_permissions: PermissionSet::EMPTY,
            created_at: Timestamp::from_unix_seconds(0),
            terms: portcullis_core::terms::Terms {
                expires_at: Some(parse_rfc3339("2027-01-31T10:00:00Z").unwrap()),
                ..Default::default()
            },
            rolled_at: None,
            previous_valid_until: None,
            last_used_at: None,
        };
        fill(&crate::test_models::default(), &mut state, &view);
        assert_eq!(
            state.expires_at,
            Value::Value("2027-01-31T12:00:00+02:00".into())
        );
        assert_eq!(state.token, Value::Value("pat_x:secret".into()));
        assert_eq!(state.effective_permissions, set_of(Vec::<String>::new()));
        assert_eq!(
            state.created_at,
            Value::Value("1970-01-01T00:00:00Z".into())
        );
    }
}
