//! `portcullis_api_token`: a personal API token of the provider token's owner.

use super::credential::{self, credential_state};
use super::{Empty, found_or_error, parse_id, planned_tenant, planned_token_user};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, schema, sensitive, string, string_set};
use crate::validation;
use crate::values::{StringSet, known, parse_permissions, permission_set, rfc3339, set_elements};
use async_trait::async_trait;
use portcullis_client::NewApiToken;
use portcullis_core::KeyId;
use portcullis_core::credential::CredentialKind;
use portcullis_core::model::Model;
use portcullis_core::query::ApiTokenView;
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

credential_state! {
    /// Terraform state of an API token.
    pub struct ApiTokenState {
        /// Scope.
        pub permissions: StringSet,
        /// `key_id:key_secret`, known only after create or a roll.
        pub token: Value<String>,
        /// The owner (the provider token's user).
        pub owner: Value<String>,
        /// Scope ∩ the owner's current permissions.
        pub effective_permissions: StringSet,
        /// Creation time (RFC 3339).
        pub created_at: Value<String>,
    }
    secret: token
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
    let mut attributes = credential::identity_attributes(
        "token",
        "The token's public key id (`pctk_...`).",
        "The tenant the token acts in.",
    );
    attributes.extend([(
        "permissions",
        string_set(
            Mode::Optional,
            "The most the token may do, at most what the provider's token holds: names \
                 of the product model the worker serves (none: read-only). Changing it \
                 replaces the token.",
        ),
    )]);
    attributes.extend(credential::term_attributes("token"));
    attributes.extend(credential::rotation_attributes("token"));
    attributes.extend([
        (
            "token",
            sensitive(string(
                Mode::Computed,
                "The token, `key_id:key_secret`, for `Authorization: Bearer`. Known only \
                 after create or a roll (null after import).",
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
    ]);
    schema(
        "A personal API token, owned by the user of the provider's token and acting in its \
         tenant. The secret is shown once by the API: it is known only in the apply that \
         creates (or rolls) the token, and it is stored in the Terraform state (treat the state \
         as secret). Its name, scope and terms cannot change: changing one replaces the token; \
         changing `rotation_triggers` rolls it in place (same key id, a new secret).",
        attributes,
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
    credential::fill(
        state,
        &view.terms,
        view.rolled_at,
        view.previous_valid_until,
    );
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

#[async_trait]
impl Resource for ApiTokenResource {
    type State<'a> = ApiTokenState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(api_token_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, mut config: ApiTokenState) -> Option<()> {
        // Permission names are checked at plan time, against the served model.
        credential::validate(diags, &mut config);
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
        state.owner = planned_token_user(api.as_deref());
        state.effective_permissions = Value::Unknown;
        state.created_at = Value::Unknown;
        // Only a token about to be created must expire in the future: an existing one that has
        // expired stays in the state (and is refused by the edge) until it is replaced.
        credential::plan_create(diags, &mut state);
        if let (Some(api), Some(scope)) = (api, set_elements(&state.permissions)) {
            validation::check_token(diags, api.model(), api.principal.permissions, &scope);
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        mut prior: ApiTokenState,
        mut proposed: ApiTokenState,
        mut config: ApiTokenState,
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
        replace.extend(credential::replaced_terms(&mut prior, &mut proposed));
        // A change of the triggers rolls the token (adding them to one that had none, an
        // imported one, does not).
        credential::plan_update(&mut prior, &mut proposed, &mut config);
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
        let mut planned = planned;
        let api = self.shared.api(diags)?;
        let scope = set_elements(&planned.permissions).unwrap_or_default();
        let terms = credential::terms_to_create(diags, &mut planned)?;
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
            terms,
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
        diags: &mut Diagnostics,
        prior: ApiTokenState,
        planned: ApiTokenState,
        _config: ApiTokenState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(ApiTokenState, Empty)> {
        // Name, scope and terms replace the token; in place, only a roll calls the API (the
        // rest, new triggers, a new overlap, a new spelling of the same term, is state only).
        let mut state = planned;
        if !credential::rolls(&mut state) {
            return Some((state, private_state));
        }
        let api = self.shared.api(diags)?;
        let (key, overlap) = credential::planned_roll(diags, &prior.id, &mut state)?;
        let rolled = diagnostics::api_ok(
            diags,
            "roll the API token",
            api.roll_api_token(&key, overlap).await,
            Some("rotation_triggers"),
        )?;
        credential::rolled(&mut state, rolled.token.expose());
        if let Some(view) = found_or_error(
            diags,
            "read the rolled API token",
            read_token(&api, key.as_str()).await,
            "The API token disappeared",
            "the token was deleted right after it was rolled",
        ) {
            fill(api.model(), &mut state, &view);
        }
        Some((state, private_state))
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
    use crate::resources::credential::Triggers;
    use crate::resources::tests::assert_parity;
    use crate::values::{parse_rfc3339, set_of};
    use portcullis_core::terms::{Metadata, Terms};
    use portcullis_core::{PermissionSet, Timestamp};
    use std::collections::BTreeMap;

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&api_token_schema(), &ApiTokenState::default());
    }

    fn view(terms: Terms, rolled_at: Option<u64>, previous: Option<u64>) -> ApiTokenView {
        ApiTokenView {
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
            terms,
            rolled_at: rolled_at.map(Timestamp::from_unix_seconds),
            previous_valid_until: previous.map(Timestamp::from_unix_seconds),
            last_used_at: None,
        }
    }

    fn shown_terms() -> Terms {
        Terms {
            not_before: Some(parse_rfc3339("2027-01-01T00:00:00Z").unwrap()),
            expires_at: Some(parse_rfc3339("2027-01-31T10:00:00Z").unwrap()),
            allowed_ips: vec![
                "203.0.113.7/32".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            denied_ips: vec![],
            external_id: Some("cus_42".parse().unwrap()),
            metadata: Some(
                Metadata::from_value(&serde_json::json!({"team": "builds", "tier": 2})).unwrap(),
            ),
            rate_limit: None,
        }
    }

    #[test]
    fn read_keeps_equivalent_spellings_of_the_terms_and_the_secret() {
        let configured = ApiTokenState {
            permissions: set_of(["build_applications"]),
            not_before: Value::Value("2027-01-01T01:00:00+01:00".into()),
            expires_at: Value::Value("2027-01-31T12:00:00+02:00".into()),
            allowed_ips: set_of(["203.0.113.7", "2001:DB8::/32"]),
            external_id: Value::Value("cus_42".into()),
            metadata: Value::Value("{ \"tier\": 2,\n  \"team\": \"builds\" }".into()),
            rotation_overlap_seconds: Value::Value(600),
            token: Value::Value("pat_x:secret".into()),
            ..ApiTokenState::default()
        };
        let mut state = configured.clone();
        fill(
            &crate::test_models::default(),
            &mut state,
            &view(shown_terms(), Some(1_000), Some(1_600)),
        );
        for (name, kept, read) in [
            ("not_before", &configured.not_before, &state.not_before),
            ("expires_at", &configured.expires_at, &state.expires_at),
            ("metadata", &configured.metadata, &state.metadata),
            ("token", &configured.token, &state.token),
        ] {
            assert_eq!(kept, read, "{name}");
        }
        assert_eq!(state.allowed_ips, configured.allowed_ips);
        assert_eq!(state.denied_ips, Value::Null);
        assert_eq!(state.rotation_overlap_seconds, Value::Value(600));
        assert_eq!(state.rolled_at, Value::Value("1970-01-01T00:16:40Z".into()));
        assert_eq!(
            state.previous_valid_until,
            Value::Value("1970-01-01T00:26:40Z".into())
        );
        assert_eq!(state.effective_permissions, set_of(Vec::<String>::new()));
        assert_eq!(
            state.created_at,
            Value::Value("1970-01-01T00:00:00Z".into())
        );

        // What the API shows otherwise (drift, or an import) replaces what the state said.
        let mut other = ApiTokenState {
            metadata: Value::Value(r#"{"team":"ops"}"#.into()),
            allowed_ips: set_of(["203.0.113.0/24"]),
            ..configured
        };
        fill(
            &crate::test_models::default(),
            &mut other,
            &view(shown_terms(), None, None),
        );
        assert_eq!(
            other.metadata,
            Value::Value(r#"{"team":"builds","tier":2}"#.into())
        );
        assert_eq!(
            other.allowed_ips,
            set_of(["203.0.113.7/32", "2001:db8::/32"])
        );
        assert_eq!(other.rolled_at, Value::Null);
    }

    #[test]
    fn an_import_reads_the_terms_and_plans_the_default_overlap() {
        let mut imported = ApiTokenState {
            id: Value::Value("pctk_x".into()),
            ..ApiTokenState::default()
        };
        fill(
            &crate::test_models::default(),
            &mut imported,
            &view(shown_terms(), None, None),
        );
        assert_eq!(
            imported.token,
            Value::Null,
            "the secret cannot be read back"
        );
        assert_eq!(imported.rotation_triggers, Value::Null);
        assert_eq!(imported.rotation_overlap_seconds, Value::Value(0));
        assert_eq!(
            imported.expires_at,
            Value::Value("2027-01-31T10:00:00Z".into())
        );
        assert_eq!(imported.external_id, Value::Value("cus_42".into()));
        assert_eq!(
            imported.metadata,
            Value::Value(r#"{"team":"builds","tier":2}"#.into())
        );
    }

    fn triggers(version: &str) -> Triggers {
        Value::Value(BTreeMap::from([(
            "version".to_owned(),
            Value::Value(version.to_owned()),
        )]))
    }

    /// The prior state of a created token, and a configuration equal to it.
    fn created() -> (ApiTokenState, ApiTokenState) {
        let config = ApiTokenState {
            name: Value::Value("ci".into()),
            permissions: set_of(["build_applications"]),
            not_before: Value::Value("2027-01-01T00:00:00Z".into()),
            allowed_ips: set_of(["203.0.113.7", "2001:db8::/32"]),
            metadata: Value::Value(r#"{"team":"builds","tier":2}"#.into()),
            rotation_triggers: triggers("1"),
            ..ApiTokenState::default()
        };
        let prior = ApiTokenState {
            id: Value::Value("pctk_x".into()),
            key_id: Value::Value("pctk_x".into()),
            token: Value::Value("pctk_x:pcts_old".into()),
            rotation_overlap_seconds: Value::Value(0),
            created_at: Value::Value("2026-12-01T00:00:00Z".into()),
            ..config.clone()
        };
        (prior, config)
    }

    /// Plans `config` over `prior` (Terraform's proposed state: the configuration, with the
    /// prior's computed values where the configuration sets none).
    async fn plan(
        prior: &ApiTokenState,
        config: ApiTokenState,
    ) -> (ApiTokenState, Vec<AttributePath>) {
        let resource = ApiTokenResource::new(Arc::new(Shared::default()));
        let proposed = ApiTokenState {
            id: prior.id.clone(),
            key_id: prior.key_id.clone(),
            token: prior.token.clone(),
            rotation_overlap_seconds: config
                .rotation_overlap_seconds
                .or(prior.rotation_overlap_seconds),
            created_at: prior.created_at.clone(),
            rolled_at: prior.rolled_at.clone(),
            previous_valid_until: prior.previous_valid_until.clone(),
            ..config.clone()
        };
        let mut diags = Diagnostics::default();
        let (planned, _, replace) = resource
            .plan_update(
                &mut diags,
                prior.clone(),
                proposed,
                config,
                Empty::default(),
                Empty::default(),
            )
            .await
            .unwrap();
        (planned, replace)
    }

    #[tokio::test]
    async fn a_trigger_change_rolls_in_place_and_a_term_change_replaces() {
        let (prior, config) = created();
        let (planned, replace) = plan(&prior, config.clone()).await;
        assert!(replace.is_empty());
        assert_eq!(planned.token, prior.token, "no change, no roll");

        let (planned, replace) = plan(
            &prior,
            ApiTokenState {
                rotation_triggers: triggers("2"),
                rotation_overlap_seconds: Value::Value(3_600),
                ..config.clone()
            },
        )
        .await;
        assert!(
            replace.is_empty(),
            "a roll is not a replacement: {replace:?}"
        );
        assert_eq!(
            planned.token,
            Value::Unknown,
            "the new secret, known after apply"
        );
        assert_eq!(planned.rolled_at, Value::Unknown);
        assert_eq!(planned.previous_valid_until, Value::Unknown);
        assert_eq!(planned.key_id, prior.key_id, "the same token");
        assert_eq!(planned.rotation_overlap_seconds, Value::Value(3_600));

        let (planned, replace) = plan(
            &prior,
            ApiTokenState {
                rotation_triggers: Value::Null,
                ..config.clone()
            },
        )
        .await;
        assert!(replace.is_empty());
        assert_eq!(
            planned.token,
            Value::Unknown,
            "removing the triggers rolls too"
        );

        let imported = ApiTokenState {
            rotation_triggers: Value::Null,
            ..prior.clone()
        };
        let (planned, replace) = plan(&imported, config.clone()).await;
        assert!(replace.is_empty());
        assert_eq!(
            planned.token, prior.token,
            "triggers added to a token that had none are adopted, not rolled"
        );

        let (_, replace) = plan(
            &prior,
            ApiTokenState {
                allowed_ips: set_of(["203.0.113.0/24"]),
                external_id: Value::Value("cus_7".into()),
                metadata: Value::Value(r#"{"team":"ops"}"#.into()),
                rotation_triggers: triggers("2"),
                ..config.clone()
            },
        )
        .await;
        assert_eq!(
            replace,
            ["allowed_ips", "external_id", "metadata"].map(AttributePath::new),
            "terms are immutable: a change replaces, whatever the triggers say"
        );
    }

    #[tokio::test]
    async fn an_equivalent_spelling_of_a_term_is_not_a_change() {
        let (prior, config) = created();
        let respelt = ApiTokenState {
            not_before: Value::Value("2027-01-01T02:00:00+02:00".into()),
            allowed_ips: set_of(["203.0.113.7/32", "2001:DB8::/32"]),
            metadata: Value::Value("{\n  \"tier\": 2,\n  \"team\": \"builds\"\n}".into()),
            ..config.clone()
        };
        let (planned, replace) = plan(&prior, respelt.clone()).await;
        assert!(replace.is_empty(), "{replace:?}");
        assert_eq!(planned.token, prior.token, "nor a roll");
        assert_eq!(
            planned.metadata, respelt.metadata,
            "the configuration's spelling"
        );

        let (_, replace) = plan(
            &prior,
            ApiTokenState {
                metadata: Value::Value(r#"{"team":"builds","tier":"2"}"#.into()),
                not_before: Value::Unknown,
                ..config
            },
        )
        .await;
        assert_eq!(
            replace,
            ["not_before", "metadata"].map(AttributePath::new),
            "a value of another JSON type, and one unknown during plan, may differ"
        );
    }

    #[tokio::test]
    async fn leaving_the_overlap_out_plans_its_default() {
        let (prior, config) = created();
        let prior = ApiTokenState {
            rotation_overlap_seconds: Value::Value(600),
            ..prior
        };
        let (planned, replace) = plan(
            &prior,
            ApiTokenState {
                rotation_overlap_seconds: Value::Null,
                ..config
            },
        )
        .await;
        assert!(replace.is_empty());
        assert_eq!(planned.rotation_overlap_seconds, Value::Value(0));
    }
}
